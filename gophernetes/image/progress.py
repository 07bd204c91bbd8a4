"""What a pull prints on stderr while it works.

On a terminal: one line, redrawn in place at most ten times a second, with the layers
and bytes done so far. Elsewhere (a log, a CI job, a test): one plain line per layer
when it is done, so the output stays readable when it is not a terminal.

Used as a context manager (`with Progress() as progress:`), it ends a line it left open
on the way out, also when the pull fails: the error then starts on a line of its own
instead of running into "busybox: 1/2 layers, 1.2MB / 2.0MB".
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """Counts bytes and layers of one pull, from any number of download threads."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self._lock = threading.Lock()
        self._name = ""
        self._layers = 0
        self._done_layers = 0
        self._total = 0
        self._done = 0
        self._last_draw = 0.0
        self._open = False   # a redrawn line is on the terminal, not yet ended by a newline

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.end()

    def begin(self, name: str, layers: int, total_bytes: int = 0, verb: str = "fetching") -> None:
        with self._lock:
            self._name, self._layers, self._total = name, layers, total_bytes
            self._done_layers = self._done = 0
        if layers and not self.tty:
            amount = f", {_size(total_bytes)}" if total_bytes else ""
            self._line(f"{name}: {verb} {layers} layer(s){amount}")

    def advance(self, count: int) -> None:
        """`count` more bytes arrived (negative when a download restarts)."""
        with self._lock:
            self._done += count
            now = time.monotonic()
            if self.tty and not self.quiet and now - self._last_draw > 0.1:
                self._last_draw = now
                self._draw()

    def layer_done(self, digest: str, size: int) -> None:
        with self._lock:
            self._done_layers += 1
            if self.tty:
                self._draw()
            else:
                self._line(f"{self._name}: layer {digest[7:19]} done ({_size(size)})")

    def end(self) -> None:
        """End the redrawn line, if one is open (idempotent)."""
        if self._open:
            self._open = False
            self.stream.write("\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        self._line(text)

    def _draw(self) -> None:
        if self.quiet:
            return
        self.stream.write(f"\r{self._name}: {self._done_layers}/{self._layers} layers, "
                          f"{_size(self._done)} / {_size(self._total)}\x1b[K")
        self.stream.flush()
        self._open = True

    def _line(self, text: str) -> None:
        self.end()
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()


def _size(count: int) -> str:
    """Bytes as docker shows them: 1.2MB, 340kB (powers of 1000)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1000
    return f"{value:.1f}GB"


human_size = _size
