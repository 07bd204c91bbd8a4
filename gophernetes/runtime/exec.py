"""exec: start one more process inside a running container.

Nothing new is made: the process *joins* what the container already has. It opens the
namespace files of the container's init (/proc/PID/ns/{ipc,uts,net,pid,mnt,cgroup}),
enters its cgroup, then setns()es into each namespace. Joining a PID namespace, like
creating one, only applies to children, so we fork once more: that child is a process of
the container, with the container's root, capabilities and environment, and execs the
command. `nsenter --target PID --all` does the same by hand (lab 01). It also joins the
container's session keyring and, last before execve, gets the container's seccomp filter.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

from gophernetes.linux import keyring, sealed_exec, syscalls
from gophernetes.runtime import process
from gophernetes.runtime.init import (
    InitError,
    drop_privileges,
    environment_with_home,
    install_seccomp,
    reset_signals,
    seccomp_program,
    switch_ids,
    switch_user,
)

if TYPE_CHECKING:  # terminal imports socket (~5 ms): only `exec -t` and a terminal relay need it, and bring it
    from gophernetes.linux.cgroups import Cgroup
    from gophernetes.runtime import terminal
    from gophernetes.runtime.bundle import Container

# Order matters: the mount namespace last, because entering it hides the host's /proc,
# where the other namespace files and the container's root are opened from.
JOIN_ORDER = ("cgroup", "ipc", "uts", "net", "pid", "mnt")
SPEC_NAMES = {"net": "network", "mnt": "mount"}  # /proc/PID/ns names -> config.json's namespace types
# Passed on to the command (Ctrl-C reaches only us: the command has a session of its own).
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def exec_in_container(container: Container, init_pid: int, cgroup: Cgroup, command: list[str], env: list[str],
                      user: str, workdir: str, console: terminal.Console | None = None,
                      relay: terminal.Relay | None = None) -> int:
    """Run `command` in the container whose init is `init_pid`; return its exit status.

    With a `console`, the command gets a pseudo-terminal made in the container's devpts;
    with a `relay`, pipes in place of our terminals (runtime/terminal.py). Signals we get
    are passed on to the command, as `run` does for PID 1.
    """
    program = seccomp_program(container)  # the container's filter, read while the host's files are in sight
    error_read, error_write = os.pipe()
    child = os.fork()
    if child == 0:
        sealed_exec.make_non_dumpable()  # before we join: /proc/PID/exe of us is out of the container's reach
        os.close(error_read)
        console_fd = None
        if console is not None:
            console.ours.close()
            console_fd = console.theirs.fileno()
        if relay is not None:
            for target, fd in enumerate(relay.stdio):
                os.dup2(fd, target)
            for fd in relay.ours():
                os.close(fd)  # or the command's stdin would never see end-of-file
        _join_and_exec(container, init_pid, cgroup, command, env, user, workdir, console_fd, error_write, program)
    os.close(error_write)
    if relay is not None:
        relay.started()
    previous = {number: signal.signal(number, lambda n, _frame: _forward(child, n)) for number in FORWARDED_SIGNALS}
    try:
        if console is not None:
            try:
                console.receive_master()
            except OSError:
                pass  # the command failed before it had a terminal: its error is in the pipe
        _, status = os.waitpid(child, 0)
        if console is not None:
            console.finish()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    process.raise_reported(error_read)
    os.close(error_read)
    return process.exit_status(status)


def _join_and_exec(container: Container, init_pid, cgroup, command, env, user, workdir, console_fd, error_fd,
                   program) -> None:
    """In the forked child: join everything, fork into the PID namespace, exec. Never returns."""
    try:
        if console_fd is not None:  # imported here, on the host: inside the container's root it cannot be
            from gophernetes.runtime import terminal
        namespace_files = {kind: os.open(f"/proc/{init_pid}/ns/{kind}", os.O_RDONLY)
                           for kind in JOIN_ORDER if container.has_namespace(SPEC_NAMES.get(kind, kind))}
        root = os.open(f"/proc/{init_pid}/root", os.O_RDONLY | os.O_DIRECTORY)
        cgroup.add_process(0)
        if container.has_namespace("user"):  # first: the other namespaces belong to it, and we become its root
            from gophernetes.linux import userns

            userns.enter(os.open(f"/proc/{init_pid}/ns/user", os.O_RDONLY))
        for fd in namespace_files.values():
            syscalls.setns(fd, 0)
            os.close(fd)
        # The container's root: after pivot_root the namespace's root already is; after
        # chroot it is not, so always chroot into the init's root as well.
        os.fchdir(root)
        os.chroot(".")
        os.close(root)
        grandchild = os.fork()
        if grandchild:
            for number in FORWARDED_SIGNALS:
                signal.signal(number, lambda n, _frame: _forward(grandchild, n))
            _, status = os.waitpid(grandchild, 0)
            os._exit(process.exit_status(status))
        if console_fd is not None:
            terminal.attach_new_pty(console_fd, container.config.process.console_size)
            terminal.become_session_leader_of(0)
        else:
            os.setsid()  # no controlling terminal: /dev/tty in the container cannot reach ours
        reset_signals()
        keyring.join_existing_session(container.id)
        process_config = container.config.process
        ids = process_config.user  # exec -u NAME: looked up in the container's /etc/passwd, as docker exec does
        switch = (lambda: switch_user(user)) if user else (lambda: switch_ids(ids.uid, ids.gid, ids.additional_gids))
        drop_privileges(container, switch, program, keep_capabilities=not user)
        os.chdir(workdir or process_config.cwd)
        environment = environment_with_home(container, os.getuid())
        for item in env:
            key, _, value = item.partition("=")
            environment[key] = value
        if process_config.no_new_privileges:
            install_seccomp(container, program)
        _execute(command, environment)
    except InitError as error:
        process.fail(error_fd, error.code, str(error))
    except BaseException as error:  # noqa: BLE001 — never return into the CLI's code
        process.fail(error_fd, 125, f"exec: {error}")
    os._exit(125)


def _execute(command: list[str], environment: dict[str, str]) -> None:
    try:
        sealed_exec.exec_command(command, environment)  # the runtime's binary stays out of reach
    except FileNotFoundError:
        raise InitError(127, f'exec: "{command[0]}": executable file not found in $PATH') from None
    except PermissionError:
        raise InitError(126, f'exec: "{command[0]}": permission denied') from None


def _forward(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass
