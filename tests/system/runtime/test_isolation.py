"""A container sees its own processes, hostname, mounts and root — and the host sees none of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_sh(gophernetes, rootfs, script: str, *options: str, **kwargs):
    return gophernetes("run", "--net", "none", *options, "--rootfs", str(rootfs), "/bin/sh", "-c", script, **kwargs)


def test_the_command_is_pid_1_of_its_own_pid_namespace(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "echo $$; ls /proc | grep -c '^[0-9]'")
    assert result.returncode == 0, result.stderr
    pid, processes = result.stdout.split()
    assert pid == "1"
    assert int(processes) <= 3  # sh, ls and grep: the host's processes are invisible


def test_hostname_is_the_short_id_or_the_one_given(gophernetes, busybox_rootfs):
    default = run_sh(gophernetes, busybox_rootfs, "hostname")
    named = run_sh(gophernetes, busybox_rootfs, "hostname; cat /etc/hostname", "--hostname", "lab01")
    assert len(default.stdout.strip()) == 12 and default.stdout.strip() != os.uname().nodename
    assert named.stdout.split() == ["lab01", "lab01"]
    assert os.uname().nodename != "lab01"


def test_every_namespace_differs_from_the_hosts(gophernetes, busybox_rootfs):
    kinds = ["pid", "uts", "mnt", "net", "ipc", "cgroup"]
    script = "; ".join(f"readlink /proc/self/ns/{kind}" for kind in kinds)
    inside = run_sh(gophernetes, busybox_rootfs, script).stdout.split()
    outside = [os.readlink(f"/proc/self/ns/{kind}") for kind in kinds]
    assert len(inside) == len(kinds)
    for kind, mine, host in zip(kinds, inside, outside, strict=True):
        assert mine != host, f"the {kind} namespace is shared with the host"


def test_sharing_a_namespace_with_the_host_is_a_choice(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "readlink /proc/self/ns/uts; readlink /proc/self/ns/ipc",
                    "--uts", "host", "--ipc", "host")
    assert result.stdout.split() == [os.readlink("/proc/self/ns/uts"), os.readlink("/proc/self/ns/ipc")]


def test_net_none_has_only_a_loopback_that_is_up(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "ls /sys/class/net; cat /sys/class/net/lo/operstate; "
                    "ping -c1 -W1 127.0.0.1 >/dev/null && echo pong")
    assert result.stdout.split() == ["lo", "unknown", "pong"], result.stderr


def test_the_root_is_an_overlay_and_the_host_root_is_gone_after_pivot_root(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "cat /proc/self/mountinfo")
    mounts = [line.split()[4] for line in result.stdout.splitlines()]
    assert mounts[0] == "/"
    assert "overlay" in result.stdout.splitlines()[0]
    assert {"/proc", "/sys", "/dev", "/dev/pts", "/dev/shm"} <= set(mounts)
    assert not any(m.startswith(("/work", "/home", "/var", "/tmp")) for m in mounts)


def mount_namespace_contents(gophernetes, rootfs, cgroup_parent, *options) -> list[str]:
    """The mount points of a running container's namespace, as seen from its namespace root.

    nsenter --mount joins the namespace *and* takes its root as "/" (--pid, so that the
    container's /proc knows the reader): after pivot_root
    that root is the container's; after chroot it is still the host's.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "gophernetes", "run", "--net", "none", *options, "--rootfs", str(rootfs),
         "/bin/sh", "-c", "echo ready; read line"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=gophernetes.env)
    try:
        assert process.stdout.readline().strip() == "ready"
        procs = next(Path("/sys/fs/cgroup/pids", cgroup_parent).glob("*/cgroup.procs")).read_text().split()
        inside = subprocess.run(["nsenter", "-t", procs[0], "--mount", "--pid", "/bin/cat", "/proc/self/mountinfo"],
                                capture_output=True, text=True, check=True).stdout
        process.communicate("\n", timeout=30)
    finally:
        process.kill()
        process.wait()
    return [line.split()[4] for line in inside.splitlines()]


def test_chroot_leaves_the_host_root_in_the_namespace_pivot_root_does_not(gophernetes, busybox_rootfs,
                                                                         cgroup_parent):
    pivoted = mount_namespace_contents(gophernetes, busybox_rootfs, cgroup_parent)
    chrooted = mount_namespace_contents(gophernetes, busybox_rootfs, cgroup_parent, "--chroot")
    assert "/sys/fs/cgroup" not in pivoted and "/proc" in pivoted
    # Under chroot the host's whole mount table is still there, only out of the process's sight.
    assert "/sys/fs/cgroup" in chrooted
    assert any(m.endswith("/rootfs/proc") for m in chrooted)


def test_writes_land_in_the_overlay_never_in_the_root_filesystem(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "echo hi > /written; rm /bin/ls; cat /written")
    assert result.stdout.strip() == "hi"
    assert not (busybox_rootfs / "written").exists()
    assert (busybox_rootfs / "bin" / "ls").is_symlink()


def test_the_container_mounts_are_invisible_on_the_host_while_it_runs(gophernetes, busybox_rootfs, state_root):
    process = subprocess.Popen(
        [sys.executable, "-m", "gophernetes", "run", "--net", "none", "--rootfs", str(busybox_rootfs),
         "/bin/sh", "-c", "echo ready; read line; echo done"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=gophernetes.env)
    try:
        assert process.stdout.readline().strip() == "ready"
        with open("/proc/self/mountinfo") as file:
            host_mounts = file.read()
        assert str(state_root) not in host_mounts
        assert "devpts" not in [line.split()[-3] for line in host_mounts.splitlines() if str(busybox_rootfs) in line]
        out, _ = process.communicate("go\n", timeout=30)
        assert out.strip() == "done"
    finally:
        process.kill()
        process.wait()


def test_dev_holds_only_the_harmless_devices(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, "ls /dev; echo x > /dev/null && head -c 4 /dev/zero | wc -c")
    entries = result.stdout.split()
    assert entries[-1] == "4"
    assert {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"} <= set(entries)
    assert not any(name.startswith(("sd", "vd", "nvme", "mem", "kmsg")) for name in entries)


def test_stdin_and_stdout_pass_through(gophernetes, busybox_rootfs):
    result = gophernetes("run", "--net", "none", "--rootfs", str(busybox_rootfs), "/bin/tr", "a-z", "A-Z",
                         input="hello from the host\n")
    assert result.stdout == "HELLO FROM THE HOST\n"


def test_environment_working_dir_and_user(gophernetes, busybox_rootfs):
    result = run_sh(gophernetes, busybox_rootfs, 'echo "$GREETING $PATH"; pwd; id -u',
                    "-e", "GREETING=hi", "-w", "/tmp/work", "-u", "nobody")
    greeting, workdir, uid = result.stdout.splitlines()
    assert greeting.startswith("hi /usr/local/sbin:")
    assert workdir == "/tmp/work"
    assert uid == "65534"
