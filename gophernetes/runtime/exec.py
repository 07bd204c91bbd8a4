"""exec: start one more process inside a running container.

Nothing new is made: the process *joins* what the container already has. It opens the
namespace files of the container's init (/proc/PID/ns/{ipc,uts,net,pid,mnt,cgroup}),
enters its cgroup, then setns()es into each namespace. Joining a PID namespace, like
creating one, only applies to children, so we fork once more: that child is a process of
the container, with the container's root, capabilities and environment, and execs the
command. `nsenter --target PID --all` does the same by hand (lab 01).
"""

from __future__ import annotations

import json
import os

from gophernetes.errors import GophernetesError
from gophernetes.linux import capabilities, syscalls
from gophernetes.linux.cgroups import Cgroup
from gophernetes.runtime import terminal
from gophernetes.runtime.init import InitError, container_environment, reset_signals, switch_user
from gophernetes.runtime.spec import RunSpec

# Order matters: the mount namespace last, because entering it hides the host's /proc,
# where the other namespace files and the container's root are opened from.
JOIN_ORDER = ("cgroup", "ipc", "uts", "net", "pid", "mnt")


def exec_in_container(spec: RunSpec, init_pid: int, cgroup: Cgroup, command: list[str], env: list[str],
                      user: str, workdir: str, console: terminal.Console | None = None) -> int:
    """Run `command` in the container whose init is `init_pid`; return its exit status.

    With a `console`, the command gets a pseudo-terminal made in the container's devpts.
    """
    error_read, error_write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(error_read)
        console_fd = None
        if console is not None:
            console.ours.close()
            console_fd = console.theirs.fileno()
        _join_and_exec(spec, init_pid, cgroup, command, env, user, workdir, console_fd, error_write)
    os.close(error_write)
    if console is not None:
        try:
            console.receive_master()
        except OSError:
            pass  # the command failed before it had a terminal: its error is in the pipe
    _, status = os.waitpid(child, 0)
    report = _read_all(error_read)
    os.close(error_read)
    if report:
        failure = json.loads(report)
        error = GophernetesError(failure["message"])
        error.exit_code = failure["code"]
        raise error
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _join_and_exec(spec, init_pid, cgroup, command, env, user, workdir, console_fd, error_fd) -> None:
    """In the forked child: join everything, fork into the PID namespace, exec. Never returns."""
    try:
        namespace_files = {kind: os.open(f"/proc/{init_pid}/ns/{kind}", os.O_RDONLY)
                           for kind in JOIN_ORDER if kind in spec.namespaces}
        root = os.open(f"/proc/{init_pid}/root", os.O_RDONLY | os.O_DIRECTORY)
        cgroup.add_process(0)
        if spec.userns == "auto":  # first: the other namespaces belong to it, and we become its root
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
            _, status = os.waitpid(grandchild, 0)
            os._exit(_exit_code(status))
        if console_fd is not None:
            terminal.attach_new_pty(console_fd)
            terminal.become_session_leader_of(0)
        reset_signals()
        if not spec.privileged:
            capabilities.restrict_to(frozenset(spec.capabilities))
        switch_user(user or spec.user)
        if not spec.privileged:
            capabilities.set_no_new_privs()
        os.chdir(workdir or spec.working_dir or "/")
        environment = container_environment(spec)
        for item in env:
            key, _, value = item.partition("=")
            environment[key] = value
        _execute(command, environment)
    except InitError as error:
        _report(error_fd, error.code, str(error))
    except BaseException as error:  # noqa: BLE001 — never return into the CLI's code
        _report(error_fd, 125, f"exec: {error}")
    os._exit(125)


def _execute(command: list[str], environment: dict[str, str]) -> None:
    try:
        os.execvpe(command[0], command, environment)
    except FileNotFoundError:
        raise InitError(127, f'exec: "{command[0]}": executable file not found in $PATH') from None
    except PermissionError:
        raise InitError(126, f'exec: "{command[0]}": permission denied') from None


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _report(fd: int, code: int, message: str) -> None:
    try:
        os.write(fd, json.dumps({"code": code, "message": message}).encode())
    except OSError:
        pass
    os._exit(code)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)
