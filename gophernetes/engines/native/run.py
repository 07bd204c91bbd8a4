"""`run`'s fused create + start of a record's bundle, and the record kept in step with it.

The runtime's launcher (runtime/launcher.py) makes, starts and waits for a container
from its bundle; this is the native engine around it, as containerd's shim is around
runc: the record says RUNNING with the init's PID once it started and EXITED with the
status (and whether the kernel's OOM killer ended it) once it is gone; a failed start
removes the record, and `--rm` removes it after the exit.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import TYPE_CHECKING

from gophernetes.engines.native.records import EXITED, RUNNING, Record, RecordStore
from gophernetes.paths import StateRoot
from gophernetes.runtime import oci_config, process
from gophernetes.runtime.bundle import Container
from gophernetes.runtime.launcher import SignalForwarder, make_cgroup, make_directories, remap_ids, start, wait
from gophernetes.runtime.oci_config import Config

if TYPE_CHECKING:
    from gophernetes.runtime.terminal import Console


def container_of(record: Record, config: Config | None = None) -> Container:
    """The bundle in the record's folder, with the choices `run` made that config.json leaves out.

    `config`: the one the engine has just written there, in memory (`run` saves reading it back)."""
    if config is None:
        config = oci_config.load(record.folder)
    return Container(record.id, record.folder, config, no_pivot=record.spec.use_chroot,
                     seccomp_program=record.spec.seccomp_program)


def run_container(state: StateRoot, record: Record, stdio: tuple[int, int, int] | None = None,
                  on_started=None, console: Console | None = None, network=None,
                  config: Config | None = None) -> int:
    """Make, start and wait for the container of `record`; return its exit status, docker-style.

    `network(cleanup)`: the engine's outside work before "go" (a lease, undone by `cleanup`);
    it returns what to call with PID 1's host PID (plug the veth), or None.
    Whatever happens, the cgroup and the network lease go when the container exits. Its
    folder (overlay upper layer, logs) stays for a detached container until `rm`, and
    goes at once for a foreground one — or when anything fails half-way.
    """
    store = RecordStore(state)
    with ExitStack() as cleanup:
        forwarder = cleanup.enter_context(SignalForwarder(console))  # before anything: see its docstring
        cleanup.push(_remove_record_on_failure(store, record))
        if record.auto_remove:
            cleanup.callback(store.delete, record)
        container = container_of(record, config)
        make_directories(container)
        cgroup = make_cgroup(container, cleanup)
        plug = network(cleanup) if network is not None else None
        remap = remap_ids(container, record.folder / "layers") if container.has_namespace("user") else None
        started = start(container, cgroup, before_go=plug, stdio=stdio, console=console, remap=remap)
        store.update(record, status=RUNNING, pid=started.pid, pid_started=process.start_time(started.pid),
                     started_at=time.time())
        if on_started is not None:
            on_started(started)
        code, oom_killed = wait(started, cgroup, container, console=console, forwarder=forwarder)
        if not record.auto_remove:
            store.update(record, status=EXITED, exit_code=code, finished_at=time.time(), oom_killed=oom_killed)
        return code


def _remove_record_on_failure(store: RecordStore, record: Record):
    def exit_handler(exc_type, exc, traceback) -> bool:
        if exc_type is not None:
            store.delete(record)
        return False
    return exit_handler
