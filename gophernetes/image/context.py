"""COPY and ADD: files of the build context (and local tars) as tar entries of a new layer.

    COPY [--chown=U:G] [--chmod=OCTAL] SRC... DEST
    ADD  [--chown=U:G] [--chmod=OCTAL] SRC... DEST     (a local tar SRC is unpacked into DEST)

Docker's rules, which podman and buildah follow too:

- every SRC is a path *inside* the context folder (a glob is allowed); `..` that climbs
  out, or a symlink that leads out, is refused: a build sees only what it was given;
- a folder SRC copies its *contents*, not itself; symlinks inside are copied as links;
- DEST is a folder when it ends in `/` or there are several SRCs; a relative DEST is
  relative to the WORKDIR; missing parent folders are made (0755, root);
- files keep their mode and mtime, and belong to root unless --chown says otherwise;
- ADD unpacks a tar (plain, gzip, bzip2 or xz) found in the context into DEST, keeping
  its owners; an entry that would land outside DEST is refused. ADD of a URL is not
  supported (download it into the context, or RUN wget).

The entries are written by diff.LayerWriter and unpacked again by the store's safe
unpacker (layers.py), so a hostile tar in the context cannot escape either.
"""

from __future__ import annotations

import glob
import hashlib
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gophernetes.errors import GophernetesError, UsageError
from gophernetes.image.diff import LayerWriter, entries_for, read_xattrs


@dataclass(frozen=True)
class Source:
    """One file or folder of the context that a COPY names: its path, and its name in DEST."""

    path: Path         # on the host, inside the context
    target: str        # where it goes, relative to the image root (no leading /)


def plan(context: Path, sources: list[str], dest: str, workdir: str, where: str,
         merged: Path | None = None, in_root: bool = False) -> list[Source]:
    """Resolve SRC... DEST against the context and the working directory (refusing escapes).

    `merged` is the image's root so far: a DEST that is a folder there takes files into it.
    With `in_root`, `context` is another image's root (COPY --from): a SRC's symlinks are
    followed inside that root, as a process chrooted there would follow them, never out.
    """
    root = context.resolve()
    if not dest:
        raise UsageError(f"{where}: COPY/ADD needs SRC... DEST")
    absolute_dest = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    target_root = posixpath.normpath(absolute_dest).lstrip("/")
    if merged is not None:  # /bin -> usr/bin in a usrmerged image: COPY x /bin/ lands in usr/bin
        target_root = resolve_in_root(merged, target_root, where)
        through = resolve_in_root(merged, target_root + "/x", where)[:-2] if target_root else ""
        if through != target_root and is_folder_in(merged, through):
            target_root = through  # DEST itself is a link to a folder: into that folder
    is_dir = dest.endswith("/") or len(sources) > 1 or dest in (".", "./") or \
        (merged is not None and is_folder_in(merged, target_root))
    found: list[Source] = []
    for source in sources:
        if "://" in source:
            raise UsageError(f"{where}: ADD of a URL ({source}) is not supported: download it into the "
                             "context, or RUN wget")
        relative = posixpath.normpath(source.lstrip("/")) if source.strip("/") else "."
        if relative == ".." or relative.startswith("../"):
            raise UsageError(f"{where}: {source} is outside the build context")
        matches = sorted(glob.glob(relative, root_dir=root)) if glob.has_magic(relative) else [relative]
        if in_root:  # "/." makes resolve_in_root follow the last component too
            matches = [posixpath.normpath(resolve_in_root(root, match + "/.", where)) for match in matches]
        if len(matches) > 1:
            is_dir = True
        for match in matches:
            path = root / match
            if not os.path.lexists(path):
                raise UsageError(f"{where}: {source}: no such file in the build context {context}" if not in_root
                                 else f"{where}: {source}: no such file in the COPY --from image")
            if not path.resolve().is_relative_to(root):
                raise UsageError(f"{where}: {source} leads outside the build context (a symlink?)")
            if path.resolve().is_dir():
                found.append(Source(path.resolve(), target_root))
            else:
                name = posixpath.join(target_root, path.name) if is_dir else target_root
                found.append(Source(path.resolve(), name))  # a symlink SRC: its target's content
    if not found:
        raise UsageError(f"{where}: no source file matches {' '.join(sources)}")
    return found


def resolve_in_root(root: Path, relative: str, where: str, hops: int = 40) -> str:
    """`relative` with the symlinks among its parent folders followed *inside* `root`.

    An absolute link target starts again at the image's root, `..` never climbs above it
    (as openat2's RESOLVE_IN_ROOT does for the runtime): the host's files stay out of reach.
    The last component is kept as it is (COPY replaces a link there, as docker does).
    """
    pending = [part for part in relative.split("/") if part]
    done: list[str] = []
    while len(pending) > 1:
        part = pending.pop(0)
        if part == "..":
            done = done[:-1]
            continue
        path = root.joinpath(*done, part)
        try:
            is_link = stat.S_ISLNK(os.lstat(path).st_mode)
        except OSError:
            is_link = False  # missing: made as a folder by the layer
        if not is_link:
            done.append(part)
            continue
        hops -= 1
        if hops < 0:
            raise UsageError(f"{where}: too many symlinks under /{relative}")
        target = os.readlink(path)
        if target.startswith("/"):
            done = []
        pending = [p for p in target.split("/") if p and p != "."] + pending
    return "/".join(done + pending)


