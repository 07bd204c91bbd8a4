"""Lab 03 exercise: a container's /proc and /dev, in Python, as a runtime makes them.

Fill in the two gaps (`raise NotImplementedError`), then check your work as root:

    sudo gophernetes lab check 03 --exercise

The check runs your functions in a child process that it has first moved into a mount
namespace of its own (and, for /proc, a PID namespace of its own): the mounts you make
are that child's and vanish with it. The folders it gives you are temporary ones.

Afterwards, read gophernetes/linux/mounts.py (mount_proc) and gophernetes/linux/devices.py
(populate_dev): the same calls, and why a container gets these six devices only.
"""

import ctypes
import os
import stat  # noqa: F401 (for make_dev)

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

# mount(2) flags, from <linux/mount.h>
MS_NOSUID = 0x2   # setuid bits and file capabilities are ignored on this mount
MS_NODEV = 0x4    # device files on this mount cannot be opened
MS_NOEXEC = 0x8   # no program on this mount can be run

# The devices docker gives a container: name -> (major, minor) of the character device
# (Documentation/admin-guide/devices.txt)
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}


def check(result: int, call: str) -> None:
    """C functions report failure by returning -1 and setting errno: turn that into an OSError."""
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{call}: {os.strerror(errno)}")


def mount_proc(target: str) -> None:
    """`mount -t proc -o nosuid,nodev,noexec proc TARGET`: a procfs showing *our* PID namespace.

    man 2 mount: source b"proc", fstype b"proc", flags MS_NOSUID | MS_NODEV | MS_NOEXEC.
    man 5 proc. Strings go to ctypes as bytes (os.fsencode(target)).
    """
    raise NotImplementedError("call libc.mount for a proc filesystem at target, then check()")


def make_dev(dev: str) -> None:
    """A fresh /dev at the folder `dev`: a tmpfs holding the six DEVICES, each readable and writable by all.

    First libc.mount(b"tmpfs", dev, b"tmpfs", MS_NOSUID, b"mode=755"): the host's /dev
    (every disk!) is not there. Then for each device os.mknod(path, stat.S_IFCHR | 0o666,
    os.makedev(major, minor)) and os.chmod(path, 0o666) (mknod's mode passes the umask).
    man 2 mknod, man 4 null, man 4 random
    """
    raise NotImplementedError("mount a tmpfs at dev, then mknod the six character devices in it")
