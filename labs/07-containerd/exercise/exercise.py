"""Lab 07 exercise: what a shim is for — a keeper that outlives whoever started the container.

Fill in the three gaps (`raise NotImplementedError`), then check your work as root:

    sudo gophernetes lab check 07 --exercise

containerd starts each container through a shim (containerd-shim-runc-v2) and then may
restart, crash or be upgraded: the container keeps running, because its parent is the
shim, not containerd. The shim is a keeper: it waits for the container's process, and
when that exits it keeps the exit status until someone asks (`ctr task ls`, docker's
`inspect`). Three things make that work:

- PR_SET_CHILD_SUBREAPER (man 2 prctl): when a process below the keeper loses its parent
  (PID 1 of a container that forked and exited, a `sleep &` of a shell that exited), the
  kernel re-parents it to the nearest subreaper ancestor instead of the host's PID 1.
- wait(2) in a loop until no child is left (ECHILD): every such orphan is reaped, none
  stays a zombie; the container's own process is the one whose status is kept.
- the status as docker reports it: the exit code, or 128 + N for a death by signal N
  (a kill -9 is 137).

The check runs your keep() in a process whose parent exits first (as a restarted
containerd would), with a shell that leaves a `sleep &` behind, and one killed by
SIGKILL, and reads the status file.

Afterwards, read gophernetes/runtime/launcher.py (start: the subreaper),
runtime/process.py (exit_status) and engines/native/monitor.py (gophernetes' own keeper
of a detached container: watch, then finish records the status).
"""

import ctypes  # noqa: F401 (for become_subreaper)
import os

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def become_subreaper() -> None:
    """Make this process a child subreaper: orphans below it are re-parented to it.

    man 2 prctl: libc = ctypes.CDLL(None, use_errno=True);
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) returns -1 on failure (ctypes.get_errno()).
    """
    raise NotImplementedError("call prctl(PR_SET_CHILD_SUBREAPER, 1) through ctypes; raise OSError if it fails")


def exit_status(wait_status: int) -> int:
    """A wait status as docker reports it: the exit code, or 128 + N for a death by signal N.

    os.waitstatus_to_exitcode gives the code, or -N for signal N.
    """
    raise NotImplementedError("os.waitstatus_to_exitcode, then 128 + N for a negative -N")


def wait_all(pid: int) -> int:
    """Reap every child until none is left (orphans too); return the wait status of `pid`.

    man 2 wait: os.wait() returns (pid, wait status) of any child that exited, and raises
    ChildProcessError (ECHILD) once there is no child left at all.
    """
    raise NotImplementedError("loop on os.wait() until ChildProcessError, keeping the status of pid")


def keep(argv: list[str], status_file: str) -> None:
    """Start `argv`, wait for it and every orphan, write its exit status (a number) to `status_file`."""
    become_subreaper()
    pid = os.fork()
    if pid == 0:  # the child: become the command
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    status = exit_status(wait_all(pid))
    with open(status_file + ".tmp", "w") as file:  # written whole, then renamed: never read half-written
        file.write(f"{status}\n")
    os.rename(status_file + ".tmp", status_file)
