"""The parent's side of a container: create it, start it, wait for it, clean up after it.

    gophernetes run ──fork──> stage 1 ──unshare(new namespaces)──fork──> stage 2 = PID 1
         │                       └─ tells the parent PID 1's host PID, exits
         │ (child subreaper: PID 1 is re-parented to us when stage 1 exits)
         ├─ cgroup made and limits written before the fork; stage 1 joins it
         ├─ network plugged into PID 1's namespace, then "go" through a pipe
         └─ waits for PID 1, reports OOM kills, removes cgroup, network, folders

Why two forks? unshare(CLONE_NEWPID) does not move the caller into the new PID
namespace, only its next child — so stage 1 unshares and forks the real init, as
`unshare --fork` does and as runc's nsexec does in C. Python can fork without exec, so
there is no second interpreter start: that is the original Go tool's re-exec of
`/proc/self/exe child`, without paying for it (`gophernetes child` still exists to run
the init side by itself).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gophernetes.errors import GophernetesError
from gophernetes.linux import syscalls
from gophernetes.linux.cgroups import Cgroup, open_driver
from gophernetes.linux.namespaces import FLAGS
from gophernetes.paths import StateRoot
from gophernetes.runtime import process
from gophernetes.runtime.init import container_init
from gophernetes.runtime.records import EXITED, RUNNING, Record, RecordStore
from gophernetes.runtime.spec import ContainerDirs, RunSpec
from gophernetes.runtime.units import human_size

if TYPE_CHECKING:  # imported when a terminal is asked for: socket and tty cost ~5 ms
    from gophernetes.runtime.terminal import Console
    from gophernetes.runtime.userns_root import RemappedRoot

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                     signal.SIGUSR2, signal.SIGWINCH)


@dataclass
class Started:
    """A container whose init is running (or has failed to start)."""

    pid: int
    error_fd: int


def run_container(state: StateRoot, record: Record, stdio: tuple[int, int, int] | None = None,
                  on_started=None, console: Console | None = None) -> int:
    """Make, start and wait for the container of `record`; return its exit status, docker-style.

    Whatever happens, the cgroup and the network lease go when the container exits. Its
    folder (overlay upper layer, logs) stays for a detached container until `rm`, and
    goes at once for a foreground one — or when anything fails half-way.
    """
    store = RecordStore(state)
    spec = record.spec
    with ExitStack() as cleanup:
        cleanup.push(_remove_record_on_failure(store, record))
        if record.auto_remove:
            cleanup.callback(store.delete, record)
        dirs = make_directories(record)
        cgroup = make_cgroup(spec, cleanup)
        attachment = allocate_network(state, spec, record.name, cleanup)
        remap = remap_ids(store, record) if spec.userns == "auto" else None
        started = start(spec, dirs, cgroup, before_go=attachment.plug if attachment else None, stdio=stdio,
                        console=console, remap=remap)
        store.update(record, status=RUNNING, pid=started.pid, pid_started=process.start_time(started.pid),
                     started_at=time.time())
        if on_started is not None:
            on_started(started)
        code, oom_killed = wait(started, cgroup, spec, console=console)
        if not record.auto_remove:
            store.update(record, status=EXITED, exit_code=code, finished_at=time.time(), oom_killed=oom_killed)
        return code


def _remove_record_on_failure(store: RecordStore, record: Record):
    def exit_handler(exc_type, exc, traceback) -> bool:
        if exc_type is not None:
            store.delete(record)
        return False
    return exit_handler


def make_directories(record: Record) -> ContainerDirs:
    dirs = record.dirs
    for path in (dirs.rootfs, dirs.upper, dirs.work):
        path.mkdir(exist_ok=True)
    return dirs


def make_cgroup(spec: RunSpec, cleanup: ExitStack) -> Cgroup:
    cgroup = open_driver().create(spec.id)
    cleanup.callback(cgroup.remove)
    warnings = cgroup.apply(spec.limits)
    if not spec.privileged:
        warnings += cgroup.restrict_devices()
    for warning in warnings:
        print(f"gophernetes: warning: {warning}", file=sys.stderr)
    return cgroup


def remap_ids(store: RecordStore, record: Record):
    """--userns auto: a block of subordinate ids (held in the container's folder until it goes),
    its user namespace, and the layers shown through its map (see runtime/userns_root.py)."""
    from gophernetes.runtime import subids, userns_root

    with store.locked():
        mapping = subids.allocate(store.root, record.folder)
    userns_root.check_reachable([record.dirs.rootfs] + ([Path(record.spec.hosts_file)] if record.spec.hosts_file
                                                        else []), mapping)
    return userns_root.prepare(mapping, [Path(d) for d in record.spec.lower_dirs], record.dirs.upper,
                               record.folder / "layers")


def allocate_network(state: StateRoot, spec: RunSpec, name: str, cleanup: ExitStack):
    """Lease an address on a named network (bridge mode); None for --net none/host.

    The container's /etc/hosts is the network's file for it, bind-mounted, so that
    containers started later appear in it by name too.
    """
    if spec.net in ("none", "host"):
        return None
    from gophernetes import network

    attachment = network.allocate(state, spec.id, spec.net, spec.publish, spec.hostname or spec.short_id,
                                  aliases=[name] if name != (spec.hostname or spec.short_id) else [])
    cleanup.callback(attachment.release)
    from gophernetes.runtime import etc_overrides

    spec.etc_files = etc_overrides.apply({**spec.etc_files, **attachment.etc_files()}, spec.add_hosts, spec.dns)
    spec.hosts_file = "" if spec.add_hosts else str(attachment.hosts_path)  # extra names: a file of its own
    return attachment


def start(spec: RunSpec, dirs: ContainerDirs, cgroup: Cgroup, before_go=None,
          stdio: tuple[int, int, int] | None = None, console: Console | None = None,
          remap: RemappedRoot | None = None) -> Started:
    """Fork the two stages, do the outside work, say "go"; return PID 1's host PID.

    `stdio`: the files the container gets as 0, 1 and 2 (default: ours). `console`: give
    it a pseudo-terminal of its own instead, whose master comes back through that socket.
    """
    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
    pid_read, pid_write = os.pipe()
    start_read, start_write = os.pipe()
    error_read, error_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    stage1 = os.fork()
    if stage1 == 0:
        os.close(pid_read)
        os.close(start_write)
        os.close(error_read)
        if stdio is not None:
            for target, fd in enumerate(stdio):
                os.dup2(fd, target)
        if console is not None:
            console.ours.close()
        stage_one(spec, dirs, cgroup, pid_write, start_read, error_write,
                  console.theirs.fileno() if console else None, remap)
    for fd in (pid_write, start_read, error_write):
        os.close(fd)
    if remap is not None:
        remap.close()
    init_pid = None
    try:
        init_pid = read_init_pid(pid_read, stage1, error_read)
        if console is not None:
            console.receive_master()
        if before_go is not None:
            before_go(init_pid)
        try:
            os.write(start_write, b"1")
        except BrokenPipeError:
            pass  # init already failed; its error is waiting in the error pipe
    except BaseException:
        os.close(start_write)  # EOF on the start pipe: init exits without running the command
        if init_pid is not None:
            os.waitpid(init_pid, 0)
        os.close(error_read)
        raise
    os.close(start_write)
    return Started(init_pid, error_read)


def stage_one(spec: RunSpec, dirs: ContainerDirs, cgroup: Cgroup, pid_fd: int, start_fd: int,
              error_fd: int, console_fd: int | None = None, remap: RemappedRoot | None = None) -> None:
    """In the first child: join the cgroup, unshare the namespaces, fork PID 1. Never returns."""
    try:
        # A session of our own, without a controlling terminal: no process of the container
        # can open the caller's terminal as /dev/tty (-t gives PID 1 a pty of its own later).
        os.setsid()
        # Join the cgroup *before* unsharing the cgroup namespace, so that the
        # container's cgroup is the root ("/") of its view (/proc/self/cgroup shows "0::/").
        cgroup.add_process(0)
        if remap is not None:  # --userns auto: mount the root as host root, then join the user namespace
            from gophernetes.runtime.rootfs import mount_root
            from gophernetes.runtime.userns_root import stage_one as remapped_stage_one

            remapped_stage_one(remap, lambda lower_dirs: mount_root(lower_dirs, dirs))
        flags = 0
        for kind in spec.namespaces:
            flags |= FLAGS[kind]
        syscalls.unshare(flags)
        init_pid = os.fork()
        if init_pid == 0:
            os.close(pid_fd)
            container_init(spec, dirs, start_fd, error_fd, console_fd)
        os.write(pid_fd, str(init_pid).encode())
        os._exit(0)
    except BaseException as error:  # noqa: BLE001
        process.fail(error_fd, 125, str(error))


def read_init_pid(pid_read: int, stage1: int, error_read: int) -> int:
    """Wait for stage 1 to hand over PID 1's host PID (then stage 1 has exited)."""
    data = process.read_all(pid_read)
    os.close(pid_read)
    os.waitpid(stage1, 0)
    if not data:
        process.raise_reported(error_read)
        raise GophernetesError("the container's first stage died without a word")
    return int(data)


def wait(started: Started, cgroup: Cgroup, spec: RunSpec,
         console: Console | None = None) -> tuple[int, bool]:
    """Forward signals to PID 1 until it exits; return its status as docker reports it, and
    whether the OOM killer ended it.

    With a terminal, the window size follows ours instead of SIGWINCH being forwarded:
    the kernel then signals the container's foreground process itself.
    """
    def forward(number, _frame):
        if number == signal.SIGWINCH and console is not None and console.master is not None:
            from gophernetes.runtime.terminal import copy_window_size

            copy_window_size(0, console.master)
        else:
            _forward(started.pid, number)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        _, status = os.waitpid(started.pid, 0)
        if console is not None:
            console.finish()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    process.raise_reported(started.error_fd)
    os.close(started.error_fd)
    code = process.exit_status(status)
    oom_killed = code == 137 and spec.limits.memory is not None and cgroup.oom_kills() > 0
    if oom_killed:
        print(f"gophernetes: container {spec.short_id} was killed: out of memory "
              f"(limit {human_size(spec.limits.memory or 0)})", file=sys.stderr)
    return code, oom_killed


def _forward(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass
