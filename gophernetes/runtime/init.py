"""The container's side: what PID 1 does between the namespaces being made and exec.

This is the Python counterpart of the original Go tool's `child` command, reading nothing
but the bundle's config.json (runtime/bundle.py). In order: mount the root filesystem and
config.json's mounts (/proc, /sys, /dev, the /etc files); pivot_root into it (or chroot);
mask paths; set the hostname; wait for the parent to finish the outside work (cgroup,
network) or for `start`; join a session keyring of its own; drop capabilities; switch
user; set no_new_privs; install the seccomp filter; and finally execve process.args,
which then *is* PID 1.

Every failure is reported to the parent through a pipe as JSON {"code", "message"}; a
successful execve closes that pipe (it is close-on-exec), and the parent reads EOF.
"""

from __future__ import annotations

import json
import os
import posixpath
import resource  # now: after pivot_root the host's modules are out of sight
import signal
from collections.abc import Callable
from pathlib import Path

from gophernetes.linux import capabilities, inroot, keyring, loopback, mounts, sealed_exec, syscalls
from gophernetes.runtime import oci_mounts, process
from gophernetes.runtime.bundle import Container
from gophernetes.runtime.oci_config import OCI_VERSION
from gophernetes.runtime.rootfs import mount_root


class InitError(Exception):
    """A failure inside the container before its command started; `code` is docker's exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def container_init(container: Container, start, error_fd: int, console_fd: int | None = None,
                   plain_root: bool = False, hooks_sync=None) -> None:
    """Turn this process (PID 1 of new namespaces) into the container. Never returns.

    `start`: a pipe to wait on for "go" (run), a Fifo (create, then start), or None (go at
    once). With `plain_root` the root is used as it is even if layers are named (what the
    original Go tool's `child` did with its chroot directory). `hooks_sync` (a socket to
    the runtime, when the bundle has hooks of creation): see run_create_hooks.
    """
    try:
        program = seccomp_program(container)  # read now: after pivot_root the host's files are out of sight
        if console_fd is not None or container.config.process.terminal:
            from gophernetes.runtime import terminal  # noqa: F401 — imported now, used after pivot_root
        start = start.open() if hasattr(start, "open") else start
        set_oom_score_adj(container.config.process.oom_score_adj)  # the host's /proc, with all capabilities
        prepare_filesystem(container, plain_root, hooks_sync)
        find_command(container)
        if console_fd is not None:
            from gophernetes.runtime.terminal import attach_new_pty

            attach_new_pty(console_fd, container.config.process.console_size)
        if container.has_namespace("uts") and container.config.hostname:
            syscalls.sethostname(container.config.hostname)
        if container.has_namespace("network"):
            loopback.bring_up("lo")
        if callable(start):  # create: say "created", then wait for `start`
            process.write_report(error_fd, 0, "created")
            os.close(error_fd)
            error_fd = -1
        if start is not None:
            wait_for_start(start)
        become_container_process(container, program)
        close_inherited_descriptors()
        if container.config.process.no_new_privileges:
            install_seccomp(container, program)
        execute(container)
    except InitError as error:
        report(error_fd, error.code, str(error))
    except OSError as error:
        report(error_fd, 125, str(error))
    except BaseException as error:  # noqa: BLE001 — whatever happens, never return into the caller
        report(error_fd, 125, f"{type(error).__name__}: {error}")
    os._exit(125)


def prepare_filesystem(container: Container, plain_root: bool = False, hooks_sync=None) -> None:
    """Build the container's tree and make it "/" (the hooks of creation run just before)."""
    mounts.make_all_private()
    root = container.rootfs
    layers = [] if plain_root else container.layers
    if not layers or container.has_namespace("user"):
        # A root used as it is needs a mount point for pivot_root; under --userns auto stage 1
        # mounted the overlay as host root (runtime/userns_root.py), our copy of that mount is
        # locked, and pivot_root refuses a locked root: a bind of our own makes one it accepts.
        mounts.bind(root, root)
    else:
        mount_root(layers, container.upper, container.work, root)
    populate_root(os.fspath(root), container)
    if hooks_sync is not None:
        run_create_hooks(container, hooks_sync)
    if container.no_pivot:
        mounts.chroot_into(root)
    else:
        mounts.pivot_into(root)
    linux = container.config.linux
    mounts.make_readonly(tuple(linux.readonly_paths))  # then masked: runc's order, as /proc/self/mounts shows
    mounts.mask_paths(tuple(linux.masked_paths))
    if container.config.root.readonly:
        syscalls.mount(None, "/", None, syscalls.MS_REMOUNT | syscalls.MS_BIND | syscalls.MS_RDONLY)


