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
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gophernetes.errors import GophernetesError
from gophernetes.linux import syscalls
from gophernetes.linux.cgroups import Cgroup, open_driver
from gophernetes.linux.cgroups.base import Limits
from gophernetes.linux.namespaces import FLAGS
from gophernetes.runtime import process
from gophernetes.runtime.bundle import Container
from gophernetes.runtime.init import container_init
from gophernetes.runtime.oci_config import ConfigError
from gophernetes.runtime.units import human_size

if TYPE_CHECKING:  # imported when a terminal is asked for: socket and tty cost ~5 ms
    from gophernetes.runtime.terminal import Console
    from gophernetes.runtime.userns_root import RemappedRoot

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                     signal.SIGUSR2, signal.SIGWINCH)
# config.json's namespace types -> our unshare flags (linux/namespaces.py); "user" is made apart
UNSHARE = {"pid": "pid", "uts": "uts", "mount": "mnt", "network": "net", "ipc": "ipc", "cgroup": "cgroup"}


@dataclass
class Started:
    """A container whose init is running (or has failed to start)."""

    pid: int
    error_fd: int


def make_directories(container: Container) -> None:
    """The overlay's mount point, upper and work folders (only when there are layers to stack)."""
    if container.layers:
        for path in (container.rootfs, container.upper, container.work):
            path.mkdir(exist_ok=True)


def make_cgroup(container: Container, cleanup: ExitStack | None = None) -> Cgroup:
    """The cgroup at linux.cgroupsPath ("/PARENT/NAME"), with linux.resources written into it."""
    parent, name = cgroup_location(container.config.linux.cgroups_path, container.id)
    cgroup = open_driver(parent).create(name)
    if cleanup is not None:
        cleanup.callback(cgroup.remove)
    resources = container.config.linux.resources
    warnings = cgroup.apply(limits_of(resources))
    rules = device_rules(resources.get("devices") or [])
    if rules is not None:
        warnings += cgroup.restrict_devices(rules)
    for warning in warnings:
        print(f"gophernetes: warning: {warning}", file=sys.stderr)
    return cgroup


def cgroup_location(cgroups_path: str, container_id: str) -> tuple[str, str]:
    """linux.cgroupsPath "/PARENT/NAME" as (parent, name); none given: our parent, the container's ID."""
    from gophernetes.linux.cgroups import default_parent

    parent, _, name = cgroups_path.strip("/").rpartition("/")
    return (parent or default_parent(), name) if name else (default_parent(), container_id)


def limits_of(resources: dict) -> Limits:
    """linux.resources -> the cgroup driver's Limits (linux/cgroups/base.py)."""
    memory, cpu = resources.get("memory") or {}, resources.get("cpu") or {}
    quota, period = cpu.get("quota"), cpu.get("period") or 100_000
    return Limits(memory=memory.get("limit"), memory_swap=memory.get("swap"),
                  cpus=None if quota is None or quota < 0 else quota / period, cpu_shares=cpu.get("shares"),
                  pids=(resources.get("pids") or {}).get("limit"),
                  blkio_weight=(resources.get("blockIO") or {}).get("weight"))


def device_rules(entries: list[dict]) -> tuple[str, ...] | None:
    """linux.resources.devices as the driver's rule lines ("c 1:3 rwm"); None when all are allowed.

    Only the form runc writes is understood: one "deny all" first, then allow entries.
    runc's default rules (linux/devices.py ALLOWED_DEVICE_RULES) follow them, as runc appends
    them, so that a bare "deny all" still leaves /dev/null and friends usable.
    """
    from gophernetes.linux.devices import ALLOWED_DEVICE_RULES

    if not entries or entries[-1:] == [{"allow": True, "access": "rwm"}]:
        return None
    rules = []
    for entry in entries[1:]:
        if not entry.get("allow") or entries[0].get("allow") or entries[0].get("type", "a") != "a":
            raise ConfigError("config.json: linux.resources.devices: gophernetes reads a deny-all entry "
                              "followed by allow entries only")
        number = f"{entry.get('major', '*')}:{entry.get('minor', '*')}"
        rules.append(f"{entry.get('type', 'a')} {number} {entry.get('access', 'rwm')}")
    return tuple(dict.fromkeys(rules + list(ALLOWED_DEVICE_RULES)))


