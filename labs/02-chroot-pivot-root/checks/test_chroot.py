"""Lab 02 checks: a root filesystem, a chrooted process, an escape, a pivoted root."""

import os
from pathlib import Path

import labkit

ROOTFS = "/srv/lab02/rootfs"


def root_of(pid) -> str:
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return ""


def test_step_1_a_busybox_root_filesystem(host):
    """/srv/lab02/rootfs holds a static busybox with its applets: a shell runs in it.

    Hint: copy the static busybox into bin/ and give it one symlink per applet name
    (`busybox --list` names them); add the empty folders the later steps mount on,
    including .old.
    """
    assert Path(ROOTFS, "bin/busybox").is_file(), f"no {ROOTFS}/bin/busybox"
    ran = host.run(f"chroot {ROOTFS} /bin/sh -c 'ls / >/dev/null && echo works'")
    assert ran.stdout.strip() == "works", f"a shell does not run in {ROOTFS}: {ran.stderr.strip()}"
    for folder in ("proc", ".old"):
        assert Path(ROOTFS, folder).is_dir(), f"{ROOTFS}/{folder} is missing"


def test_step_2_a_process_chrooted_into_the_root_filesystem(host):
    """A process runs with /srv/lab02/rootfs as its root directory (still in the host's mount namespace).

    Hint: chroot takes the new root and a command to run in it; leave a long-running
    command in the background.
    """
    chrooted = [pid for pid in labkit.pids() if root_of(pid) == ROOTFS and not labkit.in_new_namespace(pid, "mnt")]
    assert chrooted, f"no process has {ROOTFS} as its root (readlink /proc/PID/root)"


def escaped_processes() -> list[tuple[int, int]]:
    """(pid, parent) of processes that broke out: their root is the host's / (as this
    check's), their parent's root is the chroot. Only an escape makes such a child: a
    chrooted process's children inherit its root, and a process outside never had it.
    Reads /proc/PID/root and PPid only: the same on cgroup v1 and v2."""
    found = []
    for pid in labkit.pids():
        if root_of(pid) != "/" or labkit.in_new_namespace(pid, "mnt"):
            continue
        parent = int(labkit.status(pid).get("PPid", 0) or 0)
        if parent and root_of(parent) == ROOTFS and not labkit.in_new_namespace(parent, "mnt"):
            found.append((pid, parent))
    return found


def test_step_3_a_host_file_copied_out_through_the_escape(host):
    """A process escaped the chroot (its root is the host's /, its parent's the chroot) and copied the host's os-release to /srv/lab02/escaped.

    Hint: inside the chroot, /proc is yours to mount, and /proc/PID/root of a process
    outside the chroot is a way out; chroot once more, into that, copy from there and
    keep that process running, its chrooted parent waiting for it.
    Copying the file from outside does not count: the check looks for the escaped process.
    """
    escaped = Path("/srv/lab02/escaped")
    assert escaped.exists(), "no /srv/lab02/escaped"
    assert escaped.read_text() == Path("/etc/os-release").read_text(), "/srv/lab02/escaped is not the host's os-release"
    assert escaped_processes(), \
        f"no running process has the host's / as its root while its parent's root is {ROOTFS}: nothing escaped"
    assert labkit.mounted_at(f"{ROOTFS}/proc") is None, f"{ROOTFS}/proc is still mounted: unmount it"


def test_step_4_a_process_whose_root_mount_is_the_root_filesystem(host):
    """A process in a new mount namespace has the root filesystem as its root MOUNT, and the old root is gone.

    Hint: in a new mount and PID namespace, the root filesystem must first become a
    mount point; then swap it with the old root (man 8 pivot_root), mount /proc and
    lazily unmount the old root, and keep a process running.
    """
    pivoted = []
    for pid in labkit.pids():
        if labkit.in_new_namespace(pid, "mnt") and root_of(pid) == "/":
            table = labkit.mounts(pid)
            root = next((m for m in table if m.target == "/"), None)
            if root and root.root.endswith("lab02/rootfs"):
                pivoted.append((pid, table))
    assert pivoted, "no process in a new mount namespace has /srv/lab02/rootfs mounted as /"
    assert any(not any(m.target.startswith("/.old") for m in table) for _, table in pivoted), \
        "the old root is still mounted on /.old"


def test_step_5_containers_entered_with_pivot_root_and_with_chroot(host):
    """Containers lab02 (pivot_root) and lab02-chroot (--chroot) both run on /srv/lab02/rootfs.

    Hint: `gophernetes run --help` has an option to use your own root filesystem and
    one to enter it with chroot. Run both detached, off the network.
    """
    pivoted = labkit.running_container("lab02")
    chrooted = labkit.running_container("lab02-chroot")
    for container in (pivoted, chrooted):
        root = next((m for m in labkit.mounts(container["pid"]) if m.target == "/"), None)
        assert root and ROOTFS in root.super_options, \
            f"container {container['name']} does not run on {ROOTFS}"
    assert root_of(pivoted["pid"]) == "/", "container lab02 was not entered with pivot_root"
    assert root_of(chrooted["pid"]) not in ("/", ""), "container lab02-chroot was not entered with chroot"
