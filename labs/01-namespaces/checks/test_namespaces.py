"""Lab 01 checks: namespaces that exist on this host right now."""

import os

import labkit


def same_root(pid) -> bool:
    """Does PID see the same / as this check (no chroot, no pivot_root)?"""
    try:
        theirs, mine = os.stat(f"/proc/{pid}/root/"), os.stat("/")
    except OSError:
        return False
    return (theirs.st_dev, theirs.st_ino) == (mine.st_dev, mine.st_ino)


def test_step_1_a_uts_namespace_named_lab01(host):
    """A UTS namespace bound at /run/lab01/uts has the hostname lab01; the host's is unchanged.

    Hint: `unshare` can keep the namespace it makes alive by bind-mounting it on an
    existing file (see the long options in `man unshare`); `nsenter` runs a command in
    it. Set the hostname from inside the new namespace, not on the host.
    """
    bound = labkit.mounted_at("/run/lab01/uts")
    assert bound is not None and bound.fstype == "nsfs", "nothing is bind-mounted on /run/lab01/uts"
    inside = host.run("nsenter --uts=/run/lab01/uts hostname")
    assert inside.rc == 0, f"/run/lab01/uts is not a UTS namespace: {inside.stderr.strip()}"
    assert inside.stdout.strip() == "lab01", f"the namespace's hostname is {inside.stdout.strip()!r}"
    assert host.run("hostname").stdout.strip() != "lab01", "the HOST's hostname is lab01: set it inside"


def test_step_2_a_process_that_is_pid_1_of_its_own_namespace(host):
    """A sleep process runs as PID 1 of a new PID namespace, with a /proc of its own.

    Hint: a new PID namespace only takes the *children* of the process that asks for
    it; look at unshare's option that forks, and the one that mounts a matching /proc.
    """
    sleepers = [pid for pid in labkit.pids() if labkit.comm(pid) == "sleep"
                and labkit.ns_pids(pid)[-1:] == [1] and labkit.in_new_namespace(pid, "pid")
                and not labkit.in_new_namespace(pid, "uts")  # not step 4's container
                and same_root(pid)]  # nor lab 02's pivoted sleeper
    assert sleepers, "no sleep process is PID 1 of a PID namespace"
    own_proc = [pid for pid in sleepers if any(m.target == "/proc" and m.fstype == "proc"
                                               for m in labkit.mounts(pid)) and labkit.in_new_namespace(pid, "mnt")]
    assert own_proc, "the PID-1 sleep has no /proc of its own (so ps inside would show the host)"


def test_step_3_a_tmpfs_on_mnt_that_only_one_namespace_sees(host):
    """A process in a new mount namespace has a tmpfs named lab01 on /mnt; the host has none.

    Hint: mount from *inside* the new mount namespace (unshare can run a shell that
    mounts and then keeps running), and keep that process alive in the background.
    """
    holders = [pid for pid in labkit.pids() if labkit.in_new_namespace(pid, "mnt")
               and any(m.target == "/mnt" and m.source == "lab01" and m.fstype == "tmpfs"
                       for m in labkit.mounts(pid))]
    assert holders, "no process sees a tmpfs named lab01 on /mnt"
    host_mnt = labkit.mounted_at("/mnt")
    assert host_mnt is None or host_mnt.source != "lab01", "the HOST has the lab01 tmpfs on /mnt too"


def test_step_4_a_container_with_its_own_hostname_and_namespaces(host):
    """Container lab01 runs with hostname lab01-box, in new UTS, PID and mount namespaces.

    Hint: `gophernetes run --help`: run it detached, give it a name and a hostname,
    and keep it off the network (--net none).
    """
    pid = labkit.running_container("lab01")["pid"]
    for kind in ("uts", "pid", "mnt"):
        assert labkit.in_new_namespace(pid, kind), f"container lab01 shares the host's {kind} namespace"
    name = host.run(f"nsenter --target {pid} --uts hostname").stdout.strip()
    assert name == "lab01-box", f"container lab01's hostname is {name!r}"
