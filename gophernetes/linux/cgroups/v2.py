"""cgroup v2: one unified tree, one directory per container.

On a v2 host (Debian 12, the lab VM) there is a single hierarchy at /sys/fs/cgroup. A
directory gets a controller's files (memory.max, cpu.max, pids.max, io.weight) only if
its parent lists that controller in cgroup.subtree_control — so we enable them on the
way down. Freezing is cgroup.freeze, killing everything is cgroup.kill, and OOM kills are
counted in memory.events. There is no devices controller: device rules are an eBPF
program attached to the directory (device_filter.py). Lab 04 compares this with v1.
"""

from __future__ import annotations

from pathlib import Path

from gophernetes.errors import GophernetesError
from gophernetes.linux.cgroups import device_filter
from gophernetes.linux.cgroups.base import (
    CPU_PERIOD_US,
    DEFAULT_DEVICE_RULES,
    Cgroup,
    CgroupDriver,
    CgroupStats,
    Limits,
    keyed,
    make_directory,
    read,
    read_keyed,
    read_number,
    read_optional,
    write,
)

WANTED_CONTROLLERS = ("cpu", "io", "memory", "pids")


def shares_to_weight(shares: int) -> int:
    """Convert v1 cpu.shares (2..262144, default 1024) to v2 cpu.weight (1..10000, default 100).

    The same linear map runc and the kernel documentation use.
    """
    return 1 + ((shares - 2) * 9999) // 262142


def parse_io_stat(text: str) -> tuple[int, int]:
    """Bytes (read, written) from io.stat, summed over devices.

    One line per device: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" (the
    d* fields count discards, which move no data).
    """
    read_bytes = written = 0
    for line in text.splitlines():
        fields = dict(field.partition("=")[::2] for field in line.split()[1:])
        read_bytes += int(fields.get("rbytes", 0))
        written += int(fields.get("wbytes", 0))
    return read_bytes, written


def in_user_namespace() -> bool:
    """False only in the host's (initial) user namespace, whose uid_map maps every uid onto itself (runc's test)."""
    with open("/proc/self/uid_map") as file:
        return file.read().split() != ["0", "0", "4294967295"]


