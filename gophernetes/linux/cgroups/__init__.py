"""Control groups: how much CPU, memory and how many processes a container may use.

A cgroup is a directory in a special filesystem; writing a PID into its `cgroup.procs`
moves that process (and its future children) into it, and writing limits into its files
(memory.max, pids.max, ...) makes the kernel enforce them. Two versions exist:

- v1 (this project's CI machine, "hybrid"): one hierarchy per controller, mounted at
  /sys/fs/cgroup/memory, /sys/fs/cgroup/pids, ... — a container has a directory in each.
- v2 (Debian 12, the lab VM): one unified tree at /sys/fs/cgroup; a parent enables the
  controllers its children may use in cgroup.subtree_control.

`open_driver()` detects which one the host has; both drivers offer the same interface
(see base.py), so the runtime never asks which it got. Lab 04 walks through both.
"""

from __future__ import annotations

import os
from pathlib import Path

from gophernetes.linux.cgroups.base import Cgroup, CgroupDriver, Limits

__all__ = ["Cgroup", "CgroupDriver", "Limits", "detect_version", "open_driver"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP2_SUPER_MAGIC = 0x63677270


def detect_version(root: Path = CGROUP_ROOT) -> int:
    """2 if `root` itself is a cgroup2 mount (unified), else 1 (legacy or hybrid)."""
    return 2 if (root / "cgroup.controllers").exists() else 1


def default_parent() -> str:
    """The cgroup under which containers are created (docker's --cgroup-parent)."""
    return os.environ.get("GOPHERNETES_CGROUP_PARENT", "gophernetes")


def open_driver(parent: str | None = None, root: Path = CGROUP_ROOT) -> CgroupDriver:
    """The driver for the cgroup version this host runs."""
    parent = parent or default_parent()
    if detect_version(root) == 2:
        from gophernetes.linux.cgroups.v2 import CgroupV2Driver
        return CgroupV2Driver(root, parent)
    from gophernetes.linux.cgroups.v1 import CgroupV1Driver
    return CgroupV1Driver(root, parent)