def populate_root(root: str, container: Container) -> None:
    """config.json's mounts and devices, and the working directory, every path resolved *inside* the root.

    The image decides what its paths are (an /etc that links to a host folder, a working
    directory with ".."); linux/inroot.py makes sure none of them leads out of the root.
    """
    root_fd = inroot.open_root(root)
    try:
        oci_mounts.mount_all(root_fd, container.config)
        os.close(inroot.make_directories(root_fd, container.config.process.cwd))
    except OSError as error:  # one line, e.g. "cannot mount on /dev in the container's root: ..."
        raise InitError(125, error.strerror or str(error)) from None
    finally:
        os.close(root_fd)


def run_create_hooks(container: Container, sync) -> None:
    """The hooks of creation, at runc's moment: mounts done, root not changed yet.

    We tell the runtime (a byte on `sync`) and wait while it runs the prestart and
    createRuntime hooks in its own namespaces (a network plugin wiring our netns). Then
    the createContainer hooks run here, as children of ours: in the container's
    namespaces (mount, pid, network, uts, cgroup), seeing its mounts, yet with the host's
    "/" still our root, so that their paths resolve as the runtime's do (runtime-spec
    config.md "createContainer Hooks"). Like runc, they start in the root filesystem's
    folder, and the state they read says "creating" with our own pid as we see it (1).
    """
    from gophernetes.runtime import hooks as oci_hooks

    sync.sendall(b"h")
    if sync.recv(1) != b"1":
        os._exit(125)  # the runtime gave up (a prestart or createRuntime hook failed) and says why
    sync.close()
    document = json.loads((container.bundle / "config.json").read_text())
    state = {"ociVersion": OCI_VERSION, "id": container.id, "status": "creating", "pid": os.getpid(),
             "bundle": str(container.bundle), "annotations": document.get("annotations") or {}}
    os.chdir(container.rootfs)
    try:
        oci_hooks.run_stage(oci_hooks.Hooks.from_spec(document.get("hooks")), "createContainer", state)
    except oci_hooks.HookFailed as failure:
        raise InitError(125, str(failure)) from None


def wait_for_start(start) -> None:
    """Block until told "go": a byte on the start pipe (the parent has set up the cgroup and
    network by then), or a reader of the exec fifo (`start`, as runc's exec.fifo)."""
    if isinstance(start, int):
        message = os.read(start, 1)
        os.close(start)
        if message != b"1":
            os._exit(125)  # the parent gave up (or died): do not start the command
    else:
        start()


def become_container_process(container: Container, program: bytes | None = None) -> None:
    """Signals, keyring, rlimits, privileges, working directory: the process state the command inherits."""
    process_config = container.config.process
    reset_signals()
    keyring.join_new_session(container.id)
    if process_config.terminal and os.isatty(0):
        from gophernetes.runtime.terminal import become_session_leader_of

        become_session_leader_of(0)
    set_rlimits(container)
    user = process_config.user
    drop_privileges(container, lambda: switch_ids(user.uid, user.gid, user.additional_gids), program)
    try:
        os.chdir(process_config.cwd)
    except OSError as error:
        raise InitError(125, f"cannot enter working directory {process_config.cwd}: {error.strerror}") from error
    if container.die_with_parent:  # as `docker run` foreground containers do
        syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)


