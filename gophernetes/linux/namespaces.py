"""Namespaces: what a container sees of the system is decided by the ones it is in.

Each kind isolates one view: PID (process numbers), UTS (hostname), mount (the mount
table), network (interfaces, routes), IPC (shared memory, semaphores) and cgroup (which
part of the cgroup tree looks like "/"). A process's namespaces are the links in
/proc/PID/ns/; two processes share a namespace when those links point to the same inode
(lab 01: `readlink /proc/self/ns/uts`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gophernetes.linux import syscalls

# The kinds a container gets, in the order `run --help` documents them.
FLAGS: dict[str, int] = {
    "pid": syscalls.CLONE_NEWPID,
    "uts": syscalls.CLONE_NEWUTS,
    "mnt": syscalls.CLONE_NEWNS,
    "net": syscalls.CLONE_NEWNET,
    "ipc": syscalls.CLONE_NEWIPC,
    "cgroup": syscalls.CLONE_NEWCGROUP,
}


@dataclass(frozen=True)
class NamespaceSet:
    """Which namespace kinds a container gets of its own (the rest it shares with the host)."""

    kinds: frozenset[str] = frozenset(FLAGS)

    def flags(self) -> int:
        """The CLONE_NEW* bits for unshare(2)."""
        value = 0
        for kind in self.kinds:
            value |= FLAGS[kind]
        return value

    def without(self, *kinds: str) -> NamespaceSet:
        return NamespaceSet(self.kinds - set(kinds))


def identity(pid: int | str, kind: str) -> str:
    """The namespace of `kind` that process `pid` is in, e.g. 'uts:[4026531838]'."""
    return os.readlink(f"/proc/{pid}/ns/{kind}")
