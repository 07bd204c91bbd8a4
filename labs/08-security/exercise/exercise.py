"""Lab 08 exercise: drop a capability, in Python, so that not even root's next program gets it back.

Fill in the two gaps (`raise NotImplementedError`), then check your work as root:

    sudo gophernetes lab check 08 --exercise

The check runs your functions in a child process it throws away: the capabilities you
drop are that child's only (a process can only ever lose capabilities, never take them
from another).

A process has five capability sets (man 7 capabilities, /proc/self/status shows them as
hex masks: CapInh, CapPrm, CapEff, CapBnd, CapAmb). The kernel checks the *effective*
set; the *permitted* set is what may be made effective again; the *bounding* set caps
what any later execve can ever give. Root that runs a program gets every capability in
its bounding set back: dropping from the effective and permitted sets alone does not
stick. Afterwards, read gophernetes/linux/capabilities.py (drop_bounding, apply) and
capset in gophernetes/linux/syscalls.py.
"""

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
libc.syscall.restype = ctypes.c_long

CAP_CHOWN = 0      # from <linux/capability.h>: change any file's owner
CAP_NET_RAW = 13   # raw sockets (ping)
PR_CAPBSET_DROP = 24  # from <linux/prctl.h>
SYS_capset = {"x86_64": 126, "aarch64": 91}[os.uname().machine]


def check(result: int, call: str) -> None:
    """C functions report failure by returning -1 and setting errno: turn that into an OSError."""
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{call}: {os.strerror(errno)}")


def mask(kind: str) -> int:
    """One of this process's capability sets as a bit mask (bit N = capability N): kind is
    "CapEff", "CapPrm", "CapInh" or "CapBnd", as /proc/self/status names them."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(kind + ":"):
                return int(line.split()[1], 16)
    raise LookupError(kind)


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this process's effective, permitted and inheritable sets (man 2 capset).

    Version 3 of the interface takes two 32-bit words per set: capabilities 0-31, then 32-63.
    """
    header = CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (CapData * 2)()
    for word in range(2):
        data[word].effective = (effective >> 32 * word) & 0xFFFFFFFF
        data[word].permitted = (permitted >> 32 * word) & 0xFFFFFFFF
        data[word].inheritable = (inheritable >> 32 * word) & 0xFFFFFFFF
    check(libc.syscall(SYS_capset, ctypes.byref(header), data), "capset")


def drop_from_bounding(cap: int) -> None:
    """Remove capability number `cap` from the bounding set: no execve can ever give it again.

    man 2 prctl: prctl(PR_CAPBSET_DROP, cap, 0, 0, 0). (It needs CAP_SETPCAP, which root has.)
    """
    raise NotImplementedError("call libc.prctl with PR_CAPBSET_DROP and the capability, then check()")


def drop_from_process(cap: int) -> None:
    """Remove capability number `cap` from the effective, permitted and inheritable sets; keep the rest.

    Read each set with mask(), clear bit `cap` (mask & ~(1 << cap)), and capset() the result.
    """
    raise NotImplementedError("clear the bit in the three masks and call capset()")


def drop(cap: int) -> None:
    """Drop `cap` for good: from the bounding set first (that needs CAP_SETPCAP, still held), then now."""
    drop_from_bounding(cap)
    drop_from_process(cap)
