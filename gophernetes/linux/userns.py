"""User namespaces: root inside the container, an unprivileged uid on the host.

A user namespace translates ids. Its /proc/PID/uid_map holds lines "INSIDE OUTSIDE COUNT":
`0 100000 65536` makes ids 0..65535 inside stand for 100000..165535 outside. The kernel
stores the *outside* (host) id on every process and every file; only what a process
sees is translated. So root in the container is uid 100000 to the host: `ps -o user`
outside shows 100000, a file it creates on a host folder belongs to 100000, and if it
ever escaped its namespaces it would hold no capability over anything the host owns.
Host ids that the map does not cover (host root among them) appear inside as the
"overflow" id 65534, nobody — and the container's capabilities do not apply to them.

Who may write the map? Only a process with CAP_SETUID (CAP_SETGID for gid_map) in the
*parent* user namespace, and only once. A process inside the new namespace has every
capability there but none in its parent, so the runtime outside writes the maps, as
runc's parent does for its nsexec child (man 7 user_namespaces).

A map is also what an *idmapped mount* (mount_setattr MOUNT_ATTR_IDMAP, Linux 5.12) is
made of: the same files, shown through the namespace's translation. The image's files,
owned by host root, appear owned by the container's root without being touched — see
runtime/userns_root.py for how the layers use it.

man 7 user_namespaces, man 2 mount_setattr, man 2 open_tree, man 2 move_mount
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from gophernetes.linux import syscalls
from gophernetes.linux.syscalls import _check, libc

# The new mount API's calls have the same number on every architecture (since Linux 5.2/5.12).
SYS_open_tree = 428
SYS_move_mount = 429
SYS_mount_setattr = 442

OPEN_TREE_CLONE = 1              # a detached copy of the mount, not the mount itself
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_EMPTY_PATH = 0x1000           # "the file descriptor itself", not a path below it
AT_FDCWD = -100
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_SYMLINKS = 0x10  # follow a symlink at the target (an image's short layer link, layers/l/ID)
MOUNT_ATTR_IDMAP = 0x00100000

# Every id of the host, unchanged: the map of the host's own (initial) user namespace.
HOST_MAP = "0 0 4294967295"


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def map_text(inside: int, outside: int, count: int) -> str:
    """One uid_map/gid_map line, as the kernel wants it written: 'INSIDE OUTSIDE COUNT\\n'."""
    if count <= 0 or inside < 0 or outside < 0:
        raise ValueError(f"invalid id map {inside} {outside} {count}")
    return f"{inside} {outside} {count}\n"


def read_map(pid: int | str, kind: str = "uid") -> list[tuple[int, int, int]]:
    """The (inside, outside, count) lines of /proc/PID/uid_map (or gid_map)."""
    text = Path(f"/proc/{pid}/{kind}_map").read_text()
    lines = []
    for line in text.splitlines():
        if line.strip():
            inside, outside, count = (int(field) for field in line.split())
            lines.append((inside, outside, count))
    return lines


def write_maps(pid: int, uid_base: int, gid_base: int, count: int) -> None:
    """Map ids 0..count-1 of the user namespace of `pid` to uid_base.. and gid_base.. on the host.

    The order is the kernel's: /proc/PID/setgroups first ("allow": the container's root
    may call setgroups, as any root can; it is only "deny" that an unprivileged writer
    must set), then gid_map and uid_map. Each map can be written once, in one write.
    """
    Path(f"/proc/{pid}/setgroups").write_text("allow")
    Path(f"/proc/{pid}/gid_map").write_text(map_text(0, gid_base, count))
    Path(f"/proc/{pid}/uid_map").write_text(map_text(0, uid_base, count))


def new_user_namespace(uid_base: int, gid_base: int, count: int) -> int:
    """Make a user namespace with the given maps; return an open file of it (/proc/PID/ns/user).

    A namespace lives as long as a process or an open file refers to it, so a helper
    child unshares it, we write its maps from outside, open its ns file and let the
    helper go. The file is what idmapped mounts need, and what the container's first
    stage joins (setns) before it unshares the other namespaces — so those belong to it.
    """
    ready_read, ready_write = os.pipe()
    done_read, done_write = os.pipe()
    helper = os.fork()
    if helper == 0:
        try:
            os.close(ready_read)
            os.close(done_write)
            syscalls.unshare(syscalls.CLONE_NEWUSER)
            os.write(ready_write, b"1")
            os.read(done_read, 1)
        finally:
            os._exit(0)
    os.close(ready_write)
    os.close(done_read)
    try:
        if os.read(ready_read, 1) != b"1":
            raise OSError("unshare(CLONE_NEWUSER) failed in the helper: are user namespaces allowed?")
        write_maps(helper, uid_base, gid_base, count)
        return os.open(f"/proc/{helper}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_read)
        os.close(done_write)  # EOF: the helper exits
        os.waitpid(helper, 0)


def enter(userns_fd: int) -> None:
    """Join the user namespace `userns_fd` and become its root (uid 0, gid 0, no extra groups).

    setns gives every capability *in that namespace* and takes away every capability in
    the host's. Our ids stay the host's root, which the map does not cover, so we then
    set them to 0 inside — host uid_base — as runc's nsexec does after its maps are written.

    man 2 setns (CLONE_NEWUSER: the caller must be single-threaded)
    """
    syscalls.setns(userns_fd, syscalls.CLONE_NEWUSER)
    os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)




def open_tree(path: str | os.PathLike, flags: int = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) -> int:
    """Return a file descriptor for a *detached copy* of the mount at `path` (OPEN_TREE_CLONE).

    Like `mount --bind` without a target: the copy is not in any mount table yet, so its
    attributes (here: an id map) can still be changed before move_mount attaches it.

    man 2 open_tree
    """
    fd = libc.syscall(SYS_open_tree, ctypes.c_int(AT_FDCWD), os.fsencode(path), ctypes.c_uint(flags))
    _check(fd, "open_tree", os.fspath(path))
    return fd


def set_idmap(mount_fd: int, userns_fd: int) -> None:
    """Make the detached mount `mount_fd` show its files through the id map of `userns_fd`.

    Reads translate the owner on disk (host uid 0) into the namespace's (its uid 0, i.e.
    the host's uid_base as far as permission checks go); writes translate back. Nothing
    on disk changes. The kernel refuses (EINVAL) on filesystems without idmapping support
    and on a mount already attached somewhere.

    man 2 mount_setattr
    """
    attr = _MountAttr(attr_set=MOUNT_ATTR_IDMAP, userns_fd=userns_fd)
    _check(libc.syscall(SYS_mount_setattr, ctypes.c_int(mount_fd), b"", ctypes.c_uint(AT_EMPTY_PATH),
                        ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr))), "mount_setattr", "MOUNT_ATTR_IDMAP")


def move_mount(mount_fd: int, target: str | os.PathLike) -> None:
    """Attach the detached mount `mount_fd` at `target` in this process's mount namespace.

    A symlink at `target` is followed (the mount lands on the folder it names), so the
    overlay can still be given the layers' short link names.

    man 2 move_mount
    """
    _check(libc.syscall(SYS_move_mount, ctypes.c_int(mount_fd), b"", ctypes.c_int(AT_FDCWD), os.fsencode(target),
                        ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS)), "move_mount",
           os.fspath(target))


def idmapped_copy(path: str | os.PathLike, userns_fd: int) -> int:
    """A detached, idmapped copy of the mount at `path`: open_tree + mount_setattr. Close it to drop it."""
    fd = open_tree(path)
    try:
        set_idmap(fd, userns_fd)
    except OSError:
        os.close(fd)
        raise
    return fd
