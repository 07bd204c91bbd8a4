"""Docker's security baseline: reduced capabilities, no_new_privs, masked and read-only paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gophernetes.linux.capabilities import CAPABILITIES, DOCKER_DEFAULT
from gophernetes.linux.cgroups import detect_version


def run_sh(gophernetes, rootfs, script, *options):
    return gophernetes("run", "--net", "none", *options, "--rootfs", str(rootfs), "/bin/sh", "-c", script)


def capability_sets(stdout: str) -> dict[str, int]:
    return {line.split(":")[0]: int(line.split()[1], 16) for line in stdout.splitlines() if line.startswith("Cap")}


def mask(names) -> int:
    return sum(1 << CAPABILITIES[n] for n in names)


def test_root_in_a_container_has_only_dockers_default_capabilities(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "grep Cap /proc/self/status")
    caps = capability_sets(result.stdout)
    assert caps["CapBnd"] == mask(DOCKER_DEFAULT)
    assert caps["CapEff"] == mask(DOCKER_DEFAULT)
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0


def test_cap_add_and_cap_drop_change_the_set(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "grep CapBnd /proc/self/status",
                    "--cap-add", "net_admin", "--cap-drop", "CAP_NET_RAW")
    caps = capability_sets(result.stdout)
    assert caps["CapBnd"] == mask(DOCKER_DEFAULT - {"NET_RAW"} | {"NET_ADMIN"})


def test_mount_is_refused_without_sys_admin_and_allowed_when_privileged(gophernetes, busybox_rootfs):
    script = "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted"
    confined = run_sh(gophernetes, busybox_rootfs, script)
    privileged = run_sh(gophernetes, busybox_rootfs, script, "--privileged")
    assert confined.returncode != 0 and "mounted" not in confined.stdout
    assert privileged.stdout.strip() == "mounted", privileged.stderr


def test_no_new_privs_is_set(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "grep NoNewPrivs /proc/self/status")
    assert result.stdout.split() == ["NoNewPrivs:", "1"]


def test_host_revealing_proc_files_are_masked(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "wc -c < /proc/timer_list; ls /sys/firmware | wc -l")
    assert result.stdout.split() == ["0", "0"]


def test_kernel_settings_under_proc_sys_are_read_only(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "echo 1 > /proc/sys/kernel/ns_last_pid && echo written")
    assert "written" not in result.stdout
    assert "Read-only file system" in result.stderr


def test_privileged_masks_nothing(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "wc -c < /proc/timer_list; grep CapBnd /proc/self/status",
                    "--privileged")
    lines = result.stdout.splitlines()
    assert int(lines[0]) > 0
    assert capability_sets(lines[1])["CapBnd"] > mask(DOCKER_DEFAULT)


def test_sysfs_is_read_only(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "grep ' /sys ' /proc/mounts")
    assert " ro," in result.stdout


def test_device_nodes_can_be_made_but_only_harmless_ones_opened(gophernetes, busybox_rootfs):
    # /dev/kmsg (c 1:11) is not on the list: mknod succeeds ("m"), opening it does not.
    result = run_sh(gophernetes, busybox_rootfs, "mknod /tmp/kmsg c 1 11 && echo made; "
                    "cat /tmp/kmsg > /dev/null && echo opened; echo x > /dev/null && echo null-ok")
    assert result.stdout.split() == ["made", "null-ok"]
    assert "Operation not permitted" in result.stderr


@pytest.mark.skipif(detect_version() != 1, reason="v2 has no devices files (its rules: test_device_filter.py)")
def test_the_devices_cgroup_lists_only_dockers_defaults(gophernetes, busybox_rootfs, cgroup_parent):
    process = subprocess.Popen(
        [sys.executable, "-m", "gophernetes", "run", "--net", "none", "--rootfs", str(busybox_rootfs),
         "/bin/sh", "-c", "echo ready; read x"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=gophernetes.env)
    try:
        assert process.stdout.readline().strip() == "ready"
        listing = next(Path("/sys/fs/cgroup/devices", cgroup_parent).glob("*/devices.list")).read_text().split("\n")
        assert "a *:* rwm" not in listing
        assert {"c 1:3 rwm", "c 136:* rwm", "c *:* m", "b *:* m"} <= set(listing)
        process.communicate("\n", timeout=20)
    finally:
        process.kill()
        process.wait()
