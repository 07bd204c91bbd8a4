"""A layer of any size is unpacked with bounded memory: a gzip bomb costs disk, not RAM."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

from tests.system.images.conftest import store_files

MiB = 1 << 20
PEAK_RSS_LIMIT = 64 * MiB  # issue 17's target for a pull, whatever the layer's size


def zeros_layer(megabytes: int) -> tuple[bytes, str]:
    """A gzipped tar holding one file of `megabytes` MiB of zeros: (blob, diff_id).

    One gzip member, compressed about 1000:1 (a "gzip bomb"), made in a second: each MiB
    of zeros is deflated once and repeated, which a full flush makes valid deflate.
    """
    info = tarfile.TarInfo("zeros")
    info.size, info.mtime, info.mode = megabytes * MiB, 1_600_000_000, 0o644
    header, zero, tail = info.tobuf(tarfile.PAX_FORMAT), bytes(MiB), bytes(1024)
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    head = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    body = deflate.compress(zero) + deflate.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every MiB
    end = deflate.compress(tail) + deflate.flush()
    crc, diff = zlib.crc32(header), hashlib.sha256(header)
    for _ in range(megabytes):
        crc = zlib.crc32(zero, crc)
        diff.update(zero)
    crc, total = zlib.crc32(tail, crc), len(header) + megabytes * MiB + len(tail)
    diff.update(tail)
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    blob = gzip_header + head + body * megabytes + end + struct.pack("<II", crc, total & 0xFFFFFFFF)
    return blob, "sha256:" + diff.hexdigest()


def run_measured(root: Path, *args: str) -> tuple[int, str, int]:
    """Run the CLI; return its exit status, stderr and peak resident memory in bytes (wait4)."""
    environment = {**os.environ, "GOPHERNETES_ROOT": str(root)}
    errors = root.parent / "stderr.txt"
    with open(errors, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "gophernetes", *args], env=environment,
                                   stdout=subprocess.DEVNULL, stderr=stderr, cwd=Path(__file__).parents[3])
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, errors.read_text(), usage.ru_maxrss * 1024


def test_pulling_a_1_gib_gzip_bomb_layer_stays_under_64_mb(root, tiny_registry):
    blob, diff_id = zeros_layer(1024)
    ref, _ = tiny_registry.image("lab/zeros", "1", [blob], [diff_id])

    status, stderr, peak = run_measured(root, "pull", "-q", ref)

    assert status == 0, stderr
    print(f"pull of a {len(blob)}-byte layer (1 GiB uncompressed): peak RSS {peak / MiB:.1f} MiB")
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak / MiB:.0f} MiB"
    (layer,) = [p for p in (root / "lib/images/layers").iterdir() if p.name != "l"]
    assert (layer / "diff/zeros").stat().st_size == 1024 * MiB
    assert store_files(root)["tmp"] == []
