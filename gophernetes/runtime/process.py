"""Is that process still the one we started? PIDs are reused, so a PID alone cannot tell.

The kernel records when each process started (field 22 of /proc/PID/stat, in clock ticks
since boot). A PID plus that start time names one process for the life of the machine.
"""

from __future__ import annotations

import os


def start_time(pid: int) -> int | None:
    """The start time of process `pid` in clock ticks since boot, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            stat = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def is_alive(pid: int | None, started: int | None) -> bool:
    """True when `pid` still runs and is the same process that started at `started`."""
    if not pid:
        return False
    now = start_time(pid)
    if now is None or (started is not None and now != started):
        return False
    try:
        with open(f"/proc/{pid}/stat") as file:
            state = file.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent has not reaped it yet


def wait_for_exit(pid: int | None, started: int | None, timeout: float) -> bool:
    """Wait until process `pid` (the one that started at `started`) has exited; False on timeout.

    A pidfd (pidfd_open(2), Linux 5.3) is a file descriptor that becomes readable when its
    process exits, so we sleep in poll(2) and wake at that moment: no polling loop, and
    no mistaking a new process that reused the PID (we check the start time first, and the
    pidfd keeps naming the process we opened).
    """
    import select

    if pid is None or not is_alive(pid, started):
        return True
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not is_alive(pid, started):  # it may have gone, and its PID been reused, before we opened it
            return True
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(max(timeout, 0) * 1000))
    finally:
        os.close(pidfd)
