"""The interface both cgroup drivers offer, and the limits a container can ask for."""

from __future__ import annotations

import errno
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from gophernetes.errors import GophernetesError

CPU_PERIOD_US = 100_000  # the CFS period docker uses: 100 ms


@dataclass(frozen=True)
class Limits:
    """Resource limits in kernel units; None means "no limit / kernel default"."""

    memory: int | None = None          # bytes
    memory_swap: int | None = None     # bytes of memory + swap; -1 = unlimited swap
    cpus: float | None = None          # fraction of CPUs, e.g. 0.5
    cpu_shares: int | None = None      # relative weight, v1 units (1024 = default)
    pids: int | None = None            # max number of processes (tasks)
    blkio_weight: int | None = None    # relative block I/O weight, 10..1000

    def cpu_quota_us(self) -> int | None:
        """--cpus as CFS quota per period: 0.5 CPU = 50 ms of CPU time every 100 ms."""
        return None if self.cpus is None else int(self.cpus * CPU_PERIOD_US)


# The device files a container may open, as docker allows them: "TYPE MAJOR:MINOR ACCESS"
# (c = character device, b = block device, a = both; * = any number; r, w = read, write;
# m = mknod). Creating any device node stays allowed ("m"), opening one not in this list
# does not: root in a container with CAP_MKNOD could otherwise `mknod /tmp/disk b 8 0`
# and read the host's disk. v1 writes these lines into the devices controller's
# devices.allow; v2 has no devices controller, so they become an eBPF program attached to
# the cgroup (device_filter.py), as runc does.
DEFAULT_DEVICE_RULES = (
    "c *:* m", "b *:* m",          # mknod of anything, opening none of it
    "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",  # null zero full random urandom
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm",  # tty, console, ptmx
    "c 136:* rwm",                 # the pseudo-terminals of its devpts
    "c 10:200 rwm",                # /dev/net/tun
)

# The kernel's device numbers: a 12-bit major (the driver) and a 20-bit minor (which one).
MAX_MAJOR, MAX_MINOR = (1 << 12) - 1, (1 << 20) - 1


@dataclass(frozen=True)
class DeviceRule:
    """One parsed device rule, e.g. "c 136:* rwm"."""

    type: str            # "c", "b" or "a" (both)
    major: int | None    # None: any ("*")
    minor: int | None
    access: str          # letters from "rwm"


def parse_device_rule(text: str) -> DeviceRule:
    """"c 1:3 rwm" -> DeviceRule("c", 1, 3, "rwm"), or an error that says what is wrong."""
    fields = text.split()
    if len(fields) != 3 or ":" not in fields[1]:
        raise _bad_rule(text, "want TYPE MAJOR:MINOR ACCESS")
    kind, numbers, access = fields
    if kind not in ("c", "b", "a"):
        raise _bad_rule(text, f"the type {kind!r} is not c (character), b (block) or a (all)")
    if not set(access) <= set("rwm"):
        raise _bad_rule(text, f"the access {access!r} is not made of r (read), w (write), m (mknod)")
    major, minor = numbers.split(":", 1)
    return DeviceRule(kind, _device_number(text, major, MAX_MAJOR), _device_number(text, minor, MAX_MINOR), access)


def _device_number(rule: str, text: str, highest: int) -> int | None:
    if text == "*":
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > highest:
        raise _bad_rule(rule, f"{text!r} is not * or a device number from 0 to {highest}")
    return int(text)


def _bad_rule(text: str, reason: str) -> GophernetesError:
    return GophernetesError(f"bad device rule {text!r}: {reason} (e.g. 'c 1:3 rwm', 'c 136:* rw')")


@dataclass(frozen=True)
class CgroupStats:
    """What a cgroup's processes use at one moment: the numbers `gophernetes stats` shows.

    Counters (CPU time, bytes read and written) only ever grow: a rate is the difference
    of two readings over the time between them (runtime/stats.py). Memory is what docker
    calls usage: the charged memory minus the page cache that the kernel could drop at
    once (inactive file pages), so a container that read a big file is not shown as full.
    """

    cpu_ns: int = 0                  # CPU time used by every process ever in the cgroup, all CPUs
    memory: int = 0                  # bytes in use, reclaimable file cache excluded
    memory_limit: int | None = None  # None: no limit (the host's memory is the limit)
    pids: int = 0                    # processes (tasks) in the cgroup now
    pids_limit: int | None = None    # None: no limit
    read_bytes: int = 0              # block I/O read from devices, all devices
    write_bytes: int = 0             # block I/O written to devices


