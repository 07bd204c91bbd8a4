"""Lab 06 exercise check: exercise.py's unpack_layer really writes layers that overlayfs stacks right.

Two layers are built here with tarfile; the student's unpack_layer unpacks each into a
folder of its own, in a throw-away child (gophernetes.lab_exercises.in_child) that then
mounts them as an overlay in a mount namespace of its own, and reports what the merged
tree shows. Everything is under one temporary folder, removed afterwards.
"""

import io
import os
import shutil
import stat
import tarfile
import tempfile
import uuid
from pathlib import Path

import pytest

from gophernetes.lab_exercises import in_child
from gophernetes.linux import mounts, syscalls


def add(archive: tarfile.TarFile, name: str, data: bytes | None = None, *, folder: bool = False,
        link: str | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.mode = 0o755 if folder or link else 0o644
    if folder:
        info.type = tarfile.DIRTYPE
    elif link:
        info.type, info.linkname = tarfile.SYMTYPE, link
    else:
        info.size = len(data or b"")
    archive.addfile(info, io.BytesIO(data or b"") if not folder and not link else None)


def write_layer(path: Path, entries: list[tuple]) -> str:
    with tarfile.open(path, "w") as archive:
        for name, data, kind in entries:
            add(archive, name, data, folder=kind == "dir", link=data.decode() if kind == "link" else None)
    return str(path)


@pytest.fixture
def work():
    folder = Path(tempfile.mkdtemp(prefix="gophernetes-exercise06-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def two_layers(work):
    """The base layer and a layer on top that deletes etc/motd and opt/tool, and empties var/cache."""
    base = write_layer(work / "base.tar", [
        ("etc", b"", "dir"), ("etc/motd", b"welcome\n", "file"), ("etc/hostname", b"base\n", "file"),
        ("bin", b"", "dir"), ("bin/busybox", b"#!fake\n", "file"), ("bin/sh", b"busybox", "link"),
        ("opt", b"", "dir"), ("opt/tool", b"", "dir"), ("opt/tool/run", b"tool\n", "file"),
        ("var", b"", "dir"), ("var/cache", b"", "dir"), ("var/cache/old", b"old\n", "file"),
    ])
    top = write_layer(work / "top.tar", [
        ("etc", b"", "dir"), ("etc/.wh.motd", b"", "file"),
        ("opt", b"", "dir"), ("opt/.wh.tool", b"", "file"),
        ("var", b"", "dir"), ("var/cache", b"", "dir"), ("var/cache/new", b"new\n", "file"),
        ("var/cache/.wh..wh..opq", b"", "file"),  # after the layer's own entry: it hides only the layers below
    ])
    return base, top


def unpacked(module, work: Path, tar: str) -> Path:
    dest = work / Path(tar).stem
    dest.mkdir()
    module.unpack_layer(tar, str(dest))
    return dest


def merged(work: Path, top: Path, base: Path) -> Path:
    """Mount the two unpacked layers as overlayfs does a container's root (read-only: no upper)."""
    syscalls.unshare(syscalls.CLONE_NEWNS)
    mounts.make_all_private()
    target = work / "merged"
    target.mkdir()
    syscalls.mount("overlay", target, "overlay", 0, f"lowerdir={top}:{base}")
    return target


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_part_1_a_layer_unpacks_files_folders_and_links(work, two_layers):
    """unpack_layer() writes the base layer's folders, files and symlink as they are in the tar.

    Hint: for an entry that is no whiteout, archive.extract(member, dest) does it; the
    gaps to fill first are is_safe (every entry goes through it), then the two markers.
    """
    base, _ = two_layers

    def body(module):
        dest = unpacked(module, work, base)
        return tree(dest), (dest / "etc/motd").read_text(), os.readlink(dest / "bin/sh")

    found, motd, link = in_child(body)
    assert "etc/motd" in found and "var/cache/old" in found, f"unpacked: {found}"
    assert (motd, link) == ("welcome\n", "busybox"), f"etc/motd holds {motd!r}, bin/sh -> {link!r}"


def test_part_2_a_whiteout_becomes_a_0_0_device_and_hides_the_file(work, two_layers):
    """.wh.NAME becomes a character device 0/0 named NAME, and through the overlay NAME is gone.

    Hint: no file named .wh.motd is written: os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
    at etc/motd instead (the deleted name, without ".wh."). A whited-out folder goes the same way.
    """
    base, top = two_layers

    def body(module):
        lower, upper = unpacked(module, work, base), unpacked(module, work, top)
        if not os.path.lexists(upper / "etc/motd"):
            raise AssertionError(f"no whiteout at etc/motd in the top layer, which holds {tree(upper)}")
        whiteout = os.lstat(upper / "etc/motd")
        kind = "char 0/0" if stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0 else oct(whiteout.st_mode)
        return kind, tree(upper), tree(merged(work, upper, lower))

    kind, upper, seen = in_child(body)
    assert kind == "char 0/0", f"etc/motd in the top layer is {kind}, not a character device 0/0"
    assert not [name for name in upper if ".wh." in name], f"marker files written: {upper}"
    assert "etc/motd" not in seen and "opt/tool" not in seen, f"through the overlay: {seen}"
    assert "etc/hostname" in seen, f"etc/hostname is gone too: {seen}"


def test_part_3_an_opaque_folder_hides_the_lower_layers_contents(work, two_layers):
    """.wh..wh..opq marks its folder opaque: through the overlay, var/cache holds only the top layer's file.

    Hint: os.setxattr(folder, "trusted.overlay.opaque", b"y"); no .wh..wh..opq file is
    written. The top layer's own var/cache/new stays, whatever order the tar has.
    """
    base, top = two_layers

    def body(module):
        lower, upper = unpacked(module, work, base), unpacked(module, work, top)
        try:
            mark = os.getxattr(upper / "var/cache", "trusted.overlay.opaque")
        except OSError:
            mark = b""
        return mark, sorted(os.listdir(merged(work, upper, lower) / "var/cache"))

    mark, cache = in_child(body)
    assert mark == b"y", f"var/cache has no trusted.overlay.opaque=y (found {mark!r})"
    assert cache == ["new"], f"through the overlay var/cache holds {cache}"


def test_part_4_a_hostile_layer_is_refused_and_writes_nothing_outside(work):
    """A layer with "../NAME" or an absolute name is refused (an exception) and writes nothing outside its folder.

    Hint: is_safe(name): False for a name starting with "/" and for one with a ".."
    component (name.split("/")); a name like "a..b" is fine. unpack_layer then raises
    before extracting it.
    """
    outside = [f"escaped-{uuid.uuid4().hex[:8]}", str(work / f"absolute-{uuid.uuid4().hex[:8]}")]
    layers = {"safe": [("ok", b"fine\n", "file"), ("two..dots", b"fine\n", "file")]}
    layers.update({name: [("ok", b"fine\n", "file"), (name, b"pwned\n", "file")]
                   for name in (f"../{outside[0]}", outside[1])})
    tars = {name: write_layer(work / f"layer{number}.tar", entries)
            for number, (name, entries) in enumerate(layers.items())}

    def body(module):
        results = {}
        for number, (name, tar) in enumerate(tars.items()):
            dest = work / f"layer{number}"
            dest.mkdir()
            try:
                module.unpack_layer(tar, str(dest))
                results[name] = "unpacked"
            except NotImplementedError:
                raise
            except Exception:  # noqa: BLE001 — any refusal counts
                results[name] = "refused"
        return results

    results = in_child(body)
    written = [path for path in (work / outside[0], Path(outside[1])) if path.exists()]
    assert not written, f"written outside the layer's folder: {[str(p) for p in written]}"
    assert results.pop("safe") == "unpacked", "a layer with only safe names (ok, two..dots) was refused"
    assert set(results.values()) == {"refused"}, f"not refused: {results}"
