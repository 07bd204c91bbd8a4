"""exec for an engine: a process given as config.json's `process` object, left running for the caller.

containerd and podman exec as runc offers it: `exec --process P.json --detach --pid-file F
[--console-socket S] ID`, then they wait for the pid themselves (they are subreapers, so
the process becomes theirs once the runtime exits). runtime/exec.py joins the container
and waits for the command; here a child of ours does that joining and waiting, and exits
with the command's status — that child is the pid the engine gets, so the status it reaps
is the command's. With a terminal, the pty is made inside the container (its devpts) and
its master goes straight to the engine's console socket.
"""

from __future__ import annotations

import os
import sys

from gophernetes.errors import GophernetesError, UsageError


class EngineConsole:
    """Stands where runtime/terminal.Console stands for exec, but the pty's master goes to the
    engine's console socket instead of coming back to us."""

    class _Nothing:
        def close(self) -> None:
            pass

    def __init__(self, path: str) -> None:
        from gophernetes.linux.console_socket import connect

        self.theirs = connect(path)
        self.ours = self._Nothing()
        self.master = None

    def receive_master(self) -> int | None:
        self.theirs.close()  # the container's side has its copy; the engine has the master
        return None

    def finish(self) -> None:
        pass


def user_of(process: dict) -> str:
    """process.user as exec's "uid:gid" ("" keeps the container's own user)."""
    user = process.get("user") or {}
    if not user:
        return ""
    return f"{int(user.get('uid', 0))}:{int(user.get('gid', 0))}"


def start_exec(state: dict, cgroup, process: dict, console_socket: str | None) -> int:
    """Fork a child that runs `process` in the container of `state` and exits with its status; return its pid."""
    from gophernetes.runtime.bundle import Container

    args = process.get("args")
    if not args or not all(isinstance(arg, str) for arg in args):
        raise UsageError("exec: process.args must be a non-empty list of strings")
    if process.get("terminal") and not console_socket:
        raise UsageError("exec: process.terminal needs --console-socket")
    container = Container.load(state["id"], state["bundle"], die_with_parent=False)
    console = EngineConsole(console_socket) if process.get("terminal") and console_socket else None
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child:
        if console is not None:
            console.theirs.close()
        return child
    _run_and_exit(container, state["pid"], cgroup, process, console)
    return -1  # never reached: the child leaves through os._exit


def _run_and_exit(container, init_pid: int, cgroup, process: dict, console) -> None:
    """In the child: exec_in_container, then leave with the command's status (never return)."""
    from gophernetes.runtime.exec import exec_in_container

    code = 125
    try:
        os.setsid()
        code = exec_in_container(container, init_pid, cgroup, list(process["args"]), list(process.get("env") or []),
                                 user_of(process), process.get("cwd") or "", console=console)
    except GophernetesError as error:
        print(f"gophernetes-runtime: exec: {error}", file=sys.stderr)
        code = error.exit_code
    except BaseException as error:  # noqa: BLE001 — a forked child never returns into the CLI
        print(f"gophernetes-runtime: exec: {error}", file=sys.stderr)
    finally:
        sys.stderr.flush()
        os._exit(code)