def drop_privileges(container: Container, switch: Callable[[], None], program: bytes | None,
                    keep_capabilities: bool = True) -> None:
    """no_new_privs or seccomp, the bounding set, the user switch, the other four sets: runc's order.

    Without noNewPrivileges the seccomp filter goes first, while CAP_SYS_ADMIN (which
    installing one then needs) is still held; with it, the filter waits until just before
    execve (install_seccomp). The user switch (`switch`: setgroups, setgid, setuid) needs
    CAP_SETGID and CAP_SETUID, which the process's own sets may lack, so it comes before
    capset; PR_SET_KEEPCAPS keeps the permitted set across setuid to a non-root uid, and
    capset then gives the process exactly config.json's sets, as runc does for any user.
    `keep_capabilities` False (`exec -u NAME`) lets setuid to a non-root uid empty them, as
    execve would.
    """
    if container.config.process.no_new_privileges:
        capabilities.set_no_new_privs()
    else:
        install_seccomp(container, program)
    umask = container.config.process.user.umask
    os.umask(0o022 if umask is None else umask)  # runc's default when process.user.umask is not given
    sets = container.capability_sets()
    capabilities.drop_bounding(sets.bounding)
    capabilities.keep_across_setuid(keep_capabilities)
    switch()
    capabilities.keep_across_setuid(False)
    capabilities.apply(sets)


def set_oom_score_adj(value: int | None) -> None:
    """process.oomScoreAdj: how much more (up to 1000) or less (down to -1000) willing the OOM
    killer is to pick this process, inherited by its children. Lowering it needs
    CAP_SYS_RESOURCE, so it is written first, as runc's nsexec does. man 5 proc (oom_score_adj)"""
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as file:
            file.write(str(value))
    except OSError as error:
        raise InitError(125, f"cannot set oomScoreAdj to {value}: {error.strerror}") from None


def set_rlimits(container: Container) -> None:
    """process.rlimits: setrlimit for each ("RLIMIT_NOFILE" soft/hard), before privileges go. man 2 setrlimit"""
    for limit in container.config.process.rlimits:
        number = getattr(resource, limit.type, None)
        if not limit.type.startswith("RLIMIT_") or number is None:
            raise InitError(125, f"config.json: process.rlimits: unknown limit {limit.type}")
        try:
            resource.setrlimit(number, (limit.soft, limit.hard))
        except (ValueError, OSError) as error:
            raise InitError(125, f"cannot set {limit.type} to {limit.soft}/{limit.hard}: {error}") from None


def switch_ids(uid: int, gid: int, groups: list[int]) -> None:
    """setgroups, setgid, setuid: the order in which each still has the right to do the next."""
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)


def seccomp_program(container: Container) -> bytes | None:
    """The compiled seccomp filter for config's linux.seccomp (see linux/seccomp.py); None when there is none.

    The engine compiled it already (container.seccomp_program, a file under its state
    root, keyed by the profile); a bundle without one is compiled here.
    """
    document = container.config.linux.seccomp
    if document is None:
        return None
    from gophernetes.linux import seccomp

    if container.seccomp_program:
        with open(container.seccomp_program, "rb") as file:
            return file.read()
    return seccomp.encode(seccomp.compile_for(document, container.capabilities()))


def install_seccomp(container: Container, program: bytes | None) -> None:
    """From here on, every system call goes through the filter.

    With noNewPrivileges, the last step before execve, so that the runtime's own calls
    (capset, setuid, ...) need not be in the profile; no_new_privs lets a process without
    CAP_SYS_ADMIN install it. Without, before the capabilities go (drop_privileges), as
    runc does: the profile must then allow what follows (podman's and docker's do).
    """
    if program is not None:
        from gophernetes.linux import seccomp

        seccomp.set_mode_filter(program, seccomp.filter_flags(container.config.linux.seccomp))


