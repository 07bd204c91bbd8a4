"""The supervisor: the small process that stays with a detached container.

`run -d` must return at once, yet someone has to hold the container's output pipes,
write its logs, wait for it (only a parent can learn a child's exit status) and clean up
after it. conmon does this for podman and the shim for containerd; here it is a forked
copy of the CLI that detaches from the terminal (setsid), starts the container, and then
execs the lean monitor (monitor.py) in its place for the rest of the container's life:

    gophernetes run -d ──fork──> (exits) ──fork──> supervisor ──> stage 1 ──> PID 1
         │                                           └─ execve: monitor, same PID
         │                                                ├─ poll: pipes -> container.log, PID 1's pidfd
         │                                                └─ exit status, lease, cgroup, --rm
         └─ waits on a pipe for "started" or the error, prints the ID, exits
"""

from __future__ import annotations

import os
import threading

from gophernetes.engines.native.records import Record, RecordStore
from gophernetes.errors import GophernetesError
from gophernetes.paths import StateRoot
from gophernetes.runtime import logs, process


def start_detached(state: StateRoot, record: Record, network=None, config=None) -> None:
    """Start the container under a supervisor; return once it runs (or raise why it could not).

    `network`: the engine's outside work before "go" (see run.run_container)."""
    ready_read, ready_write = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(ready_read)
        try:
            os.setsid()  # a session of its own: the user's terminal closing does not end it
            if os.fork() == 0:
                supervise(state, record, ready_write, network, config)
        finally:
            os._exit(0)
    os.close(ready_write)
    os.waitpid(middle, 0)  # the supervisor is now re-parented away from us: we need not reap it
    report = process.read_report(ready_read)
    os.close(ready_read)
    if report is None:
        raise GophernetesError("the container's supervisor died before the container started")
    if report["code"] != 0:
        raise process.reported_error(report)


def supervise(state: StateRoot, record: Record, ready_write: int, network=None, config=None,
              hand_over: bool | None = None) -> None:
    """The supervisor's whole life. Never returns.

    `hand_over`: once the container runs, become the lean monitor (monitor.py) for the rest
    of its life — the default for a container without a --restart policy. With a policy
    (or should that exec fail) this process stays: it waits, starts the container again
    while the policy says so (keep_restart_policy), and cleans up here, as run.run_container
    does for a foreground run.
    """
    import gc

    from gophernetes.engines.native.run import run_container

    if hand_over is None:
        hand_over = record.spec.restart == "no"
    gc.enable()  # the CLI turned the collector off for its few milliseconds; we live as long as the container

    _detach_stdio()
    store = RecordStore(state)
    store.update(record, monitor_pid=os.getpid(), monitor_started=process.start_time(os.getpid()))
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pump = threading.Thread(target=logs.pump, args=({out_read: "stdout", err_read: "stderr"}, record.log_path))
    ready = [ready_write]  # -1 once "started" is said: the number may be reused by a restart's pipes
    writers = [out_write, err_write]  # ours, closed before the pump can see EOF

    def close_writers() -> None:
        while writers:
            os.close(writers.pop())

    def started(started) -> None:
        if ready[0] < 0:
            return  # a restart (keep_restart_policy): nobody waits for it
        process.write_report(ready_write, 0, "started")
        os.close(ready_write)
        ready[0] = -1
        if hand_over:
            close_writers()  # the monitor reads the pipes until the container's copies close
            _become_monitor(state, record, config, started, out_read, err_read)  # returns only if execve failed
        pump.start()

    null = os.open("/dev/null", os.O_RDONLY)
    try:
        def run_once() -> int:
            return run_container(state, record, stdio=(null, out_write, err_write), on_started=started,
                                 network=network, config=config)
        keep_restart_policy(store, record, run_once(), run_once)
    except GophernetesError as error:
        if ready[0] >= 0:
            process.write_report(ready_write, error.exit_code, str(error))
    except BaseException as error:  # noqa: BLE001 — the supervisor must always say something
        if ready[0] >= 0:
            process.write_report(ready_write, 125, f"{type(error).__name__}: {error}")
    close_writers()  # only now, so that restarts log into the same pump; then it sees EOF
    if pump.is_alive() or pump.ident is not None:
        pump.join()
    if record.auto_remove:  # --rm: its anonymous volumes go with it, as docker's
        from gophernetes.engines.native.volumes import remove_anonymous

        remove_anonymous(state.lib / "volumes", record.spec.mounts)
    os._exit(0)


def _become_monitor(state: StateRoot, record: Record, config, started, out_read: int, err_read: int) -> None:
    """execve the lean monitor with the pipes, PID 1's error pipe and what it needs to clean up."""
    from gophernetes.engines.native import monitor
    from gophernetes.engines.native.run import container_of
    from gophernetes.runtime.launcher import cgroup_location

    container = container_of(record, config)
    cgroup = cgroup_location(container.config.linux.cgroups_path, record.id)
    for fd in (out_read, err_read, started.error_fd):
        os.set_inheritable(fd, True)
    argv = monitor.command(str(state.lib), str(state.run), record.id, started.pid, out_read, err_read,
                           started.error_fd, str(record.log_path), cgroup, container.memory_limit() is not None)
    try:
        os.execv(argv[0], argv)
    except OSError:
        for fd in (out_read, err_read, started.error_fd):
            os.set_inheritable(fd, False)


def keep_restart_policy(store: RecordStore, record: Record, code: int, again) -> None:
    """--restart (gophernetes/restart_policy.py): start the container again with `again()` while its
    policy says so, counting restarts in its state (inspect shows them); never after stop or rm."""
    if record.spec.restart == "no":
        return  # the common case: nothing to import
    import time

    from gophernetes.errors import NotFound
    from gophernetes.restart_policy import parse

    policy, restarts = parse(record.spec.restart), 0
    while True:
        try:
            stopped = store.reload_state(record).state.manually_stopped
            if not policy.should_restart(code, restarts, stopped):
                return
            time.sleep(policy.delay(restarts))
            if store.reload_state(record).state.manually_stopped:  # stop or rm came meanwhile
                return
        except NotFound:
            return  # removed (rm -f)
        restarts += 1
        store.update(record, restart_count=restarts)
        code = again()


def _detach_stdio() -> None:
    """Let go of the CLI's terminal and pipes: whoever runs `run -d` must not wait for us."""
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
