"""A container's processes as the host sees them: its cgroup's member list, then /proc.

Inside the container `ps` shows PID 1 and few others (its own PID namespace); from the
host the same processes have ordinary PIDs, and the cgroup's `cgroup.procs` lists them
all, whichever namespace they are in. For each, /proc/PID/status says who runs it
(the real uid, on the host: a --userns auto container's root shows as its subordinate
uid), /proc/PID/stat how much CPU time it has used, /proc/PID/cmdline its command.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from gophernetes.linux.cgroups.base import Cgroup

HEADERS = ("PID", "USER", "TIME", "CMD")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    user: str
    time: str      # CPU time used, as ps writes it: [DD-]HH:MM:SS
    command: str


def format_cpu_time(seconds: int) -> str:
    """ps's TIME column: 00:00:07, 01:02:03, and days as 2-03:04:05."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days}-{clock}" if days else clock


def user_name(uid: int) -> str:
    """The host's name for `uid`, or the number when the host has none (as ps does)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def describe(pid: int) -> ProcessInfo | None:
    """One process from /proc, or None if it exited meanwhile."""
    try:
        with open(f"/proc/{pid}/status") as file:
            uid = next(int(line.split()[1]) for line in file if line.startswith("Uid:"))
        with open(f"/proc/{pid}/stat") as file:
            stat = file.read()
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            argv = file.read().rstrip(b"\0").split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return None
    name, after = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
    ticks = int(after[11]) + int(after[12])  # utime and stime: fields 14 and 15 of stat(5)
    command = " ".join(arg.decode(errors="replace") for arg in argv) if argv != [b""] else f"[{name}]"
    return ProcessInfo(pid, user_name(uid), format_cpu_time(ticks // os.sysconf("SC_CLK_TCK")), command)


def processes(cgroup: Cgroup) -> list[ProcessInfo]:
    """Every process in the cgroup now, by PID."""
    found = (describe(pid) for pid in sorted(cgroup.pids()))
    return [info for info in found if info is not None]
