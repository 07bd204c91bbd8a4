"""cgroup v1: one hierarchy per controller, one directory per container in each.

On a v1 (or hybrid) host every controller is its own filesystem: the container's
memory limit lives in /sys/fs/cgroup/memory/gophernetes/ID/memory.limit_in_bytes, its
process limit in /sys/fs/cgroup/pids/gophernetes/ID/pids.max, and the process has to be
written into the cgroup.procs of each. Lab 04 does it by hand with mkdir and echo.
"""

from __future__ import annotations

from pathlib import Path

from gophernetes.errors import GophernetesError
from gophernetes.linux.cgroups.base import (
    CPU_PERIOD_US,
    DEFAULT_DEVICE_RULES,
    Cgroup,
    CgroupDriver,
    CgroupStats,
    Limits,
    keyed,
    make_directory,
    parse_device_rule,
    read,
    read_keyed,
    read_number,
    read_optional,
    write,
)

# What memory.limit_in_bytes says when there is no limit: the largest page count times the
# page size (9223372036854771712 with 4 KiB pages), never a round number.
V1_UNLIMITED = 1 << 62


def parse_blkio(text: str) -> tuple[int, int]:
    """Bytes (read, written) from blkio.throttle.io_service_bytes_recursive, summed over devices.

    Lines are "MAJOR:MINOR Read N", "... Write N", "... Sync N", ..., then "Total N". The
    throttle files count every request that reaches a block device, whatever the I/O
    scheduler (the blkio.io_* files exist only under CFQ/BFQ), which is why docker reads them.
    """
    read_bytes = written = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] == "Read":
            read_bytes += int(fields[2])
        elif len(fields) == 3 and fields[1] == "Write":
            written += int(fields[2])
    return read_bytes, written

# The controllers a container gets, if the host mounts them.
CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "freezer", "blkio", "devices")


