"""The system calls a container is made of, as thin ctypes wrappers.

Python 3.11's `os` module has no unshare, setns, mount or pivot_root, so we call the C
library directly. Each wrapper's docstring says what the kernel does and which man
page to read; each failure becomes an OSError naming the call and its argument.
"""

from __future__ import annotations

import ctypes
import os

# The C library this interpreter already has loaded (no search: ctypes.util.find_library
# would run ldconfig, ~10 ms).
libc = ctypes.CDLL(None, use_errno=True)

# Namespace flags, from <linux/sched.h>. Each names one kind of namespace.
CLONE_NEWNS = 0x00020000      # mount namespace: its own list of mounts
CLONE_NEWCGROUP = 0x02000000  # cgroup namespace: its own view of /proc/self/cgroup
CLONE_NEWUTS = 0x04000000     # UTS namespace: its own hostname and domain name
CLONE_NEWIPC = 0x08000000     # IPC namespace: its own System V IPC and POSIX queues
CLONE_NEWUSER = 0x10000000    # user namespace: its own uid/gid mappings
CLONE_NEWPID = 0x20000000     # PID namespace: its own process numbers, starting at 1
CLONE_NEWNET = 0x40000000     # network namespace: its own interfaces, routes, firewall

# mount(2) flags, from <linux/mount.h>.
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_STRICTATIME = 0x1000000
MNT_DETACH = 0x2

# prctl(2) options, from <linux/prctl.h>.
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4

# openat2(2)'s `resolve` flags, from <linux/openat2.h>.
RESOLVE_NO_XDEV = 0x01        # never cross a mount point
RESOLVE_NO_MAGICLINKS = 0x02  # never follow /proc's magic links (/proc/PID/root, /proc/PID/fd/N, ...)
RESOLVE_NO_SYMLINKS = 0x04    # never follow any symbolic link
RESOLVE_BENEATH = 0x08        # fail (EXDEV) on anything that would leave the starting directory
RESOLVE_IN_ROOT = 0x10        # treat the starting directory as "/": absolute links and ".." stay inside

SYS_pivot_root = {"x86_64": 155, "aarch64": 41}[os.uname().machine]
SYS_openat2 = 437  # the same number on every architecture (added in Linux 5.6, after the tables were unified)
SYS_capset = {"x86_64": 126, "aarch64": 91}[os.uname().machine]

libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.unshare.argtypes = [ctypes.c_int]
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
libc.syscall.restype = ctypes.c_long


def _check(result: int, call: str, argument: object = "") -> None:
    """Turn a C-style -1 return into an OSError that names the call and its argument."""
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{call}({argument}): {os.strerror(errno)}")


