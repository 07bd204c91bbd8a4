"""Finding every hierarchy a cgroup manager such as runc may have used, on a fake v1 tree."""

from __future__ import annotations

from gophernetes.linux.cgroups.v1 import CgroupV1Driver


def hierarchy(root, name):
    (root / name).mkdir()
    (root / name / "cgroup.procs").write_text("")
    return root / name


def test_adopt_reaches_hierarchies_the_driver_never_uses_and_each_only_once(tmp_path):
    for name in ("memory", "pids", "cpu,cpuacct", "systemd", "unified"):
        hierarchy(tmp_path, name)
    (tmp_path / "cpu").symlink_to("cpu,cpuacct")
    (tmp_path / "cpuacct").symlink_to("cpu,cpuacct")
    (tmp_path / "not-a-hierarchy").mkdir()
    driver = CgroupV1Driver(tmp_path, "parent")
    assert sorted(p.parent.parent.name for p in driver.open("ID").directories()) == []  # nothing made yet
    adopted = driver.adopt("ID")
    assert sorted(str(p.relative_to(tmp_path)) for p in adopted.directories()) == [
        "cpu,cpuacct/parent/ID", "memory/parent/ID", "pids/parent/ID", "systemd/parent/ID", "unified/parent/ID"]


def test_removing_what_runc_left_takes_the_empty_parent_too(tmp_path):
    for name in ("memory", "systemd"):
        (hierarchy(tmp_path, name) / "parent" / "ID").mkdir(parents=True)
    (tmp_path / "memory" / "parent" / "other").mkdir()  # another container: the parent stays there
    CgroupV1Driver(tmp_path, "parent").adopt("ID").remove(timeout=0.1)
    assert not (tmp_path / "systemd" / "parent").exists()
    assert sorted(p.name for p in (tmp_path / "memory" / "parent").iterdir()) == ["other"]
