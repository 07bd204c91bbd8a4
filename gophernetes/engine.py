"""The Engine interface: the verbs every engine offers, and the request a `run` makes.

The CLI builds a RunRequest from the command line and hands it to an engine: the native
engine (gophernetes/engines/native.py) makes the container itself from Linux primitives;
the containerd engine asks a containerd daemon to. Both take the same request and raise
the same errors (gophernetes/errors.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from gophernetes.paths import StateRoot


@dataclass
class RunRequest:
    """What the user asked `run` for, before any image is looked up or anything created."""

    image: str | None                  # image reference; None = the default image
    command: list[str] = field(default_factory=list)  # empty = the image's Entrypoint/Cmd
    rootfs: str | None = None          # a directory to use instead of an image
    name: str | None = None
    hostname: str = ""
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    entrypoint: str | None = None
    net: str = "bridge"
    publish: list[str] = field(default_factory=list)
    share_namespaces: list[str] = field(default_factory=list)  # kinds shared with the host: pid, ipc, uts, cgroup
    use_chroot: bool = False
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    read_only: bool = False
    tty: bool = False
    memory: str | None = None
    memory_swap: str | None = None
    cpus: str | None = None
    cpu_shares: int | None = None
    pids_limit: int | None = None
    blkio_weight: int | None = None


class Engine(ABC):
    """The verbs of gophernetes, whatever makes the containers."""

    name: str

    def __init__(self, state: StateRoot) -> None:
        self.state = state

    @abstractmethod
    def run(self, request: RunRequest) -> int:
        """Run a container in the foreground with our stdio; return its exit status."""


def get_engine(name: str, state: StateRoot) -> Engine:
    """The engine called `name` ("native" or "containerd")."""
    if name == "native":
        from gophernetes.engines.native import NativeEngine
        return NativeEngine(state)
    if name == "containerd":
        from gophernetes.engines.containerd import ContainerdEngine  # type: ignore[import-not-found]
        return ContainerdEngine(state)
    from gophernetes.errors import UsageError
    raise UsageError(f"unknown engine {name!r}: use native or containerd")
