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
- device nodes are neither refused nor created: a base layer made by debootstrap holds
  dev/console (5,1), dev/null (1,3) and more, and docker and containerd accept it. A
  container's /dev is a fresh tmpfs with its own few nodes, so the layer's nodes would
  only ever be reachable where /dev is not mounted over (a chroot, a volume, a copy of
  the root), and there a node 8,0 is the host's disk. So they are skipped, a file of
  the same name in the layer is still removed, and the layer's layer.json lists what
  was skipped. (A 0/0 character device is different: it is the overlayfs whiteout.)
- memory stays bounded whatever the layer holds: data is streamed 256 KiB at a time
  (gzip inflated with a bound on each call's output, so a gzip bomb costs disk, not
  RAM), tarfile forgets each header once it is unpacked, and a pax or GNU long-name
  header over 1 MiB is refused rather than read into memory.

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
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from gophernetes.errors import GophernetesError

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
KEPT_XATTR_PREFIXES = ("user.", "security.capability")
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 256 << 10  # bytes read, inflated and written at a time: per layer, and 4 layers unpack at once
ZEROS = bytes(CHUNK)
MAX_HEADER = 1 << 20  # the largest single read: a pax or GNU long-name header (Go's limit too)


class LayerRefused(GophernetesError):
    """A layer holds an entry that could escape its directory or is not allowed."""


@dataclass
class UnpackResult:
    diff_id: str  # sha256 of the uncompressed tar stream
    size: int     # bytes of the uncompressed tar stream
    skipped_devices: list[str] = field(default_factory=list)  # "dev/console (c 5,1)", not created


def unpack_file(blob: Path, dest: Path, *, label: str) -> UnpackResult:
    """Unpack the layer blob at `blob` (tar, or gzipped tar) into the empty dir `dest`.

    The blob is read once, front to back, through a LayerStream that inflates it 256 KiB
    at a time: memory stays bounded (about a MiB) whatever the layer's size, so a "gzip
    bomb" (2 GiB of zeros in 2 MB) costs disk, never RAM. On the way the stream hashes
    the uncompressed bytes: that is the layer's diff_id, for the caller to check against
    the image config's rootfs.diff_ids.
    """
    with open(blob, "rb") as raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(ZSTD_MAGIC):
            raise GophernetesError(f"layer {label} is zstd-compressed, which gophernetes cannot unpack yet")
        stream = LayerStream(raw, gzipped=magic.startswith(GZIP_MAGIC), label=label)
        skipped = unpack_tar(stream, dest, label=label)
        stream.drain()  # bytes after the tar's end still count in the diff_id
        return UnpackResult("sha256:" + stream.hasher.hexdigest(), stream.size, skipped)


class LayerStream:
    """A layer's uncompressed tar as a forward-only file for tarfile: inflate, hash, count.

    tarfile ("r:" mode) reads 512-byte headers and member data in pieces, and only ever
    seeks forward; so this object hands it the next bytes of the inflated stream,
    keeping about one CHUNK (256 KiB) inflated in memory. zlib is asked for at most CHUNK
    bytes of output per call (`max_length`): without that bound, a MiB of compressed
    zeros inflates to a GiB in one call.

    A gzip file may hold several members back to back (what `cat a.gz b.gz` makes);
    they form one stream, as for `zcat`. A read larger than CHUNK can only be a pax or
    GNU long-name header (data is read in CHUNK pieces): one over 1 MiB is refused, as
    Go's archive/tar (docker, containerd) refuses headers over 1 MiB.
    """

    def __init__(self, raw: BinaryIO, *, gzipped: bool, label: str) -> None:
        self.raw = raw
        self.label = label
        self.hasher = hashlib.sha256()
        self.size = 0          # uncompressed bytes produced so far
        self.position = 0      # bytes handed to the reader
        self._inflate = zlib.decompressobj(wbits=31) if gzipped else None
        self._input = b""      # compressed bytes read but not yet inflated
        self._buffer = b""     # the last inflated piece; bytes from _offset on are not yet read
        self._offset = 0
        self._done = False

    def read(self, count: int = -1) -> bytes:
        if count < 0 or count > MAX_HEADER:
            raise LayerRefused(f"refusing layer {self.label}: a tar header of more than {MAX_HEADER} bytes")
        end = self._offset + count
        if end <= len(self._buffer):  # the common case: within the current piece
            data = self._buffer if count == len(self._buffer) else self._buffer[self._offset:end]
            self._offset = end
        else:  # the rest of this piece, then the start of the next ones: one copy
            parts, have = [memoryview(self._buffer)[self._offset:]], len(self._buffer) - self._offset
            self._buffer, self._offset = b"", 0
            while have < count and not self._done:
                piece = self._produce()
                self._done = not piece
                take = min(count - have, len(piece))
                parts.append(memoryview(piece)[:take])
                have += take
                self._buffer, self._offset = piece, take
            data = b"".join(parts)
        self.position += len(data)
        return data

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move forward only (tarfile skips the data of entries it was not asked to read)."""
        target = offset if whence == 0 else self.position + offset
        if whence not in (0, 1) or target < self.position:
            raise OSError(errno.ESPIPE, "a layer stream only seeks forward")
        while self.position < target:
            if not self.read(min(target - self.position, MAX_HEADER)):
                break
        return self.position

    def seekable(self) -> bool:
        return True  # forward; enough for tarfile

    def drain(self) -> None:
        """Read (and hash) whatever follows the tar's end-of-archive blocks."""
        self._buffer, self._offset = b"", 0
        while not self._done:
            if not self._produce():
                self._done = True

    def _produce(self) -> bytes:
        """The next piece (at most CHUNK bytes) of the uncompressed stream, hashed; b"" at its end."""
        piece = self.raw.read(CHUNK) if self._inflate is None else self._inflate_some()
        self.hasher.update(piece)
        self.size += len(piece)
        return piece

    def _inflate_some(self) -> bytes:
        inflate = self._inflate
        assert inflate is not None, "_produce inflates only a gzipped layer"
        try:
            while True:
                if not self._input:
                    self._input = self.raw.read(CHUNK)
                    if not self._input:
                        if not inflate.eof:
                            raise zlib.error("the stream ends early")
                        return b""
                if inflate.eof:  # one gzip member ended and another follows
                    inflate = self._inflate = zlib.decompressobj(wbits=31)
                piece = inflate.decompress(self._input, CHUNK)
                self._input = inflate.unused_data if inflate.eof else inflate.unconsumed_tail
                if piece:
                    return piece
        except zlib.error as error:
            raise LayerRefused(f"layer {self.label} is not a valid gzip stream: {error}") from None


