"""Lab 07 exercise, solved with gophernetes' own code: linux/syscalls.py's prctl, runtime/process.py.

`sudo gophernetes lab check 07 --exercise --solution` runs the exercise's check on this file.
gophernetes' keepers (runtime/launcher.py, engines/native/monitor.py) wait for one pid;
reaping every orphan is a PID namespace's init's job there (it dies with its namespace),
so wait_all here is the few lines of os.wait a shim runs.
"""

import os

from gophernetes.linux import syscalls
from gophernetes.runtime import process


def become_subreaper() -> None:
    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)


def exit_status(wait_status: int) -> int:
    return process.exit_status(wait_status)


def wait_all(pid: int) -> int:
    status = None
    while True:
        try:
            child, wait_status = os.wait()
        except ChildProcessError:
            if status is None:
                raise
            return status
        if child == pid:
            status = wait_status


def keep(argv: list[str], status_file: str) -> None:
    become_subreaper()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    status = exit_status(wait_all(pid))
    with open(status_file + ".tmp", "w") as file:
        file.write(f"{status}\n")
    os.rename(status_file + ".tmp", status_file)
