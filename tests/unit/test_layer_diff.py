"""An overlay upper directory as layer tar entries: whiteouts, opaque dirs, hard links, digests."""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile

import pytest

from gophernetes.errors import GophernetesError
from gophernetes.image.diff import LayerWriter, diff_upper, entries_for


def fake_stat(mode: int, *, rdev: int = 0, size: int = 0, uid: int = 0, gid: int = 0, mtime: int = 1_700_000_000):
    # st_rdev is not in the 10-tuple: stat_result takes such fields in a dict
    return os.stat_result((mode, 1, 1, 1, uid, gid, size, mtime, mtime, mtime), {"st_rdev": rdev})


def kinds(entries):
    return [(e.name, e.type, e.mode, e.linkname) for e in entries]


def test_a_whiteout_device_becomes_a_wh_file_beside_it():
    entries = entries_for("etc/motd", fake_stat(stat.S_IFCHR | 0o000))
    assert kinds(entries) == [("etc/.wh.motd", tarfile.REGTYPE, 0o644, "")]
    assert entries_for("top", fake_stat(stat.S_IFCHR))[0].name == ".wh.top"


def test_a_real_character_device_stays_a_device():
    entries = entries_for("dev/null", fake_stat(stat.S_IFCHR | 0o666, rdev=os.makedev(1, 3)))
    assert kinds(entries) == [("dev/null", tarfile.CHRTYPE, 0o666, "")]
    assert (entries[0].devmajor, entries[0].devminor) == (1, 3)


def test_an_opaque_directory_gets_its_marker_after_it():
    entries = entries_for("var/cache", fake_stat(stat.S_IFDIR | 0o750, uid=7, gid=8), opaque=True)
    assert kinds(entries) == [("var/cache", tarfile.DIRTYPE, 0o750, ""),
                              ("var/cache/.wh..wh..opq", tarfile.REGTYPE, 0o644, "")]
    assert (entries[0].uid, entries[0].gid) == (7, 8)


def test_files_links_and_metadata():
    regular = entries_for("srv/tool", fake_stat(stat.S_IFREG | 0o4755, size=12, uid=1000, gid=1001),
                          xattrs={"user.lab": b"hello"})[0]
    assert (regular.type, regular.mode, regular.size, regular.uid, regular.gid, regular.mtime) == \
        (tarfile.REGTYPE, 0o4755, 12, 1000, 1001, 1_700_000_000)
    assert regular.pax_headers == {"SCHILY.xattr.user.lab": "hello"}
    link = entries_for("bin/sh", fake_stat(stat.S_IFLNK | 0o777), link_target="busybox")[0]
    assert (link.type, link.linkname) == (tarfile.SYMTYPE, "busybox")
    hard = entries_for("srv/tool2", fake_stat(stat.S_IFREG | 0o755, size=12), hardlink_to="srv/tool")[0]
    assert (hard.type, hard.linkname, hard.size) == (tarfile.LNKTYPE, "srv/tool", 0)
    assert entries_for("run/socket", fake_stat(stat.S_IFSOCK | 0o777)) == []


def test_a_file_named_like_a_whiteout_is_refused():
    with pytest.raises(GophernetesError, match="cannot be stored in a layer"):
        entries_for("etc/.wh.motd", fake_stat(stat.S_IFREG | 0o644))


def test_a_directory_becomes_a_sorted_reproducible_gzipped_tar(tmp_path):
    upper = tmp_path / "upper"
    (upper / "b" / "inner").mkdir(parents=True)
    (upper / "a.txt").write_text("alpha\n")
    os.link(upper / "a.txt", upper / "b" / "a-again")
    (upper / "b" / "inner" / "z").write_text("zed")
    os.symlink("../a.txt", upper / "b" / "link")
    digests = []
    for number in range(2):
        blob = tmp_path / f"layer{number}.tar.gz"
        writer = LayerWriter(blob)
        diff_upper(upper, writer, skip=frozenset({"b/inner/z"}))
        diff_id, digest, size = writer.close()
        assert digest == "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()
        assert size == blob.stat().st_size
        assert diff_id == "sha256:" + hashlib.sha256(gzip.decompress(blob.read_bytes())).hexdigest()
        digests.append((diff_id, digest))
    assert digests[0] == digests[1]
    with tarfile.open(tmp_path / "layer0.tar.gz") as tar:
        members = [(m.name, m.type, m.linkname) for m in tar.getmembers()]
        assert tar.extractfile("a.txt").read() == b"alpha\n"
    assert members == [("a.txt", tarfile.REGTYPE, ""), ("b", tarfile.DIRTYPE, ""),
                       ("b/a-again", tarfile.LNKTYPE, "a.txt"), ("b/inner", tarfile.DIRTYPE, ""),
                       ("b/link", tarfile.SYMTYPE, "../a.txt")]


def test_copy_destinations_follow_the_images_symlinks_inside_its_root(tmp_path):
    from gophernetes.image.context import resolve_in_root

    (tmp_path / "usr" / "bin").mkdir(parents=True)
    os.symlink("usr/bin", tmp_path / "bin")             # usrmerge, relative
    os.symlink("/usr/bin", tmp_path / "abs")            # absolute: the image's /usr/bin, not the host's
    os.symlink("../../../../etc", tmp_path / "usr" / "up")  # climbs: stops at the image's root
    assert resolve_in_root(tmp_path, "bin/tool", "w") == "usr/bin/tool"
    assert resolve_in_root(tmp_path, "abs/tool", "w") == "usr/bin/tool"
    assert resolve_in_root(tmp_path, "usr/up/passwd", "w") == "etc/passwd"
    assert resolve_in_root(tmp_path, "bin", "w") == "bin"  # the last component stays as it is
    assert resolve_in_root(tmp_path, "new/dir/file", "w") == "new/dir/file"
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(Exception, match="too many symlinks"):
        resolve_in_root(tmp_path, "loop/x", "w")
