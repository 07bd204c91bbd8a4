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


def zeros_layer(megabytes: int, name: str = "zeros") -> tuple[bytes, str]:
    """A gzipped tar holding one file `name` of `megabytes` MiB of zeros: (blob, diff_id).

    One gzip member, compressed about 1000:1 (a "gzip bomb"), made in a second: each MiB
    of zeros is deflated once and repeated, which a full flush makes valid deflate.
    """
    info = tarfile.TarInfo(name)
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


# Peak RSS is measured by a small wrapper that forks the CLI: a child's ru_maxrss starts from
# the RSS of the process it was forked from (exec keeps the high-water mark), so forking the
# CLI from pytest itself would measure pytest.
WRAPPER = """
import os, resource, sys
report = int(sys.argv[1])
os.set_inheritable(report, False)
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status = os.waitpid(pid, 0)
os.write(report, str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss).encode())
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(root: Path, *args: str) -> tuple[int, str, int]:
    """Run the CLI; return its exit status, stderr and peak resident memory in bytes."""
    environment = {**os.environ, "GOPHERNETES_ROOT": str(root)}
    read_end, write_end = os.pipe()
    try:
        command = [sys.executable, "-S", "-c", WRAPPER, str(write_end), sys.executable, "-m", "gophernetes", *args]
        result = subprocess.run(command, env=environment, capture_output=True, text=True, pass_fds=(write_end,),
                                cwd=Path(__file__).parents[3], timeout=300)
    finally:
        os.close(write_end)
    with os.fdopen(read_end) as report:
        peak_kib = int(report.read() or 0)
    return result.returncode, result.stderr, peak_kib * 1024


def test_pulling_1_gib_of_gzip_bomb_layers_in_parallel_stays_under_64_mb(root, tiny_registry):
    """Four layers of 256 MiB of zeros, about 256 kB each compressed, fetched four at a time."""
    layers = [zeros_layer(256, f"zeros-{n}") for n in range(4)]
    ref, _ = tiny_registry.image("lab/zeros", "1", [blob for blob, _ in layers], [d for _, d in layers])

    status, stderr, peak = run_measured(root, "pull", "-q", ref)

    assert status == 0, stderr
    print(f"pull of 4 layers, 1 GiB uncompressed: peak RSS {peak / MiB:.1f} MiB")
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak / MiB:.0f} MiB"
    stored = [p for p in (root / "lib/images/layers").iterdir() if p.name != "l"]
    assert sorted(next((p / "diff").iterdir()).stat().st_size for p in stored) == [256 * MiB] * 4
    assert store_files(root)["tmp"] == []