def _bytes(path: str | os.PathLike | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces of the kinds named in `flags`.

    The process keeps running; from now on it sees its own hostname (CLONE_NEWUTS),
    its own mount table (CLONE_NEWNS, a copy of the parent's), its own network stack
    (CLONE_NEWNET, with only a loopback device, down), and so on. CLONE_NEWPID is the
    odd one: the caller stays where it is and only its *next child* becomes PID 1 of the
    new PID namespace — which is why `unshare --pid` needs `--fork` (lab 01).

    man 2 unshare, man 7 namespaces
    """
    _check(libc.unshare(flags), "unshare", hex(flags))


def setns(fd: int, nstype: int = 0) -> None:
    """Join the existing namespace that the open file `fd` (/proc/PID/ns/KIND) refers to.

    This is how `exec` and `nsenter` get into a running container: open the target's
    /proc/PID/ns/net, /proc/PID/ns/mnt, ... and setns into each. `nstype` 0 accepts any
    kind. Joining a PID namespace, like unshare, only affects later children.

    man 2 setns
    """
    _check(libc.setns(fd, nstype), "setns", fd)


def mount(source: str | None, target: str | os.PathLike, fstype: str | None,
          flags: int = 0, data: str | None = None) -> None:
    """Attach a filesystem (or, with MS_BIND, an existing directory) at `target`.

    `fstype` names the kind ("proc", "sysfs", "tmpfs", "overlay", ...), `flags` change
    how (MS_RDONLY, MS_NOSUID, ...) and `data` is the filesystem's own option string,
    e.g. "lowerdir=...,upperdir=...,workdir=..." for overlayfs. With MS_REMOUNT the flags
    of an existing mount change; with MS_PRIVATE/MS_SLAVE only its propagation does.

    man 2 mount
    """
    _check(libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)),
           "mount", f"{fstype or 'bind'} on {os.fspath(target)}")


def umount2(target: str | os.PathLike, flags: int = 0) -> None:
    """Detach the filesystem mounted at `target`.

    With MNT_DETACH the mount disappears from the namespace at once and is cleaned up
    when nothing uses it any more ("lazy" unmount): how the old root is dropped after
    pivot_root while our own process still has it open.

    man 2 umount
    """
    _check(libc.umount2(_bytes(target), flags), "umount2", os.fspath(target))


def pivot_root(new_root: str | os.PathLike, put_old: str | os.PathLike) -> None:
    """Make `new_root` the root mount of this mount namespace; move the old root to `put_old`.

    Unlike chroot, which only changes how *this process* resolves "/", pivot_root swaps
    the root mount itself, so no ".." walk can climb back to the host once the old root
    is unmounted (lab 02 shows the walk that escapes a chroot). The kernel insists that
    `new_root` is a mount point, that `put_old` lies beneath it, and that neither shares
    propagation with the parent namespace — which is why the caller makes every mount
    private first. Passing "." for both (after chdir into the new root) stacks the old
    root on top of the new one, from where one umount2 removes it; runc does the same.

    man 2 pivot_root
    """
    _check(libc.syscall(SYS_pivot_root, _bytes(new_root), _bytes(put_old)), "pivot_root",
           f"{os.fspath(new_root)} — is it a mount point, with private propagation?")


def sethostname(name: str) -> None:
    """Set the hostname of this UTS namespace (and only of it, once unshared).

    man 2 sethostname
    """
    encoded = name.encode()
    _check(libc.sethostname(encoded, len(encoded)), "sethostname", name)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """Change one attribute of the calling process (capability bounding set, no_new_privs, ...).

    man 2 prctl
    """
    result = libc.prctl(option, arg2, arg3, arg4, arg5)
    _check(result, "prctl", option)
    return result


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's effective, permitted and inheritable capability sets (bit masks).

    The permitted set is what the process may use; the effective set is what the kernel
    checks right now; the inheritable set is what may survive an execve. A process can
    only ever shrink its permitted set. (Version 3 of the interface: two 32-bit words
    per set, for capabilities 0-63.)

    man 2 capset, man 7 capabilities
    """
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for word in range(2):
        shift = 32 * word
        data[word].effective = (effective >> shift) & 0xFFFFFFFF
        data[word].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[word].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(libc.syscall(SYS_capset, ctypes.byref(header), data), "capset", hex(permitted))


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dir_fd: int, path: str | os.PathLike, flags: int, resolve: int, mode: int = 0) -> int:
    """Open `path` relative to the directory `dir_fd`, with rules for how the path may be resolved.

    open(2) follows every symbolic link wherever it points. openat2 adds `resolve` flags;
    the one a container runtime needs is RESOLVE_IN_ROOT: the kernel walks the path as if
    `dir_fd` were "/" — an absolute link target starts again at `dir_fd`, ".." stops at
    it — exactly what the path means to a process chrooted there. So `etc/hosts` in an
    image whose /etc is a link to /srv/host-folder opens ROOT/srv/host-folder/hosts, never
    the host's /srv. The kernel does this walk atomically: no other process can swap a
    link between our check and our use, which a walk in Python could not promise.
    RESOLVE_NO_MAGICLINKS also refuses /proc's magic links, which point anywhere at all.
    Returns the new file descriptor (Linux 5.6+; the flags are O_CLOEXEC'd by the caller).

    man 2 openat2
    """
    how = _OpenHow(flags, mode, resolve)
    fd = libc.syscall(SYS_openat2, dir_fd, _bytes(path), ctypes.byref(how), ctypes.sizeof(how))
    _check(fd, "openat2", os.fspath(path))
    return fd
