"""A pull's progress line on a terminal: redrawn in place, and always ended before anything else is said."""

from __future__ import annotations

import io

import pytest

from gophernetes.errors import GophernetesError
from gophernetes.image.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_failed_pull_leaves_its_error_on_a_line_of_its_own():
    screen = Terminal()
    with pytest.raises(GophernetesError), Progress(screen) as progress:
        progress.begin("busybox", 2, 2000)
        progress.layer_done("sha256:" + "a" * 64, 1000)
        raise GophernetesError("registry went away")
    assert screen.getvalue().endswith("1/2 layers, 0B / 2.0kB\x1b[K\n")


def test_a_message_after_a_redrawn_line_starts_a_new_line():
    screen = Terminal()
    with Progress(screen) as progress:
        progress.begin("busybox", 1, 1000)
        progress.layer_done("sha256:" + "b" * 64, 1000)
        progress.message("warning: built for arm64")
    assert "\x1b[K\nwarning: built for arm64\n" in screen.getvalue()
    assert not screen.getvalue().endswith("\n\n")  # ended once, not twice


def test_off_a_terminal_one_plain_line_per_layer():
    log = io.StringIO()
    with Progress(log) as progress:
        progress.begin("busybox", 1, 1000)
        progress.layer_done("sha256:" + "c" * 64, 1000)
    assert log.getvalue() == "busybox: fetching 1 layer(s), 1.0kB\nbusybox: layer cccccccccccc done (1.0kB)\n"