def reset_signals() -> None:
    """Undo Python's signal setup: execve keeps *ignored* signals ignored (SIGPIPE, ...)."""
    for number in signal.valid_signals():
        if number in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(number) is not signal.SIG_DFL:
                signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def switch_user(user: str) -> None:
    """setgroups/setgid/setuid to `user` ("name", "uid", "uid:gid", "name:group").

    Names are looked up in the container's own /etc/passwd and /etc/group — we have
    pivoted already — never in the host's.
    """
    if not user:
        return
    name, _, group = user.partition(":")
    passwd = read_database("/etc/passwd")
    if name.isdigit():
        uid = int(name)
        gid = next((int(e[3]) for e in passwd.values() if e[2] == name), 0)
    elif name in passwd:
        uid, gid = int(passwd[name][2]), int(passwd[name][3])
    else:
        raise InitError(125, f"unable to find user {name}: no matching entries in /etc/passwd")
    if group:
        groups = read_database("/etc/group")
        if group.isdigit():
            gid = int(group)
        elif group in groups:
            gid = int(groups[group][2])
        else:
            raise InitError(125, f"unable to find group {group}: no matching entries in /etc/group")
    os.setgroups([gid])
    os.setgid(gid)
    os.setuid(uid)


def read_database(path: str) -> dict[str, list[str]]:
    """/etc/passwd or /etc/group as {name: fields}; missing file = empty."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return {}
    return {line.split(":")[0]: line.split(":") for line in lines if line and not line.startswith("#")}


def home_directory(uid: int) -> str:
    """The home of `uid` in the container's own /etc/passwd, "/" when it has none (runc's default)."""
    return next((fields[5] for fields in read_database("/etc/passwd").values()
                 if len(fields) > 5 and fields[2] == str(uid)), "/")


def environment_with_home(container: Container, uid: int) -> dict[str, str]:
    """process.env, with HOME from the container's /etc/passwd when it lacks one, as runc sets it."""
    environment = container.environment()
    if not environment.get("HOME"):
        environment["HOME"] = home_directory(uid)
    return environment


def find_command(container: Container) -> None:
    """A command that is not there fails `create` (docker's 127), as runc's LookPath does, not `start`.

    Only "not found" is told this early; what execve alone can judge (permissions, the
    file's format) is still reported by execute.
    """
    program = container.config.process.args[0]
    where = program if program.startswith("/") or "/" not in program else \
        posixpath.join(container.config.process.cwd, program)
    try:
        sealed_exec.find_program(where, container.environment().get("PATH", os.defpath))
    except FileNotFoundError:
        place = "" if "/" in program else " in $PATH"
        raise InitError(127, f'exec: "{program}": executable file not found{place}') from None
    except OSError:
        pass


def close_inherited_descriptors() -> None:
    """Mark every descriptor above 2 close-on-exec: the command starts with stdin, stdout and
    stderr only, as runc's init does. An engine's descriptors (a pipe of containerd's shim,
    conmon's sync pipe) that reached us through the runtime's command line stay out of the
    container; the error pipe is close-on-exec already and stays open until execve."""
    try:
        names = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc in this container: try every number up to the limit
        names = list(range(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
    for fd in names:
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the directory listing's own descriptor, closed by now


def execute(container: Container) -> None:
    """execve process.args, searching PATH as a shell would; map failures to docker's 126/127."""
    command = container.config.process.args
    program = command[0]
    try:
        environment = environment_with_home(container, container.config.process.user.uid)
        sealed_exec.exec_command(command, environment)  # the runtime's binary stays out of reach
    except FileNotFoundError:
        where = "" if "/" in program else " in $PATH"
        raise InitError(127, f'exec: "{program}": executable file not found{where}') from None
    except PermissionError:
        raise InitError(126, f'exec: "{program}": permission denied') from None
    except OSError as error:
        raise InitError(126, f'exec: "{program}": {error.strerror}') from None


def report(error_fd: int, code: int, message: str) -> None:
    """Tell the parent why the container could not start (or stderr, when there is no parent)."""
    if error_fd >= 0:
        process.fail(error_fd, code, message)
    try:
        os.write(2, f"gophernetes: {message}\n".encode())
    finally:
        os._exit(code)
