"""Lab 10 exercise check: exercise.py's write_layer turns a real overlay upper folder into the right layer.

In a throw-away child (gophernetes.lab_exercises.in_child) with a mount namespace of its
own, the check mounts an overlay on a lower tree and makes a build step's change through
it (a file changed, one added, a file and a folder deleted, a folder deleted and made
again); the upper folder then holds overlayfs' notation of that change. The student's
write_layer turns it into a tar; gophernetes' own unpacker (image/layers.py) unpacks
that tar, and the check stacks it on the lower tree: it must show what the upper
folder showed. Everything is under one temporary folder, removed afterwards.
"""

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest

from gophernetes.image import layers
from gophernetes.lab_exercises import in_child
from gophernetes.linux import mounts, syscalls

LOWER = {"etc/motd": "welcome\n", "etc/hostname": "base\n", "bin/busybox": "#!fake\n",
         "opt/tool/run": "tool\n", "var/cache/old": "old\n"}
EXPECTED = {"etc", "etc/hostname", "etc/.wh.motd", "opt", "opt/.wh.tool", "usr", "usr/local", "usr/local/bin",
            "usr/local/bin/tool", "var", "var/cache", "var/cache/.wh..wh..opq", "var/cache/new"}


@pytest.fixture
def work():
    folder = Path(tempfile.mkdtemp(prefix="gophernetes-exercise10-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def build_step(work: Path) -> Path:
    """Mount lower+upper as overlayfs does for a RUN step, change things through it; the upper folder."""
    lower, upper, scratch, merged = (work / name for name in ("lower", "upper", "scratch", "merged"))
    for name, text in LOWER.items():
        (lower / name).parent.mkdir(parents=True, exist_ok=True)
        (lower / name).write_text(text)
    os.symlink("busybox", lower / "bin/sh")
    for folder in (upper, scratch, merged):
        folder.mkdir()
    syscalls.unshare(syscalls.CLONE_NEWNS)
    mounts.make_all_private()
    syscalls.mount("overlay", merged, "overlay", 0, f"lowerdir={lower},upperdir={upper},workdir={scratch}")
    (merged / "etc/hostname").write_text("built\n")
    (merged / "usr/local/bin").mkdir(parents=True)
    (merged / "usr/local/bin/tool").write_text("new tool\n")
    (merged / "etc/motd").unlink()
    shutil.rmtree(merged / "opt/tool")
    shutil.rmtree(merged / "var/cache")
    (merged / "var/cache").mkdir()
    (merged / "var/cache/new").write_text("new\n")
    syscalls.umount2(merged)
    return upper


def view(folder: Path) -> dict[str, str]:
    """What a tree shows: path -> "dir", "-> target" or the file's text."""
    seen = {}
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(parent, name)
            relative = str(path.relative_to(folder))
            if path.is_symlink():
                seen[relative] = "-> " + os.readlink(path)
            else:
                seen[relative] = "dir" if path.is_dir() else path.read_text()
    return seen


def stacked(work: Path, top: Path, label: str) -> dict[str, str]:
    """The view of `top` stacked on the lower tree (read-only overlay), in the child's mount namespace."""
    target = work / f"view-{label}"
    target.mkdir()
    syscalls.mount("overlay", target, "overlay", syscalls.MS_RDONLY, f"lowerdir={top}:{work / 'lower'}")
    return view(target)


def run_step(module, work: Path) -> dict:
    """The build step, the student's layer, and what it shows once unpacked by gophernetes."""
    upper = build_step(work)
    tar = work / "layer.tar"
    module.write_layer(str(upper), str(tar))
    with tarfile.open(tar) as archive:
        members = {member.name.rstrip("/").removeprefix("./"): member for member in archive}
        texts = {name: archive.extractfile(member).read().decode() for name, member in members.items()
                 if member.isfile() and member.size}
        kinds = {name: "file" if m.isfile() else "dir" if m.isdir() else "link" if m.issym() else "device"
                 for name, m in members.items()}
    unpacked = work / "unpacked"
    unpacked.mkdir()
    layers.unpack_file(tar, unpacked, label="your layer")
    return {"kinds": kinds, "texts": texts, "mine": stacked(work, unpacked, "mine"),
            "truth": stacked(work, upper, "truth")}


def test_part_1_what_the_step_added_or_changed_is_in_the_layer(work):
    """The layer holds the changed etc/hostname and the added usr/local/bin/tool, and nothing the step left alone.

    Hint: first is_whiteout (write_layer asks it of every path): stat.S_ISCHR(st.st_mode)
    and st.st_rdev == 0. Untouched files (etc/motd's neighbours, bin/) are not in the
    upper folder at all, so they are not in the layer either.
    """
    found = in_child(lambda module: run_step(module, work))
    kinds, texts = found["kinds"], found["texts"]
    assert texts.get("etc/hostname") == "built\n", f"etc/hostname in the layer: {texts.get('etc/hostname')!r}"
    assert texts.get("usr/local/bin/tool") == "new tool\n", f"entries: {sorted(kinds)}"
    assert not [name for name in kinds if name.startswith("bin")], f"unchanged bin/ is in the layer: {sorted(kinds)}"
    assert "device" not in kinds.values(), \
        f"device entries in the layer (whiteouts written as devices?): {[n for n, k in kinds.items() if k == 'device']}"


def test_part_2_a_deletion_becomes_a_wh_file_and_hides_the_lower_file(work):
    """etc/motd and opt/tool, deleted by the step, are .wh.motd and .wh.tool in the layer, and gone once it is stacked.

    Hint: whiteout_name("etc/motd") is "etc/.wh.motd": os.path.split, then
    os.path.join(folder, WHITEOUT + base) (an empty folder part gives ".wh.motd").
    """
    found = in_child(lambda module: run_step(module, work))
    kinds, mine = found["kinds"], found["mine"]
    assert kinds.get("etc/.wh.motd") == "file" and kinds.get("opt/.wh.tool") == "file", f"entries: {sorted(kinds)}"
    assert "etc/motd" not in kinds and "opt/tool" not in kinds, f"entries: {sorted(kinds)}"
    assert "etc/motd" not in mine and "opt/tool" not in mine, f"stacked on the lower tree: {sorted(mine)}"
    assert mine.get("etc/hostname") == "built\n", "etc/hostname changed no more: the layer hides too much"


def test_part_3_a_replaced_folder_is_opaque_and_the_layer_shows_the_upper_view(work):
    """var/cache (deleted, made again) gets .wh..wh..opq; stacked, the layer shows exactly what the upper folder did.

    Hint: is_opaque: os.getxattr(path, OPAQUE_XATTR) == b"y", and False when getxattr
    raises OSError (a folder without the xattr: ENODATA).
    """
    found = in_child(lambda module: run_step(module, work))
    kinds, mine, truth = found["kinds"], found["mine"], found["truth"]
    assert kinds.get("var/cache/.wh..wh..opq") == "file", f"entries: {sorted(kinds)}"
    assert set(kinds) == EXPECTED, f"missing {sorted(EXPECTED - set(kinds))}, extra {sorted(set(kinds) - EXPECTED)}"
    assert mine == truth, "stacked on the lower tree your layer differs from the step's result: " \
        f"{ {k: mine.get(k) for k in set(mine) ^ set(truth) | {k for k in mine if mine[k] != truth.get(k)}} }"
