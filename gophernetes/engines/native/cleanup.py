"""Cleaning up after containers whose keeper died: cgroups, IP leases and folders.

A foreground `run` or a supervisor killed with SIGKILL cannot clean up after itself.
The container's mounts need no help — they live in its own mount namespace and vanish
with its last process — but its cgroup, its network lease (veth, firewall rules, address)
and its folder stay behind. Reads (`list`, `inspect`) only show such a container as exited;
the next command that changes it (`stop`, `rm`, `kill`, ...) repairs it (engines/native.py
`_repair`), and `gophernetes prune` sweeps everything else.
"""

from __future__ import annotations

import shutil

from gophernetes.errors import GophernetesError
from gophernetes.linux.cgroups import open_driver
from gophernetes.paths import StateRoot


def release_resources(state: StateRoot, record) -> None:
    """Kill what is left of the container and free its cgroup and network lease."""
    release_by_id(state, record.id, networked=record.spec.net not in ("none", "host") or bool(record.state.networks))


def release_by_id(state: StateRoot, container_id: str, networked: bool = True) -> None:
    """The same, knowing only the container's ID (its record may be unreadable): the cgroup
    and the lease are both named by it."""
    cgroup = open_driver().open(container_id)
    if cgroup.directories():
        cgroup.kill_all()
        cgroup.remove(timeout=5)
    if networked and state.networks.exists():
        from gophernetes import network

        network.release_container(state, container_id)


def remove_orphans(state: StateRoot, known_ids: set[str]) -> list[str]:
    """Remove cgroups, leases and folders that belong to no container record; return what went.

    Several state roots (GOPHERNETES_ROOT) may share one cgroup parent, and a cgroup does
    not say which root made it. So a cgroup this root has no record of is removed only
    when it is *empty* — a crash leftover — and never killed: it may be another root's
    running container. docker's prune, likewise, removes only what has stopped.
    """
    removed = []
    driver = open_driver()
    for name in _cgroup_names(driver):
        if name not in known_ids:
            cgroup = driver.open(name)
            if cgroup.pids():
                continue  # someone's running container: not ours to kill
            try:
                cgroup.remove(timeout=0)
            except GophernetesError:
                continue  # a process joined meanwhile, or a child cgroup holds one: leave it
            removed.append(f"cgroup {name[:12]}")
    if state.networks.exists():
        from gophernetes import network
        from gophernetes.network import ipam

        for lease in ipam.all_leases(state.networks):
            if lease.container_id not in known_ids:
                network.release_container(state, lease.container_id)
                removed.append(f"network lease of {lease.container_id[:12]}")
    if state.containers.exists():
        for folder in state.containers.iterdir():
            # .names (the name index) and .new-ID drafts are the store's own, not containers
            if folder.is_dir() and not folder.name.startswith(".") and folder.name not in known_ids:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(f"folder {folder.name[:12]}")
    return removed


def _cgroup_names(driver) -> set[str]:
    """The container cgroups under our parent, in whichever hierarchy the driver uses."""
    parents = ([h / driver.parent for h in driver.hierarchies.values()] if driver.version == 1
               else [driver.parent_path])
    return {child.name for parent in parents if parent.exists() for child in parent.iterdir() if child.is_dir()}
