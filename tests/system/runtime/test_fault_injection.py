"""Faults a careless user, a hostile container or the machine inject, done for real.

Each test breaks something (another state root's prune, a container that makes child
cgroups, a truncated record, a full disk) and then checks what must hold: every container
that existed before still runs, nothing is left half-made on the host, and the next
command works.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from support import cli_env, host_leftovers, wait_until

from gophernetes.linux.cgroups import detect_version


def _run_detached(cli, name: str, rootfs: Path, script: str = "sleep 600", *options: str) -> str:
    result = cli("run", "-d", "--net", "none", "--name", name, *options, "--rootfs", str(rootfs), "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _status(cli, name: str) -> str | None:
    listed = json.loads(cli("list", "--all", "--format", "json").stdout)
    return next((c["status"] for c in listed if c["name"] == name), None)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def other_root(tmp_path, cgroup_parent):
    """A second state root sharing this session's cgroup parent, cleaned up afterwards."""
    root = tmp_path / "other-state"
    root.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([os.sys.executable, "-m", "gophernetes", *args], capture_output=True, text=True,
                              timeout=60, env=cli_env(root, cgroup_parent))

    yield run
    ids = run("list", "--all", "--quiet").stdout.split()
    if ids:
        run("rm", "-f", *ids)


def test_prune_in_one_state_root_never_kills_another_roots_running_container(cli, other_root, busybox_rootfs):
    theirs = _run_detached(other_root, "theirs", busybox_rootfs)
    pid = json.loads(other_root("inspect", "theirs").stdout)["pid"]
    _run_detached(cli, "ours", busybox_rootfs, "true")
    assert wait_until(lambda: _status(cli, "ours") == "exited")

    pruned = cli("prune", "--force")

    assert pruned.returncode == 0, pruned.stderr
    assert "ours" in pruned.stdout and theirs[:12] not in pruned.stdout
    assert _alive(pid) and _status(other_root, "theirs") == "running"


def test_prune_accepts_dockers_force_flag(cli):
    assert cli("prune", "-f").returncode == 0
    assert cli("prune", "--force").returncode == 0


def test_child_cgroups_a_container_made_do_not_block_rm_or_prune(cli, busybox_rootfs, state_root, cgroup_parent):
    """Where a container can write its cgroupfs it can make child cgroups and move processes
    into them; the test does that from the host, as such a container would."""
    container = _run_detached(cli, "nester", busybox_rootfs)
    own = next(Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}/{container}")) if detect_version() == 1 else \
        Path("/sys/fs/cgroup") / cgroup_parent / container
    init = json.loads(cli("inspect", "nester").stdout)["pid"]
    assert cli("exec", "nester", "sh", "-c", "sleep 600 >/dev/null 2>&1 &").returncode == 0
    assert wait_until(lambda: len((own / "cgroup.procs").read_text().split()) == 2)
    sleeper = next(p for p in (own / "cgroup.procs").read_text().split() if int(p) != init)
    nested = own / "child" / "grandchild"
    nested.mkdir(parents=True)
    (nested / "cgroup.procs").write_text(sleeper)

    removed = cli("rm", "-f", "nester")

    assert removed.returncode == 0, removed.stderr
    assert not own.exists()
    assert wait_until(lambda: not _alive(int(sleeper)))
    assert cli("prune", "-f").returncode == 0
    assert host_leftovers(state_root, cgroup_parent)["cgroups"] == []


def test_a_truncated_record_is_reported_and_rm_f_still_removes_the_container(cli, busybox_rootfs, state_root):
    container = _run_detached(cli, "damaged", busybox_rootfs)
    pid = json.loads(cli("inspect", "damaged").stdout)["pid"]
    record = state_root / "run" / "containers" / container / "record.json"
    record.write_text(record.read_text()[:20])  # truncated, as a crash or a full disk leaves it

    listed = json.loads(cli("list", "--all", "--format", "json").stdout)
    entry = next(c for c in listed if c["id"] == container)
    assert entry["status"] == "damaged" and entry["name"] == "damaged"
    shown = cli("inspect", "damaged")
    assert shown.returncode == 0 and str(record.parent) in shown.stdout
    refused = cli("logs", "damaged")
    assert refused.returncode == 125 and "cannot be read" in refused.stderr and len(refused.stderr.splitlines()) == 1

    removed = cli("rm", "-f", "damaged")

    assert removed.returncode == 0, removed.stderr
    assert wait_until(lambda: not _alive(pid))
    assert not record.parent.exists()
    assert _run_detached(cli, "damaged", busybox_rootfs, "true")  # the name is free again


