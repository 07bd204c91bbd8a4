"""Exit statuses as docker reports them, and signals passed on to the container."""

from __future__ import annotations

import signal
import subprocess
import sys

from support import container_cgroup


def test_the_commands_own_status_is_returned(gophernetes, busybox_rootfs):
    result = gophernetes("run", "--net", "none", "--rootfs", str(busybox_rootfs), "/bin/sh", "-c", "exit 3")
    assert result.returncode == 3
    assert result.stderr == ""


def test_a_missing_command_is_127_with_one_line(gophernetes, busybox_rootfs):
    result = gophernetes("run", "--net", "none", "--rootfs", str(busybox_rootfs), "/bin/nonexistent")
    assert result.returncode == 127
    assert result.stderr.strip().splitlines() == ['gophernetes: exec: "/bin/nonexistent": executable file not found']


def test_a_command_not_in_path_is_127(gophernetes, busybox_rootfs):
    result = gophernetes("run", "--net", "none", "--rootfs", str(busybox_rootfs), "nosuchtool")
    assert result.returncode == 127
    assert "not found in $PATH" in result.stderr


def test_a_file_that_cannot_be_executed_is_126(gophernetes, busybox_rootfs):
    result = gophernetes("run", "--net", "none", "--rootfs", str(busybox_rootfs), "/etc/passwd")
    assert result.returncode == 126
    assert "permission denied" in result.stderr


def test_sigterm_to_gophernetes_reaches_the_container(gophernetes, busybox_rootfs):
    process = subprocess.Popen(
        [sys.executable, "-m", "gophernetes", "run", "--net", "none", "--rootfs", str(busybox_rootfs),
         "/bin/sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done"],
        stdout=subprocess.PIPE, text=True, env=gophernetes.env)
    try:
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 42
    finally:
        process.kill()
        process.wait()


def test_a_container_killed_by_a_signal_exits_128_plus_n(gophernetes, busybox_rootfs, cgroup_parent):
    process = subprocess.Popen(
        [sys.executable, "-m", "gophernetes", "run", "--net", "none", "--rootfs", str(busybox_rootfs),
         "/bin/sh", "-c", "echo ready; sleep 30"], stdout=subprocess.PIPE, text=True, env=gophernetes.env)
    try:
        assert process.stdout.readline().strip() == "ready"
        procs = (container_cgroup("pids", cgroup_parent) / "cgroup.procs").read_text().split()
        init = min(int(p) for p in procs)  # the shell, PID 1 inside, started first
        subprocess.run(["kill", "-KILL", str(init)], check=True)
        assert process.wait(timeout=20) == 137
    finally:
        process.kill()
        process.wait()
