"""How network state is kept on disk: small JSON files, written atomically, under one lock.

Every command that changes network state (create a network, lease an address, release a
container) takes an exclusive `flock(2)` on `<networks>/.lock` first, so two `run`s
started at the same moment can never lease the same address. The kernel drops a flock
when its holder dies, so a crashed command never leaves the lock held.

A file is replaced, never edited: write a temporary file beside it, fsync it, rename it
over the old one (rename is atomic within a filesystem), fsync the directory. A reader
sees the old file or the new one, never half of either, even after a power cut.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive flock on `directory/.lock` for the duration of the block.

    man 2 flock
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def write_json(path: Path, data: Any) -> None:
    """Replace `path` with `data` as JSON, atomically (write, fsync, rename, fsync dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)
    _fsync_directory(path.parent)


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None if the file does not exist."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def remove(path: Path) -> None:
    """Remove `path` if it exists, durably."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
