"""Lab 01 exercise: a hostname of your own, in Python, with the system calls `unshare` makes.

Fill in the two gaps (`raise NotImplementedError`), then check your work as root:

    sudo gophernetes lab check 01 --exercise

The check runs your functions for real, each time in a child process it throws away,
and never lets set_hostname run before new_uts_namespace has really made a new namespace:
the host's own hostname stays as it is.

Python 3.11's `os` has no unshare(): call the C library through ctypes, as gophernetes
does in gophernetes/linux/syscalls.py (read its `unshare` and `sethostname` afterwards).
"""

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)  # the C library this Python already has loaded

CLONE_NEWUTS = 0x04000000  # from <linux/sched.h>: a new UTS namespace (hostname, domain name)


def check(result: int, call: str) -> None:
    """C functions report failure by returning -1 and setting errno: turn that into an OSError."""
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{call}: {os.strerror(errno)}")


def new_uts_namespace() -> None:
    """Move this process into a new UTS namespace (a copy of the current hostname).

    man 2 unshare: int unshare(int flags);
    """
    # Call libc.unshare with the right flag, and pass its result to check().
    raise NotImplementedError("call unshare(2) with CLONE_NEWUTS through libc, then check() its result")


def set_hostname(name: str) -> None:
    """Set the hostname of this process's UTS namespace to `name`.

    man 2 sethostname: int sethostname(const char *name, size_t len);
    The kernel wants bytes and their length (no terminating NUL needed); a name longer
    than 64 bytes is refused (EINVAL): that must raise, not pass in silence.
    """
    raise NotImplementedError("call sethostname(2) through libc with the name as bytes and its length, "
                              "then check() its result")