class CgroupV1(Cgroup):
    def __init__(self, name: str, paths: dict[str, Path]) -> None:
        self.name = name
        self.paths = paths  # controller -> this container's directory in that hierarchy

    def directories(self) -> list[Path]:
        return list(dict.fromkeys(self.paths.values()))

    def _file(self, controller: str, name: str) -> Path:
        if controller not in self.paths:
            raise GophernetesError(f"the cgroup v1 controller {controller!r} is not mounted on this host")
        return self.paths[controller] / name

    def apply(self, limits: Limits) -> list[str]:
        warnings: list[str] = []
        if limits.memory is not None:
            write(self._file("memory", "memory.limit_in_bytes"), limits.memory)
            warnings += self._apply_swap(limits)
        if limits.cpus is not None:
            write(self._file("cpu", "cpu.cfs_period_us"), CPU_PERIOD_US)
            write(self._file("cpu", "cpu.cfs_quota_us"), limits.cpu_quota_us() or -1)
        if limits.cpu_shares is not None:
            write(self._file("cpu", "cpu.shares"), limits.cpu_shares)
        if limits.pids is not None:
            write(self._file("pids", "pids.max"), "max" if limits.pids <= 0 else limits.pids)
        if limits.blkio_weight is not None:
            warnings += self._apply_blkio_weight(limits.blkio_weight)
        return warnings

    def _apply_swap(self, limits: Limits) -> list[str]:
        # memory.memsw.* (memory + swap) only exists when the kernel accounts swap.
        memsw = self._file("memory", "memory.memsw.limit_in_bytes")
        if not memsw.exists():
            if limits.memory_swap not in (None, -1):
                return ["this kernel does not account swap (no memory.memsw.*): --memory-swap ignored"]
            return []
        # docker's default: as much swap as memory (only called when a memory limit is set)
        swap = 2 * (limits.memory or 0) if limits.memory_swap is None else limits.memory_swap
        write(memsw, -1 if swap == -1 else swap)
        return []

    def _apply_blkio_weight(self, weight: int) -> list[str]:
        # blkio.weight exists only under the CFQ/BFQ I/O schedulers (as blkio.bfq.weight for BFQ).
        for name in ("blkio.weight", "blkio.bfq.weight"):
            path = self.paths.get("blkio", Path("/nonexistent")) / name
            if path.exists():
                write(path, weight)
                return []
        return ["this host's block I/O scheduler has no weights (no blkio.weight): --blkio-weight ignored"]

    def restrict_devices(self, rules: tuple[str, ...] = DEFAULT_DEVICE_RULES) -> list[str]:
        """devices.deny "a" removes every permission; each devices.allow line adds one back."""
        for rule in rules:
            parse_device_rule(rule)  # the same error for a bad rule as on v2, before anything is written
        if "devices" not in self.paths:
            return ["the devices cgroup is not mounted: containers may open any device node they create"]
        write(self.paths["devices"] / "devices.deny", "a")
        for rule in rules:
            write(self.paths["devices"] / "devices.allow", rule)
        return []

    def add_process(self, pid: int) -> None:
        for directory in self.directories():
            write(directory / "cgroup.procs", pid)

    def pids(self) -> list[int]:
        directory = self.paths.get("pids") or self.directories()[0]
        try:
            return [int(p) for p in read(directory / "cgroup.procs").split()]
        except FileNotFoundError:
            return []

    def freeze(self) -> None:
        write(self._file("freezer", "freezer.state"), "FROZEN")

    def thaw(self) -> None:
        write(self._file("freezer", "freezer.state"), "THAWED")

    def is_frozen(self) -> bool:
        return read(self._file("freezer", "freezer.state")) == "FROZEN"

    def oom_kills(self) -> int:
        # memory.oom_control reports "oom_kill N" since Linux 4.13.
        return read_keyed(self._file("memory", "memory.oom_control")).get("oom_kill", 0)

    def stat(self, controller: str) -> dict[str, int]:
        return read_keyed(self._file(controller, f"{controller}.stat"))

    def stats(self) -> CgroupStats:
        """cpuacct.usage (ns), memory.usage_in_bytes less memory.stat's total_inactive_file,
        memory.limit_in_bytes, pids.current and pids.max, and the blkio throttle counters."""
        def file(controller: str, name: str) -> Path:
            return self.paths.get(controller, Path("/nonexistent")) / name

        memory = read_number(file("memory", "memory.usage_in_bytes")) or 0
        inactive = keyed(read_optional(file("memory", "memory.stat"))).get("total_inactive_file", 0)
        limit = read_number(file("memory", "memory.limit_in_bytes"))
        blkio = read_optional(file("blkio", "blkio.throttle.io_service_bytes_recursive")) or \
            read_optional(file("blkio", "blkio.throttle.io_service_bytes"))
        read_bytes, written = parse_blkio(blkio)
        return CgroupStats(
            cpu_ns=read_number(file("cpuacct", "cpuacct.usage")) or 0,
            memory=memory - inactive if inactive < memory else memory,
            memory_limit=None if limit is None or limit >= V1_UNLIMITED else limit,
            pids=read_number(file("pids", "pids.current")) or 0,
            pids_limit=read_number(file("pids", "pids.max")),
            read_bytes=read_bytes, write_bytes=written)


class CgroupV1Driver(CgroupDriver):
    version = 1

    def __init__(self, root: Path, parent: str) -> None:
        self.root = root
        self.parent = parent
        self.hierarchies = self._mounted_hierarchies()

    def _mounted_hierarchies(self) -> dict[str, Path]:
        """controller -> the root of its hierarchy (cpu and cpuacct may share one)."""
        found = {}
        for controller in CONTROLLERS:
            path = self.root / controller
            if (path / "cgroup.procs").exists():
                found[controller] = path.resolve()
        return found

    def _paths(self, name: str) -> dict[str, Path]:
        return {c: h / self.parent / name for c, h in self.hierarchies.items()}

    def create(self, name: str) -> CgroupV1:
        cgroup = CgroupV1(name, self._paths(name))
        made = []
        try:
            for directory in cgroup.directories():
                make_directory(directory)
                made.append(directory)
        except Exception:
            CgroupV1(name, {str(i): d for i, d in enumerate(made)}).remove()
            raise
        return cgroup

    def open(self, name: str) -> CgroupV1:
        return CgroupV1(name, {c: p for c, p in self._paths(name).items() if p.exists()})

    def adopt(self, name: str) -> CgroupV1:
        """`name` in every hierarchy mounted under the root, ours or not (see CgroupDriver.adopt)."""
        every: dict[str, Path] = {}
        for mount in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if (mount / "cgroup.procs").exists() and mount.resolve() not in every.values():
                every[mount.name] = mount.resolve()
        return CgroupV1(name, {hierarchy: path / self.parent / name for hierarchy, path in every.items()})

    def available_controllers(self) -> set[str]:
        return set(self.hierarchies)
