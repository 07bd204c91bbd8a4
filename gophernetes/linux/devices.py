"""/dev: the few device files a container needs, on a tmpfs of its own.

The host's /dev holds every disk and terminal of the machine. A container gets an empty
tmpfs instead with the harmless devices docker gives (null, zero, full, random, urandom,
tty), its own devpts instance for pseudo-terminals (so it cannot see the host's ptys),
and /dev/shm for POSIX shared memory. Lab 03 lists them.
"""

from __future__ import annotations

import os
import stat

from gophernetes.linux import inroot, syscalls
from gophernetes.linux.syscalls import MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_STRICTATIME

# name -> (major, minor) of the character device; see Documentation/admin-guide/devices.txt
CHARACTER_DEVICES = {
    "null": (1, 3),
    "zero": (1, 5),
    "full": (1, 7),
    "random": (1, 8),
    "urandom": (1, 9),
    "tty": (5, 0),
}

# The device cgroup rules every container gets after those of linux.resources.devices, as
# runc's libcontainer/specconv AllowedDevices (runc 1.1): mknod of any node, and opening the
# harmless ones above, /dev/ptmx, the container's own pseudo-terminals and /dev/net/tun.
# A config.json whose resources.devices is only "deny all" (runc spec's) still gets a
# usable /dev: without them even `> /dev/null` fails, and so does making the nodes.
ALLOWED_DEVICE_RULES = (
    "c *:* m", "b *:* m",
    "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm", "c 1:9 rwm",  # null random full tty zero urandom
    "c 136:* rwm", "c 5:2 rwm",  # pts/*, ptmx
    "c 10:200 rwm",  # tuntap
)

SYMLINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "core": "/proc/kcore",
    "ptmx": "pts/ptmx",
}


def populate_dev(root_fd: int) -> None:
    """Mount a fresh tmpfs at ROOT/dev and fill it with the container's devices.

    Every name is made relative to a descriptor of the new tmpfs (mknodat, symlinkat,
    mkdirat) and every mount goes onto a descriptor's /proc/self/fd path
    (linux/inroot.py): an image whose /dev is a link to the host's /dev is refused, not
    followed.
    """
    target = inroot.mount_point(root_fd, "/dev")
    try:
        syscalls.mount("tmpfs", inroot.fd_path(target), "tmpfs", MS_NOSUID | MS_STRICTATIME,
                       "mode=755,size=65536k")
    finally:
        os.close(target)
    dev = inroot.open_in_root(root_fd, "/dev", os.O_PATH | os.O_DIRECTORY)  # now the tmpfs' root
    try:
        for name, (major, minor) in CHARACTER_DEVICES.items():
            make_character_device(dev, name, major, minor)
        for name, link in SYMLINKS.items():
            os.symlink(link, name, dir_fd=dev)
        # newinstance: a devpts of our own, so the container sees only its own terminals.
        _mount_in(dev, "pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5")
        _mount_in(dev, "shm", "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
        _mount_in(dev, "mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    finally:
        os.close(dev)


def _mount_in(dev: int, name: str, source: str, fstype: str, flags: int, data: str | None = None) -> None:
    """mkdirat DEV/name, then mount onto that very directory through its descriptor."""
    os.mkdir(name, 0o755, dir_fd=dev)
    target = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dev)
    try:
        syscalls.mount(source, inroot.fd_path(target), fstype, flags, data)
    finally:
        os.close(target)


FILE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def make_character_device(dev: int, name: str, major: int, minor: int) -> None:
    """A character device readable and writable by all, in the directory `dev` (see make_device)."""
    make_device(dev, name, "c", major, minor)


def make_device(dev: int, name: str, kind: str, major: int, minor: int, mode: int = 0o666, uid: int = 0,
                gid: int = 0) -> None:
    """Create the device file `name` (may be nested: "net/tun") in the directory `dev`, as runc does.

    mknodat(2) makes the node: the kernel allows it to CAP_MKNOD of the *initial* user
    namespace only (and the device cgroup must allow "m" for it). So, as runc does, the
    node is made when we are root of the host's user namespace, and in a user namespace
    the host's node is bound instead (bind_host_device). chmod after mknod, since the
    umask masks mknod's mode; chown to the owner config.json names.
    """
    parent_name, _, base = name.rpartition("/")
    parent = inroot.make_directories(dev, parent_name) if parent_name else os.dup(dev)
    try:
        if in_user_namespace():
            bind_host_device(parent, base, f"/dev/{name}")
            return
        os.mknod(base, mode | FILE_TYPES[kind], os.makedev(major, minor), dir_fd=parent)
        node = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        try:
            os.chmod(inroot.fd_path(node), mode)
            os.chown(inroot.fd_path(node), uid, gid)
        finally:
            os.close(node)
    finally:
        os.close(parent)


def in_user_namespace() -> bool:
    """Whether this process is in a user namespace other than the host's: its uid_map is then
    not the identity of all 2^32 ids ("0 0 4294967295"), as runc's userns.RunningInUserNS reads it."""
    try:
        with open("/proc/self/uid_map") as file:
            return file.read().split() != ["0", "0", "4294967295"]
    except FileNotFoundError:
        return False  # a kernel without user namespaces


def bind_host_device(dev: int, name: str, host_path: str) -> None:
    """In a user namespace mknod is refused: bind the host's node instead, as runc does.

    The kernel only lets CAP_MKNOD of the *host's* user namespace make device nodes; a
    bind mount of the host's /dev/null onto an empty file is the same device (still
    governed by the cgroup's device rules). Runs before pivot_root, while /dev is the host's.
    """
    os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=dev))
    node = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dev)
    try:
        syscalls.mount(host_path, inroot.fd_path(node), None, syscalls.MS_BIND)
    finally:
        os.close(node)
