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


def make_character_device(dev: int, name: str, major: int, minor: int) -> None:
    """Create a character device file in the directory `dev` (mknodat; needs CAP_MKNOD), readable
    and writable by all; in a user namespace, bind the host's node instead (bind_host_device)."""
    try:
        os.mknod(name, 0o666 | stat.S_IFCHR, os.makedev(major, minor), dir_fd=dev)
    except PermissionError:
        bind_host_device(dev, name)
        return
    node = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dev)
    try:
        os.chmod(inroot.fd_path(node), 0o666)  # mknod's mode is masked by the umask
    finally:
        os.close(node)


def bind_host_device(dev: int, name: str) -> None:
    """In a user namespace (--userns auto) mknod is refused: bind the host's node instead, as runc does.

    The kernel only lets CAP_MKNOD of the *host's* user namespace make device nodes; a
    bind mount of the host's /dev/null onto an empty file is the same device (still
    governed by the cgroup's device rules). Runs before pivot_root, while /dev is the host's.
    """
    os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=dev))
    node = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dev)
    try:
        syscalls.mount(f"/dev/{name}", inroot.fd_path(node), None, syscalls.MS_BIND)
    finally:
        os.close(node)
