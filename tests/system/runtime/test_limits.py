"""cgroup limits enforced by the kernel: memory (OOM kill), pids (fork bomb), cpu (throttling)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from support import container_cgroup

from gophernetes.linux.cgroups import detect_version

pytestmark = pytest.mark.skipif(detect_version() != 1, reason="these read v1 files; the VM test covers v2")


def run_sh(gophernetes, rootfs, script, *options, **kwargs):
    return gophernetes("run", "--net", "none", *options, "--rootfs", str(rootfs), "/bin/sh", "-c", script, **kwargs)


def test_memory_limit_kills_the_container_not_the_host(gophernetes, busybox_rootfs):
    # A shell variable that doubles until it passes the limit: anonymous memory, no swap to hide in.
    hog = "x=0123456789abcdef; while :; do x=$x$x; done"
    result = run_sh(gophernetes, busybox_rootfs, hog, "--memory", "32m", timeout=120)
    assert result.returncode == 137
    assert "out of memory (limit 32MiB)" in result.stderr


def test_a_fork_bomb_is_stopped_by_the_pids_limit(gophernetes, busybox_rootfs):
    # An inner shell forks 40 sleepers until the kernel refuses (and the inner shell gives up);
    # the outer one counts what runs, with builtins only: at the limit not even `ls` can start.
    script = 'sh -c "for i in \\$(seq 40); do sleep 5 & done" 2>/dev/null; set -- /proc/[0-9]*; echo $#'
    limited = run_sh(gophernetes, busybox_rootfs, script, "--pids-limit", "10", timeout=60)
    unlimited = run_sh(gophernetes, busybox_rootfs, script, timeout=60)
    assert int(limited.stdout) <= 10
    assert int(unlimited.stdout) == 41


def test_cpu_quota_throttles_a_busy_loop(gophernetes, busybox_rootfs, cgroup_parent):
    process = subprocess.Popen(
        [sys.executable, "-m", "gophernetes", "run", "--net", "none", "--cpus", "0.2", "--cpu-shares", "512",
         "--rootfs", str(busybox_rootfs), "/bin/sh", "-c", "echo ready; end=$(($(date +%s)+3)); "
         "while [ $(date +%s) -lt $end ]; do :; done"], stdout=subprocess.PIPE, text=True, env=gophernetes.env)
    try:
        assert process.stdout.readline().strip() == "ready"
        cgroup = container_cgroup("cpu", cgroup_parent)
        assert (cgroup / "cpu.cfs_quota_us").read_text().strip() == "20000"
        assert (cgroup / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert (cgroup / "cpu.shares").read_text().strip() == "512"
        time.sleep(1)
        stat = dict(line.split() for line in (cgroup / "cpu.stat").read_text().splitlines())
        assert int(stat["nr_throttled"]) > 0
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()


def test_memory_limit_is_written_to_the_memory_cgroup(gophernetes, busybox_rootfs, cgroup_parent):
    process = subprocess.Popen(
        [sys.executable, "-m", "gophernetes", "run", "--net", "none", "--memory", "64m",
         "--rootfs", str(busybox_rootfs), "/bin/sh", "-c", "echo ready; read x"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=gophernetes.env)
    try:
        assert process.stdout.readline().strip() == "ready"
        cgroup = container_cgroup("memory", cgroup_parent)
        assert int((cgroup / "memory.limit_in_bytes").read_text()) == 64 * 1024 * 1024
        process.communicate("\n", timeout=20)
    finally:
        process.kill()
        process.wait()


def test_the_container_sees_its_cgroup_as_the_root(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "cat /proc/self/cgroup")
    assert all(line.endswith(":/") for line in result.stdout.splitlines()), result.stdout
