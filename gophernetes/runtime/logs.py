"""Container logs: every line a detached container prints, with when and on which stream.

The format is docker's json-file driver: one JSON object per line,
    {"time": "2026-11-29T12:00:00.123456Z", "stream": "stdout", "log": "hello\\n"}
so a line's stream and timestamp survive, and `logs --tail N` only reads lines.
"""

from __future__ import annotations

import json
import os
import selectors
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pump(streams: dict[int, str], log_path: Path) -> None:
    """Copy the container's output pipes into the log file, line by line, until both close.

    The pipes are always drained, even when the log cannot be written (a full disk): a
    container must never block, or die of SIGPIPE, because its log has no room. Lines that
    cannot be written are dropped, as docker's json-file driver drops them.
    """
    selector = selectors.DefaultSelector()
    pending = {fd: b"" for fd in streams}
    for fd in streams:
        selector.register(fd, selectors.EVENT_READ)
    log = _LogFile(log_path)
    while selector.get_map():
        for key, _ in selector.select():
            fd = key.fd
            data = os.read(fd, 65536)
            if not data:
                selector.unregister(fd)
                os.close(fd)
                _write_lines(log, streams[fd], pending.pop(fd), final=True)
                continue
            pending[fd] = _write_lines(log, streams[fd], pending[fd] + data)
            if len(pending[fd]) > MAX_LINE:  # a "line" without end: write it in pieces
                _write_lines(log, streams[fd], pending[fd], final=True)
                pending[fd] = b""
    log.close()


MAX_LINE = 16 * 1024  # docker's json-file driver splits long lines at 16 KiB too


class _LogFile:
    """The log, opened again after a write failed; what could not be written is dropped."""

    def __init__(self, path: Path) -> None:
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
        log.write(json.dumps({"time": timestamp(), "stream": stream,
                              "log": line.decode(errors="replace") + "\n"}) + "\n")
    if final and rest:
        log.write(json.dumps({"time": timestamp(), "stream": stream, "log": rest.decode(errors="replace")}) + "\n")
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
    try:
        yield json.loads(line)
    except json.JSONDecodeError:
        return  # a line cut short by a crash: skip it