def remap_ids(container: Container, copies: Path):
    """A user namespace with config's single uid/gid mapping, and the layers shown through it
    (see runtime/userns_root.py)."""
    from gophernetes.runtime import subids, userns_root

    linux = container.config.linux
    if len(linux.uid_mappings) != 1 or len(linux.gid_mappings) != 1 or \
            linux.uid_mappings[0].container_id != 0 or linux.gid_mappings[0].container_id != 0:
        raise ConfigError("config.json: linux.uidMappings/gidMappings: gophernetes maps one range starting at 0")
    mapping = subids.IdMapping(linux.uid_mappings[0].host_id, linux.gid_mappings[0].host_id,
                               linux.uid_mappings[0].size)
    sources = [Path(m.source) for m in container.config.mounts if m.type == "bind"]
    userns_root.check_reachable([container.rootfs] + sources, mapping)
    return userns_root.prepare(mapping, container.layers, container.upper, copies)


def start(container: Container, cgroup: Cgroup, before_go=None, stdio: tuple[int, int, int] | None = None,
          console: Console | None = None, remap: RemappedRoot | None = None, fifo=None,
          before_pivot=None) -> Started:
    """Fork the two stages, do the outside work, say "go"; return PID 1's host PID.

    `stdio`: the files the container gets as 0, 1 and 2 (default: ours). `console`: give
    it a pseudo-terminal of its own instead, whose master comes back through that socket.
    `fifo` (create): no "go" from us; PID 1 reports "created" and waits for a reader of it.
    `before_pivot(pid)` (the bundle's hooks of creation): PID 1 stops once its mounts are
    done, before pivot_root, while we call it; then it runs the createContainer hooks.
    """
    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
    hooks_sync = _socketpair() if before_pivot is not None else None
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
        if hooks_sync is not None:
            hooks_sync[0].close()
        stage_one(container, cgroup, pid_write, fifo if fifo is not None else start_read, error_write,
                  console.theirs.fileno() if console else None, remap,
                  hooks_sync[1] if hooks_sync is not None else None)
    for fd in (pid_write, start_read, error_write):
        os.close(fd)
    if remap is not None:
        remap.close()
    if hooks_sync is not None:
        hooks_sync[1].close()
    init_pid = None
    try:
        init_pid = read_init_pid(pid_read, stage1, error_read)
        if hooks_sync is not None:
            _hooks_before_pivot(hooks_sync[0], init_pid, before_pivot, error_read)
        if console is not None:
            console.receive_master()
        if fifo is not None:
            _wait_created(error_read)
        if before_go is not None:
            before_go(init_pid)
        try:
            os.write(start_write, b"1")
        except BrokenPipeError:
            pass  # init already failed; its error is waiting in the error pipe
    except BaseException:
        if hooks_sync is not None:
            hooks_sync[0].close()  # EOF for an init waiting before pivot_root: it exits
        os.close(start_write)  # EOF on the start pipe: init exits without running the command
        if init_pid is not None:
            _reap(init_pid, fifo is not None)
        os.close(error_read)
        raise
    os.close(start_write)
    return Started(init_pid, error_read)


def _socketpair():
    """A connected pair of unix sockets (the hooks' handshake: both ways over one descriptor)."""
    import socket  # only a bundle with hooks pays for it

    return socket.socketpair()