def test_a_record_damaged_by_id_is_found_by_id_prefix(cli, busybox_rootfs, state_root):
    container = _run_detached(cli, "byid", busybox_rootfs)
    (state_root / "run" / "containers" / container / "state.json").write_text("")
    assert cli("rm", "-f", container[:8]).returncode == 0
    assert _status(cli, "byid") is None


@pytest.fixture
def small_state_root(tmp_path, cgroup_parent, busybox_rootfs):
    """A state root on an 8 MiB tmpfs, and the CLI that uses it; unmounted afterwards."""
    root = tmp_path / "small"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(root)], check=True)

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([os.sys.executable, "-m", "gophernetes", *args], capture_output=True, text=True,
                              timeout=timeout, env=cli_env(root, cgroup_parent))

    run.root = root
    yield run
    ids = run("list", "--all", "--quiet").stdout.split()
    if ids:
        run("rm", "-f", *ids)
    subprocess.run(["umount", "-l", str(root)], check=False)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
    return filler


def test_a_full_disk_fails_new_commands_in_one_line_and_keeps_running_containers(small_state_root, busybox_rootfs,
                                                                                  cgroup_parent):
    g = small_state_root
    # As fast as it can while the disk is full (a pipe not drained fills in a moment); after SIGUSR1,
    # calmly: the monitor drains a pipe at ~4 MB/s of log, which would fill the freed 8 MiB again
    # before the next command could start.
    ticking = "trap 'calm=1' USR1; while true; do echo tick; [ -n \"$calm\" ] && sleep 0.1; done"
    _run_detached(g, "survivor", busybox_rootfs, ticking)
    pid = json.loads(g("inspect", "survivor").stdout)["pid"]
    folders_before = set(os.listdir(g.root / "run" / "containers"))
    filler = _fill(g.root)

    for attempt in (("run", "-d", "--net", "none", "--name", "late", "--rootfs", str(busybox_rootfs), "true"),
                    ("run", "--net", "none", "--rootfs", str(busybox_rootfs), "true")):
        refused = g(*attempt)
        assert refused.returncode == 125, refused.stdout + refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "no space left on device" in refused.stderr.lower() and "internal error" not in refused.stderr
    subprocess.run(["sleep", "1"])  # the survivor keeps writing logs into a full disk meanwhile

    assert _alive(pid) and _status(g, "survivor") == "running"
    assert set(os.listdir(g.root / "run" / "containers")) == folders_before
    os.kill(pid, signal.SIGUSR1)
    filler.unlink()
    assert g("run", "-d", "--net", "none", "--name", "late", "--rootfs", str(busybox_rootfs), "true").returncode == 0
    logged = len(g("logs", "survivor").stdout)
    assert wait_until(lambda: len(g("logs", "survivor").stdout) > logged)  # its log is written again
    assert _alive(pid)
    assert g("rm", "-f", "survivor", "late").returncode == 0
    left = host_leftovers(g.root, cgroup_parent)
    mounts = [line for line in left["mounts"] if f"{g.root} " not in line]  # the tmpfs itself stays until teardown
    assert left["container folders"] == [] and mounts == [], left


def test_rm_of_several_goes_on_past_one_that_fails(cli, busybox_rootfs):
    _run_detached(cli, "kept-going", busybox_rootfs)

    removed = cli("rm", "-f", "no-such-one", "kept-going")

    assert removed.returncode == 125
    assert removed.stderr.strip().splitlines() == ["gophernetes: no such container: no-such-one "
                                                   "(see gophernetes list --all)"]
    assert removed.stdout.split() == ["kept-going"] and _status(cli, "kept-going") is None
