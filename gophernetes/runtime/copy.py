"""`gophernetes cp`: files between the host and a container, running or stopped, every
container path resolved inside the container's root.

The container's root, as its processes see it (overlay, /tmp tmpfs and all), is
/proc/PID/root of its init. Joining text onto that path would be docker cp's old bug
(CVE-2019-14271 and friends): the path is walked by *our* process, so a link the
container made, `/data -> /etc`, leads to the host's /etc, and a link swapped in at the
right moment beats any check made before the open. So (see linux/inroot.py):

- The container path itself is resolved by the kernel with openat2(RESOLVE_IN_ROOT):
  links and ".." are followed as a chrooted process would follow them, never out of the
  root, however they change during the walk.
- Below that, a directory tree is walked with descriptors: each entry is opened by
  name relative to the directory already opened, with O_NOFOLLOW, so a link in the tree
  is copied as a link and never followed, and a directory swapped for a link half-way
  fails (ELOOP/ENOTDIR) instead of leading elsewhere. Files are opened O_PATH first and
  checked to be regular: a FIFO planted by the container cannot hang the copy.
- The host side is written the same way (O_NOFOLLOW, relative to directories), so a
  container-controlled name cannot write through a link already in the host folder.
- A stopped container has no process and so no /proc/PID/root: its root filesystem is
  mounted again (overlay of its image layers under its own writable layer, the same
  folders it runs on) in a child process's private mount namespace, and the copy runs
  there against that mount — the same resolution rules. The mount dies with the child:
  nothing to unmount, nothing the host ever sees (copy_with_stopped).
- Files copied in belong to the container's root (its uid 0 on the host: another uid
  with --userns auto), as docker does; files copied out lose setuid and setgid bits: a
  container must not be able to hand the host a setuid-root program.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gophernetes.errors import GophernetesError, NotFound, UsageError
from gophernetes.linux import inroot

CHUNK = 1 << 20


@dataclass(frozen=True)
class Endpoint:
    """One side of a copy: a host path (container None) or CONTAINER:PATH."""

    container: str | None
    path: str


def parse_endpoint(text: str) -> Endpoint:
    """docker's rule: `NAME:PATH` names a container when the part before the first ":" has
    no "/" (a host path with a colon is written ./a:b)."""
    head, colon, tail = text.partition(":")
    if colon and head and "/" not in head:
        if not tail:
            raise UsageError(f"{text!r}: say which path in container {head}, e.g. {head}:/etc/hostname")
        return Endpoint(head, tail if tail.startswith("/") else "/" + tail)
    if not text:
        raise UsageError("an empty path: give a host path or CONTAINER:PATH")
    return Endpoint(None, text)


def parse_copy(source: str, destination: str) -> tuple[Endpoint, Endpoint]:
    """(source, destination), exactly one of them in a container."""
    src, dst = parse_endpoint(source), parse_endpoint(destination)
    if src.container and dst.container:
        raise UsageError("copying between containers is not supported: copy to the host, then into the other")
    if not src.container and not dst.container:
        raise UsageError("one of SRC and DST must be in a container: CONTAINER:PATH")
    return src, dst


@dataclass(frozen=True)
class Side:
    """Where paths of one side are resolved: in a container's root (root_fd), or on the host."""

    root_fd: int | None
    owner: tuple[int, int] | None = None   # chown what is created here to (uid, gid)
    keep_setuid: bool = True

    def open(self, path: str, flags: int) -> int:
        if self.root_fd is None:
            return os.open(path, flags | os.O_CLOEXEC)
        return inroot.open_in_root(self.root_fd, path, flags)

    def describe(self, path: str) -> str:
        return path if self.root_fd is None else f"{path} (in the container)"


def container_root(pid: int) -> int:
    """An O_PATH descriptor of the container's root directory, as its init sees it."""
    return os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def root_owner(pid: int) -> tuple[int, int]:
    """The host uid and gid that the container's root is (0, 0 unless it has a user namespace)."""
    def host_id(kind: str) -> int:
        with open(f"/proc/{pid}/{kind}_map") as file:
            for line in file:
                inside, outside, _ = (int(field) for field in line.split())
                if inside == 0:
                    return outside
        return 0
    return host_id("uid"), host_id("gid")


