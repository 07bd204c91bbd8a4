"""The cgroup drivers' stats readers, over the files as the kernel writes them (v1 and v2).

The directories are made in a temporary folder with the contents a real cgroup has
(copied from this host's v1 hierarchy and the lab VM's v2 one): the reading and parsing
are ours, the file formats are the kernel's.
"""

from __future__ import annotations

from pathlib import Path

from gophernetes.linux.cgroups.base import CgroupStats
from gophernetes.linux.cgroups.v1 import CgroupV1, parse_blkio
from gophernetes.linux.cgroups.v2 import CgroupV2, parse_io_stat

V1_BLKIO = """8:16 Read 4096
8:16 Write 12288
8:16 Sync 16384
8:16 Async 0
8:16 Discard 0
8:16 Total 16384
8:0 Read 1000
8:0 Write 24
8:0 Sync 1024
8:0 Async 0
8:0 Discard 0
8:0 Total 1024
Total 17408
"""

V2_IO_STAT = """8:16 rbytes=4096 wbytes=12288 rios=1 wios=3 dbytes=0 dios=0
8:0 rbytes=1000 wbytes=24 rios=2 wios=1 dbytes=512 dios=1
"""


def write_files(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_v1_blkio_sums_reads_and_writes_over_devices_and_ignores_the_totals():
    assert parse_blkio(V1_BLKIO) == (5096, 12312)
    assert parse_blkio("Total 0\n") == (0, 0)


def test_v2_io_stat_sums_rbytes_and_wbytes_not_discards():
    assert parse_io_stat(V2_IO_STAT) == (5096, 12312)
    assert parse_io_stat("") == (0, 0)


def test_v1_reads_each_controllers_directory(tmp_path):
    paths = {
        "cpuacct": write_files(tmp_path / "cpuacct", {"cpuacct.usage": "2500000000\n"}),
        "memory": write_files(tmp_path / "memory", {
            "memory.usage_in_bytes": "10485760\n", "memory.limit_in_bytes": "67108864\n",
            "memory.stat": "cache 4194304\ninactive_file 1\ntotal_inactive_file 2097152\n"}),
        "pids": write_files(tmp_path / "pids", {"pids.current": "3\n", "pids.max": "64\n"}),
        "blkio": write_files(tmp_path / "blkio", {"blkio.throttle.io_service_bytes_recursive": V1_BLKIO}),
    }
    assert CgroupV1("c", paths).stats() == CgroupStats(
        cpu_ns=2_500_000_000, memory=10485760 - 2097152, memory_limit=67108864, pids=3, pids_limit=64,
        read_bytes=5096, write_bytes=12312)


def test_v1_unlimited_memory_and_pids_read_as_no_limit(tmp_path):
    paths = {
        "memory": write_files(tmp_path / "memory", {
            "memory.usage_in_bytes": "4096\n", "memory.limit_in_bytes": "9223372036854771712\n",
            "memory.stat": "total_inactive_file 0\n"}),
        "pids": write_files(tmp_path / "pids", {"pids.current": "1\n", "pids.max": "max\n"}),
    }
    stats = CgroupV1("c", paths).stats()
    assert (stats.memory, stats.memory_limit, stats.pids, stats.pids_limit) == (4096, None, 1, None)


def test_v1_a_controller_the_host_lacks_reads_as_zero(tmp_path):
    paths = {"pids": write_files(tmp_path / "pids", {"pids.current": "2\n", "pids.max": "max\n"})}
    assert CgroupV1("c", paths).stats() == CgroupStats(pids=2)


def test_v2_reads_one_directory(tmp_path):
    directory = write_files(tmp_path / "c", {
        "cpu.stat": "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
        "memory.current": "10485760\n", "memory.max": "67108864\n",
        "memory.stat": "anon 4096\nfile 8192\ninactive_file 2097152\nactive_file 0\n",
        "pids.current": "5\n", "pids.max": "max\n", "io.stat": V2_IO_STAT,
    })
    assert CgroupV2("c", directory).stats() == CgroupStats(
        cpu_ns=1_500_000_000, memory=10485760 - 2097152, memory_limit=67108864, pids=5, pids_limit=None,
        read_bytes=5096, write_bytes=12312)


def test_v2_unlimited_memory_is_no_limit_and_missing_files_are_zero(tmp_path):
    directory = write_files(tmp_path / "c", {"cpu.stat": "usage_usec 7\n", "memory.max": "max\n"})
    assert CgroupV2("c", directory).stats() == CgroupStats(cpu_ns=7000)


def test_cache_larger_than_usage_never_makes_memory_negative(tmp_path):
    directory = write_files(tmp_path / "c", {"memory.current": "100\n", "memory.stat": "inactive_file 4096\n"})
    assert CgroupV2("c", directory).stats().memory == 100
