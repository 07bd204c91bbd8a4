"""`gophernetes wait`: sleep until a container's init has exited, then give its exit status.

No polling loop for the long part: a pidfd (pidfd_open(2), Linux 5.3) of the init
becomes readable at the moment it exits, and poll(2) sleeps until then. Only the last
step polls briefly: the container's keeper (the supervisor, or a foreground `run`)
writes the exit status into the record just after the exit, and we read it from there.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable

from gophernetes.errors import GophernetesError

RECORD_TIMEOUT = 10.0  # seconds the keeper may take to write the status down


def sleep_until_exit(pid: int) -> None:
    """Block until process `pid` has exited (at once if it has already)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.poll()
    finally:
        os.close(pidfd)


def wait_for(inspect: Callable[[], object], sleep: Callable[[float], None] = time.sleep) -> int:
    """The exit status of the container `inspect()` describes (an engine's ContainerInfo),
    once it has exited."""
    info = inspect()
    pid = getattr(info, "pid", None)
    if getattr(info, "status", "") in ("running", "paused") and pid:
        sleep_until_exit(pid)
    deadline = time.monotonic() + RECORD_TIMEOUT
    while True:
        code = getattr(info, "exit_code", None)
        if getattr(info, "status", "") == "exited" and code is not None:
            return int(code)
        if time.monotonic() > deadline:
            raise GophernetesError(f"container {getattr(info, 'name', '?')} has stopped but no exit status was "
                                   "recorded (it ran in the foreground, or its supervisor died)")
        sleep(0.02)
        info = inspect()
