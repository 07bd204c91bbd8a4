"""The container's side: what PID 1 does between the namespaces being made and exec.

This is the Python counterpart of the original Go tool's `child` command. In order:
mount the root filesystem, /proc, /sys and /dev; pivot_root into it (or chroot); set the
hostname; wait for the parent to finish the outside work (cgroup, network); join a
session keyring of its own; drop capabilities; switch user; set no_new_privs; install the
seccomp filter; and finally execve the user's command, which then *is* PID 1.

Every failure is reported to the parent through a pipe as JSON {"code", "message"}; a
successful execve closes that pipe (it is close-on-exec), and the parent reads EOF.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from gophernetes.linux import capabilities, devices, inroot, keyring, loopback, mounts, sealed_exec, syscalls
from gophernetes.runtime import process
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
        program = seccomp_program(spec)  # read now: after pivot_root the host's files are out of sight
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
        install_seccomp(spec, program)
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
    elif spec.userns == "auto":
        # Stage 1 mounted the overlay as host root (runtime/userns_root.py); our copy of that mount is
        # locked, and pivot_root refuses a locked root: a bind of our own makes one it accepts.
        root = dirs.rootfs
        mounts.bind(root, root)
    else:
        mount_root([Path(d) for d in spec.lower_dirs], dirs)
        root = dirs.rootfs
    populate_root(os.fspath(root), spec)
    if spec.use_chroot:
        mounts.chroot_into(root)
    else:
        mounts.pivot_into(root)
    if not spec.privileged:
        mounts.mask_paths()
        mounts.make_readonly()
    if spec.read_only:
        syscalls.mount(None, "/", None, syscalls.MS_REMOUNT | syscalls.MS_BIND | syscalls.MS_RDONLY)


def populate_root(root: str, spec: RunSpec) -> None:
    """The etc files, /proc, /sys, /dev and the working directory, every path resolved *inside* the root.

    The image decides what its paths are (an /etc that links to a host folder, a working
    directory with ".."); linux/inroot.py makes sure none of them leads out of the root.
    """
    root_fd = inroot.open_root(root)
    try:
        _populate(root_fd, spec)
    except OSError as error:  # one line, e.g. "cannot mount on /dev in the container's root: ..."
        raise InitError(125, error.strerror or str(error)) from None
    finally:
        os.close(root_fd)


def _populate(root_fd: int, spec: RunSpec) -> None:
    write_etc_files(root_fd, spec.etc_files)
    if spec.hosts_file and os.path.exists(spec.hosts_file):
        # the network's file for all its containers, so read-only: see network/hosts.py
        _mount_on(root_fd, "/etc/hosts", lambda target: mounts.bind(spec.hosts_file, target), directory=False)
        _remount_read_only(root_fd, "/etc/hosts")
    _mount_on(root_fd, "/proc", mounts.mount_proc)
    _mount_on(root_fd, "/sys", mounts.mount_sys)
    devices.populate_dev(root_fd)
    if spec.working_dir:
        os.close(inroot.make_directories(root_fd, spec.working_dir))


def _mount_on(root_fd: int, path: str, mount, directory: bool = True) -> None:
    """Call `mount(target)` with `path` resolved in the root, as the /proc/self/fd path of its inode."""
    target = inroot.mount_point(root_fd, path, directory)
    try:
        mount(inroot.fd_path(target))
    finally:
        os.close(target)


def _remount_read_only(root_fd: int, path: str) -> None:
    """Make the bind mount now at `path` read-only.

    The remount must name the new mount's own root, so `path` is opened again in the root:
    the descriptor used for the bind still points at the file underneath it.
    """
    target = inroot.open_in_root(root_fd, path)
    try:
        syscalls.mount(None, inroot.fd_path(target), None, syscalls.MS_BIND | syscalls.MS_REMOUNT
                       | syscalls.MS_RDONLY | syscalls.MS_NOSUID | syscalls.MS_NODEV)
    finally:
        os.close(target)


def wait_for_start(start_fd: int) -> None:
    """Block until the parent says "go" (it has set up the cgroup and network by then)."""
    message = os.read(start_fd, 1)
    os.close(start_fd)
    if message != b"1":
        os._exit(125)  # the parent gave up (or died): do not start the command


def become_container_process(spec: RunSpec) -> None:
    """Signals, keyring, capabilities, user, working directory: the process state the command inherits."""
    reset_signals()
    keyring.join_new_session(spec.id)
    if spec.tty and os.isatty(0):
        from gophernetes.runtime.terminal import become_session_leader_of

        become_session_leader_of(0)
    if not spec.privileged:
        capabilities.restrict_to(frozenset(spec.capabilities))
    switch_user(spec.user)
    if not spec.privileged:
        capabilities.set_no_new_privs()
    try:
        os.chdir(inroot.clean(spec.working_dir))  # "/a/../b" is "/b", as docker cleans it and as it was made
    except OSError as error:
        raise InitError(125, f"cannot enter working directory {spec.working_dir}: {error.strerror}") from error
    # Die with the `gophernetes run` that started us, as `docker run` foreground containers do.
    syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)


def seccomp_program(spec: RunSpec) -> bytes | None:
    """The compiled seccomp filter for this container (see linux/seccomp.py); None when unconfined.

    `run` compiled it already (spec.seccomp_program, a file under the state root); a spec
    without one (`gophernetes child`) is compiled here.
    """
    if spec.privileged or spec.seccomp == "unconfined":
        return None
    from gophernetes.linux import seccomp

    try:
        with open(spec.seccomp_program, "rb") as file:
            return file.read()
    except OSError:
        return seccomp.encode(seccomp.compile_for(spec.seccomp_profile, spec.capabilities))


def install_seccomp(spec: RunSpec, program: bytes | None) -> None:
    """The last step before execve: from here on, every system call goes through the filter.

    Last, so that the runtime's own calls (mount, pivot_root, capset, ...) need not be in
    the profile; after no_new_privs, which lets a process without CAP_SYS_ADMIN install it.
    """
    if program is not None:
        from gophernetes.linux import seccomp

        seccomp.set_mode_filter(program, seccomp.filter_flags(spec.seccomp_profile))


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
        sealed_exec.exec_command(spec.command, env)  # the runtime's binary stays out of reach
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
