"""podman 4.3 (with conmon) drives the runtime given with `--runtime`, as it drives runc.
Each test runs with runc (the harness's proof) and with gophernetes-runtime."""

from __future__ import annotations

import json
from pathlib import Path

from tests.system.oci.conftest import cgroup_of, in_a_terminal, xfail_for_gophernetes


def test_run_prints_and_returns_the_exit_status(podman, runtime):
    result = podman("run", "--rm", *podman.run_options(), podman.image, "sh", "-c", "echo hello; exit 3",
                    runtime=runtime)
    assert (result.returncode, result.stdout) == (3, "hello\n"), result.stderr


def test_the_default_run_with_seccomp_and_privileges(request, podman, runtime):
    """podman's defaults: its seccomp profile, no no_new_privs, and capabilities without CAP_SYS_ADMIN."""
    xfail_for_gophernetes(request, runtime, "seccomp without no_new_privs")
    result = podman("run", "--rm", "--network", "none", "--cgroup-parent", podman.cgroup_parent, podman.image,
                    "sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status", runtime=runtime)
    assert (result.returncode, result.stdout) == (0, "NoNewPrivs:\t0\nSeccomp:\t2\n"), result.stderr


def test_run_detached_exec_ps_inspect_stop_rm(podman, runtime):
    started = podman("run", "-d", "--name", "web", *podman.run_options(), podman.image, "sleep", "300",
                     runtime=runtime)
    assert started.returncode == 0, started.stderr
    listed = podman("ps", "--format", "{{.Names}} {{.Status}}", runtime=runtime)
    assert listed.stdout.startswith("web Up"), listed.stdout + listed.stderr
    state = json.loads(podman("inspect", "web", runtime=runtime).stdout)[0]["State"]
    assert (state["Status"], state["Running"]) == ("running", True)
    assert Path(f"/proc/{state['Pid']}/cmdline").read_bytes() == b"sleep\x00300\x00"
    executed = podman("exec", "web", "sh", "-c", "cat /proc/1/cmdline; echo; exit 4", runtime=runtime)
    assert (executed.returncode, executed.stdout) == (4, "sleep\x00300\x00\n"), executed.stderr
    stopped = podman("stop", "--time", "1", "web", runtime=runtime)  # sleep ignores SIGTERM as pid 1: SIGKILL
    assert stopped.returncode == 0, stopped.stderr
    state = json.loads(podman("inspect", "web", runtime=runtime).stdout)[0]["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 137)
    assert podman("rm", "web", runtime=runtime).returncode == 0
    assert podman("ps", "-aq", runtime=runtime).stdout == ""


def test_pause_and_unpause(podman, runtime):
    assert podman("run", "-d", "--name", "web", *podman.run_options(), podman.image, "sleep", "300",
                  runtime=runtime).returncode == 0
    assert podman("pause", "web", runtime=runtime).returncode == 0
    assert json.loads(podman("inspect", "web", runtime=runtime).stdout)[0]["State"]["Status"] == "paused"
    assert podman("unpause", "web", runtime=runtime).returncode == 0
    assert json.loads(podman("inspect", "web", runtime=runtime).stdout)[0]["State"]["Status"] == "running"


def test_memory_limit_reaches_the_cgroup_and_kills_what_exceeds_it(podman, runtime, cgroup_parent):
    assert podman("run", "-d", "--name", "web", "--memory", "32m", *podman.run_options(), podman.image,
                  "sleep", "300", runtime=runtime).returncode == 0
    pid = json.loads(podman("inspect", "web", runtime=runtime).stdout)[0]["State"]["Pid"]
    memory = cgroup_of(pid, "memory")
    assert memory.parent.name == cgroup_parent
    assert int((memory / "memory.limit_in_bytes").read_text()) == 32 * 1024 * 1024
    podman("rm", "--force", "--time", "0", "web", runtime=runtime)
    hog = podman("run", "--rm", "--memory", "32m", "--memory-swap", "32m", *podman.run_options(), podman.image,
                 "sh", "-c", "x=a; while true; do x=$x$x; done", runtime=runtime)
    assert hog.returncode == 137, (hog.returncode, hog.stdout, hog.stderr)


def run_in_a_terminal(podman, runtime, script: str) -> list[str]:
    result = in_a_terminal(["podman", "--runtime", str(runtime.binary), "run", "--rm", "-it",
                            *podman.run_options(), podman.image, "sh", "-c", script], env=podman.env)
    return [line.replace("^@", "").strip("\0\r") for line in result.stdout.splitlines()]


def test_a_terminal_with_run_it(podman, runtime):
    lines = run_in_a_terminal(podman, runtime, "[ -t 0 ] && [ -t 1 ] && echo both")
    assert "both" in lines, lines


def test_the_terminal_of_run_it_is_the_containers_own(request, podman, runtime):
    xfail_for_gophernetes(request, runtime, "container devpts")
    assert "/dev/pts/0" in run_in_a_terminal(podman, runtime, "tty")


def test_a_missing_command_exits_127(podman, runtime):
    result = podman("run", "--rm", *podman.run_options(), podman.image, "/bin/no-such-command", runtime=runtime)
    assert result.returncode == 127, result.stderr


def test_exec_it_gets_a_terminal_of_the_containers_own(request, podman, runtime):
    # podman's devices are only "deny all": /dev/ptmx then needs runc's default device rules
    xfail_for_gophernetes(request, runtime, "default devices")
    assert podman("run", "-d", "--name", "web", *podman.run_options(), podman.image, "sleep", "300",
                  runtime=runtime).returncode == 0
    result = in_a_terminal(["podman", "--runtime", str(runtime.binary), "exec", "-it", "web", "sh", "-c",
                            "tty; [ -t 0 ] && echo both"], env=podman.env)
    lines = [line.replace("^@", "").strip("\0\r") for line in result.stdout.splitlines()]
    assert "both" in lines and any(line.startswith("/dev/pts/") for line in lines), result.stdout + result.stderr
