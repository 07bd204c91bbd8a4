"""The runtime's own command line, as a person (or the lab) uses it, over runc and gophernetes-runtime:
the lifecycle of runtime-spec's runtime.md step by step, its errors, and `spec` + `run` on a terminal."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from support import wait_until

from tests.system.oci.conftest import in_a_terminal, xfail_for_gophernetes


@pytest.fixture(autouse=True)
def nothing_left(runtime, cgroup_parent):
    """After each test: no container state under the runtime's root, no cgroup of ours."""
    yield
    cgroups = sorted(str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}/cli-*"))
    for cgroup in cgroups:
        with contextlib.suppress(OSError):
            os.rmdir(cgroup)
    assert (runtime.leftovers(), cgroups) == ([], []), "left behind"


@pytest.fixture
def bundle(tmp_path, rootfs, runtime, cgroup_parent):
    """`spec`'s default config.json (written by the runtime under test), pointed at the busybox root."""
    made = runtime("spec", "--bundle", str(tmp_path))
    assert made.returncode == 0, made.stderr
    config = json.loads((tmp_path / "config.json").read_text())
    config["root"]["path"] = str(rootfs)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/sleep", "300"]
    config["linux"]["cgroupsPath"] = f"/{cgroup_parent}/cli-{uuid.uuid4().hex[:6]}"
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def state_of(runtime, container_id: str) -> dict:
    shown = runtime("state", container_id)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_the_lifecycle_step_by_step(runtime, bundle, tmp_path):
    pid_file = tmp_path / "init.pid"
    created = runtime("create", "--bundle", str(bundle), "--pid-file", str(pid_file), "box")
    try:
        assert created.returncode == 0, created.stderr
        state = state_of(runtime, "box")
        assert {k: state[k] for k in ("ociVersion", "id", "status", "bundle")} == {
            "ociVersion": state["ociVersion"], "id": "box", "status": "created", "bundle": str(bundle)}
        assert int(pid_file.read_text()) == state["pid"]
        # created: the init exists but has not run the process yet
        assert b"sleep" not in open(f"/proc/{state['pid']}/cmdline", "rb").read()
        assert runtime("start", "box").returncode == 0
        assert state_of(runtime, "box")["status"] == "running"
        assert open(f"/proc/{state['pid']}/cmdline", "rb").read() == b"/bin/sleep\x00300\x00"
        listed = runtime("list", "--quiet")
        assert listed.stdout.split() == ["box"]
        refused = runtime("delete", "box")
        assert refused.returncode == 1 and "running" in refused.stderr
        assert runtime("kill", "box", "KILL").returncode == 0
        assert wait_until(lambda: state_of(runtime, "box")["status"] == "stopped")
        assert runtime("delete", "box").returncode == 0
    finally:
        runtime("delete", "--force", "box")
    gone = runtime("state", "box")
    assert gone.returncode == 1 and "does not exist" in gone.stderr


def test_a_second_create_with_the_same_id_is_refused(runtime, bundle):
    assert runtime("create", "--bundle", str(bundle), "twice").returncode == 0
    try:
        again = runtime("create", "--bundle", str(bundle), "twice")
        assert again.returncode == 1 and "exists" in again.stderr
    finally:
        runtime("delete", "--force", "twice")


def test_a_missing_command_fails_create_and_leaves_no_container(runtime, bundle):
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["/bin/no-such-command"]
    (bundle / "config.json").write_text(json.dumps(config))
    result = runtime("create", "--bundle", str(bundle), f"missing-{runtime.name}")
    assert result.returncode != 0 and "/bin/no-such-command" in result.stderr, result.stderr
    assert runtime("list", "--quiet").stdout == ""


def test_descriptors_above_2_stay_out_of_the_container(runtime, bundle):
    """An engine's open descriptor, inherited by the runtime, is not the container's (runc closes them)."""
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["/bin/sh", "-c", "ls /proc/self/fd"]
    (bundle / "config.json").write_text(json.dumps(config))
    read, write = os.pipe()
    try:
        result = subprocess.run([str(runtime.binary), "run", "--bundle", str(bundle), f"fds-{runtime.name}"],
                                pass_fds=(read, write), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=60)
    finally:
        os.close(read)
        os.close(write)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split(), key=int) == ["0", "1", "2", "3"]  # 3: ls's own listing of the folder


