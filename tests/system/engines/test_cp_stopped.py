"""cp with a stopped container, on both engines: its root is mounted again (native: its
overlay folders; containerd: its snapshot, as `ctr snapshots mounts` says) in a mount
namespace of the copy's own, and every path is still resolved inside it."""

from __future__ import annotations

from pathlib import Path


def test_cp_reaches_a_stopped_containers_files_both_ways(engine, image, tmp_path):
    made = engine("run", "-d", "--name", "done", image, "sh", "-c", "echo written > /note; ln -s /etc/shadow /leak")
    assert made.returncode == 0, made.stderr
    assert engine("wait", "done", timeout=30).stdout == "0\n"
    assert engine("cp", "done:/note", str(tmp_path / "note")).returncode == 0
    assert (tmp_path / "note").read_text() == "written\n"
    payload = tmp_path / "payload"
    payload.write_text("from the host\n")
    assert engine("cp", str(payload), "done:/tmp/").returncode == 0
    assert engine("cp", "done:/tmp/payload", str(tmp_path / "back")).returncode == 0
    assert (tmp_path / "back").read_text() == "from the host\n"
    stolen = engine("cp", "done:/leak", str(tmp_path / "stolen"))
    assert stolen.returncode == 125 and not (tmp_path / "stolen").exists()
    container_id = engine.container("done")["id"]
    assert f"{container_id}/rootfs" not in Path("/proc/self/mountinfo").read_text()  # mounted out of our sight
