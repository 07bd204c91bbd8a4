"""/dev: the few device files a container needs, on a tmpfs of its own.

The host's /dev holds every disk and terminal of the machine. A container gets an empty
tmpfs instead with the harmless devices docker gives (null, zero, full, random, urandom,
tty), its own devpts instance for pseudo-terminals (so it cannot see the host's ptys),
and /dev/shm for POSIX shared memory. Lab 03 lists them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gophernetes.linux import syscalls
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


def populate_dev(root: Path) -> None:
    """Mount a fresh tmpfs at ROOT/dev and fill it with the container's devices."""
    dev = root / "dev"
    dev.mkdir(exist_ok=True)
    syscalls.mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k")
    for name, (major, minor) in CHARACTER_DEVICES.items():
        make_character_device(dev / name, major, minor)
    for name, target in SYMLINKS.items():
        os.symlink(target, dev / name)
    (dev / "pts").mkdir()
    # newinstance: a devpts of our own, so the container sees only its own terminals.
    syscalls.mount("devpts", dev / "pts", "devpts", MS_NOSUID | MS_NOEXEC,
                   "newinstance,ptmxmode=0666,mode=0620,gid=5")
    (dev / "shm").mkdir()
    syscalls.mount("shm", dev / "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
    (dev / "mqueue").mkdir()
    syscalls.mount("mqueue", dev / "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def make_character_device(path: Path, major: int, minor: int) -> None:
    """Create a character device file (mknod; needs CAP_MKNOD), readable and writable by all."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except PermissionError:
        bind_host_device(path)
        return
    os.chmod(path, 0o666)  # mknod's mode is masked by the umask


def bind_host_device(path: Path) -> None:
    """In a user namespace (--userns auto) mknod is refused: bind the host's node instead, as runc does.

    The kernel only lets CAP_MKNOD of the *host's* user namespace make device nodes; a
    bind mount of the host's /dev/null onto an empty file is the same device (still
    governed by the cgroup's device rules). Runs before pivot_root, while /dev is the host's.
    """
    path.touch()
    syscalls.mount(f"/dev/{path.name}", path, None, syscalls.MS_BIND)

