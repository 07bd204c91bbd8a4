"""containerd 1.6 drives the runtime through its runc shim, as it drives runc: `ctr run
--runc-binary RUNTIME`. Each test runs once with runc (the harness's proof) and once with
gophernetes-runtime; what a user sees through ctr must be the same.

Where a user names the runtime in containerd's own config.toml: in containerd 1.6 the
`BinaryName` of a runtime's options (io.containerd.runc.v2, read by its shim) comes from
the CRI plugin's table, plugins."io.containerd.grpc.v1.cri".containerd.runtimes.NAME.options
— it serves kubelets, and ctr (which talks to containerd, not CRI) never reads it: ctr sets
the same option per task (--runc-binary, or --runtime-config-path with a toml of runc
options). The one section of config.toml that ctr's tasks obey is the v1 runtime's,
[plugins."io.containerd.runtime.v1.linux"] runtime = "/path/to/RUNTIME" (deprecated in 1.6,
still shipped, and what ../shared/recipes/containerd/config.toml sets): test_the_v1_runtime_
named_in_config_toml runs a container through it, `ctr run --runtime io.containerd.runtime.v1.linux`.
CRI itself is not driven: it needs crictl (not in Debian 12), a pause image and CNI.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from support import wait_until

from tests.system.engines import conftest as engines
from tests.system.oci.conftest import in_a_terminal, xfail_for_gophernetes


def run(ctr, rootfs: Path, container_id: str, *command: str, options: tuple[str, ...] = ()):
    return ctr("run", *options, *ctr.run_options(container_id), "--rootfs", str(rootfs), container_id, *command)


def test_a_foreground_run_prints_and_returns_the_exit_status(ctr, rootfs):
    result = run(ctr, rootfs, "fg", "/bin/sh", "-c", "echo hello from $$; exit 3", options=("--rm",))
    assert (result.returncode, result.stdout) == (3, "hello from 1\n"), result.stderr
    assert ctr("c", "ls", "-q").stdout == ""


def test_a_detached_task_is_listed_running_with_its_init_pid(ctr, rootfs):
    started = run(ctr, rootfs, "web", "/bin/sleep", "300", options=("-d",))
    assert started.returncode == 0, started.stderr
    pid, status = ctr.tasks()["web"]
    assert status == "RUNNING"
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"/bin/sleep", b"300"]
    # the pid containerd shows is the one the runtime reports for the container
    state = ctr.runtime("--root", str(ctr.runtime.root / "containerd" / ctr.namespace), "state", "web")
    assert state.returncode == 0, state.stderr
    assert f'"pid": {pid}' in state.stdout and '"status": "running"' in state.stdout
    ctr("task", "kill", "--signal", "SIGKILL", "web")
    assert wait_until(lambda: ctr.tasks()["web"][1] == "STOPPED")
    assert ctr("task", "rm", "web").returncode == 0
    assert ctr("c", "rm", "web").returncode == 0


def test_task_exec_runs_in_the_container_and_task_ps_lists_both(ctr, rootfs):
    assert run(ctr, rootfs, "web", "/bin/sleep", "300", options=("-d",)).returncode == 0
    done = ctr("task", "exec", "--exec-id", "e1", "web", "/bin/sh", "-c", "echo $$; cat /proc/1/cmdline")
    assert done.returncode == 0, done.stderr
    own_pid, init_cmdline = done.stdout.split("\n", 1)
    assert init_cmdline == "/bin/sleep\0" + "300\0"  # the container's pid namespace
    assert int(own_pid) > 1  # a pid of the container's own namespace
    background = ctr("task", "exec", "-d", "--exec-id", "e2", "web", "/bin/sleep", "200")
    assert background.returncode == 0, background.stderr
    pids = [line.split()[0] for line in ctr("task", "ps", "web").stdout.splitlines()[1:]]
    assert str(ctr.tasks()["web"][0]) in pids and len(pids) == 2
    status = ctr("task", "exec", "--exec-id", "e3", "web", "/bin/sh", "-c", "exit 7")
    assert status.returncode == 7


def test_pause_and_resume_freeze_and_thaw_the_task(ctr, rootfs):
    assert run(ctr, rootfs, "web", "/bin/sh", "-c", "while true; do date +%s%N > /tmp/beat; sleep 0.05; done",
               options=("-d",)).returncode == 0
    pid = ctr.tasks()["web"][0]
    assert ctr("task", "pause", "web").returncode == 0
    assert ctr.tasks()["web"][1] == "PAUSED"
    assert open(f"/proc/{pid}/status").read().count("State:\tS") + open(f"/proc/{pid}/status").read().count(
        "State:\tD") == 1
    beat = Path(f"/proc/{pid}/root/tmp/beat").read_text()
    time.sleep(0.3)
    assert Path(f"/proc/{pid}/root/tmp/beat").read_text() == beat  # frozen: no new beat
    assert ctr("task", "resume", "web").returncode == 0
    assert ctr.tasks()["web"][1] == "RUNNING"
    assert wait_until(lambda: Path(f"/proc/{pid}/root/tmp/beat").read_text() != beat, 5)


def test_task_kill_sends_the_signal_asked(ctr, rootfs):
    assert run(ctr, rootfs, "web", "/bin/sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done",
               options=("-d",)).returncode == 0
    assert ctr("task", "kill", "--signal", "SIGUSR1", "web").returncode == 0
    assert wait_until(lambda: ctr.tasks()["web"][1] == "STOPPED")
    waited = ctr("task", "rm", "web")
    assert waited.returncode == 0, waited.stderr
    assert ctr("c", "rm", "web").returncode == 0


def test_rm_of_a_running_task_is_refused_then_forced(ctr, rootfs):
    assert run(ctr, rootfs, "web", "/bin/sleep", "300", options=("-d",)).returncode == 0
    pid = ctr.tasks()["web"][0]
    refused = ctr("task", "rm", "web")
    assert refused.returncode != 0 and "running" in refused.stderr
    assert ctr("task", "rm", "--force", "web").returncode == 0
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}"))
    assert ctr("c", "rm", "web").returncode == 0


def run_in_a_terminal(ctr, rootfs, script: str) -> list[str]:
    result = in_a_terminal(["ctr", "--address", ctr.daemon.socket, "--namespace", ctr.namespace, "run", "--rm", "-t",
                            *ctr.run_options("tty"), "--rootfs", str(rootfs), "tty", "/bin/sh", "-c", script])
    return [line.replace("^@", "").strip("\0\r") for line in result.stdout.splitlines()]


def test_a_terminal_reaches_the_container_through_the_console_socket(ctr, rootfs):
    lines = run_in_a_terminal(ctr, rootfs, "[ -t 0 ] && [ -t 1 ] && echo both-terminals; read -t 1 x; echo done")
    assert "both-terminals" in lines and "done" in lines, lines


def test_the_terminal_is_one_of_the_containers_own_devpts(request, ctr, rootfs):
    xfail_for_gophernetes(request, ctr.runtime, "container devpts")
    assert "/dev/pts/0" in run_in_a_terminal(ctr, rootfs, "tty")


def test_a_missing_command_is_reported_by_ctr(ctr, rootfs):
    # both find out at create ("OCI runtime create failed: ... executable file not found", quoted
    # from the runtime's json log)
    result = run(ctr, rootfs, "nope", "/bin/no-such-command", options=("--rm",))
    assert result.returncode != 0
    assert 'exec: "/bin/no-such-command": ' in result.stderr, result.stderr
    assert "no such file or directory" in result.stderr or "executable file not found" in result.stderr
    ctr("c", "rm", "nope")


def test_an_oom_kill_is_reported_as_containerd_reports_it(ctr, rootfs):
    """containerd's shim watches the task's memory cgroup and publishes /tasks/oom; the task exits 137."""
    events = subprocess.Popen(["ctr", "--address", ctr.daemon.socket, "events"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        result = run(ctr, rootfs, "hog", "/bin/sh", "-c", "x=a; while true; do x=$x$x; done",
                     options=("--rm", "--memory-limit", str(32 * 1024 * 1024)))
        assert result.returncode == 137, result.stderr
        time.sleep(0.5)
    finally:
        events.terminate()
        output = events.communicate(timeout=10)[0]
    oom = [line for line in output.splitlines() if "/tasks/oom" in line and ctr.namespace in line]
    assert oom, output


def test_task_exec_t_gets_a_terminal_of_the_containers_own(ctr, rootfs):
    assert run(ctr, rootfs, "web", "/bin/sleep", "300", options=("-d",)).returncode == 0
    result = in_a_terminal(["ctr", "--address", ctr.daemon.socket, "--namespace", ctr.namespace, "task", "exec",
                            "-t", "--exec-id", "t1", "web", "/bin/sh", "-c", "tty; [ -t 0 ] && echo both"])
    lines = [line.replace("^@", "").strip("\0\r") for line in result.stdout.splitlines()]
    assert "both" in lines and any(line.startswith("/dev/pts/") for line in lines), result.stdout + result.stderr


# What only each runtime writes into its state.json (runc's libcontainer state; ours, runtime/lifecycle.py).
STATE_MARKS = {"runc": "init_process_pid", "gophernetes": "pid_started"}


@pytest.fixture
def containerd_v1(tmp_path, runtime):
    """A containerd whose config.toml names the runtime for the v1 runtime plugin, as a user writes it."""
    v1_root = tmp_path / "v1-root"
    config = engines.CONFIG + ('[plugins."io.containerd.runtime.v1.linux"]\n'
                               '  shim = "containerd-shim"\n'
                               f'  runtime = "{runtime.binary}"\n'
                               f'  runtime_root = "{v1_root}"\n')
    with pytest.MonkeyPatch.context() as patch:  # Containerd.start writes engines.CONFIG as its config.toml
        patch.setattr(engines, "CONFIG", config)
        daemon = engines.Containerd(tmp_path / "containerd").start()
    try:
        yield daemon, v1_root
    finally:
        daemon.stop()


def test_the_v1_runtime_named_in_config_toml(containerd_v1, runtime, rootfs, cgroup_parent):
    daemon, v1_root = containerd_v1

    def ctr(*args: str) -> subprocess.CompletedProcess:
        return daemon.ctr(*args, namespace="v1", check=False)

    started = ctr("run", "-d", "--runtime", "io.containerd.runtime.v1.linux", "--cgroup", f"/{cgroup_parent}/v1",
                  "--rootfs", str(rootfs), "v1", "/bin/sleep", "300")
    assert started.returncode == 0, started.stderr
    try:
        listed = ctr("task", "ls").stdout.splitlines()[1].split()
        assert (listed[0], listed[2]) == ("v1", "RUNNING")
        assert Path(f"/proc/{listed[1]}/cmdline").read_bytes() == b"/bin/sleep\0" + b"300\0"
        # the runtime that made it: its own state format, under the runtime_root config.toml gave
        record = json.loads((v1_root / "v1" / "v1" / "state.json").read_text())
        others = [mark for name, mark in STATE_MARKS.items() if name != runtime.name]
        assert STATE_MARKS[runtime.name] in record and not any(mark in record for mark in others), sorted(record)
        shown = runtime("--root", str(v1_root / "v1"), "state", "v1")
        assert shown.returncode == 0 and json.loads(shown.stdout)["pid"] == int(listed[1]), shown.stderr
        assert ctr("task", "exec", "--exec-id", "e1", "v1", "/bin/true").returncode == 0
        assert ctr("task", "kill", "--signal", "SIGKILL", "v1").returncode == 0
        assert wait_until(lambda: "STOPPED" in ctr("task", "ls").stdout)
    finally:
        ctr("task", "rm", "--force", "v1")
        ctr("c", "rm", "v1")
    assert not (v1_root / "v1" / "v1").exists()
    assert sorted(Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}/v1")) == []
