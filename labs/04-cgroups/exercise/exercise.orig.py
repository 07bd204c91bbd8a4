"""Lab 04 exercise: a cgroup with a memory and a process limit, in Python, on cgroup v1 and v2.

Fill in the four gaps (`raise NotImplementedError`), then check your work as root:

    sudo gophernetes lab check 04 --exercise

A cgroup is a folder in the cgroup filesystem, and everything is a file write: no
system call beyond mkdir, write and rmdir. The check works under a parent cgroup of its
own (e.g. "gophernetes-exercise04-1a2b3c") and removes it afterwards, whatever you made.

The lab VM runs cgroup v2 (one tree), a CI host may run v1 (one tree per controller):
your code must do both, as gophernetes/linux/cgroups/v1.py and v2.py do behind one
interface (read them afterwards, and the table in this lab's README).

    v1: /sys/fs/cgroup/memory/PARENT/NAME/memory.limit_in_bytes
        /sys/fs/cgroup/pids/PARENT/NAME/pids.max
    v2: /sys/fs/cgroup/PARENT/NAME/memory.max and .../pids.max, once PARENT's
        cgroup.subtree_control has "+memory +pids" (and the root's, for PARENT)
"""

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids")


def cgroup_version() -> int:
    """2 on a unified host (the root is itself a cgroup2 mount), 1 on a legacy or hybrid one."""
    return 2 if (CGROUP_ROOT / "cgroup.controllers").exists() else 1


def folders(parent: str, name: str) -> list[Path]:
    """The cgroup's folders: one on v2; on v1 one per controller (memory, then pids)."""
    if cgroup_version() == 2:
        return [CGROUP_ROOT / parent / name]
    return [CGROUP_ROOT / controller / parent / name for controller in CONTROLLERS]


def create_cgroup(parent: str, name: str) -> None:
    """Make the cgroup PARENT/NAME, with the memory and pids controllers at its disposal.

    v1: make the folders (parents included). v2: make PARENT, let its children use
    memory and pids by writing "+memory" and "+pids" to the cgroup.subtree_control of
    the root (if not enabled yet) and of PARENT, then make PARENT/NAME.
    man 7 cgroups; Documentation/admin-guide/cgroup-v2.rst ("Enabling and Disabling")
    """
    raise NotImplementedError("mkdir the folder(s); on v2 first enable +memory +pids in cgroup.subtree_control")


def set_limits(parent: str, name: str, memory_bytes: int, max_pids: int) -> None:
    """At most `memory_bytes` of memory and `max_pids` processes for the cgroup.

    The file names differ: memory.limit_in_bytes (v1) or memory.max (v2); pids.max on both.
    """
    raise NotImplementedError("write the limits into the right files of folders(parent, name)")


def add_process(parent: str, name: str, pid: int) -> None:
    """Move process `pid` (and its future children) into the cgroup.

    Write the PID into cgroup.procs: on v1 in every hierarchy it should be limited in.
    """
    raise NotImplementedError("write str(pid) to cgroup.procs of each folder")


def remove_cgroup(parent: str, name: str) -> None:
    """Delete the cgroup, then PARENT (it holds nothing else). It must hold no process any more.

    A cgroup's files cannot be unlinked: rmdir the folder (Path.rmdir), children first.
    """
    raise NotImplementedError("rmdir each of folders(parent, name), then its parent folder")
