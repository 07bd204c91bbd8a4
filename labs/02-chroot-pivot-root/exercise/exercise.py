"""Lab 02 exercise: pivot_root into a prepared root, in Python, as a container runtime does.

Fill in the three gaps (`raise NotImplementedError`), then check your work as root:

    sudo gophernetes lab check 02 --exercise

The check runs your functions for real, in a child process that it has first moved
into a mount namespace of its own: whatever you mount, pivot or unmount stays there
and ends with that child. The host's mounts are never at stake.

Python 3.11's `os` has no mount(), umount2() or pivot_root(): call the C library
through ctypes. Afterwards, read gophernetes/linux/syscalls.py (the wrappers) and
gophernetes/linux/mounts.py (make_all_private, bind, pivot_into): the same calls.
"""

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)  # the C library this Python already has loaded
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.syscall.restype = ctypes.c_long

# From <linux/mount.h> and <sys/mount.h>
MS_BIND = 0x1000       # mount --bind: show an existing directory at a second place
MS_REC = 0x4000        # ... with everything mounted below it (mount --rbind), or recursively
MS_PRIVATE = 0x40000   # mount events no longer propagate to or from other namespaces
MNT_DETACH = 0x2       # umount -l: detach now, free once nothing uses it

# glibc has no pivot_root() function: it is called by number with syscall(2).
SYS_pivot_root = {"x86_64": 155, "aarch64": 41}[os.uname().machine]


def check(result: int, call: str) -> None:
    """C functions report failure by returning -1 and setting errno: turn that into an OSError."""
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{call}: {os.strerror(errno)}")


def make_mounts_private() -> None:
    """`mount --make-rprivate /`: no mount of ours reaches the host's namespace, and back.

    man 2 mount ("Changing the propagation type of an existing mount"): source and
    fstype are NULL (None), the target is "/", the flags MS_REC | MS_PRIVATE.
    """
    raise NotImplementedError("call libc.mount(None, b'/', None, FLAGS, None) with the right FLAGS, then check()")


def bind_onto_itself(path: str) -> None:
    """`mount --rbind PATH PATH`: make the directory a mount point (pivot_root needs one).

    man 2 mount ("Creating a bind mount"). ctypes wants bytes for char *: os.fsencode(path).
    """
    raise NotImplementedError("call libc.mount(source, target, None, MS_BIND | MS_REC, None), then check()")


def pivot_into(new_root: str) -> None:
    """Make the mount point `new_root` the root "/" and drop the old root for good.

    man 2 pivot_root, its NOTES: "pivot_root(".", ".")" after chdir(new_root) stacks the
    old root on top of the new one at "/"; umount2(".", MNT_DETACH) then peels it off.
    End with chdir("/") so the current directory is inside the new root.
    """
    os.chdir(new_root)
    raise NotImplementedError("libc.syscall(SYS_pivot_root, b'.', b'.'), then libc.umount2(b'.', MNT_DETACH), "
                              "each check()ed; then os.chdir('/')")
