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

from gophernetes.errors import UsageError
from gophernetes.linux import syscalls

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


def restrict_to(names: frozenset[str]) -> None:
    """Reduce this process (and everything it will execve) to the capabilities in `names`.

    Order matters: dropping from the bounding set needs CAP_SETPCAP, which capset may be
    about to remove, so the bounding set goes first.
    """
    keep = {CAPABILITIES[n] for n in names}
    for number in range(last_capability() + 1):
        if number not in keep:
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, number)
    # capset may only shrink the permitted set: never ask for one this process lacks.
    mask = sum(1 << n for n in keep) & permitted_mask()
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    # The inheritable set must shrink too: for root, execve grants inheritable | bounding.
    syscalls.capset(effective=mask, permitted=mask, inheritable=0)


def set_no_new_privs() -> None:
    """From now on no execve can add privileges: setuid bits and file capabilities are ignored.

    man 2 prctl (PR_SET_NO_NEW_PRIVS)
    """
    syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
