"""Terminals: a pseudo-terminal of its own with `-t`; without it, never ours.

Without -t, a container must not get the caller's terminal: a process holding it could
push keystrokes into the caller's shell (TIOCSTI; dev.tty.legacy_tiocsti=1 on many
kernels), read what is typed after it exits, or change the terminal's settings. So
every container process starts in a session of its own, with no controlling terminal
(setsid: /dev/tty then fails in it), and where our stdin, stdout or stderr is a
terminal the container gets a pipe that we copy to and from (`Relay`), as docker does.
Files and pipes we were given are handed over unchanged: they lead back to nothing,
and passing them costs nothing, which keeps a scripted `run` as fast as before.

With -t:

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

from gophernetes.linux.console_socket import MASTER_NAME, set_size


class Console:
    """Our end of a console socket: the container sends its pty master through it."""

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.master: int | None = None
        self.relay: threading.Thread | None = None

    def receive_master(self) -> int:
        """Wait for the container's pty master, size it like our terminal, start relaying."""
        self.theirs.close()
        _, fds, _, _ = socket.recv_fds(self.ours, 16, 1)
        self.ours.close()
        if not fds:
            raise OSError("the container closed its console socket without sending a terminal")
        self.master = fds[0]
        copy_window_size(0, self.master)
        self.relay = relay_in_background(self.master)
        return self.master

    def finish(self) -> None:
        """The container side has exited: let the relay write its last output (the echo of "exit")."""
        if self.relay is not None:
            self.relay.join(timeout=1)


def attach_new_pty(console_fd: int, size=None) -> None:
    """In the container (after pivot_root): make a pty, send its master out, take the slave as stdio.

    `size` (process.consoleSize: .height, .width) is the window the pty has before the
    engine gets its master, as runc sets it: the command's first TIOCGWINSZ reads it.
    """
    master, slave = os.openpty()
    if size is not None:
        set_size(master, size.height, size.width)
    with socket.socket(fileno=console_fd) as console:
        socket.send_fds(console, [MASTER_NAME.encode()], [master])  # the name runc sends with it
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


class Relay:
    """Pipes in place of our terminals for a container without -t, copied by two threads.

    `stdio` is what the container gets as 0, 1 and 2: a pipe for each of ours that is a
    terminal, our own descriptor for the others. Call `started()` once the container
    holds its ends, and `finish()` (or leave the `with` block) once it has exited.
    """

    def __init__(self) -> None:
        stdio = [0, 1, 2]
        self._theirs: list[int] = []
        self._input: int | None = None  # our end of the container's stdin
        self._outputs: dict[int, int] = {}  # our end of its stdout/stderr -> our fd 1/2
        for fd in (0, 1, 2):
            if not os.isatty(fd):
                continue
            read, write = os.pipe()
            if fd == 0:
                stdio[0], self._input = read, write
                self._theirs.append(read)
            else:
                stdio[fd] = write
                self._outputs[read] = fd
                self._theirs.append(write)
        self.stdio: tuple[int, int, int] = (stdio[0], stdio[1], stdio[2])
        self._stop_read, self._stop_write = os.pipe()
        self._input_thread: threading.Thread | None = None
        self._output_thread: threading.Thread | None = None

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *_exc) -> None:
        self.finish()

    def ours(self) -> list[int]:
        """Our ends: a process that joins the container must close them, or EOF never comes."""
        return [fd for fd in (self._input, *self._outputs, self._stop_read, self._stop_write) if fd is not None]

    def started(self, _started=None) -> None:
        """The container holds its ends now: close our copies and start copying."""
        self._close_theirs()
        if self._input is not None:
            self._input_thread = threading.Thread(target=self._copy_input, daemon=True)
            self._input_thread.start()
        if self._outputs:
            self._output_thread = threading.Thread(target=self._copy_outputs, daemon=True)
            self._output_thread.start()

    def finish(self) -> None:
        """The container has exited: let its last output through, stop reading our terminal."""
        self._close_theirs()
        if self._output_thread is not None:
            self._output_thread.join(timeout=1)  # EOF comes at once, unless a process it left holds the pipe
        os.write(self._stop_write, b"x")
        for thread in (self._input_thread, self._output_thread):
            if thread is not None:
                thread.join()
        for fd in (self._stop_read, self._stop_write, self._input):
            if fd is not None:
                os.close(fd)
        self._input = self._input_thread = self._output_thread = None

    def _close_theirs(self) -> None:
        for fd in self._theirs:
            os.close(fd)
        self._theirs = []

    def _copy_input(self) -> None:
        """Our terminal -> the container's stdin, until our stdin ends (Ctrl-D) or the container's does."""
        fd = self._input
        assert fd is not None, "started() runs this thread only when our stdin is a terminal"
        while True:
            if not _in_foreground():  # a background job reading its terminal would be stopped (SIGTTIN)
                if select.select([self._stop_read], [], [], 0.2)[0]:
                    return
                continue
            readable, _, _ = select.select([0, self._stop_read], [], [])
            if self._stop_read in readable:
                return
            try:
                data = os.read(0, 65536)
                if not data:
                    break  # our stdin ended: Ctrl-D on a terminal
                while data:
                    data = data[os.write(fd, data):]
            except OSError:
                break  # our terminal went away, or the container closed its stdin
        self._input = None
        os.close(fd)  # the container reads end-of-file

    def _copy_outputs(self) -> None:
        """The container's stdout and stderr -> ours, until both end (or we are told to stop)."""
        open_fds = dict(self._outputs)
        while open_fds:
            readable, _, _ = select.select([*open_fds, self._stop_read], [], [])
            if readable == [self._stop_read]:
                break  # told to stop, and nothing is left to read
            for fd in readable:
                if fd == self._stop_read:
                    continue
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if data:
                    _write_all(open_fds[fd], data)
                else:
                    os.close(fd)
                    del open_fds[fd]
        for fd in open_fds:
            os.close(fd)


def _in_foreground() -> bool:
    """Is our process group the one the terminal on stdin reads for (`fg`, not `&`)?"""
    try:
        return os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return True
