"""Processes we fork: is one still the one we started, how it reports a failure, what its exit means.

- PIDs are reused, so a PID alone cannot tell. The kernel records when each process
  started (field 22 of /proc/PID/stat, in clock ticks since boot): a PID plus that start
  time names one process for the life of the machine.
- A forked child that fails before execve cannot raise into its parent. It writes one
  JSON report, {"code": 125, "message": "..."}, into a pipe and exits with that code. The
  pipe is close-on-exec, so a successful execve closes it and the parent reads end of
  file. The parent turns a report back into the user's error, with the same exit code.
  The launcher, the supervisor and exec all speak this.
- A wait status becomes docker's exit status: the command's own code, or 128 + N when
  signal N killed it (137: SIGKILL, e.g. the OOM killer).
"""

from __future__ import annotations

import json
import os
from typing import NoReturn

from gophernetes.errors import GophernetesError


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (the state) on, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    return stat.rsplit(b")", 1)[1].decode().split()


def start_time(pid: int) -> int | None:
    """The start time of process `pid` in clock ticks since boot, or None if there is no such process."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def is_alive(pid: int | None, started: int | None) -> bool:
    """True when `pid` still runs and is the same process that started at `started` (one read of its stat)."""
    if not pid:
        return False
    fields = _stat_fields(pid)
    if fields is None or (started is not None and int(fields[19]) != started):
        return False
    return fields[0] != "Z"  # a zombie has exited; only its parent has not reaped it yet


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


def read_all(fd: int) -> bytes:
    """Everything written into the pipe `fd` until every writer has closed it."""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def write_report(fd: int, code: int, message: str) -> None:
    """Tell the parent how it went (code 0: it did; else why not, with docker's exit code)."""
    try:
        os.write(fd, json.dumps({"code": code, "message": message}).encode())
    except OSError:
        pass  # the parent is gone: nobody is left to tell


def fail(fd: int, code: int, message: str) -> NoReturn:
    """In a forked child: report the failure and exit with its code. Never returns into the parent's code."""
    write_report(fd, code, message)
    os._exit(code)


def read_report(fd: int) -> dict | None:
    """The report written into `fd`, or None if the writer closed it without one (it exec'd, or died)."""
    data = read_all(fd)
    return json.loads(data) if data else None


def raise_reported(fd: int) -> None:
    """If the child reported a failure into `fd`, raise it as the user's error, with its exit code."""
    report = read_report(fd)
    if report is not None and report["code"] != 0:
        raise reported_error(report)


def reported_error(report: dict) -> GophernetesError:
    error = GophernetesError(report["message"])
    error.exit_code = report["code"]
    return error


def exit_status(wait_status: int) -> int:
    """A wait status as docker reports it: the exit code, or 128 + N for death by signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


class ExecFifo:
    """create/start's rendezvous, as runc's exec.fifo: a named pipe in the container's state folder.

    The container's init opens it (O_PATH) while the host's files are still in sight, and
    when it is ready opens it again for writing through /proc/self/fd — which blocks until
    someone opens it for reading: `start`. Open on both sides, init writes one byte, and goes
    on to exec the container's process. man 7 fifo
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def open(self):
        """In init, before pivot_root: hold the fifo; return the call that waits for `start`."""
        held = os.open(self.path, os.O_PATH | os.O_CLOEXEC)

        def wait_for_reader() -> None:
            writer = os.open(f"/proc/self/fd/{held}", os.O_WRONLY | os.O_CLOEXEC)
            os.write(writer, b"0")
            os.close(writer)
            os.close(held)
        return wait_for_reader
