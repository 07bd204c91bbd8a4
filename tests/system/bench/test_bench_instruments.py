"""The bench's instruments on the real machine, as root: what `measure` counts, that the
leftover check sees what a runtime can leave behind (even cgroups hidden under the hybrid
host's unified mount), that crun as bench/run.py starts it leaves none, and that podman's
config stays in the bench's own folder. Nothing is timed."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest
from support import REPO, build_busybox_rootfs

sys.path.insert(0, str(REPO / "bench"))
import common  # noqa: E402

HYBRID = os.path.ismount("/sys/fs/cgroup/unified") and os.path.ismount("/sys/fs/cgroup")


def load_bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_host_cgroup_tmpfs(script: str) -> None:
    """Run `script` where the hybrid host's tmpfs under /sys/fs/cgroup/unified is visible."""
    subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    f"umount /sys/fs/cgroup/unified && {script}"], check=True)


@pytest.mark.skipif(not os.path.exists("/usr/bin/time"), reason="GNU time: apt-get install time")
def test_measure_counts_the_cpu_of_a_grandchild():
    busy = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"
    sample = common.measure(["sh", "-c", f"({busy}); true"])  # the loop runs in a forked subshell
    assert sample.cpu > 0.05, sample
    assert sample.peak_kib > 0


@pytest.mark.skipif(not os.path.exists("/usr/bin/time"), reason="GNU time: apt-get install time")
def test_measure_reports_a_failed_command_with_its_exit_status():
    with pytest.raises(RuntimeError, match="exited 3: oops"):
        common.measure(["sh", "-c", "echo oops >&2; exit 3"])


def test_a_cgroup_tree_of_ours_is_seen_then_removed_in_every_hierarchy():
    before = common.system_snapshot()
    made = [f"/sys/fs/cgroup/{h}/{common.MARK}-t/a/b" for h in ("pids", "memory")
            if os.path.isdir(f"/sys/fs/cgroup/{h}")]
    made = made or [f"/sys/fs/cgroup/{common.MARK}-t/a/b"]  # cgroup v2
    try:
        for path in made:
            os.makedirs(path)
        ours, _ = common.leftovers(before, common.system_snapshot())
        assert f"cgroup {made[0]}" in ours
    finally:
        common.remove_cgroup_tree(f"{common.MARK}-t")
    assert not any(os.path.exists(path.rsplit("/a/b", 1)[0]) for path in made)
    assert common.leftovers(before, common.system_snapshot())[0] == []


@pytest.mark.skipif(not HYBRID, reason="only a hybrid cgroup host has a tmpfs under /sys/fs/cgroup/unified")
def test_the_leftover_check_sees_a_cgroup_hidden_under_the_unified_mount():
    hidden = f"/sys/fs/cgroup/unified/{common.MARK}-hidden"
    before = common.system_snapshot()
    try:
        in_host_cgroup_tmpfs(f"mkdir {hidden}")
        assert f"hidden cgroup {hidden}" in common.leftovers(before, common.system_snapshot())[0]
    finally:
        in_host_cgroup_tmpfs(f"rm -rf {hidden}")
    assert common.leftovers(before, common.system_snapshot())[0] == []


@pytest.mark.skipif(not shutil.which("crun") or not shutil.which("runc"), reason="crun and runc (runc spec)")
@pytest.mark.skipif(not os.path.exists("/usr/bin/time"), reason="GNU time: apt-get install time")
def test_crun_as_the_bench_starts_it_runs_and_leaves_nothing_behind(tmp_path):
    run = load_bench("run")
    rootfs = tmp_path / "rootfs"
    build_busybox_rootfs(rootfs)
    parent = f"{common.MARK}-crun-test"
    bundle = run.runc_bundle(tmp_path / "bundle", rootfs, f"/{parent}/crun")
    before = common.system_snapshot()
    try:
        with run.crun_mount_namespace() as mount_ns:
            for _ in range(2):
                run.measure_in(mount_ns, ["crun", "--root", str(tmp_path / "state"), "run", "-b", str(bundle),
                                          f"{common.MARK}-crun"])
    finally:
        common.remove_cgroup_tree(parent)
    assert common.leftovers(before, common.system_snapshot())[0] == []


@pytest.mark.skipif(not shutil.which("podman"), reason="podman (.ci/packages)")
def test_podman_keeps_its_networks_and_storage_in_the_bench_folder(tmp_path):
    env = common.podman_env(tmp_path / "podman")
    network = f"{common.MARK}-net"
    try:
        common.podman_network(env, network)
        configs = {path.name for path in (tmp_path / "podman" / "networks").iterdir()}
        assert configs & {f"{network}.json", f"{network}.conflist"}  # netavark or CNI
        assert not os.path.exists(f"/etc/containers/networks/{network}.json")
        assert not os.path.exists(f"/etc/cni/net.d/{network}.conflist")
        info = json.loads(subprocess.run(["podman", "info", "--format", "json"], env=env, check=True,
                                         capture_output=True, text=True).stdout)
        assert info["store"]["graphRoot"].startswith(str(tmp_path))
        assert info["store"]["runRoot"].startswith(str(tmp_path))
    finally:
        subprocess.run(["podman", "network", "rm", "-f", network], env=env, capture_output=True)
        common.podman_cleanup(env)
        common.unmount_under(tmp_path)


def test_inside_new_netns_enters_and_deletes_its_namespace():
    host = os.readlink("/proc/self/ns/net")
    name = f"{common.MARK}-ns"
    with common.inside_new_netns(name):
        assert os.readlink("/proc/self/ns/net") != host
        assert "lo" in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert os.readlink("/proc/self/ns/net") == host
    assert not os.path.exists(f"/run/netns/{name}")


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited orphan that PID 1 has not reaped yet)."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_wait_for_exit_returns_once_the_process_is_gone():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert common.wait_for_exit([sleeper.pid], timeout=0.1) == [sleeper.pid]
    finally:
        sleeper.kill()
    assert common.wait_for_exit([sleeper.pid], timeout=10) == []
    sleeper.wait()


def test_remove_all_waits_for_the_supervisors_so_the_state_folder_can_go(tmp_path):
    rootfs = tmp_path / "rootfs"
    build_busybox_rootfs(rootfs)
    parent = f"{common.MARK}-rm-test"
    env = common.gophernetes_env(tmp_path / "state", parent)
    try:
        for _ in range(2):
            subprocess.run(common.gophernetes_command("run", "-d", "--net", "none", "--rootfs", str(rootfs), "sleep",
                                                      "1000"), env=env, check=True, capture_output=True)
        listing = subprocess.run(common.gophernetes_command("ps", "--format", "json"), env=env, check=True,
                                 capture_output=True, text=True).stdout
        pids = common.supervisors(json.loads(listing))
        assert len(pids) == 2
        assert common.gophernetes_remove_all(env) == []
        assert not any(running(pid) for pid in pids)
        shutil.rmtree(tmp_path / "state")
    finally:
        common.gophernetes_remove_all(env)
        common.unmount_under(tmp_path)
        common.remove_cgroup_tree(parent)
