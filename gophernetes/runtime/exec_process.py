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

import json
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


def exec_process_config(container_process: dict, process: dict, whole: bool = False):
    """The process an exec runs, as runc builds it: its keys over the container's own process
    (a key left out keeps the container's: capabilities, rlimits...). `whole` (a --process
    file): its env is the whole environment; else (the command line's -e) env adds to the
    container's. Its user (uid, gid, additionalGids, umask), capabilities, noNewPrivileges
    and consoleSize are then applied as the init's are: a non-root user keeps the five
    capability sets it is given, ambient included.

    `capabilities: {"add": [...]}` (our `exec --cap`) adds to the container's sets as runc's
    `exec --cap` does: bounding, effective and permitted, and ambient when the container
    gives inheritable ones. env stays apart: exec adds it to the container's own.
    """
    from gophernetes.runtime.oci_config import process_from_dict

    if whole:
        return process_from_dict({**container_process, **process})
    merged = {**container_process, **{key: value for key, value in process.items() if key != "env"}}
    added = (process.get("capabilities") or {}).get("add")
    if added is not None:
        sets = {key: list(value) for key, value in (container_process.get("capabilities") or {}).items()}
        for key in ("bounding", "effective", "permitted") + (("ambient",) if sets.get("inheritable") else ()):
            sets[key] = sets.get(key, []) + [name for name in added if name not in sets.get(key, [])]
        merged["capabilities"] = sets
    return process_from_dict(merged)


def start_exec(state: dict, cgroup, process: dict, console_socket: str | None, whole: bool = False) -> int:
    """Fork a child that runs `process` in the container of `state` and exits with its status; return its pid."""
    from gophernetes.runtime.bundle import Container

    args = process.get("args")
    if not args or not all(isinstance(arg, str) for arg in args):
        raise UsageError("exec: process.args must be a non-empty list of strings")
    if process.get("terminal") and not console_socket:
        raise UsageError("exec: process.terminal needs --console-socket")
    container = Container.load(state["id"], state["bundle"], die_with_parent=False)
    container_process = json.loads((container.bundle / "config.json").read_text()).get("process") or {}
    container.config.process = exec_process_config(container_process, process, whole)
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
                                 "", process.get("cwd") or "", console=console)
    except GophernetesError as error:
        print(f"gophernetes-runtime: exec: {error}", file=sys.stderr)
        code = error.exit_code
    except BaseException as error:  # noqa: BLE001 — a forked child never returns into the CLI
        print(f"gophernetes-runtime: exec: {error}", file=sys.stderr)
    finally:
        sys.stderr.flush()
        os._exit(code)


def in_container(state: dict, cgroup):
    """A runner for runtime/hooks.py (subprocess.run's shape) that runs the hook *inside* the
    created container of `state` — its namespaces, root, cgroup, user and capabilities — as
    the runtime-spec wants for startContainer hooks (runc runs them in its init, just before
    the user's process). The state JSON arrives on the hook's stdin through a pipe."""
    import subprocess
    import tempfile
    import time

    from gophernetes.runtime.bundle import Container

    container = Container.load(state["id"], state["bundle"], die_with_parent=False)

    def run(argv: list[str], *, executable: str, input: bytes, env: dict | None = None, timeout: float | None = None,
            **_ignored) -> subprocess.CompletedProcess:
        from gophernetes.runtime.exec import exec_in_container

        with tempfile.TemporaryFile() as output:
            read_end, write_end = os.pipe()
            os.write(write_end, input)  # a state document is far below a pipe's 64 KiB
            os.close(write_end)
            sys.stdout.flush()
            sys.stderr.flush()
            child = os.fork()
            if child == 0:
                code = 125
                try:
                    os.dup2(read_end, 0)
                    os.dup2(output.fileno(), 1)
                    os.dup2(output.fileno(), 2)
                    environment = [f"{key}={value}" for key, value in (env or {}).items()]
                    code = exec_in_container(container, state["pid"], cgroup, [executable, *argv[1:]], environment,
                                             "", "")
                except BaseException as error:  # noqa: BLE001 — a forked child never returns
                    os.write(2, f"{error}\n".encode())
                finally:
                    os._exit(code)
            os.close(read_end)
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                done, status = os.waitpid(child, os.WNOHANG)
                if done:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    os.kill(child, 9)
                    os.waitpid(child, 0)
                    raise subprocess.TimeoutExpired(argv, timeout or 0)
                time.sleep(0.01)
            output.seek(0)
            return subprocess.CompletedProcess(argv, os.waitstatus_to_exitcode(status), b"", output.read())

    return run