def copy(source: Side, source_path: str, target: Side, target_path: str) -> None:
    """Copy a file or a directory tree from `source_path` to `target_path`, as cp -r does:
    into `target_path` when it is a directory, else as `target_path` (its parent must exist)."""
    try:
        found = source.open(source_path, os.O_PATH)
    except FileNotFoundError:
        raise NotFound(f"no such file or directory: {source.describe(source_path)}") from None
    try:
        mode = os.fstat(found).st_mode
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise UsageError(f"{source.describe(source_path)} is not a regular file or a directory")
        folder, name = _destination(target, target_path, posixpath.basename(inroot.clean(source_path)))
        try:
            opened = _reopen(found, os.O_RDONLY | (os.O_DIRECTORY if stat.S_ISDIR(mode) else 0))
            try:
                _copy_entry(opened, mode, folder, name, target)
            finally:
                os.close(opened)
        finally:
            os.close(folder)
    finally:
        os.close(found)


def _destination(target: Side, path: str, source_name: str) -> tuple[int, str]:
    """(the folder to create in, the name to create): into `path` if it is a directory."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        return target.open(path, os.O_PATH | os.O_DIRECTORY), source_name or "."
    parent, name = posixpath.split(path.rstrip("/") or "/")
    try:
        return target.open(parent or ".", os.O_PATH | os.O_DIRECTORY), name
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"no such directory: {target.describe(parent or '.')}") from None


def _reopen(fd: int, flags: int) -> int:
    """A readable descriptor of exactly the inode the O_PATH descriptor `fd` holds."""
    return os.open(inroot.fd_path(fd), flags | os.O_CLOEXEC)


def _copy_entry(source_fd: int, mode: int, folder: int, name: str, target: Side) -> None:
    if stat.S_ISDIR(mode):
        destination = _make_directory(folder, name, mode, target)
        try:
            _copy_tree(source_fd, destination, target)
        finally:
            os.close(destination)
    else:
        _copy_file(source_fd, mode, folder, name, target)


def _copy_tree(source_dir: int, target_dir: int, target: Side) -> None:
    """Every entry of `source_dir` into `target_dir`, by name, never following a link."""
    for name in os.listdir(source_dir):
        try:
            mode = os.stat(name, dir_fd=source_dir, follow_symlinks=False).st_mode
        except FileNotFoundError:
            continue  # removed while we copied
        if stat.S_ISLNK(mode):
            _replace(target_dir, name)
            os.symlink(os.readlink(name, dir_fd=source_dir), name, dir_fd=target_dir)
            _chown(target_dir, name, target)
        elif stat.S_ISDIR(mode) or stat.S_ISREG(mode):
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            entry = os.open(name, flags | (os.O_DIRECTORY if stat.S_ISDIR(mode) else 0), dir_fd=source_dir)
            try:
                actual = os.fstat(entry).st_mode
                if stat.S_IFMT(actual) == stat.S_IFMT(mode):  # else swapped since the stat: skip it
                    _copy_entry(entry, actual, target_dir, name, target)
            finally:
                os.close(entry)
        # devices, FIFOs and sockets are not copied (docker cp makes them; we keep to data)


def _make_directory(folder: int, name: str, mode: int, target: Side) -> int:
    if name != ".":
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=folder)
    try:
        opened = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UsageError(f"cannot copy a directory onto {name!r}: it exists and is not a directory") from None
        raise
    if name != ".":
        os.fchmod(opened, _mode(mode, target))
        if target.owner:
            os.fchown(opened, *target.owner)
    return opened


def _copy_file(source_fd: int, mode: int, folder: int, name: str, target: Side) -> None:
    _replace(folder, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        written = os.open(name, flags, 0o600, dir_fd=folder)
    except (IsADirectoryError, FileExistsError):  # _replace leaves directories alone
        raise UsageError(f"cannot copy a file onto the directory {name!r}") from None
    try:
        while chunk := os.read(source_fd, CHUNK):
            os.write(written, chunk)
        os.fchmod(written, _mode(mode, target))
        if target.owner:
            os.fchown(written, *target.owner)
    finally:
        os.close(written)


def _replace(folder: int, name: str) -> None:
    """Unlink what is at `name` unless it is a directory: a link there is replaced, never followed."""
    with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
        if not stat.S_ISDIR(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
            os.unlink(name, dir_fd=folder)


def _chown(folder: int, name: str, target: Side) -> None:
    if target.owner:
        os.chown(name, *target.owner, dir_fd=folder, follow_symlinks=False)


def _mode(mode: int, target: Side) -> int:
    permissions = stat.S_IMODE(mode)
    return permissions if target.keep_setuid else permissions & ~(stat.S_ISUID | stat.S_ISGID)


def copy_with_container(source: Endpoint, destination: Endpoint, pid: int) -> None:
    """The whole `cp`: `pid` is the init of the container named on one side."""
    root = container_root(pid)
    try:
        _copy_in_root(source, destination, root, root_owner(pid))
    finally:
        os.close(root)


def _copy_in_root(source: Endpoint, destination: Endpoint, root: int, owner: tuple[int, int]) -> None:
    if source.container:
        copy(Side(root), source.path, Side(None, keep_setuid=False), destination.path)
    else:
        copy(Side(None), source.path, Side(root, owner=None if owner == (0, 0) else owner), destination.path)


@dataclass(frozen=True)
class StoppedRoot:
    """A stopped container's root filesystem, as its engine knows how to mount it again."""

    mount: Callable[[Path], None]    # mounts the root (overlay of its layers and its upper) at a folder
    mountpoint: Path                 # an empty folder of the container's own to mount it on
    owner: tuple[int, int] = (0, 0)  # its root's host uid and gid (another with --userns auto)
    read_only: bool = False          # run --read-only: nothing may be copied in


