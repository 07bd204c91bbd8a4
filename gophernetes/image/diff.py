"""Make a layer: an overlay upper directory (what one build step changed) as an OCI layer tar.

When a container writes, overlayfs keeps the change in the *upper* directory and leaves
the image's layers alone. So the upper directory after a RUN step is exactly that
step's change set, in overlayfs' own notation, and a layer is that notation translated
into the image spec's:

    in the upper directory (overlayfs)            in the layer tar (OCI image spec)
    a file, directory, link, device as it is       the same entry, mode, owner, mtime, xattrs
    a character device 0/0 named NAME              an empty file .wh.NAME: "NAME was deleted"
    a directory with xattr trusted.overlay.opaque  the directory, then DIR/.wh..wh..opq:
      = "y" (made after the old one was deleted)   "nothing of the layers below shows through"
    two names of one inode                         a file, then a hard link to it

This is the inverse of what layers.py does when it unpacks a layer for overlayfs.
overlayfs' `redirect_dir` and `metacopy` features store renames and metadata-only
copies in xattrs that have no such translation: an upper directory that uses them is
refused (they are off unless enabled at mount time or in the kernel's defaults).

The tar is written in one pass: through a sha256 (the layer's diff_id), then gzip,
then another sha256 (the blob's digest) into the file; entries are sorted by name and
the gzip header carries no time, so the same change makes the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from gophernetes.errors import GophernetesError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
OVERLAY_XATTRS = "trusted.overlay."
REFUSED_XATTRS = ("trusted.overlay.redirect", "trusted.overlay.metacopy")
KEPT_XATTRS = ("user.", "security.capability")


class _Hashing:
    """A write-only file that hashes what passes through it on the way to `target`."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.hasher.hexdigest()


class LayerWriter:
    """Write tar entries into a gzipped layer blob at `path`; `close()` gives (diff_id, digest, size)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")
        self._blob = _Hashing(self._file)
        self._gzip = gzip.GzipFile(fileobj=self._blob, mode="wb", mtime=0)  # type: ignore[arg-type]
        self._plain = _Hashing(self._gzip)  # type: ignore[arg-type]
        self._tar = tarfile.open(fileobj=self._plain, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
        self.entries = 0

    def add(self, info: tarfile.TarInfo, data: IO[bytes] | None = None) -> None:
        self._tar.addfile(info, data)
        self.entries += 1

    def close(self) -> tuple[str, str, int]:
        self._tar.close()
        self._gzip.close()
        self._file.close()
        return self._plain.digest, self._blob.digest, self._blob.size

    def abort(self) -> None:
        for closing in (self._tar.close, self._gzip.close, self._file.close):
            try:
                closing()
            except (OSError, ValueError):
                pass


def entries_for(name: str, st: os.stat_result, *, opaque: bool = False, link_target: str = "",
                hardlink_to: str | None = None, xattrs: dict[str, bytes] | None = None) -> list[tarfile.TarInfo]:
    """The tar entries for one path `name` (relative, no leading /) of an upper directory.

    A pure function of what lstat and the xattrs say, so it is tested without root.
    Sockets have no tar form and give no entry.
    """
    base = name.rpartition("/")[2]
    if base.startswith(WHITEOUT):
        raise GophernetesError(f"/{name}: a file named {WHITEOUT}* cannot be stored in a layer "
                               "(the name marks deletions); rename it")
    mode = st.st_mode
    if stat.S_ISCHR(mode) and st.st_rdev == 0:  # overlayfs' whiteout
        parent = name.rpartition("/")[0]
        marker = _info(f"{parent}/{WHITEOUT}{base}" if parent else WHITEOUT + base, st, tarfile.REGTYPE)
        marker.mode, marker.uid, marker.gid = 0o644, 0, 0
        return [marker]
    if stat.S_ISSOCK(mode):
        return []
    if stat.S_ISDIR(mode):
        entries = [_info(name, st, tarfile.DIRTYPE, xattrs)]
        if opaque:
            marker = _info(f"{name}/{OPAQUE}", st, tarfile.REGTYPE)
            marker.mode, marker.uid, marker.gid = 0o644, 0, 0
            entries.append(marker)
        return entries
    if stat.S_ISLNK(mode):
        info = _info(name, st, tarfile.SYMTYPE, xattrs)
        info.linkname = link_target
        return [info]
    if stat.S_ISREG(mode):
        if hardlink_to is not None:
            info = _info(name, st, tarfile.LNKTYPE)
            info.linkname = hardlink_to
            return [info]
        info = _info(name, st, tarfile.REGTYPE, xattrs)
        info.size = st.st_size
        return [info]
    kind = {stat.S_IFCHR: tarfile.CHRTYPE, stat.S_IFBLK: tarfile.BLKTYPE, stat.S_IFIFO: tarfile.FIFOTYPE}
    info = _info(name, st, kind[stat.S_IFMT(mode)], xattrs)
    if info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return [info]


def _info(name: str, st: os.stat_result, kind: bytes, xattrs: dict[str, bytes] | None = None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)
    if xattrs:
        info.pax_headers = {f"SCHILY.xattr.{key}": value.decode("utf-8", "surrogateescape")
                            for key, value in sorted(xattrs.items())}
    return info


def walk(upper: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every path below `upper`, parents before children, names sorted (so layers are reproducible)."""
    pending = [""]
    while pending:
        relative = pending.pop()
        directory = upper / relative if relative else upper
        children = []
        for name in sorted(os.listdir(directory)):
            child = f"{relative}/{name}" if relative else name
            st = os.lstat(upper / child)
            yield child, st
            if stat.S_ISDIR(st.st_mode):
                children.append(child)
        pending.extend(reversed(children))


def read_xattrs(path: Path) -> tuple[dict[str, bytes], bool]:
    """(the xattrs a layer keeps, whether the directory is opaque); refuses redirect/metacopy."""
    kept: dict[str, bytes] = {}
    opaque = False
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return kept, False
    for key in names:
        if key.startswith(REFUSED_XATTRS):
            raise GophernetesError(f"{path}: overlayfs recorded {key} (redirect_dir or metacopy is on); "
                                   "such an upper directory cannot be turned into a layer")
        if key == "trusted.overlay.opaque":
            opaque = os.getxattr(path, key, follow_symlinks=False) == b"y"
        elif key.startswith(KEPT_XATTRS):
            kept[key] = os.getxattr(path, key, follow_symlinks=False)
    return kept, opaque


def diff_upper(upper: Path, writer: LayerWriter, skip: frozenset[str] = frozenset()) -> None:
    """Write the change set in `upper` into `writer`; paths in `skip` (relative) are left out."""
    first_name: dict[tuple[int, int], str] = {}
    for name, st in walk(upper):
        if name in skip:
            continue
        path = upper / name
        xattrs, opaque = read_xattrs(path)
        hardlink_to = None
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            hardlink_to = first_name.setdefault((st.st_dev, st.st_ino), name)
            hardlink_to = None if hardlink_to == name else hardlink_to
        link_target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
        for info in entries_for(name, st, opaque=opaque, link_target=link_target, hardlink_to=hardlink_to,
                                xattrs=xattrs):
            if info.type == tarfile.REGTYPE and info.size:
                with open(path, "rb") as data:
                    writer.add(info, data)
            else:
                writer.add(info)