def is_folder_in(root: Path, relative: str) -> bool:
    """Whether `relative` is a real folder under `root`, following no symlink (they may lead to the host)."""
    path = root
    for part in [p for p in relative.split("/") if p]:
        path = path / part
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return False
        except OSError:
            return False
    return True


def context_files(source: Source) -> Iterator[tuple[Path, str]]:
    """(host path, name in the image) of the source and everything below it (folders: contents only)."""
    if not source.path.is_dir() or source.path.is_symlink():
        yield source.path, source.target
        return
    for directory, folders, files in os.walk(source.path):
        folders.sort()
        relative = os.path.relpath(directory, source.path)
        for name in sorted(folders + files):
            inner = name if relative == "." else posixpath.join(relative, name)
            yield Path(directory) / name, posixpath.join(source.target, inner) if source.target else inner


def digest(sources: list[Source]) -> str:
    """A digest of everything a COPY would put in the layer: names, modes, links and contents.

    The build cache keys a COPY step on it: any change in the files makes a new layer.
    """
    hasher = hashlib.sha256()
    for source in sources:
        for path, name in context_files(source):
            st = os.lstat(path)
            hasher.update(f"{name}\0{st.st_mode:o}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                hasher.update(os.readlink(path).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as data:
                    while chunk := data.read(1 << 20):
                        hasher.update(chunk)
            hasher.update(b"\0")
    return "sha256:" + hasher.hexdigest()


def add_parents(writer: LayerWriter, target: str, merged: Path, written: set[str]) -> None:
    """Entries for the folders above `target`: as they are in the image, or new (0755, root)."""
    parts = target.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        name = "/".join(parts[:depth])
        if name in written:
            continue
        written.add(name)
        try:
            st = os.lstat(merged / name)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            writer.add(entries_for(name, st)[0])
        elif st is not None:
            raise GophernetesError(f"/{name} is not a folder in the image (a symlink or a file); "
                                   "COPY into it is not supported")
        else:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            writer.add(info)


def copy_sources(writer: LayerWriter, sources: list[Source], merged: Path, owner: tuple[int, int] | None,
                 mode: int | None, keep_owner: bool = False) -> None:
    """Write the context files of a COPY (or a plain ADD) as layer entries: root's, or --chown's;
    with `keep_owner` (COPY --from another image's root) their own, as docker and buildah keep them."""
    written: set[str] = set()
    hardlinks: dict[tuple[int, int], str] = {}
    for source in sources:
        for path, name in context_files(source):
            add_parents(writer, name, merged, written)
            st = os.lstat(path)
            first = hardlinks.setdefault((st.st_dev, st.st_ino), name) if st.st_nlink > 1 else name
            link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
            xattrs, _ = read_xattrs(path)
            for info in entries_for(name, st, link_target=link, hardlink_to=None if first == name else first,
                                    xattrs=xattrs):
                info.uid, info.gid = owner or ((st.st_uid, st.st_gid) if keep_owner else (0, 0))
                if mode is not None and info.type in (tarfile.REGTYPE, tarfile.DIRTYPE):
                    info.mode = mode
                if info.type == tarfile.REGTYPE and info.size:
                    with open(path, "rb") as data:
                        writer.add(info, data)
                else:
                    writer.add(info)
            written.add(name)


def is_archive(path: Path) -> bool:
    return path.is_file() and not path.is_symlink() and tarfile.is_tarfile(path)


def unpack_archive(writer: LayerWriter, archive: Path, target: str, merged: Path, owner: tuple[int, int] | None,
                   where: str) -> None:
    """ADD's local tar: its entries re-rooted under `target`; nothing may climb out of it."""
    written: set[str] = set()
    add_parents(writer, posixpath.join(target, "x") if target else "x", merged, written)
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                name = posixpath.normpath(member.name.lstrip("/"))
                if name == "." or name == ".." or name.startswith("../"):
                    if name == ".":
                        continue
                    raise UsageError(f"{where}: {archive.name}: entry {member.name!r} climbs out of the destination")
                member.name = posixpath.join(target, name) if target else name
                if member.islnk():
                    link = posixpath.normpath(member.linkname.lstrip("/"))
                    if link == ".." or link.startswith("../"):
                        raise UsageError(f"{where}: {archive.name}: hard link {member.linkname!r} climbs out")
                    member.linkname = posixpath.join(target, link) if target else link
                if owner:
                    member.uid, member.gid = owner
                member.uname = member.gname = ""
                writer.add(member, tar.extractfile(member) if member.isreg() else None)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UsageError(f"{where}: cannot unpack {archive.name}: {error}") from None


def parse_owner(text: str | None, merged: Path, where: str) -> tuple[int, int] | None:
    """--chown=USER[:GROUP] as numbers; names are looked up in the image's /etc/passwd and /etc/group."""
    if not text:
        return None
    user, _, group = text.partition(":")
    uid = _number(user, merged / "etc/passwd", where, "user")
    gid = _number(group, merged / "etc/group", where, "group") if group else uid
    if not group and not user.isdigit():
        gid = _primary_group(user, merged / "etc/passwd")
    return uid, gid


def _number(name: str, database: Path, where: str, kind: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        for line in database.read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name and len(fields) > 2 and fields[2].isdigit():
                return int(fields[2])
    except OSError:
        pass
    raise UsageError(f"{where}: --chown: no {kind} {name!r} in the image's /{database.parent.name}/{database.name}")


def _primary_group(user: str, passwd: Path) -> int:
    for line in passwd.read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user and len(fields) > 3 and fields[3].isdigit():
            return int(fields[3])
    return 0
