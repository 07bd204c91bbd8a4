"""What a container uses, live: the cgroup's counters and its network interfaces, read twice.

`docker stats` is two readings of files the kernel keeps anyway. CPU time and bytes moved
are counters that only grow, so a rate needs two readings and the time between them:
CPU % is the CPU time the cgroup used in that interval divided by the interval (100 %
= one CPU kept busy; 200 % = two). Memory and PIDs are levels, read as they are. The
network counters are those of the container's own interfaces, which the kernel shows to
any process in its network namespace in /proc/PID/net/dev: the container's end of the
veth (eth0), with lo left out, as docker does. Lab 04 reads the same files by hand.

Both engines put a container's processes in the cgroup PARENT/ID, so this module serves
both: the engine says which containers (ID, name, init PID), this module reads them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gophernetes.linux.cgroups.base import Cgroup, CgroupStats


@dataclass(frozen=True)
class Target:
    """A container to watch: who it is, its init's host PID, its cgroup."""

    id: str
    name: str
    pid: int | None
    cgroup: Cgroup


@dataclass(frozen=True)
class ContainerStats:
    """One line of `gophernetes stats`: rates over the last interval, levels now."""

    id: str
    name: str
    cpu_percent: float
    memory: int
    memory_limit: int             # the host's memory when the container has no limit of its own
    memory_percent: float
    pids: int
    net_rx: int                   # bytes received by the container's interfaces (lo excluded)
    net_tx: int
    block_read: int
    block_write: int


@dataclass(frozen=True)
class Reading:
    """The raw counters of one container at one moment (time.monotonic())."""

    at: float
    cgroup: CgroupStats
    net: tuple[int, int]


def cpu_percent(before_ns: int, after_ns: int, seconds: float) -> float:
    """CPU used between two readings as a percentage of one CPU (docker's CPU %).

    docker divides by the host's CPU time instead and multiplies by the number of CPUs;
    over the same interval the two are equal.
    """
    if seconds <= 0 or after_ns < before_ns:
        return 0.0
    return (after_ns - before_ns) / (seconds * 1e9) * 100.0


def memory_percent(usage: int, limit: int) -> float:
    return 0.0 if limit <= 0 else usage / limit * 100.0


def parse_net_dev(text: str) -> tuple[int, int]:
    """Bytes (received, sent) over every interface of /proc/PID/net/dev but lo.

    Two header lines, then "  eth0: RX_BYTES PACKETS ERRS ... TX_BYTES ..." — the ninth
    number after the colon is the first transmit field.
    """
    received = sent = 0
    for line in text.splitlines()[2:]:
        name, _, numbers = line.partition(":")
        fields = numbers.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        received += int(fields[0])
        sent += int(fields[8])
    return received, sent


def net_io(pid: int | None) -> tuple[int, int]:
    """The container's network bytes (received, sent); (0, 0) with no network namespace of
    its own (--net host: the host's counters are not the container's, docker shows 0 too)."""
    if not pid:
        return 0, 0
    try:
        if os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino:
            return 0, 0
        with open(f"/proc/{pid}/net/dev") as file:
            return parse_net_dev(file.read())
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0  # exited between the listing and now


def host_memory() -> int:
    """MemTotal of /proc/meminfo in bytes: the limit of a container that has none."""
    with open("/proc/meminfo") as file:
        for line in file:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def read(target: Target) -> Reading:
    return Reading(time.monotonic(), target.cgroup.stats(), net_io(target.pid))


def compare(target: Target, before: Reading, after: Reading, host_total: int) -> ContainerStats:
    """The line for `target` from two readings of it."""
    usage = after.cgroup
    limit = usage.memory_limit if usage.memory_limit is not None else host_total
    limit = min(limit, host_total) if host_total else limit
    return ContainerStats(
        id=target.id, name=target.name,
        cpu_percent=cpu_percent(before.cgroup.cpu_ns, usage.cpu_ns, after.at - before.at),
        memory=usage.memory, memory_limit=limit, memory_percent=memory_percent(usage.memory, limit),
        pids=usage.pids, net_rx=after.net[0], net_tx=after.net[1],
        block_read=usage.read_bytes, block_write=usage.write_bytes)


def watch(targets: Callable[[], list[Target]], stream: bool = True, interval: float = 1.0,
          sleep: Callable[[float], None] = time.sleep) -> Iterator[list[ContainerStats]]:
    """Every `interval` seconds, one ContainerStats per container `targets()` names now.

    `targets` is asked again each round, so containers that start or stop come and go, as
    in docker's stats of all containers. The first lines come after one interval: a rate
    needs two readings. Without `stream`, only that first round.
    """
    host_total = host_memory()
    current = targets()
    previous = {target.id: read(target) for target in current}
    while True:
        sleep(interval)
        lines = []
        for target in current:
            after = read(target)
            lines.append(compare(target, previous[target.id], after, host_total))
            previous[target.id] = after
        yield lines
        if not stream:
            return
        current = targets()  # containers started meanwhile get their first reading now
        previous = {target.id: previous.get(target.id) or read(target) for target in current}


def targets(infos: list) -> list[Target]:
    """The containers to watch from engine ContainerInfos: a stopped one reads as zeros, as in docker."""
    from gophernetes.linux.cgroups import open_driver

    driver = open_driver()
    return [Target(info.id, info.name, info.pid if info.status in ("running", "paused") else None,
                   driver.open(info.id)) for info in infos]
