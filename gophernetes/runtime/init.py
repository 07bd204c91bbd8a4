"""The container's side: what PID 1 does between the namespaces being made and exec.

This is the Python counterpart of the original Go tool's `child` command. In order:
mount the root filesystem, /proc, /sys and /dev; pivot_root into it (or chroot); set the
hostname; wait for the parent to finish the outside work (cgroup, network); drop
capabilities; switch user; and finally execve the user's command, which then *is* PID 1.

Every failure is reported to the parent through a pipe as JSON {"code", "message"}; a
successful execve closes that pipe (it is close-on-exec), and the parent reads EOF.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from gophernetes.linux import capabilities, devices, loopback, mounts, syscalls
from gophernetes.runtime.rootfs import mount_root, write_etc_files
from gophernetes.runtime.spec import DEFAULT_PATH, ContainerDirs, RunSpec


class InitError(Exception):
    """A failure inside the container before its command started; `code` is docker's exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def container_init(spec: RunSpec, dirs: ContainerDirs | None, start_fd: int | None, error_fd: int,
                   console_fd: int | None = None) -> None:
    """Turn this process (PID 1 of new namespaces) into the container. Never returns.

    With `dirs` the root is an overlay over spec.lower_dirs (what `run` does); without,
    the single directory in spec.lower_dirs is used as it is, writable (what the original
    Go tool's `child` did with its chroot directory).
    """
    try:
        prepare_filesystem(spec, dirs)
        if console_fd is not None:
            from gophernetes.runtime.terminal import attach_new_pty

            attach_new_pty(console_fd)
        if "uts" in spec.namespaces:
            syscalls.sethostname(spec.hostname or spec.short_id)
        if "net" in spec.namespaces:
            loopback.bring_up("lo")
        if start_fd is not None:
            wait_for_start(start_fd)
        become_container_process(spec)
        execute(spec)
    except InitError as error:
        report(error_fd, error.code, str(error))
    except OSError as error:
        report(error_fd, 125, str(error))
    except BaseException as error:  # noqa: BLE001 — whatever happens, never return into the caller
        report(error_fd, 125, f"{type(error).__name__}: {error}")
    os._exit(125)


def prepare_filesystem(spec: RunSpec, dirs: ContainerDirs | None) -> None:
    """Build the container's tree and make it "/"."""
    mounts.make_all_private()
    if dirs is None:
        root = Path(spec.lower_dirs[-1])
        mounts.bind(root, root)  # pivot_root wants a mount point
    else:
        mount_root([Path(d) for d in spec.lower_dirs], dirs)
        root = dirs.rootfs
    write_etc_files(root, spec.etc_files)
    if spec.hosts_file and os.path.exists(spec.hosts_file):
        mounts.bind(spec.hosts_file, root / "etc" / "hosts", read_only=True)  # shared: see network/hosts.py
    for name in ("proc", "sys", "dev"):
        (root / name).mkdir(exist_ok=True)
    mounts.mount_proc(root)
    mounts.mount_sys(root)
    devices.populate_dev(root)
    if spec.working_dir:
        (root / spec.working_dir.lstrip("/")).mkdir(parents=True, exist_ok=True)
    if spec.use_chroot:
        mounts.chroot_into(root)
    else:
        mounts.pivot_into(root)
    if not spec.privileged:
        mounts.mask_paths()
        mounts.make_readonly()
    if spec.read_only:
        syscalls.mount(None, "/", None, syscalls.MS_REMOUNT | syscalls.MS_BIND | syscalls.MS_RDONLY)


def wait_for_start(start_fd: int) -> None:
    """Block until the parent says "go" (it has set up the cgroup and network by then)."""
    message = os.read(start_fd, 1)
    os.close(start_fd)
    if message != b"1":
        os._exit(125)  # the parent gave up (or died): do not start the command


def become_container_process(spec: RunSpec) -> None:
    """Signals, capabilities, user, working directory: the process state the command inherits."""
    reset_signals()
    if spec.tty and os.isatty(0):
        from gophernetes.runtime.terminal import become_session_leader_of

        become_session_leader_of(0)
    if not spec.privileged:
        capabilities.restrict_to(frozenset(spec.capabilities))
    switch_user(spec.user)
    if not spec.privileged:
        capabilities.set_no_new_privs()
    try:
        os.chdir(spec.working_dir or "/")
    except OSError as error:
        raise InitError(125, f"cannot enter working directory {spec.working_dir}: {error.strerror}") from error
    # Die with the `gophernetes run` that started us, as `docker run` foreground containers do.
    syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)


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


def container_environment(spec: RunSpec) -> dict[str, str]:
    """PATH, HOSTNAME, HOME, TERM, then the image's and the user's variables (later wins)."""
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": spec.hostname or spec.short_id, "HOME": "/root"}
    if spec.tty:
        env["TERM"] = "xterm"
    for item in spec.env:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def execute(spec: RunSpec) -> None:
    """execve the command, searching PATH as a shell would; map failures to docker's 126/127."""
    env = container_environment(spec)
    program = spec.command[0]
    try:
        os.execvpe(program, spec.command, env)
    except FileNotFoundError:
        where = "" if "/" in program else " in $PATH"
        raise InitError(127, f'exec: "{program}": executable file not found{where}') from None
    except PermissionError:
        raise InitError(126, f'exec: "{program}": permission denied') from None
    except OSError as error:
        raise InitError(126, f'exec: "{program}": {error.strerror}') from None


def report(error_fd: int, code: int, message: str) -> None:
    """Tell the parent why the container could not start (or stderr, when there is no parent)."""
    try:
        if error_fd < 0:
            os.write(2, f"gophernetes: {message}\n".encode())
        else:
            os.write(error_fd, json.dumps({"code": code, "message": message}).encode())
    except OSError:
        pass
    os._exit(code)