class Cgroup(ABC):
    """One container's cgroup (one directory per v1 controller, or one v2 directory)."""

    name: str

    @abstractmethod
    def restrict_devices(self, rules: tuple[str, ...] = DEFAULT_DEVICE_RULES) -> list[str]:
        """Allow mknod and open of only the devices in `rules`; return warnings where that cannot be enforced.

        v1 writes the rules into the devices controller, v2 attaches an eBPF program to
        the cgroup. The launcher calls it before the container's first process joins,
        and not at all for --privileged.
        """

    @abstractmethod
    def directories(self) -> list[Path]:
        """Every directory that makes up this cgroup."""

    @abstractmethod
    def apply(self, limits: Limits) -> list[str]:
        """Write the limits; return warnings for limits this host cannot enforce."""

    @abstractmethod
    def add_process(self, pid: int) -> None:
        """Move process `pid` (0 = the caller) into the cgroup."""

    @abstractmethod
    def pids(self) -> list[int]:
        """The processes in the cgroup."""

    @abstractmethod
    def freeze(self) -> None:
        """Stop every process in the cgroup until thaw()."""

    @abstractmethod
    def thaw(self) -> None:
        """Let frozen processes run again."""

    @abstractmethod
    def is_frozen(self) -> bool:
        """True when the cgroup is frozen."""

    @abstractmethod
    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has killed in this cgroup."""

    @abstractmethod
    def stat(self, controller: str) -> dict[str, int]:
        """A controller's counters (cpu.stat, memory.stat, ...) as a dict."""

    @abstractmethod
    def stats(self) -> CgroupStats:
        """Read the cgroup's usage counters (a controller the host lacks reads as zero / no limit)."""

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup and its children (v2 has cgroup.kill; v1 signals one by one)."""
        for directory in self.directories():
            for cgroup in _depth_first(directory) if directory.exists() else []:
                _kill_inside(cgroup)

    def remove(self, timeout: float = 2.0) -> None:
        """Delete the cgroup's directories, and any child cgroups made inside them, once empty.

        rmdir is the only way to delete a cgroup (its files cannot be unlinked), and it
        fails with EBUSY while a process, even a dying one, is still inside, and while a
        child cgroup exists: a container that could write its cgroupfs may have made some.
        So each directory goes depth-first, the deepest child first, with what is still
        inside killed and the rmdir retried briefly.
        """
        deadline = time.monotonic() + timeout
        for directory in self.directories():
            for child in _depth_first(directory):
                _remove_directory(child, deadline)
            _remove_if_empty(directory.parent)


def _depth_first(directory: Path) -> list[Path]:
    """`directory` and every cgroup below it, children before their parents."""
    found = []
    for parent, children, _ in os.walk(directory, topdown=False):
        found += [Path(parent) / child for child in children]
    return found + [directory]


def _kill_inside(directory: Path) -> None:
    try:
        with open(directory / "cgroup.procs") as file:
            pids = [int(pid) for pid in file.read().split()]
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def _remove_directory(directory: Path, deadline: float) -> None:
    while True:
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno not in (errno.EBUSY, errno.ENOTEMPTY) or time.monotonic() > deadline:
                raise GophernetesError(f"cannot remove cgroup {directory}: {error.strerror}") from error
            _kill_inside(directory)
            time.sleep(0.01)


def _remove_if_empty(parent: Path) -> None:
    """Remove the shared parent (e.g. .../gophernetes) when its last container has gone."""
    try:
        parent.rmdir()
    except OSError:
        pass  # still in use by another container, or a hierarchy root


class CgroupDriver(ABC):
    """Creates cgroups under one parent, in the hierarchy the host runs."""

    version: int

    @abstractmethod
    def create(self, name: str) -> Cgroup:
        """Make a new, empty cgroup for the container `name`."""

    @abstractmethod
    def open(self, name: str) -> Cgroup:
        """The existing cgroup of container `name` (for exec, pause, cleanup)."""

    @abstractmethod
    def available_controllers(self) -> set[str]:
        """The controllers this hierarchy can give a container."""

    def adopt(self, name: str) -> Cgroup:
        """The cgroup `name` as another cgroup manager (runc) may have made it under our parent.

        Only to remove what it left: runc makes a container's cgroup in every hierarchy it
        finds mounted, which on v1 includes some this driver never uses (cpuset, the named
        `systemd` one, hybrid's empty `unified`). On v2 there is one tree: open() is all.
        """
        return self.open(name)


def write(path: Path, value: str | int) -> None:
    """Write one value to a cgroup file, with an error that names the file."""
    try:
        with open(path, "w") as file:
            file.write(str(value))
    except OSError as error:
        raise GophernetesError(f"cannot write {value!r} to {path}: {error.strerror}") from error


def read(path: Path) -> str:
    with open(path) as file:
        return file.read().strip()


def read_keyed(path: Path) -> dict[str, int]:
    """Parse a flat keyed file ("key value" per line) such as cpu.stat or memory.events."""
    values: dict[str, int] = {}
    for line in read(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def read_number(path: Path, unlimited: str = "max") -> int | None:
    """One number from a cgroup file; None when the file says `unlimited` ("max") or is missing."""
    try:
        text = read(path)
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if text == unlimited else int(text)


def read_optional(path: Path) -> str:
    """A cgroup file's text, or "" when this host has no such file (a controller it lacks)."""
    try:
        return read(path)
    except FileNotFoundError:
        return ""


def keyed(text: str) -> dict[str, int]:
    """"key value" lines (memory.stat, cpu.stat) as a dict of the numeric ones."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def make_directory(path: Path) -> None:
    """mkdir -p for a cgroup; a concurrent removal of the parent is retried, not fatal."""
    for _ in range(5):
        try:
            path.mkdir(parents=True)
            return
        except FileExistsError:
            raise GophernetesError(f"cgroup {path} already exists") from None
        except FileNotFoundError:
            continue  # another container removed the shared parent just now
    path.mkdir(parents=True)
