"""The container's config.json is a real OCI bundle: runc runs it as gophernetes does, and the
runtime's lifecycle (create, start, state, kill, delete) drives it as runc's CLI would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from support import wait_until

REPORT = "hostname; id -u; grep CapEff /proc/self/status; pwd; env | sort"


@pytest.fixture
def runc_cgroup():
    """A cgroup parent for runc of its own (runc leaves its parents behind), removed afterwards."""
    parent = f"gophernetes-runc-{uuid.uuid4().hex[:6]}"
    yield f"/{parent}/twin"
    for directory in sorted(Path("/sys/fs/cgroup").glob(f"**/{parent}"), reverse=True):
        for child in directory.glob("*/"):
            child.rmdir()
        directory.rmdir()


def _bundle_of(cli, name: str) -> Path:
    return Path(json.loads(cli("inspect", name).stdout)["details"]["folder"])


def _runnable_copy(folder: Path, rootfs: Path, target: Path, cgroup: str) -> Path:
    """The container's config.json beside a populated copy of its root, as a bundle of its own:
    without gophernetes' annotations (the layers to stack), root.path is used as it is."""
    shutil.copytree(rootfs, target / "rootfs", symlinks=True)
    config = json.loads((folder / "config.json").read_text())
    config["linux"]["cgroupsPath"] = cgroup
    config.pop("annotations")
    (target / "config.json").write_text(json.dumps(config))
    return target


@pytest.mark.skipif(shutil.which("runc") is None, reason="needs runc (apt-get install runc)")
def test_the_same_bundle_runs_the_same_under_runc(cli, busybox_rootfs, tmp_path, runc_cgroup):
    cli("run", "-d", "--net", "none", "--name", "twin", "--workdir", "/tmp", "-e", "LAB=1",
        "--rootfs", str(busybox_rootfs), "sh", "-c", REPORT)
    assert wait_until(lambda: json.loads(cli("inspect", "twin").stdout)["status"] == "exited")
    ours = cli("logs", "twin").stdout
    bundle = _runnable_copy(_bundle_of(cli, "twin"), busybox_rootfs, tmp_path / "bundle", runc_cgroup)
    theirs = subprocess.run(["runc", "--root", str(tmp_path / "runc"), "run", "--bundle", str(bundle), "twin"],
                            capture_output=True, text=True, timeout=60)
    assert theirs.returncode == 0, theirs.stderr
    assert theirs.stdout == ours
    assert "LAB=1" in ours and "/tmp\n" in ours


def _lifecycle(cli, code: str) -> subprocess.CompletedProcess:
    """Call gophernetes.runtime.lifecycle in a process of its own, as a runtime CLI would (the
    container's stdio is /dev/null: ours are pipes, which it would hold open)."""
    prelude = ("import json, os, sys\nfrom gophernetes.runtime import lifecycle\n"
               "NULL = (os.open('/dev/null', os.O_RDWR),) * 3\n")
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=60,
                          env=cli.env)


@pytest.fixture
def lifecycle_state(cli, tmp_path):
    """The lifecycle's state directory; whatever a failing test left in it is killed and deleted
    afterwards (a created container waits on its exec.fifo for ever otherwise)."""
    state = tmp_path / "state"
    yield state
    if state.exists():
        _lifecycle(cli, f"for name in lifecycle.list_ids({str(state)!r}):\n"
                        f"    lifecycle.delete({str(state)!r}, name, force=True)")


def test_create_waits_for_start_and_the_state_follows_the_kernel(cli, busybox_rootfs, tmp_path, cgroup_parent,
                                                                 lifecycle_state):
    cli("run", "-d", "--net", "none", "--name", "model", "--rootfs", str(busybox_rootfs), "sh", "-c",
        "echo made > /tmp/out")
    assert wait_until(lambda: json.loads(cli("inspect", "model").stdout)["status"] == "exited")
    bundle = _runnable_copy(_bundle_of(cli, "model"), busybox_rootfs, tmp_path / "bundle",
                            f"/{cgroup_parent}/lifecycle")
    state = lifecycle_state
    created = _lifecycle(cli, f"print(json.dumps(lifecycle.create({str(state)!r}, 'one', {str(bundle)!r}, "
                              "stdio=NULL)))")
    assert created.returncode == 0, created.stderr
    shown = json.loads(created.stdout)
    assert (shown["status"], shown["id"], shown["bundle"]) == ("created", "one", str(bundle))
    assert not (bundle / "rootfs" / "tmp" / "out").exists()  # created is not started

    assert _lifecycle(cli, f"lifecycle.start({str(state)!r}, 'one')").returncode == 0
    assert wait_until(lambda: (bundle / "rootfs" / "tmp" / "out").exists())
    assert wait_until(lambda: json.loads(_lifecycle(cli, f"print(json.dumps(lifecycle.state({str(state)!r}, 'one')))")
                                         .stdout)["status"] == "stopped")
    again = _lifecycle(cli, f"lifecycle.start({str(state)!r}, 'one')")
    assert again.returncode != 0 and "only a created container can be started" in again.stderr
    assert _lifecycle(cli, f"lifecycle.delete({str(state)!r}, 'one')").returncode == 0
    assert not (state / "one").exists()
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}/lifecycle"))


def test_kill_and_forced_delete_end_a_running_container(cli, busybox_rootfs, tmp_path, cgroup_parent,
                                                        lifecycle_state):
    cli("run", "-d", "--net", "none", "--name", "long", "--rootfs", str(busybox_rootfs), "sleep", "60")
    bundle = _runnable_copy(_bundle_of(cli, "long"), busybox_rootfs, tmp_path / "bundle", f"/{cgroup_parent}/long")
    state = str(lifecycle_state)
    made = _lifecycle(cli, f"lifecycle.create({state!r}, 'two', {str(bundle)!r}, stdio=NULL); "
                      f"lifecycle.start({state!r}, 'two'); print(lifecycle.state({state!r}, 'two')['pid'])")
    assert made.returncode == 0, made.stderr
    pid = int(made.stdout)
    refused = _lifecycle(cli, f"lifecycle.delete({state!r}, 'two')")
    assert refused.returncode != 0 and "is running" in refused.stderr
    assert _lifecycle(cli, f"lifecycle.delete({state!r}, 'two', force=True)").returncode == 0
    assert wait_until(lambda: not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
                      .rsplit(")", 1)[1].split()[0])


def test_a_bad_config_fails_create_with_one_line_and_leaves_nothing(cli, busybox_rootfs, tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({
        "ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"}, "root": {"path": str(busybox_rootfs)},
        "linux": {"namespaces": [{"type": "pid"}, {"type": "pidns"}]}}))
    state = tmp_path / "state"
    failed = _lifecycle(cli, f"""
try:
    lifecycle.create({str(state)!r}, 'bad', {str(bundle)!r})
except Exception as error:
    sys.exit(str(error))""")
    assert failed.returncode == 1
    assert failed.stderr.strip() == ("config.json: linux.namespaces[1].type: unknown namespace type 'pidns' "
                                     "(one of pid, network, mount, ipc, uts, user, cgroup, time)")
    assert not (state / "bad").exists()
