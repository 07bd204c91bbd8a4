"""Unpack one layer tar into a directory, safely, in the form overlayfs stacks.

A layer is a tar archive of the changes one build step made: files added or changed,
and files *deleted*, which a tar cannot hold, so the image spec marks them with
*whiteouts*:

    etc/.wh.motd          "etc/motd was deleted" (hides the file of the layers below)
    var/cache/.wh..wh..opq  "var/cache is opaque": nothing below shows through it

overlayfs has its own form of the same two ideas, and that is what we write, so the
unpacked layers can be mounted directly as `lowerdir=top:...:bottom`:

    a whiteout      -> a character device 0/0 named like the deleted file
    an opaque dir   -> the xattr trusted.overlay.opaque="y" on the directory

Each layer is unpacked on its own, into an empty directory: the whiteouts stay as
markers for overlayfs to apply, they are not applied to other layers here.

A layer comes from the network and may be hostile. Python's tarfile.extractall would
happily follow `../../etc/passwd`, a symlink to `/etc` followed by `etc/shadow`, or a
hardlink to a host file. So every entry is checked before anything is written:

- its name is relative, has no `..`, no NUL, and is not absurdly long;
- no directory on its path is a symlink made earlier in this layer (no write-through);
- a relative symlink must not climb out of the layer; an absolute symlink is kept as
  data (`/bin/sh -> /bin/busybox` is normal: inside the container it resolves in the
  container's root), but since no later entry may be written through a symlink, it
  can never make us write on the host;
- a hardlink must point to an entry already unpacked in this layer;
- device nodes are refused (a 0/0 character device is the overlayfs whiteout itself).

The first bad entry stops the unpack with LayerRefused naming it; the caller removes
the half-made directory, so nothing of a refused layer stays on disk.

Kept: ownership, permission bits (setuid too), modification times, and extended
attributes in the `user.` and `security.capability` namespaces. A layer may not set
`trusted.*` (that includes overlayfs' own control xattrs) nor SELinux labels.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gophernetes.errors import GophernetesError

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
KEPT_XATTR_PREFIXES = ("user.", "security.capability")
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20
SPOOL_IN_MEMORY = 32 << 20  # per layer, and up to 4 layers unpack at once


class LayerRefused(GophernetesError):
    """A layer holds an entry that could escape its directory or is not allowed."""


@dataclass
class UnpackResult:
    diff_id: str  # sha256 of the uncompressed tar stream
    size: int     # bytes of the uncompressed tar stream


def unpack_file(blob: Path, dest: Path, *, label: str, allow_devices: bool = False) -> UnpackResult:
    """Unpack the layer blob at `blob` (tar, or gzipped tar) into the empty dir `dest`.

    A gzipped blob is first inflated into a scratch buffer (memory up to 32 MiB, then a
    file beside `dest`): tarfile reads an uncompressed, seekable file much faster than a
    stream. On the way we hash the uncompressed bytes: that is the layer's diff_id, for
    the caller to check against the image config's rootfs.diff_ids.
    """
    with open(blob, "rb") as raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(ZSTD_MAGIC):
            raise GophernetesError(f"layer {label} is zstd-compressed, which gophernetes cannot unpack yet")
        if not magic.startswith(GZIP_MAGIC):
            result = _hash(raw)
            raw.seek(0)
            unpack_tar(raw, dest, label=label, allow_devices=allow_devices)
            return result
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=dest.parent) as tar:
            result = _gunzip(raw, tar, label)
            tar.seek(0)
            unpack_tar(tar, dest, label=label, allow_devices=allow_devices)
            return result


def _hash(stream: BinaryIO) -> UnpackResult:
    hasher, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return UnpackResult("sha256:" + hasher.hexdigest(), size)


def _gunzip(source: BinaryIO, out: BinaryIO, label: str) -> UnpackResult:
    """Inflate gzip `source` into `out` (every member, as `zcat` does), hashing the output."""
    hasher, size = hashlib.sha256(), 0
    inflate = zlib.decompressobj(wbits=31)
    try:
        while data := source.read(CHUNK):
            while data:
                if inflate.eof:  # one gzip member ended and another follows
                    inflate = zlib.decompressobj(wbits=31)
                plain = inflate.decompress(data)
                hasher.update(plain)
                out.write(plain)
                size += len(plain)
                data = inflate.unused_data if inflate.eof else b""
        if not inflate.eof:
            raise zlib.error("the stream ends early")
    except zlib.error as error:
        raise LayerRefused(f"layer {label} is not a valid gzip stream: {error}") from None
    return UnpackResult("sha256:" + hasher.hexdigest(), size)


def unpack_tar(tar: BinaryIO, dest: Path, *, label: str, allow_devices: bool = False) -> None:
    """Unpack an uncompressed tar file into `dest`, entry by entry, refusing hostile ones."""
    state = _State(dest=dest, label=label, allow_devices=allow_devices)
    os.chmod(dest, 0o755)  # a temporary dir is 0700; the layer's "./" entry may say otherwise
    try:
        with tarfile.open(fileobj=tar, mode="r:") as archive:
            for member in archive:
                _unpack_member(archive, member, state)
    except tarfile.TarError as error:
        raise LayerRefused(f"layer {label} is not a valid tar archive: {error}") from None
    for path, member in reversed(state.directories):  # children first touched the parents' mtimes
        _set_metadata(path, member)


@dataclass
class _State:
    dest: Path
    label: str
    allow_devices: bool
    symlinks: set[str] = field(default_factory=set)   # made in this layer: never write through one
    known_dirs: set[Path] = field(default_factory=set)  # directories known to exist (saves a stat)
    directories: list[tuple[Path, tarfile.TarInfo]] = field(default_factory=list)

    def refuse(self, name: str, why: str) -> LayerRefused:
        shown = name if len(name) <= 200 else name[:60] + f"...({len(name)} bytes)"
        return LayerRefused(f"refusing layer {self.label}: entry {shown!r} {why}")


def check_name(name: str, state: _State) -> str:
    """The entry's path relative to the layer root, or LayerRefused. "" is the root itself."""
    if "\0" in name:
        raise state.refuse(name, "contains a NUL byte")
    encoded = os.fsencode(name)
    if len(encoded) > MAX_PATH_BYTES:
        raise state.refuse(name, f"has a name longer than {MAX_PATH_BYTES} bytes")
    if name.startswith("/"):
        raise state.refuse(name, "is an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise state.refuse(name, "climbs out of the layer with '..'")
    if any(len(os.fsencode(part)) > MAX_NAME_BYTES for part in parts):
        raise state.refuse(name, f"has a path component longer than {MAX_NAME_BYTES} bytes")
    relative = "/".join(parts)
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        if parent in state.symlinks:
            raise state.refuse(name, f"would be written through the symlink {parent!r}")
    return relative


def _unpack_member(archive: tarfile.TarFile, member: tarfile.TarInfo, state: _State) -> None:
    relative = check_name(member.name, state)
    if not relative:
        if member.isdir():
            state.directories.append((state.dest, member))
        return
    path = state.dest / relative
    basename = relative.rsplit("/", 1)[-1]
    _make_parents(path.parent, state)

    if basename == OPAQUE_MARKER:
        _mark_opaque(path.parent, member, state)
        return
    if basename.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
        return  # other AUFS bookkeeping (.wh..wh.plnk, ...): meaningless to overlayfs
    if basename.startswith(WHITEOUT_PREFIX):
        hidden = basename[len(WHITEOUT_PREFIX):]
        if hidden in ("", ".", ".."):
            raise state.refuse(member.name, "is a whiteout of nothing")
        _make_whiteout(path.parent / hidden, member.name, state)
        return

    if member.isdir():
        _replace_non_dir(path, relative, state)
        if not path.is_dir():
            os.mkdir(path, 0o755)
        state.directories.append((path, member))
        return
    if member.isreg():
        _write_file(archive, member, path, relative, state)
        return
    _clear(path, relative, state)
    if member.issym():
        _check_symlink_target(relative, member, state)
        os.symlink(member.linkname, path)
        state.symlinks.add(relative)
    elif member.islnk():
        _make_hardlink(member, path, state)
        return  # a hardlink shares the target's inode and metadata
    elif member.ischr() and member.devmajor == 0 and member.devminor == 0:
        _make_whiteout(path, member.name, state)  # already in overlayfs' own form
        return
    elif member.ischr() or member.isblk():
        if not state.allow_devices:
            raise state.refuse(member.name, f"is a device node ({member.devmajor}, {member.devminor}); "
                                            "layers may not create devices")
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
    elif member.isfifo():
        os.mkfifo(path, 0o600)
    else:
        raise state.refuse(member.name, f"has an unsupported tar entry type {member.type!r}")
    _set_metadata(path, member)


def _make_parents(directory: Path, state: _State) -> None:
    """Create missing parent directories (tars may omit them) as root-owned 0755."""
    if directory in state.known_dirs:
        return
    try:
        os.makedirs(directory, 0o755, exist_ok=True)
        state.known_dirs.add(directory)
    except (FileExistsError, NotADirectoryError):
        relative = str(directory.relative_to(state.dest))
        raise state.refuse(relative, "is used as a directory but the layer made it a file") from None


def _replace_non_dir(path: Path, relative: str, state: _State) -> None:
    """A directory entry replaces an earlier file or symlink of the same name."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        os.unlink(path)
        state.symlinks.discard(relative)


def _clear(path: Path, relative: str, state: _State) -> None:
    """A later entry replaces an earlier one of the same name, as tar does."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise state.refuse(relative, "replaces a directory of the same layer with a non-directory")
    os.unlink(path)
    state.symlinks.discard(relative)


def _write_file(archive: tarfile.TarFile, member: tarfile.TarInfo, path: Path, relative: str,
                state: _State) -> None:
    """Create a regular file (never through a symlink: O_NOFOLLOW, O_EXCL) and set its metadata."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        _clear(path, relative, state)
        fd = os.open(path, flags, 0o600)
    source = archive.extractfile(member)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            out.write(chunk)
        out.flush()
        _set_metadata(fd, member)  # by descriptor: no second path lookup


def _check_symlink_target(relative: str, member: tarfile.TarInfo, state: _State) -> None:
    target = member.linkname
    if not target or "\0" in target or len(os.fsencode(target)) > MAX_PATH_BYTES:
        raise state.refuse(member.name, "is a symlink with an empty, NUL-containing or overlong target")
    if target.startswith("/"):
        return  # resolved inside the container's root at run time; never followed here
    depth = 0
    for part in (relative.split("/")[:-1] + target.split("/")):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise state.refuse(member.name, f"is a symlink to {target!r}, which points out of the layer")
        elif part not in ("", "."):
            depth += 1


def _make_hardlink(member: tarfile.TarInfo, path: Path, state: _State) -> None:
    target_name = member.linkname
    try:
        target = check_name(target_name, state)
    except LayerRefused:
        raise state.refuse(member.name, f"is a hardlink to {target_name!r}, outside the layer") from None
    if not target:
        raise state.refuse(member.name, "is a hardlink to the layer root")
    source = state.dest / target
    if not os.path.lexists(source):
        raise state.refuse(member.name, f"is a hardlink to {target_name!r}, which is not in this layer")
    if os.path.isdir(source) and not os.path.islink(source):
        raise state.refuse(member.name, f"is a hardlink to the directory {target_name!r}")
    os.link(source, path, follow_symlinks=False)
    if target in state.symlinks:  # a second name for a symlink is a symlink too
        state.symlinks.add(str(path.relative_to(state.dest)))


def _make_whiteout(path: Path, name: str, state: _State) -> None:
    """A deleted file, in overlayfs' form: a character device with device number 0/0."""
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISDIR(mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
    state.symlinks.discard(str(path.relative_to(state.dest)))
    state.known_dirs.clear()  # a whiteout may have removed a directory we knew
    try:
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
    except PermissionError:
        raise GophernetesError(f"layer {state.label}: cannot create the whiteout for {name!r}: "
                               "making device nodes needs root (CAP_MKNOD)") from None


def _mark_opaque(directory: Path, member: tarfile.TarInfo, state: _State) -> None:
    """An opaque directory, in overlayfs' form: the xattr trusted.overlay.opaque=y."""
    try:
        os.setxattr(directory, OPAQUE_XATTR, b"y", follow_symlinks=False)
    except OSError as error:
        raise GophernetesError(f"layer {state.label}: cannot mark {member.name!r} opaque "
                               f"({OPAQUE_XATTR}): {error.strerror}; needs root on a filesystem "
                               "with trusted xattrs") from None


def _set_metadata(target: Path | int, member: tarfile.TarInfo) -> None:
    """Ownership, then permission bits (chown clears setuid), xattrs, then times.

    `target` is a path (never followed if it is a symlink) or an open file descriptor.
    """
    symlink = member.issym()
    by_path = {} if isinstance(target, int) else {"follow_symlinks": False}
    # A new file belongs to our own uid:gid already (the parent dirs get no setgid bit
    # until the end), so only other owners need a chown; only root may give them.
    if os.geteuid() == 0 and (member.uid, member.gid) != (0, os.getegid()):
        os.chown(target, member.uid, member.gid, **by_path)
    if not symlink:
        os.chmod(target, member.mode & 0o7777)
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            _set_xattr(target, key[len("SCHILY.xattr."):], value, symlink)
    mtime_ns = int(member.mtime * 1_000_000_000)
    os.utime(target, ns=(mtime_ns, mtime_ns), **by_path)


def _set_xattr(target: Path | int, name: str, value: str, symlink: bool) -> None:
    if not name.startswith(KEPT_XATTR_PREFIXES):
        return
    by_path = {} if isinstance(target, int) else {"follow_symlinks": False}
    try:
        os.setxattr(target, name, value.encode("utf-8", "surrogateescape"), **by_path)
    except OSError as error:
        if symlink or error.errno in (errno.ENOTSUP, errno.EPERM):
            return  # symlinks cannot carry user.* xattrs; some filesystems refuse others
        raise
