"""Namespaces: what a container sees of the system is decided by the ones it is in.

Each kind isolates one view: PID (process numbers), UTS (hostname), mount (the mount
table), network (interfaces, routes), IPC (shared memory, semaphores) and cgroup (which
part of the cgroup tree looks like "/"). A process's namespaces are the links in
/proc/PID/ns/; two processes share a namespace when those links point to the same inode
(lab 01: `readlink /proc/self/ns/uts`).
"""

from __future__ import annotations

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