class TarSource(Protocol):
    """What tarfile reads an "r:" archive with: a LayerStream, or any binary file."""

    def read(self, count: int = -1, /) -> bytes: ...

    def tell(self) -> int: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...


def unpack_tar(tar: TarSource, dest: Path, *, label: str) -> list[str]:
    """Unpack an uncompressed tar stream into `dest`, entry by entry, refusing hostile ones.

    Returns the device nodes that were skipped (see the module's docstring).
    """
    state = _State(dest=dest, label=label)
    os.chmod(dest, 0o755)  # a temporary dir is 0700; the layer's "./" entry may say otherwise
    try:
        # typeshed's fileobj type also asks for write() and close(), which reading never calls
        with tarfile.open(fileobj=tar, mode="r:") as archive:  # type: ignore[call-overload]
            while (member := archive.next()) is not None:
                # tarfile keeps every header read: not for a million entries. `members` is the
                # list getmembers() returns (which would read the whole archive first);
                # undocumented, so typeshed leaves it out.
                archive.members.clear()  # type: ignore[attr-defined]
                _unpack_member(archive, member, state)
    except tarfile.TarError as error:
        raise LayerRefused(f"layer {label} is not a valid tar archive: {error}") from None
    for path, member in reversed(state.directories):  # children first touched the parents' mtimes
        _set_metadata(path, member)
    return state.skipped_devices


@dataclass
class _State:
    dest: Path
    label: str
    symlinks: set[str] = field(default_factory=set)   # made in this layer: never write through one
    known_dirs: set[Path] = field(default_factory=set)  # directories known to exist (saves a stat)
    directories: list[tuple[Path, tarfile.TarInfo]] = field(default_factory=list)
    skipped_devices: list[str] = field(default_factory=list)

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
        kind = "c" if member.ischr() else "b"
        state.skipped_devices.append(f"{relative} ({kind} {member.devmajor},{member.devminor})")
        return  # neutralised: never created (see the module's docstring)
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
    """Create a regular file (never through a symlink: O_NOFOLLOW, O_EXCL) and set its metadata.

    A piece that is all zeros is not written but skipped over (lseek), leaving a hole: the
    file reads the same, and a layer of zeros (a disk image, a gzip bomb) takes no disk.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        _clear(path, relative, state)
        fd = os.open(path, flags, 0o600)
    source = archive.extractfile(member)
    assert source is not None, "extractfile gives None only for a member that is not a regular file"
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            if len(chunk) == CHUNK and chunk == ZEROS:
                out.seek(CHUNK, os.SEEK_CUR)
            else:
                out.write(chunk)
        out.truncate()  # a file ending in a hole: give it its length
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
    # A path's symlink is never followed; with a descriptor, os.* takes only follow_symlinks=True.
    follow_symlinks = isinstance(target, int)
    # A new file belongs to our own uid:gid already (the parent dirs get no setgid bit
    # until the end), so only other owners need a chown; only root may give them.
    if os.geteuid() == 0 and (member.uid, member.gid) != (0, os.getegid()):
        os.chown(target, member.uid, member.gid, follow_symlinks=follow_symlinks)
    if not symlink:
        os.chmod(target, member.mode & 0o7777)
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            _set_xattr(target, key[len("SCHILY.xattr."):], value, symlink)
    mtime_ns = int(member.mtime * 1_000_000_000)
    os.utime(target, ns=(mtime_ns, mtime_ns), follow_symlinks=follow_symlinks)


def _set_xattr(target: Path | int, name: str, value: str, symlink: bool) -> None:
    if not name.startswith(KEPT_XATTR_PREFIXES):
        return
    # A path's symlink is never followed; with a descriptor, os.* takes only follow_symlinks=True.
    follow_symlinks = isinstance(target, int)
    try:
        os.setxattr(target, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=follow_symlinks)
    except OSError as error:
        if symlink or error.errno in (errno.ENOTSUP, errno.EPERM):
            return  # symlinks cannot carry user.* xattrs; some filesystems refuse others
        raise
