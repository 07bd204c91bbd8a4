"""Container logs: every line a detached container prints, with when and on which stream.

The format is docker's json-file driver: one JSON object per line,
    {"time": "2026-11-29T12:00:00.123456Z", "stream": "stdout", "log": "hello\\n"}
so a line's stream and timestamp survive, and `logs --tail N` only reads lines.
"""

from __future__ import annotations

import os
import select
import time

try:  # the C encoder json.dumps uses for a str: without `import json` (re, enum: ~1 MB a supervisor)
    from _json import encode_basestring_ascii as _quote
except ImportError:  # pragma: no cover — CPython always has _json
    from json.encoder import py_encode_basestring_ascii as _quote

TYPE_CHECKING = False  # not `from typing import TYPE_CHECKING`: typing imports re, enum, functools (~1 MB)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import TextIO

# The writer (Pump) runs in every detached container's monitor for as long as the container
# lives, so this module imports only what the interpreter has loaded anyway, select and time
# (engines/native/monitor.py); the readers import what they need when called.


def timestamp() -> str:
    """Now, in UTC, with microseconds: "2026-11-29T12:00:00.123456Z" (docker's format)."""
    seconds, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanoseconds // 1000:06d}Z"


def entry(stream: str, text: str, at: str | None = None) -> str:
    """One log line: exactly what json.dumps({"time": ..., "stream": ..., "log": ...}) writes."""
    return f'{{"time": {_quote(at or timestamp())}, "stream": {_quote(stream)}, "log": {_quote(text)}}}\n'


class Pump:
    """The container's output pipes -> the log file, line by line, until both close.

    The pipes are always drained, even when the log cannot be written (a full disk): a
    container must never block, or die of SIGPIPE, because its log has no room. Lines that
    cannot be written are dropped, as docker's json-file driver drops them. The caller
    decides when to read (its own poll loop: the monitor also waits for the container).
    """

    def __init__(self, streams: dict[int, str], log_path: str | os.PathLike) -> None:
        self.streams = dict(streams)
        self.pending = {fd: b"" for fd in streams}
        self.log = _LogFile(log_path)

    def read(self, fd: int) -> bool:
        """Copy what pipe `fd` holds into the log; False (and the pipe closed) at its end."""
        data = os.read(fd, 65536)
        if not data:
            os.close(fd)
            _write_lines(self.log, self.streams.pop(fd), self.pending.pop(fd), final=True)
            return False
        rest = _write_lines(self.log, self.streams[fd], self.pending[fd] + data)
        if len(rest) > MAX_LINE:  # a "line" without end: write it in pieces
            _write_lines(self.log, self.streams[fd], rest, final=True)
            rest = b""
        self.pending[fd] = rest
        return True

    def drain(self, timeout: float | None = None) -> None:
        """Read until every pipe has closed (timeout: seconds, then give up waiting; pipes stay open)."""
        poller = select.poll()
        for fd in self.streams:
            poller.register(fd, select.POLLIN)
        while self.streams:
            ready = poller.poll(None if timeout is None else timeout * 1000)
            if not ready:
                return
            for fd, _ in ready:
                if not self.read(fd):
                    poller.unregister(fd)

    def close(self) -> None:
        self.log.close()


def pump(streams: dict[int, str], log_path: Path) -> None:
    """Copy the container's output pipes into the log file until both close (see Pump)."""
    copier = Pump(streams, log_path)
    copier.drain()
    copier.close()


MAX_LINE = 16 * 1024  # docker's json-file driver splits long lines at 16 KiB too


class _LogFile:
    """The log, opened again after a write failed; what could not be written is dropped."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        self.file: TextIO | None = None
        self.dropped = 0

    def write(self, text: str) -> None:
        try:
            if self.file is None:
                self.file = open(self.path, "a", buffering=1)
            self.file.write(text)
        except OSError:
            self.dropped += 1
            self.close()

    def close(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass
            self.file = None


def _write_lines(log, stream: str, data: bytes, final: bool = False) -> bytes:
    """Write the complete lines in `data`; return the unfinished rest (all of it when final)."""
    *lines, rest = data.split(b"\n")
    for line in lines:
        log.write(entry(stream, line.decode(errors="replace") + "\n"))
    if final and rest:
        log.write(entry(stream, rest.decode(errors="replace")))
        return b""
    return rest


def read(log_path: Path, tail: int | None = None, follow: bool = False,
         still_running: Callable[[], bool] = lambda: False) -> Iterator[dict]:
    """The log entries, the last `tail` of them; with `follow`, new ones as they come, until the
    container has exited and everything it wrote has been read."""
    for line in lines(log_path, tail, follow, still_running):
        yield from _parse(line)


def lines(log_path: Path, tail: int | None = None, follow: bool = False,
          still_running: Callable[[], bool] = lambda: False) -> Iterator[str]:
    """The lines of a log file as they are (JSON or plain text), each with its newline.

    The last `tail` of them; with `follow`, new lines as they are completed, until
    `still_running()` is False and the rest has been read. A line still being written
    waits for its newline, so a reader never sees half of one; only a line the writer
    left unfinished when it stopped comes out without one, at the very end.
    """
    try:
        file = open(log_path, errors="replace")
    except FileNotFoundError:
        return
    with file:
        complete, partial = _split(file.read())
        if partial and not follow:  # nothing more will come: the unfinished line is the last
            complete, partial = [*complete, partial], ""
        if tail is not None:
            from collections import deque

            complete = list(deque(complete, maxlen=tail)) if tail > 0 else []
        yield from complete
        while follow:
            running = still_running()  # asked before reading: what it wrote before exiting is read
            chunk = file.read()
            if chunk:
                complete, partial = _split(partial + chunk)
                yield from complete
            elif not running:
                break
            else:
                time.sleep(0.1)
        if partial:
            yield partial


def _split(text: str) -> tuple[list[str], str]:
    """Complete lines (with their newline) and the unfinished rest of `text`."""
    *complete, rest = text.split("\n")
    return [line + "\n" for line in complete], rest


def _parse(line: str) -> Iterator[dict]:
    import json

    try:
        yield json.loads(line)
    except json.JSONDecodeError:
        return  # a line cut short by a crash: skip it
