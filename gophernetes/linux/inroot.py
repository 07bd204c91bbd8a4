"""Paths inside a container's root, resolved as the container will see them — never on the host.

Before pivot_root the runtime still sees the host's whole tree, and the container's
root is just a folder in it. Joining paths as text (`root / "etc/hosts"`) lets the
image decide where we write: an image whose /etc is the link `/etc -> /srv/data` makes
ROOT/etc/hosts mean the *host's* /srv/data/hosts, and a working directory
`../../../tmp/x` climbs out of the root altogether. runc's CVEs 2021-30465 and
2024-21626 and docker's `docker cp` bugs are this class.

The rule here: every path the runtime opens, creates or mounts on inside the root goes
through this module, which asks the kernel to resolve it *in* the root:

- `open_in_root` is openat2(ROOT, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): links
  are followed as a chrooted process would follow them; ".." stops at the root.
- `make_directories` creates missing directories one component at a time with
  mkdirat() relative to the directory already resolved — never a path string.
- `create_file` opens the final name with O_NOFOLLOW relative to its resolved parent.
- Mounts go onto `/proc/self/fd/N`, N an O_PATH descriptor from `open_in_root`: the
  kernel mounts onto exactly the inode we resolved, so a link put there later (by a
  container process, for `exec`'s case) cannot redirect the mount (runc does the same).

After pivot_root (mask_paths, make_readonly, chdir) there is nothing of the host left to
reach by any path, so plain paths are safe again.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat

from gophernetes.linux import syscalls
from gophernetes.linux.syscalls import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS

IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
MAX_LINKS = 40  # as the kernel's own limit on links in one lookup (ELOOP)


def open_root(root: str | os.PathLike) -> int:
    """An O_PATH descriptor of the root folder itself: the anchor every later lookup starts from."""
    return os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH, mode: int = 0) -> int:
    """Open `path` (as the container would name it: "/etc/hosts") inside the root `root_fd`."""
    return syscalls.openat2(root_fd, path.lstrip("/") or ".", flags | os.O_CLOEXEC, IN_ROOT, mode)


def components(path: str) -> list[str]:
    """'/a/./b/../c/' -> ['a', 'c']: ".." is taken lexically, so it can never climb above the root."""
    return [part for part in posixpath.normpath("/" + path).split("/") if part]


def clean(path: str) -> str:
    """The absolute path `components` leaves: '/app/../x' -> '/x', '' -> '/'."""
    return "/" + "/".join(components(path))


def make_directories(root_fd: int, path: str, mode: int = 0o755, _links: int = 0) -> int:
    """mkdir -p of `path` inside the root; returns an O_PATH descriptor of the last directory.

    Each missing component is made with mkdirat() in the directory just resolved, then
    the whole prefix is resolved again in the root: a link in the image (/var/run -> /run)
    is followed as the container would follow it, and never out of the root. A link to
    a folder that does not exist yet gets that folder made — inside the root.
    """
    current = os.dup(root_fd)
    prefix = ""
    try:
        for name in components(path):
            parent, prefix = prefix, prefix + "/" + name
            try:
                os.mkdir(name, mode, dir_fd=current)
            except FileExistsError:
                pass  # a directory, or a link that open_in_root below follows (inside the root)
            try:
                following = open_in_root(root_fd, prefix, os.O_PATH | os.O_DIRECTORY)
            except FileNotFoundError:
                target = _dangling_link(current, name)
                if target is None or _links >= MAX_LINKS:
                    raise
                os.close(make_directories(root_fd, posixpath.join(parent or "/", target), mode, _links + 1))
                following = open_in_root(root_fd, prefix, os.O_PATH | os.O_DIRECTORY)
            os.close(current)
            current = following
    except OSError as error:
        os.close(current)
        raise OSError(error.errno, f"cannot make {path} in the container's root: {prefix} is not a directory "
                                   f"({error.strerror})") from None
    return current


def _dangling_link(dir_fd: int, name: str) -> str | None:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return None


def create_file(root_fd: int, path: str, content: bytes, mode: int = 0o644) -> None:
    """Write a new file at `path` inside the root; a link already at that name is replaced, not followed."""
    parent, name = posixpath.split(posixpath.normpath("/" + path))
    parent_fd = make_directories(root_fd, parent)
    try:
        try:
            os.unlink(name, dir_fd=parent_fd)  # e.g. resolv.conf -> ../run/systemd/...: never write through it
        except FileNotFoundError:
            pass
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                     dir_fd=parent_fd)
        with os.fdopen(fd, "wb") as file:
            file.write(content)
    finally:
        os.close(parent_fd)


def mount_point(root_fd: int, path: str, directory: bool = True) -> int:
    """An O_PATH descriptor of the mount target `path` inside the root, made if missing.

    Mount onto `fd_path(fd)`. The target must not itself be a link: a mount "on" a link
    would land on whatever the link names, which is the redirection we are closing.
    """
    parent, name = posixpath.split(posixpath.normpath("/" + path))
    parent_fd = make_directories(root_fd, parent)
    try:
        try:
            if directory:
                os.mkdir(name, 0o755, dir_fd=parent_fd)
            else:
                os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                                 0o644, dir_fd=parent_fd))
        except FileExistsError:
            pass
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
        wanted = stat.S_ISDIR if directory else stat.S_ISREG
        if not wanted(os.fstat(fd).st_mode):
            os.close(fd)
            kind = "directory" if directory else "regular file"
            raise OSError(errno.ENOTDIR if directory else errno.EISDIR,
                          f"cannot mount on {path} in the container's root: it must be a {kind}, not a link")
        return fd
    finally:
        os.close(parent_fd)


def fd_path(fd: int) -> str:
    """The magic link through which the kernel reaches exactly the inode `fd` holds."""
    return f"/proc/self/fd/{fd}"
