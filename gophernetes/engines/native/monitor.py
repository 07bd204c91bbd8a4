"""The monitor: what stays with a detached container once it runs — a lean interpreter.

The supervisor (supervisor.py) is a fork of the whole CLI: click, every module `run`
imported, pyroute2 on a bridge network — 11 MB PSS with --net none and 24 MB on a bridge,
kept for as long as the container lives. Once the container runs, three jobs are left:
wait for PID 1, copy its output into the log, clean up when it exits. So the supervisor
execs this module in a fresh interpreter, `python -I -S` (no site, no site-packages, no
PYTHON* variables), that imports only os, select, signal, time and logs.py while it waits:
~3.5 MB PSS, most of it the interpreter's own heap.

    supervisor (the CLI, forked) ──starts PID 1──execve──> monitor (same PID)
        poll(2) on PID 1's pidfd and the stdout/stderr pipes -> container.log
        PID 1 exited: read what the pipes still hold, then — importing the heavy parts
        only now — record the exit status (137 and oom_killed after an OOM kill),
        release the network lease, remove the cgroup, forget the container (--rm)

execve keeps what the monitor needs: the PID (so the record's monitor_pid and its start
time stay true), PID 1 as our child (children survive their parent's execve, and so does
PR_SET_CHILD_SUBREAPER), the pipes we mark inheritable, and PID 1's PR_SET_PDEATHSIG,
which fires when the parent *thread* exits — execve from the main thread is not an exit
(the main thread is the one PID 1 was re-parented to; no other thread runs before it).
"""

from __future__ import annotations

import _signal as signal  # the C module: signal.py wraps it in enums (enum, functools, re: ~1 MB)
import os
import select
import sys

from gophernetes.runtime.logs import Pump

# Forwarded to PID 1, as the supervisor did (launcher.FORWARDED_SIGNALS; not imported: it is heavy).
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                     signal.SIGUSR2, signal.SIGWINCH)
# The new interpreter finds this package where the CLI found it (argv[1]), and nothing else:
# the CLI's own sys.path comes back only for the clean-up, which may need site-packages (pyroute2).
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from gophernetes.engines.native.monitor import main; main(sys.argv[2:])")


def command(state_lib: str, state_run: str, container_id: str, pid: int, stdout: int, stderr: int,
            error_fd: int, log_path: str, cgroup: tuple[str, str], memory_limited: bool) -> list[str]:
    """The argv that turns the supervisor into the monitor (the three fds must be inheritable).

    `memory_limited`: whether an exit by SIGKILL may be the OOM killer's (config.json has a
    memory limit): told here, so the monitor need not load the config when the container exits."""
    package_root = os.path.abspath(__file__)
    for _ in range(4):  # .../gophernetes/engines/native/monitor.py -> the folder holding gophernetes/
        package_root = os.path.dirname(package_root)
    return [sys.executable, "-I", "-S", "-c", BOOT, package_root, state_lib, state_run, container_id, str(pid),
            str(stdout), str(stderr), str(error_fd), log_path, cgroup[0], cgroup[1], "1" if memory_limited else "0",
            *sys.path]


def main(argv: list[str]) -> None:
    """The monitor's whole life (argv as command() wrote it). Never returns."""
    (state_lib, state_run, container_id, pid, stdout, stderr, error_fd, log_path, cgroup_parent, cgroup_name,
     memory_limited) = argv[:11]
    caller_path = argv[11:]
    pump = Pump({int(stdout): "stdout", int(stderr): "stderr"}, log_path)
    status = watch(int(pid), pump)
    pump.drain(timeout=0)  # all a PID namespace held has exited with its init: its pipes are at their end
    sys.path[:] = caller_path  # the clean-up imports the rest of gophernetes, and pyroute2
    try:
        finish(state_lib, state_run, container_id, status, int(error_fd), (cgroup_parent, cgroup_name),
               memory_limited == "1")
    finally:
        pump.drain()  # --pid host: a process the container left may still write, as before
        pump.close()
        os._exit(0)


def watch(pid: int, pump: Pump) -> int:
    """Copy output into the log until PID 1 (our child) exits; return its wait status.

    A pidfd (pidfd_open(2)) becomes readable when its process exits, so one poll(2) waits
    for the output and the exit together: no thread, no SIGCHLD handler.
    """
    def forward(number, _frame) -> None:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass

    for number in FORWARDED_SIGNALS:
        signal.signal(number, forward)
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    for fd in pump.streams:
        poller.register(fd, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == pidfd:
                _, status = os.waitpid(pid, 0)
                os.close(pidfd)
                for number in FORWARDED_SIGNALS:
                    signal.signal(number, signal.SIG_DFL)
                return status
            if not pump.read(fd):
                poller.unregister(fd)


def finish(state_lib: str, state_run: str, container_id: str, status: int, error_fd: int,
           cgroup: tuple[str, str], memory_limited: bool) -> None:
    """PID 1 has exited: what run.run_container does after its wait, for a detached one.

    The exit status (docker's: 128 + N for signal N), whether the OOM killer did it, then
    the network lease, the cgroup, and the record when --rm asked for it or the command
    never ran (init reported a failure after "go": an executable not found). A record that
    is gone (rm -f) or damaged still has its lease and cgroup released, by ID.
    """
    import time
    from contextlib import ExitStack
    from pathlib import Path

    from gophernetes.engines.native.records import EXITED, Record, RecordStore
    from gophernetes.errors import GophernetesError
    from gophernetes.linux.cgroups import open_driver
    from gophernetes.paths import StateRoot
    from gophernetes.runtime import process

    state = StateRoot(Path(state_lib), Path(state_run))
    store = RecordStore(state)
    failed = False
    try:
        process.raise_reported(error_fd)
    except GophernetesError:
        failed = True
    os.close(error_fd)
    code = process.exit_status(status)
    group = open_driver(cgroup[0]).open(cgroup[1])
    found = store.load(state.containers / container_id)
    record = found if isinstance(found, Record) else None
    with ExitStack() as cleanup:  # undone last to first, as the launcher's own clean-up
        if record is not None and (record.auto_remove or failed):
            cleanup.callback(store.delete, record)
            if record.auto_remove and record.spec.mounts:  # --rm: its anonymous volumes go too, as docker's
                from gophernetes.engines.native.volumes import remove_anonymous

                cleanup.callback(remove_anonymous, state.lib / "volumes", record.spec.mounts)
        elif record is not None:  # the status could not be written (a full disk): forget it, as the launcher does
            cleanup.push(_forget_on_failure(store, record))
        cleanup.callback(group.remove)
        if record is None or record.spec.net not in ("none", "host"):
            cleanup.callback(_release_network, state, container_id)
        if record is not None and not failed and not record.auto_remove:
            store.update(record, status=EXITED, exit_code=code, finished_at=time.time(),
                         oom_killed=code == 137 and memory_limited and group.oom_kills() > 0)


def _forget_on_failure(store, record):
    def exit_handler(kind, _error, _traceback) -> bool:
        if kind is not None:
            store.delete(record)
        return False
    return exit_handler


def _release_network(state, container_id: str) -> None:
    """Its rules, leases and veths (imported now that it has exited; pyroute2 only if a veth outlived
    the container's network namespace)."""
    if state.networks.exists():
        from gophernetes import network

        network.release_container(state, container_id)
