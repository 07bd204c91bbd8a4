"""`ctr run` and `ctr tasks exec` in the foreground: our terminal's stdio, the container's status.

ctr exits with the container's status, and with 1 when it failed itself: then its last
stderr line starts with "ctr: ". We relay stderr as it comes and hold back such lines,
so that a failure becomes our one-line error instead of ctr's. Ctrl-C reaches ctr from
the terminal directly (ctr forwards it to the container), so we ignore it meanwhile;
a SIGTERM sent to us is passed on to ctr.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import IO, Any

from gophernetes.engines.containerd.client import Ctr, error_line
from gophernetes.engines.containerd.launch import start_error


class Attached:
    """One ctr process with our stdin (unless told otherwise), stdout and a relayed stderr."""

    def __init__(self, ctr: Ctr, argv: list[str], stdin: Any, what: str) -> None:
        self.ctr, self.what = ctr, what
        self.process = subprocess.Popen(argv, stdin=stdin, stderr=subprocess.PIPE)
        self.held: list[bytes] = []
        self.relay = threading.Thread(target=relay_stderr, args=(self.process.stderr, self.held), daemon=True)
        self.relay.start()

    def wait(self) -> int:
        """ctr's status as a container's (128 + N for a signal), or ctr's own failure raised."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        forward = signal.signal(signal.SIGTERM, lambda number, frame: self.process.send_signal(number))
        try:
            status = self.process.wait()
            self.relay.join(5)
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, forward)
        message = b"".join(self.held).decode(errors="replace")
        if status != 0 and message.startswith("ctr: "):
            raise start_error(error_line(message), self.what, self.ctr)
        if message:
            sys.stderr.write(message)
        return 128 - status if status < 0 else status


def relay_stderr(stream: IO[bytes], held: list[bytes]) -> None:
    """Copy ctr's stderr to ours as it comes, keeping back what looks like ctr's own error."""
    out = sys.stderr.buffer
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        if held or chunk.startswith(b"ctr: ") or b"\nctr: " in chunk:
            held.append(chunk)
            continue
        out.write(chunk)
        out.flush()
