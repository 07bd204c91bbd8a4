"""`gophernetes child`: the init side alone, inside namespaces someone else made."""

from __future__ import annotations

import shutil
import subprocess
import sys

from support import build_busybox_rootfs


def test_child_under_unshare_is_the_original_tools_child(tmp_path, gophernetes):
    rootfs = tmp_path / "rootfs"
    build_busybox_rootfs(rootfs)
    result = subprocess.run(
        ["unshare", "--pid", "--fork", sys.executable, "-m", "gophernetes", "child",
         "--rootfs", str(rootfs), "--hostname", "lab", "/bin/sh", "-c",
         "hostname; echo $$; ls /proc | grep -c '^[0-9]'"],
        capture_output=True, text=True, env=gophernetes.env, timeout=30)
    assert result.returncode == 0, result.stderr
    hostname, pid, processes = result.stdout.split()
    assert (hostname, pid) == ("lab", "1")
    assert int(processes) <= 3
    shutil.rmtree(rootfs)


def test_child_refuses_to_run_outside_a_new_pid_namespace(gophernetes, busybox_rootfs):
    result = gophernetes("child", "--rootfs", str(busybox_rootfs), "/bin/true")
    assert result.returncode == 125
    assert "child must be PID 1 of a new PID namespace" in result.stderr


def test_child_is_hidden_from_help_but_documented(gophernetes):
    assert "child" not in gophernetes("--help").stdout
    assert "unshare --pid --fork" in gophernetes("child", "--help").stdout