def _hooks_before_pivot(sync, init_pid: int, before_pivot, error_read: int) -> None:
    """Wait until PID 1 has done its mounts and stopped before pivot_root, call
    `before_pivot(init_pid)` (prestart and createRuntime hooks, in our namespaces), then
    let it go on. PID 1 that died on the way has left its reason in the error pipe."""
    if not sync.recv(1):
        process.raise_reported(error_read)
        raise GophernetesError("the container's init died before its hooks")
    before_pivot(init_pid)
    sync.sendall(b"1")
    sync.close()


def _wait_created(error_read: int) -> None:
    """create: PID 1 says "created" (code 0) once it waits on the fifo, or why it failed."""
    report = process.read_report(error_read)
    if report is None:
        raise GophernetesError("the container's init died before it was created")
    if report["code"] != 0:
        raise process.reported_error(report)


def _reap(init_pid: int, kill: bool) -> None:
    if kill:
        _forward(init_pid, signal.SIGKILL)
    os.waitpid(init_pid, 0)


def stage_one(container: Container, cgroup: Cgroup, pid_fd: int, start, error_fd: int,
              console_fd: int | None = None, remap: RemappedRoot | None = None, hooks_sync=None) -> None:
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

            remapped_stage_one(remap, lambda lower_dirs: mount_root(lower_dirs, container.upper, container.work,
                                                                    container.rootfs))
        flags = 0
        for kind in container.config.namespace_types():
            if kind != "user":
                flags |= FLAGS[UNSHARE[kind]]
        syscalls.unshare(flags)
        init_pid = os.fork()
        if init_pid == 0:
            os.close(pid_fd)
            container_init(container, start, error_fd, console_fd, hooks_sync=hooks_sync)
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


class SignalForwarder:
    """Signals sent to us go to PID 1, as `docker run` proxies them (the window size excepted:
    with a terminal it follows ours, and the kernel signals the container's foreground).

    Enter it *before* the container is made: a signal that arrives meanwhile (the window
    closed at once, Ctrl-C while its root and cgroup are made) is kept and sent as soon as
    PID 1 exists.
    Installed only at `wait`, such a signal found Python's default action: SIGHUP killed
    us half-way, the container died with us and its record stayed behind.
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console
        self.pid: int | None = None
        self.pending: list[int] = []
        self.previous: dict = {}

    def __enter__(self) -> SignalForwarder:
        self.previous = {sig: signal.signal(sig, self._handle) for sig in FORWARDED_SIGNALS}
        return self

    def __exit__(self, *_exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, number, _frame) -> None:
        if number == signal.SIGWINCH and self.console is not None and self.console.master is not None:
            from gophernetes.runtime.terminal import copy_window_size

            copy_window_size(0, self.console.master)
        elif self.pid is None:
            self.pending.append(number)
        else:
            _forward(self.pid, number)

    def to(self, pid: int) -> None:
        """From now on signals go to `pid`; those that came before it existed go first."""
        self.pid = pid
        for number in self.pending:
            _forward(pid, number)
        self.pending.clear()


def wait(started: Started, cgroup: Cgroup, container: Container,
         console: Console | None = None, forwarder: SignalForwarder | None = None) -> tuple[int, bool]:
    """Forward signals to PID 1 until it exits; return its status as docker reports it, and
    whether the OOM killer ended it. `forwarder`: one entered before the container was made.
    """
    with ExitStack() as stack:
        if forwarder is None:
            forwarder = stack.enter_context(SignalForwarder(console))
        forwarder.to(started.pid)
        _, status = os.waitpid(started.pid, 0)
        if console is not None:
            console.finish()
    process.raise_reported(started.error_fd)
    os.close(started.error_fd)
    code = process.exit_status(status)
    memory = container.memory_limit()
    oom_killed = code == 137 and memory is not None and cgroup.oom_kills() > 0
    if oom_killed:
        print(f"gophernetes: container {container.short_id} was killed: out of memory "
              f"(limit {human_size(memory or 0)})", file=sys.stderr)
    return code, oom_killed


def _forward(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass
