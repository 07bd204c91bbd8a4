"""What gophernetes keeps beside containerd: one folder per container, and its removal.

containerd holds the container's record, snapshot and task. What it has no notion of
lives under the state root, in STATE_RUN/containerd/ID/:

    log          the container's stdout and stderr, appended by the shim (detached runs)
    exit-status  the status the supervisor saw, written when the task ended (its mtime:
                 when); containerd forgets it once the task is deleted
    ctr-errors   what `ctr run` said on stderr, to tell a failed start from a container
    ns/net ns/uts  the pinned namespaces runc joins (linux/pinned_namespaces.py)
    etc/         hostname, hosts, resolv.conf, bind-mounted read-only into the container
    seccomp.json the seccomp profile handed to runc

plus a `.lock` beside the folders that makes "is the name free? create it" one step.
Removing a container undoes all of it: the network lease and veth, the pins, a cgroup
runc left, the folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gophernetes.errors import GophernetesError
from gophernetes.paths import StateRoot


@dataclass(frozen=True)
class Folder:
    """One container's folder under the state root, and the files in it."""

    path: Path

    @property
    def log(self) -> Path:
        return self.path / "log"

    @property
    def exit_file(self) -> Path:
        return self.path / "exit-status"

    @property
    def ctr_errors(self) -> Path:
        return self.path / "ctr-errors"

    @property
    def namespaces(self) -> Path:
        return self.path / "ns"

    @property
    def etc(self) -> Path:
        return self.path / "etc"

    @property
    def seccomp_profile(self) -> Path:
        return self.path / "seccomp.json"

    def exit_status(self) -> int | None:
        """What the supervisor wrote when the task ended, or None while it runs (or never ran detached)."""
        try:
            return int(self.exit_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def finished(self) -> float | None:
        """When the task ended (the exit-status file's mtime), if it has."""
        try:
            return self.exit_file.stat().st_mtime
        except FileNotFoundError:
            return None

    def write_exit_status(self, status: int) -> None:
        """Write the status atomically: a reader sees no file or the whole number, never half."""
        partial = self.exit_file.with_name(self.exit_file.name + ".tmp")
        partial.write_text(f"{status}\n")
        os.replace(partial, self.exit_file)


class Folders:
    """The folders of one state root's containerd containers."""

    def __init__(self, state: StateRoot) -> None:
        self.state = state
        self.home = state.run / "containerd"

    def folder(self, container_id: str) -> Folder:
        return Folder(self.home / container_id)

    def ids(self) -> list[str]:
        """The containers that have a folder (containerd may have forgotten some: see prune)."""
        if not self.home.is_dir():
            return []
        return sorted(entry.name for entry in self.home.iterdir() if entry.is_dir() and not entry.name.startswith("."))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One `run` at a time decides on names: an exclusive lock on a file under the state root."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def clean_up(self, container_id: str) -> None:
        """Undo what we made around containerd: network lease and veth, pinned namespaces,
        a cgroup runc left (and our parent cgroup once empty), the container's folder."""
        from gophernetes import network
        from gophernetes.linux import pinned_namespaces
        from gophernetes.linux.cgroups import open_driver

        folder = self.folder(container_id)
        with contextlib.suppress(GophernetesError):
            network.release_container(self.state, container_id)
        pinned_namespaces.unpin(folder.namespaces)
        with contextlib.suppress(GophernetesError, OSError):
            open_driver().adopt(container_id).remove()
        shutil.rmtree(folder.path, ignore_errors=True)