class CgroupV2(Cgroup):
    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def directories(self) -> list[Path]:
        return [self.path]

    def _file(self, name: str) -> Path:
        path = self.path / name
        if not path.exists():
            controller = name.split(".")[0]
            raise GophernetesError(f"the cgroup v2 controller {controller!r} is not available in {self.path.parent} "
                                   f"(cgroup.subtree_control)")
        return path

    def apply(self, limits: Limits) -> list[str]:
        warnings: list[str] = []
        if limits.memory is not None:
            write(self._file("memory.max"), limits.memory)
            warnings += self._apply_swap(limits)
        if limits.cpus is not None:
            write(self._file("cpu.max"), f"{limits.cpu_quota_us()} {CPU_PERIOD_US}")
        if limits.cpu_shares is not None:
            write(self._file("cpu.weight"), shares_to_weight(limits.cpu_shares))
        if limits.pids is not None:
            write(self._file("pids.max"), "max" if limits.pids <= 0 else limits.pids)
        if limits.blkio_weight is not None:
            warnings += self._apply_io_weight(limits.blkio_weight)
        return warnings

    def _apply_swap(self, limits: Limits) -> list[str]:
        # v2 limits swap on its own (memory.swap.max); docker's --memory-swap is memory + swap.
        path = self.path / "memory.swap.max"
        if not path.exists():
            return [] if limits.memory_swap in (None, -1) else ["no swap accounting: --memory-swap ignored"]
        memory = limits.memory or 0  # only called when a memory limit is set
        swap = 2 * memory if limits.memory_swap is None else limits.memory_swap
        write(path, "max" if swap == -1 else max(swap - memory, 0))
        return []

    def _apply_io_weight(self, blkio_weight: int) -> list[str]:
        # v1's 10..1000 maps onto io.weight's 1..10000 by docker's rule: same number, scaled.
        for name in ("io.weight", "io.bfq.weight"):
            path = self.path / name
            if path.exists():
                write(path, f"default {blkio_weight * 10 if name == 'io.weight' else blkio_weight}")
                return []
        return ["this host has no io weights (no io.weight): --blkio-weight ignored"]

    def restrict_devices(self, rules: tuple[str, ...] = DEFAULT_DEVICE_RULES) -> list[str]:
        """Attach an eBPF program that allows only `rules` (see device_filter.py).

        If the kernel refuses (no CONFIG_CGROUP_BPF, EPERM, ...), the run fails, as it
        does with runc: running the container anyway would let its root read the
        host's disks. runc makes one exception, kept here: inside a user namespace bpf(2)
        is refused anyway, and a root that is not the host's cannot make device nodes.
        """
        try:
            device_filter.attach(self.path, rules)
        except OSError as error:
            if in_user_namespace():
                return [f"cannot attach the device filter in a user namespace ({error.strerror}): "
                        f"device rules not enforced"]
            raise GophernetesError(f"cannot restrict devices of cgroup {self.path}: {error.strerror} "
                                   f"(does the kernel have CONFIG_CGROUP_BPF?)") from error
        return []

    def add_process(self, pid: int) -> None:
        write(self.path / "cgroup.procs", pid)

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in read(self.path / "cgroup.procs").split()]
        except FileNotFoundError:
            return []

    def freeze(self) -> None:
        write(self._file("cgroup.freeze"), 1)

    def thaw(self) -> None:
        write(self._file("cgroup.freeze"), 0)

    def is_frozen(self) -> bool:
        return read_keyed(self.path / "cgroup.events").get("frozen", 0) == 1

    def kill_all(self) -> None:
        kill = self.path / "cgroup.kill"  # Linux 5.14+: one write kills the whole subtree
        if kill.exists():
            write(kill, 1)
        else:
            super().kill_all()

    def oom_kills(self) -> int:
        events = self.path / "memory.events"
        return read_keyed(events).get("oom_kill", 0) if events.exists() else 0

    def stat(self, controller: str) -> dict[str, int]:
        return read_keyed(self._file(f"{controller}.stat"))

    def stats(self) -> CgroupStats:
        """cpu.stat's usage_usec, memory.current less memory.stat's inactive_file, memory.max,
        pids.current and pids.max, and io.stat. cpu.stat exists in every v2 cgroup, even
        without the cpu controller (the kernel always accounts CPU time)."""
        memory = read_number(self.path / "memory.current") or 0
        inactive = keyed(read_optional(self.path / "memory.stat")).get("inactive_file", 0)
        read_bytes, written = parse_io_stat(read_optional(self.path / "io.stat"))
        return CgroupStats(
            cpu_ns=keyed(read_optional(self.path / "cpu.stat")).get("usage_usec", 0) * 1000,
            memory=memory - inactive if inactive < memory else memory,
            memory_limit=read_number(self.path / "memory.max"),
            pids=read_number(self.path / "pids.current") or 0,
            pids_limit=read_number(self.path / "pids.max"),
            read_bytes=read_bytes, write_bytes=written)


class CgroupV2Driver(CgroupDriver):
    version = 2

    def __init__(self, root: Path, parent: str) -> None:
        self.root = root
        self.parent_path = root / parent

    def available_controllers(self) -> set[str]:
        return set(read(self.root / "cgroup.controllers").split())

    def _enable_controllers(self, directory: Path) -> None:
        """Let children of `directory` use the controllers we want ("+memory +pids ...")."""
        available = set(read(directory / "cgroup.controllers").split())
        enabled = set(read(directory / "cgroup.subtree_control").split())
        for controller in WANTED_CONTROLLERS:
            if controller in available and controller not in enabled:
                write(directory / "cgroup.subtree_control", f"+{controller}")

    def create(self, name: str) -> CgroupV2:
        # "No internal processes": only cgroups without processes of their own may hand
        # controllers down, so our parent holds no process, only containers.
        if not self.parent_path.exists():
            self._enable_controllers(self.root)
            self.parent_path.mkdir(exist_ok=True)
        self._enable_controllers(self.parent_path)
        cgroup = CgroupV2(name, self.parent_path / name)
        make_directory(cgroup.path)
        return cgroup

    def open(self, name: str) -> CgroupV2:
        return CgroupV2(name, self.parent_path / name)
