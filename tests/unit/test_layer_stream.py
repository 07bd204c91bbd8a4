"""layers.LayerStream: a layer is read front to back with bounded memory, whatever it inflates to."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import tracemalloc
import zlib

import pytest

from gophernetes.image import layers

MiB = 1 << 20


def gzip_bomb(megabytes: int) -> tuple[bytes, bytes, int]:
    """A one-member gzip of a tar holding `megabytes` MiB of zeros: (blob, sha256 and size of the tar)."""
    info = tarfile.TarInfo("zeros")
    info.size = megabytes * MiB
    header, zero, tail = info.tobuf(tarfile.PAX_FORMAT), bytes(MiB), bytes(1024)
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
    parts, digest = [deflate.compress(header)], hashlib.sha256(header)
    for _ in range(megabytes):
        parts.append(deflate.compress(zero))
        digest.update(zero)
    parts += [deflate.compress(tail), deflate.flush()]
    digest.update(tail)
    return b"".join(parts), digest.digest(), len(header) + megabytes * MiB + len(tail)


def test_a_gzip_bomb_is_read_holding_about_a_mib_at_a_time():
    blob, digest, size = gzip_bomb(128)
    assert len(blob) < 200_000  # about 1000:1
    stream = layers.LayerStream(io.BytesIO(blob), gzipped=True, label="bomb")
    tracemalloc.start()
    try:
        archive = tarfile.open(fileobj=stream, mode="r:")
        member = archive.next()
        data = archive.extractfile(member)
        while data.read(MiB):
            pass
        stream.drain()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (stream.size, stream.hasher.digest()) == (size, digest)
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_several_gzip_members_are_one_stream_and_a_cut_one_is_refused():
    tar = b"".join(bytes([n]) * 700 for n in range(50))
    two = gzip.compress(tar[:10_000]) + gzip.compress(tar[10_000:])
    stream = layers.LayerStream(io.BytesIO(two), gzipped=True, label="two")
    assert stream.read(4000) + stream.read(MiB) == tar and stream.read(10) == b""
    cut = layers.LayerStream(io.BytesIO(gzip.compress(tar)[:-20]), gzipped=True, label="cut")
    with pytest.raises(layers.LayerRefused, match="layer cut is not a valid gzip stream: the stream ends early"):
        cut.drain()


def test_a_read_larger_than_a_mib_is_a_header_too_large_and_refused():
    stream = layers.LayerStream(io.BytesIO(bytes(3 * MiB)), gzipped=False, label="big")
    with pytest.raises(layers.LayerRefused, match="a tar header of more than 1048576 bytes"):
        stream.read(2 * MiB)


def test_the_stream_only_seeks_forward():
    stream = layers.LayerStream(io.BytesIO(bytes(range(256)) * 8), gzipped=False, label="s")
    assert stream.seek(1000) == 1000 and stream.read(2) == bytes([1000 % 256, 1001 % 256])
    with pytest.raises(OSError, match="only seeks forward"):
        stream.seek(10)
