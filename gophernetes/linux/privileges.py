"""Privileges: can this process make containers at all? One cheap look before anything is made.

Being uid 0 is not enough. Making a container calls on a few capabilities (CAP_SYS_ADMIN
for unshare, mount and pivot_root, CAP_NET_ADMIN for the interfaces of the new network
namespace, CAP_MKNOD for the device files in its /dev, CAP_SETPCAP to take capabilities
away from the container) and on a writable cgroup filesystem for its limits. A root
shell on a host has all of that. Root inside a docker or podman container does not: it
keeps only ~11 capabilities and sees /sys/fs/cgroup read-only, unless the outer container
is started with --privileged. Without this check `gophernetes run` would fail half-way
with "Operation not permitted" or "Read-only file system"; with it, the user reads one
line naming what is missing and how to get it. Lab 03 reads the same CapEff line by hand.

The check runs on every `run`, so it only reads /proc/self/status and asks the kernel
about a few paths: no subprocess, nothing heavy imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from gophernetes.errors import PermissionDenied
from gophernetes.linux.capabilities import CAPABILITIES

CGROUP_ROOT = Path("/sys/fs/cgroup")

# What the runtime does with each capability, in the order a user should read them.
NEEDED_CAPABILITIES: dict[str, str] = {
    "SYS_ADMIN": "namespaces and mounts",
    "NET_ADMIN": "network interfaces",
    "MKNOD": "device files",
    "SETPCAP": "dropping the container's capabilities",
    "SYS_CHROOT": "chroot",
}


def check_can_make_containers(cgroup_root: Path = CGROUP_ROOT) -> None:
    """Raise PermissionDenied, with one line naming what is missing and the fix, unless
    this process has the capabilities and the cgroup access that making a container needs."""
    missing = missing_capabilities(effective_capabilities())
    if missing:
        lacking = [f"CAP_{name} ({NEEDED_CAPABILITIES[name]})" for name in missing]
        listed = lacking[0] if len(lacking) == 1 else f"{', '.join(lacking[:-1])} and {lacking[-1]}"
        raise PermissionDenied(f"gophernetes needs {listed} to make containers, and this process lacks "
                               f"{'it' if len(lacking) == 1 else 'them'}; inside a container, run it with --privileged")
    problem = cgroup_problem(cgroup_root)
    if problem:
        raise PermissionDenied(problem)


def effective_capabilities() -> int:
    """The effective capability set of this process: the CapEff line of /proc/self/status.

    The kernel checks this set (not the uid) on each privileged call; `grep Cap
    /proc/self/status` shows it as hex, and `capsh --decode=...` names the bits.
    """
    with open("/proc/self/status", "rb") as file:
        for line in file:
            if line.startswith(b"CapEff:"):
                return int(line[7:], 16)
    return 0


def missing_capabilities(effective: int) -> list[str]:
    """The names (without CAP_) of the needed capabilities absent from `effective`."""
    return [name for name in NEEDED_CAPABILITIES if not effective >> CAPABILITIES[name] & 1]


def cgroup_problem(root: Path = CGROUP_ROOT) -> str | None:
    """Why containers cannot get cgroups under `root`, as one line with the fix; None if they can."""
    if os.path.exists(root / "cgroup.controllers"):
        return _cgroup_v2_problem(root)
    return _cgroup_v1_problem(root)


def _cgroup_v1_problem(root: Path) -> str | None:
    from gophernetes.linux.cgroups.v1 import CONTROLLERS  # the hierarchies the v1 driver uses

    # One filesystem per controller: each must be mounted and writable. A directory
    # with cgroup.procs is a mounted hierarchy; statvfs tells whether the mount is read-only.
    mounted = 0
    for controller in CONTROLLERS:
        try:
            flags = os.statvfs(root / controller / "cgroup.procs").f_flag
        except OSError:
            continue  # not mounted on this host: the driver does without it
        if flags & os.ST_RDONLY:
            return _read_only(root / controller)
        mounted += 1
    if not mounted:
        return (f"no cgroup filesystem is mounted at {root} (neither cgroup2 nor the v1 "
                f"{', '.join(CONTROLLERS)} controllers); mount them, or inside a container run it with --privileged")
    return None


def _cgroup_v2_problem(root: Path) -> str | None:
    from gophernetes.linux.cgroups.v2 import WANTED_CONTROLLERS  # what the v2 driver hands down

    if os.statvfs(root).f_flag & os.ST_RDONLY:
        return _read_only(root)
    # Only the host's root cgroup lacks cgroup.type. With it, `root` is some cgroup's
    # subtree seen through a cgroup namespace (docker and podman give one to each container
    # on v2 hosts), and "no internal processes" applies: a cgroup that holds processes
    # cannot enable controllers for children, so the memory/cpu/pids limits would fail
    # with "Device or resource busy" when the driver writes cgroup.subtree_control.
    if not os.path.exists(root / "cgroup.type"):
        return None
    wanted = set(WANTED_CONTROLLERS) & set(_read(root / "cgroup.controllers").split())
    handed_down = set(_read(root / "cgroup.subtree_control").split())
    if wanted <= handed_down or not _read(root / "cgroup.procs"):
        return None
    return (f"{root} is this container's own cgroup (a cgroup namespace) and holds its processes, so it cannot "
            f"hand the {', '.join(sorted(wanted - handed_down))} controllers down to containers; run the outer "
            f"container with --privileged --cgroupns=host")


def _read_only(path: Path) -> str:
    return (f"the cgroup filesystem at {path} is read-only; run the outer container with --privileged "
            f"(and --cgroupns=host on cgroup v2 hosts where needed)")


def _read(path: Path) -> str:
    with open(path) as file:
        return file.read().strip()
