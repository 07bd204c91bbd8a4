"""The console socket: how a runtime hands a container's terminal to the engine that asked.

With `process.terminal: true` a container's stdin, stdout and stderr are the *slave* side
of a pseudo-terminal; whoever holds the *master* side reads what the container prints and
types for it. An OCI runtime exits right after `create`, so it cannot hold the master
itself: the engine (containerd's shim, podman's conmon) listens on a Unix socket and
passes its path as `--console-socket PATH`; the runtime opens the pty, connects to PATH
and sends the master's file descriptor in one message (SCM_RIGHTS: the kernel installs a
copy of the open file in the receiving process, as if it had opened it), then closes its
own copy. runc sends the master's path ("/dev/ptmx") as the message's bytes; the
receivers read and ignore it, but some expect it, so we send it too.

The pty must be opened *inside* the container (its devpts, after the root has changed),
so that `tty` in the container names a /dev/pts/N that exists there; `open_pty` opens
whatever /dev/ptmx the calling process sees.

man 7 unix (SCM_RIGHTS), man 7 pty, man 4 tty_ioctl (TIOCSWINSZ)
"""

from __future__ import annotations

import array
import fcntl
import os
import socket
import struct
import termios

# What runc writes as the message that carries the descriptor.
MASTER_NAME = "/dev/ptmx"


def open_pty() -> tuple[int, int]:
    """A new pseudo-terminal pair (master, slave) from the /dev/ptmx this process sees.

    posix_openpt + grantpt + unlockpt + open(ptsname): Python's os.openpty does all four.
    """
    return os.openpty()


def set_size(fd: int, height: int, width: int) -> None:
    """Give the terminal behind `fd` a window of `height` rows and `width` columns (TIOCSWINSZ).

    Programs in the container read it back with TIOCGWINSZ (`stty size`); it is the
    config's `process.consoleSize`, and engines change it later through the master.
    """
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def connect(socket_path: str) -> socket.socket:
    """A stream connection to the engine's console socket (what containerd and conmon listen on).

    Connecting first and sending later lets the pty be opened elsewhere — in the container,
    after its root has changed — and sent through this connection's descriptor.
    """
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(socket_path)
    except OSError as error:
        connection.close()
        raise OSError(error.errno, f"connect to the console socket {socket_path}: {error.strerror}") from None
    return connection


def send_master(socket_path: str, master: int, name: str = MASTER_NAME) -> None:
    """Connect to the engine's console socket at `socket_path` and send it `master` (SCM_RIGHTS).

    The kernel duplicates the descriptor into the receiver; ours can be closed afterwards.
    """
    with connect(socket_path) as connection:
        connection.sendmsg([name.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])


def receive_master(listener: socket.socket, timeout: float | None = None) -> tuple[str, int]:
    """Accept one connection on `listener` and return (name, descriptor) that it sent — the engine's side.

    Used by tests and by anything that plays the engine; a connection that closes without
    a descriptor is an error.
    """
    listener.settimeout(timeout)
    connection, _ = listener.accept()
    with connection:
        name, fds, _, _ = socket.recv_fds(connection, 4096, 1)
    if not fds:
        raise OSError("the runtime closed the console socket without sending a terminal")
    return name.decode(errors="replace"), fds[0]