def test_errors_go_to_the_json_log_as_containerd_reads_it(runtime, tmp_path):
    log = tmp_path / "log.json"
    result = runtime("--log", str(log), "--log-format", "json", "state", "nothing-here")
    assert result.returncode == 1
    errors = [json.loads(line) for line in log.read_text().splitlines() if '"level":"error"' in line]
    assert errors and "does not exist" in errors[-1]["msg"]


def test_spec_then_run_on_a_terminal(runtime, tmp_path, rootfs, cgroup_parent):
    """The lab's first steps: `spec`, point root at a rootfs, `run` in a terminal (process.terminal: true)."""
    assert runtime("spec", "--bundle", str(tmp_path)).returncode == 0
    config = json.loads((tmp_path / "config.json").read_text())
    config["root"]["path"] = str(rootfs)
    config["process"]["args"] = ["/bin/sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo on-a-terminal; exit 4"]
    config["linux"]["cgroupsPath"] = f"/{cgroup_parent}/cli-tty"
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = in_a_terminal([str(runtime.binary), "run", "--bundle", str(tmp_path), f"tty-{runtime.name}"])
    assert "on-a-terminal" in result.stdout, result.stdout + result.stderr
    assert runtime("list", "--quiet").stdout == ""


def test_kill_all_reaches_every_process(request, runtime, bundle):
    xfail_for_gophernetes(request, runtime, "default devices")  # the shell's `&` opens /dev/null
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["/bin/sh", "-c", "sleep 300 & sleep 301 & wait"]
    (bundle / "config.json").write_text(json.dumps(config))
    assert runtime("run", "--detach", "--bundle", str(bundle), "many").returncode == 0
    try:
        pids = json.loads(runtime("ps", "--format", "json", "many").stdout)
        assert len(pids) == 3
        assert runtime("kill", "--all", "many", "SIGKILL").returncode == 0
        assert wait_until(lambda: not any(os.path.exists(f"/proc/{pid}/cmdline") and
                                          open(f"/proc/{pid}/stat").read().split()[2] != "Z" for pid in pids))
    finally:
        runtime("delete", "--force", "many")


def read_terminal(master: int, timeout: float = 20) -> str:
    """Everything the container writes to its pty, until it closes it (EIO on the master)."""
    import select

    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    return output.decode(errors="replace")


def test_console_size_is_the_terminals_window_from_the_start(runtime, bundle, tmp_path):
    """process.consoleSize, given to the pty sent over --console-socket before the command runs:
    `stty size` (TIOCGWINSZ) prints it, as under runc, without the engine resizing anything."""
    from gophernetes.linux.console_socket import receive_master

    config = json.loads((bundle / "config.json").read_text())
    config["process"].update(terminal=True, consoleSize={"height": 33, "width": 111},
                             args=["/bin/sh", "-c", "stty size; sleep 0.2"])
    (bundle / "config.json").write_text(json.dumps(config))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "console.sock"))
    listener.listen(1)
    try:
        created = runtime("create", "--bundle", str(bundle), "--console-socket", str(tmp_path / "console.sock"), "pty")
        assert created.returncode == 0, created.stderr
        _, master = receive_master(listener, timeout=10)
        assert runtime("start", "pty").returncode == 0
        assert read_terminal(master).split("\r\n")[0] == "33 111"
        os.close(master)
    finally:
        listener.close()
        runtime("delete", "--force", "pty")


@pytest.mark.parametrize("stage", ["createRuntime", "createContainer"])
def test_a_refusing_hook_of_creation_fails_create_and_leaves_nothing(runtime, bundle, tmp_path, stage):
    hook = tmp_path / "refuse"
    hook.write_text("#!/bin/sh\necho 'no bridge named br9' >&2\nexit 2\n")
    hook.chmod(0o755)
    config = json.loads((bundle / "config.json").read_text())
    config["hooks"] = {stage: [{"path": str(hook)}]}
    (bundle / "config.json").write_text(json.dumps(config))
    result = runtime("create", "--bundle", str(bundle), f"refused-{runtime.name}")
    assert result.returncode != 0 and "no bridge named br9" in result.stderr, result.stderr
    assert runtime("list", "--quiet").stdout == ""