def copy_with_stopped(source: Endpoint, destination: Endpoint, root: StoppedRoot) -> None:
    """The whole `cp` for a container without processes: in a child process, which makes
    its own mount namespace (unshare CLONE_NEWNS, every mount private), mounts the root
    there and copies against it. When the child exits its namespace goes, and the mount
    with it: the host's mount table never sees it. The child's error comes back pickled.

    The container must stay stopped meanwhile: a `start` during the copy would mount the same
    upper folder a second time, which overlayfs does not define (it warns in the kernel log)."""
    if root.read_only and destination.container:
        raise UsageError(f"container {destination.container} has a read-only root filesystem (run --read-only): "
                         f"nothing can be copied into it")
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is read through the pipe
        os.close(reader)
        os._exit(_stopped_child(source, destination, root, writer))
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        report = pipe.read()
    _, status = os.waitpid(child, 0)
    if report:
        raise pickle.loads(report)
    if status:
        raise GophernetesError(f"the copy's process died ({_describe_status(status)}): the copy may be incomplete")


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _stopped_child(source: Endpoint, destination: Endpoint, root: StoppedRoot, report: int) -> int:
    from gophernetes.linux import mounts, syscalls

    try:
        here = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        syscalls.unshare(syscalls.CLONE_NEWNS)
        mounts.make_all_private()
        root.mount(root.mountpoint)
        os.fchdir(here)  # mounting may change the working directory: host paths are relative to ours
        _copy_in_root(source, destination, inroot.open_root(root.mountpoint), root.owner)
        return 0
    except BaseException as error:  # noqa: BLE001 - every failure goes back to the parent
        try:
            data = pickle.dumps(error)
        except Exception:  # noqa: BLE001 - an unpicklable error still says what it was
            data = pickle.dumps(GophernetesError(str(error)))
        os.write(report, data)
        return 1
