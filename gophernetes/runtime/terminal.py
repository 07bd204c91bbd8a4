"""Terminals: giving a container (or an exec) a pseudo-terminal, as `-it` does.

A pseudo-terminal is a pair: the *slave* side behaves like a real terminal (line editing,
Ctrl-C turning into SIGINT, a window size) and becomes the container's stdin, stdout and
stderr; the *master* side is a plain file descriptor that we read and write. We put our
own terminal in raw mode — every key goes through untouched, Ctrl-C included — and copy
bytes both ways until the container closes its side.

The pair is made *inside* the container, from its own devpts (openpty opens /dev/ptmx
relative to the root, which by then is the container's), so that `tty` in the container
names a /dev/pts/N that exists there. The master travels back to us over a Unix socket
(SCM_RIGHTS: the kernel copies an open file into another process) — runc's "console
socket" does the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import socket
import struct
import termios
import threading
import tty


class Console:
    """Our end of a console socket: the container sends its pty master through it."""

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.master: int | None = None

    def receive_master(self) -> int:
        """Wait for the container's pty master, size it like our terminal, start relaying."""
        self.theirs.close()
        _, fds, _, _ = socket.recv_fds(self.ours, 16, 1)
        self.ours.close()
        if not fds:
            raise OSError("the container closed its console socket without sending a terminal")
        self.master = fds[0]
        copy_window_size(0, self.master)
        relay_in_background(self.master)
        return self.master


def attach_new_pty(console_fd: int) -> None:
    """In the container (after pivot_root): make a pty, send its master out, take the slave as stdio."""
    master, slave = os.openpty()
    with socket.socket(fileno=console_fd) as console:
        socket.send_fds(console, [b"pty"], [master])
    os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def copy_window_size(source_fd: int, target_fd: int) -> None:
    """TIOCGWINSZ on one terminal, TIOCSWINSZ on the other (the kernel then sends SIGWINCH)."""
    try:
        size = fcntl.ioctl(source_fd, termios.TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
        fcntl.ioctl(target_fd, termios.TIOCSWINSZ, size)
    except OSError:
        pass  # our stdin is not a terminal: keep the default size


def become_session_leader_of(slave_fd: int) -> None:
    """In the child: start a session and make the pty its controlling terminal (TIOCSCTTY).

    Without a controlling terminal Ctrl-C would not become SIGINT, and shells would warn
    "can't access tty; job control turned off".
    """
    os.setsid()
    fcntl.ioctl(slave_fd, termios.TIOCSCTTY, 0)


@contextlib.contextmanager
def raw_mode(fd: int = 0):
    """Our terminal in raw mode for the duration (restored even on errors)."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def relay_in_background(master: int) -> threading.Thread:
    """Copy our stdin to the master and the master to our stdout, in a thread, until EOF."""
    thread = threading.Thread(target=_relay, args=(master,), daemon=True)
    thread.start()
    return thread


def _relay(master: int) -> None:
    """Copy bytes both ways until the container's side closes, or ours does.

    When our terminal goes away (the window is closed, ssh drops), reading it fails or
    ends: we then close the master, which hangs up the container's terminal — its shell
    reads end-of-file and exits, as it would on a real terminal that was unplugged.
    """
    while True:
        try:
            readable, _, _ = select.select([master, 0], [], [])
        except (OSError, ValueError):
            return
        if master in readable:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every holder of the slave side has closed it
                data = b""
            if not data:
                return
            _write_all(1, data)
        if 0 in readable:
            try:
                data = os.read(0, 65536)
            except OSError:
                data = b""
            if not data:
                os.close(master)
                return
            _write_all(master, data)


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass  # the other side is gone; the read side will notice
