"""layers.unpack_file on its own: compression forms, diff_ids, xattrs a layer may not set."""

from __future__ import annotations

import gzip
import os

import pytest

from gophernetes.errors import GophernetesError
from gophernetes.image import layers
from tests.system.images import oci


def unpack(tmp_path, blob: bytes) -> tuple[layers.UnpackResult, object]:
    (tmp_path / "blob").write_bytes(blob)
    dest = tmp_path / "dest"
    dest.mkdir()
    return layers.unpack_file(tmp_path / "blob", dest, label="sha256:test"), dest


def test_the_diff_id_is_the_sha256_of_the_uncompressed_tar_even_in_several_gzip_members(tmp_path):
    tar = oci.tar_bytes([oci.file("a", "x" * 5000), oci.file("b", "y" * 5000)])
    result, dest = unpack(tmp_path, gzip.compress(tar[:4000]) + gzip.compress(tar[4000:]))
    assert result.diff_id == oci.sha256(tar) and result.size == len(tar)
    assert (dest / "a").read_text() == "x" * 5000 and (dest / "b").read_text() == "y" * 5000


def test_a_truncated_gzip_layer_is_refused(tmp_path):
    tar = oci.tar_bytes([oci.file("a", os.urandom(20000))])
    with pytest.raises(layers.LayerRefused, match="is not a valid gzip stream: the stream ends early"):
        unpack(tmp_path, gzip.compress(tar)[:-100])


def test_a_zstd_layer_is_reported_as_unsupported(tmp_path):
    with pytest.raises(GophernetesError, match="zstd-compressed, which gophernetes cannot unpack yet"):
        unpack(tmp_path, b"\x28\xb5\x2f\xfd" + b"\0" * 100)


def test_a_layer_cannot_set_overlayfs_control_xattrs(tmp_path):
    entries = [oci.directory("d", xattrs={"trusted.overlay.opaque": "y", "user.ok": "1"})]
    _, dest = unpack(tmp_path, oci.tar_bytes(entries))
    assert os.getxattr(dest / "d", "user.ok") == b"1"
    assert "trusted.overlay.opaque" not in os.listxattr(dest / "d")


def test_a_whiteout_hides_an_entry_of_the_same_layer_and_stays_a_marker(tmp_path):
    _, dest = unpack(tmp_path, oci.tar_bytes([oci.file("gone", "x"), oci.whiteout("gone")]))
    assert os.stat(dest / "gone").st_rdev == os.makedev(0, 0)
