#!/usr/bin/env python3
"""The least a Python program can do to run /bin/true in a container: the floor under
`gophernetes run`, for bench/run.py.

No CLI, no options, no state, no checks, no gophernetes modules: only `os` and `ctypes`.
It makes one cgroup (the pids controller), new namespaces (mount, UTS, IPC, network, PID,
cgroup), a PID 1 whose root is ROOTFS by pivot_root with /proc mounted, runs /bin/true and
removes the cgroup. Whatever this costs, a Python runtime cannot go below it; the gap
between it and `gophernetes run` is the price of the CLI, the options and the safety.
With --import-click it first imports click, as any click CLI must: the floor for a runtime
whose command line is click's.
Run as root:  python3 bench/python_floor.py [--import-click] ROOTFS
"""

import ctypes
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
# UTS, IPC, network, PID and cgroup namespaces for the container; its own mount namespace
# is made by PID 1 alone: pivot_root moves every process of a mount namespace.
NAMESPACES = 0x04000000 | 0x08000000 | 0x40000000 | 0x20000000 | 0x02000000
CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 0x1000, 0x4000, 0x40000, 0x2
SYS_PIVOT_ROOT = 155  # x86_64


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def pid1(rootfs: bytes) -> None:
    """In the new namespaces: its own private mounts, ROOTFS as /, /proc, then exec."""
    check(libc.unshare(CLONE_NEWNS), "unshare the mount namespace")
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    check(libc.mount(rootfs, rootfs, None, MS_BIND | MS_REC, None), "bind rootfs")
    check(libc.mount(b"proc", rootfs + b"/proc", b"proc", 0, None), "mount proc")
    os.chdir(rootfs)
    check(libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    os.execv("/bin/true", ["/bin/true"])


def main() -> None:
    if sys.argv[1] == "--import-click":
        import click  # noqa: F401  (only its cost matters)
        del sys.argv[1]
    rootfs = os.path.abspath(sys.argv[1]).encode()
    cgroup = f"/sys/fs/cgroup/pids/python-floor-{os.getpid()}"
    if not os.path.isdir("/sys/fs/cgroup/pids"):  # cgroup v2: the unified hierarchy
        cgroup = f"/sys/fs/cgroup/python-floor-{os.getpid()}"
    os.mkdir(cgroup)
    try:
        with open(f"{cgroup}/cgroup.procs", "w") as procs:
            procs.write(str(os.getpid()))
        check(libc.unshare(NAMESPACES), "unshare")
        child = os.fork()
        if child == 0:
            try:
                pid1(rootfs)
            finally:
                os._exit(127)
        _, status = os.waitpid(child, 0)
    finally:
        with open(f"{os.path.dirname(cgroup)}/cgroup.procs", "w") as procs:
            procs.write(str(os.getpid()))
        os.rmdir(cgroup)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
