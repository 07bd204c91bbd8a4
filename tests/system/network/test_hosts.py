"""/etc/hosts: one shared file per network, read-only in containers, cheap to update whatever they do."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("gophernetes.cli.run")

# Run a command and print the peak resident memory (KiB) of the children it waited for.
PEAK_RSS = """
import resource, subprocess, sys
result = subprocess.run(sys.argv[1:], capture_output=True)
sys.stdout.write(f"{result.returncode} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
"""


@pytest.fixture
def measured_run(host, gophernetes, busybox_rootfs):
    """`gophernetes run --rootfs BUSYBOX true` on the bridge: (exit status, peak RSS in KiB)."""
    def run() -> tuple[int, int]:
        command = [sys.executable, "-m", "gophernetes", "run", "--rootfs", str(busybox_rootfs), "true"]
        out = subprocess.run([sys.executable, "-c", PEAK_RSS, *command], capture_output=True, text=True,
                             env=gophernetes.env, timeout=60).stdout.split()
        return int(out[0]), int(out[1])
    return run


def test_a_container_cannot_grow_the_hosts_file_and_the_next_run_does_not_pay_for_trying(
        measured_run, gophernetes, busybox_rootfs, host, root, nothing_left):
    started = gophernetes("run", "-d", "--name", "big", "--rootfs", str(busybox_rootfs), "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        status, before = measured_run()
        assert status == 0
        hosts_files = list((root.networks / "hosts").iterdir())
        sizes = [path.stat().st_size for path in hosts_files]

        # 64 MB appended to /etc/hosts: refused (read-only), where it used to grow a file on the host.
        grow = gophernetes("exec", "big", "sh", "-c", "head -c 67108864 /dev/zero >> /etc/hosts")
        assert grow.returncode != 0
        assert "Read-only file system" in grow.stderr
        assert [path.stat().st_size for path in hosts_files] == sizes

        status, after = measured_run()
        assert status == 0
        assert after < before + 16 * 1024, (before, after)  # KiB: the 64 MB are nowhere to be read
    finally:
        gophernetes("rm", "-f", "big")
    nothing_left(host, root)


def test_a_container_started_later_appears_in_the_hosts_of_one_started_before(gophernetes, busybox_rootfs,
                                                                              host, root, nothing_left):
    first = gophernetes("run", "-d", "--name", "early", "--rootfs", str(busybox_rootfs), "sleep", "60")
    second = gophernetes("run", "-d", "--name", "late", "--hostname", "late", "--rootfs", str(busybox_rootfs),
                         "sleep", "60")
    try:
        assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
        seen = gophernetes("exec", "early", "cat", "/etc/hosts").stdout
        assert "10.77.0.3\tlate" in seen
        assert "10.77.0.2\t" in seen  # its own line, in the same shared file

        gophernetes("rm", "-f", "late")
        assert "late" not in gophernetes("exec", "early", "cat", "/etc/hosts").stdout
    finally:
        gophernetes("rm", "-f", "early")
        gophernetes("rm", "-f", "late")
    nothing_left(host, root)
