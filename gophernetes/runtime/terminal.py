"""Terminals: giving a container (or an exec) a pseudo-terminal, as `-it` does.

A pseudo-terminal is a pair: the *slave* side behaves like a real terminal (line editing,
Ctrl-C turning into SIGINT, a window size) and becomes the container's stdin, stdout and
stderr; the *master* side is a plain file descriptor that we read and write. We put our
own terminal in raw mode — every key goes through untouched, Ctrl-C included — and copy
bytes both ways until the container closes its side.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import struct
import termios
import threading
import tty


def open_pty() -> tuple[int, int]:
    """A new pseudo-terminal pair (master, slave), sized like our terminal."""
    master, slave = os.openpty()
    copy_window_size(0, master)
    return master, slave


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
    sources = [master, 0]
    while True:
        try:
            readable, _, _ = select.select(sources, [], [])
        except (OSError, ValueError):
            return
        if master in readable:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every holder of the slave side has closed it
                data = b""
            if not data:
                return
            os.write(1, data)
        if 0 in readable:
            data = os.read(0, 65536)
            if not data:
                sources.remove(0)  # our stdin ended; keep showing the container's output
            else:
                os.write(master, data)
