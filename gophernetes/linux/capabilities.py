"""Capabilities: root's power, cut into pieces, most of which a container does not get.

Since Linux 2.2 "root" is not one privilege but ~40 capabilities (CAP_SYS_ADMIN to mount,
CAP_NET_ADMIN to configure networks, CAP_SYS_MODULE to load kernel modules, ...). A
container's root keeps only docker's default list: enough for apt, chown and ping, not
enough to mount, load modules or reconfigure the host. The *bounding set* caps what any
later execve can ever regain; the other sets are trimmed to match; no_new_privs stops
setuid binaries from raising privileges again. Lab 03 compares `grep Cap /proc/self/status`
inside and outside.
"""

from __future__ import annotations

from typing import NamedTuple

from gophernetes.errors import UsageError
from gophernetes.linux import syscalls

# prctl(2) options and arguments, from <linux/prctl.h>.
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT_RAISE = 2

# Numbers from <linux/capability.h>.
CAPABILITIES: dict[str, int] = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5,
    "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10,
    "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15,
    "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20,
    "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25,
    "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29, "AUDIT_CONTROL": 30,
    "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
    "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}

# Docker's default capability set (moby's oci/caps/defaults.go).
DOCKER_DEFAULT = frozenset({
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
})


def parse_name(name: str) -> str:
    """'net_admin', 'CAP_NET_ADMIN' or 'NET_ADMIN' -> 'NET_ADMIN'; 'ALL' stays 'ALL'."""
    upper = name.strip().upper()
    upper = upper.removeprefix("CAP_")
    if upper != "ALL" and upper not in CAPABILITIES:
        raise UsageError(f"unknown capability {name!r} (see man 7 capabilities)")
    return upper


def effective_set(add: list[str], drop: list[str]) -> frozenset[str]:
    """Docker's default set with --cap-add and --cap-drop applied (ALL allowed in both)."""
    added = {parse_name(n) for n in add}
    dropped = {parse_name(n) for n in drop}
    names = set() if "ALL" in dropped else set(DOCKER_DEFAULT) - dropped
    names |= set(CAPABILITIES) if "ALL" in added else added - {"ALL"}
    return frozenset(names)


def last_capability() -> int:
    """The highest capability number this kernel knows."""
    with open("/proc/sys/kernel/cap_last_cap") as file:
        return int(file.read())


def permitted_mask() -> int:
    """This process's permitted capability set, as the kernel shows it in /proc/self/status."""
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith("CapPrm:"):
                return int(line.split()[1], 16)
    return 0


class Sets(NamedTuple):
    """A process's five capability sets, as names without CAP_ (config.json's process.capabilities)."""

    bounding: frozenset[str]
    effective: frozenset[str] = frozenset()
    permitted: frozenset[str] = frozenset()
    inheritable: frozenset[str] = frozenset()
    ambient: frozenset[str] = frozenset()


def mask_of(names: frozenset[str]) -> int:
    """Capability names as the kernel's bit mask (bit N = capability number N)."""
    return sum(1 << CAPABILITIES[name] for name in names)


def drop_bounding(keep: frozenset[str]) -> None:
    """Drop every capability not in `keep` from the bounding set: no later execve can regain it.

    Needs CAP_SETPCAP in the effective set, so it comes before capset takes that away.
    man 2 prctl (PR_CAPBSET_DROP)
    """
    numbers = {CAPABILITIES[name] for name in keep}
    for number in range(last_capability() + 1):
        if number not in numbers:
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, number)


def keep_across_setuid(keep: bool) -> None:
    """Whether the permitted set survives a switch from uid 0 to another uid (the effective set
    is emptied either way, and refilled from the permitted set by capset).

    Without it, setuid(1000) empties every set at once: the runtime could not give a
    non-root process the capabilities config.json names, as runc does. Cleared by execve.
    man 2 prctl (PR_SET_KEEPCAPS), man 7 capabilities ("Effect of user ID changes")
    """
    syscalls.prctl(PR_SET_KEEPCAPS, int(keep))


def apply(sets: Sets) -> None:
    """Set the permitted, effective and inheritable sets, then raise the ambient ones.

    capset may only shrink the permitted set, so a capability this process lacks is left
    out rather than asked for. An ambient capability is kept across execve of a program
    without file capabilities, even by a non-root user; the kernel only raises one that is
    both permitted and inheritable (PR_CAP_AMBIENT_RAISE), so ambient comes last.
    man 2 capset, man 2 prctl (PR_CAP_AMBIENT)
    """
    permitted = mask_of(sets.permitted) & permitted_mask()
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    syscalls.capset(effective=mask_of(sets.effective) & permitted, permitted=permitted,
                    inheritable=mask_of(sets.inheritable))
    for name in sorted(sets.ambient):
        if permitted >> CAPABILITIES[name] & 1 and name in sets.inheritable:
            syscalls.prctl(syscalls.PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAPABILITIES[name])


def set_no_new_privs() -> None:
    """From now on no execve can add privileges: setuid bits and file capabilities are ignored.

    man 2 prctl (PR_SET_NO_NEW_PRIVS)
    """
    syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
