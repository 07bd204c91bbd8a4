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
    remove_on_exit: bool = False       # --rm for a detached container (a foreground one always goes)
    userns: str = "host"               # host | auto (root inside = a subordinate uid range outside)


@dataclass
class ContainerInfo:
    """One container as `list`, `inspect` and scripts see it, whatever the engine."""

    id: str
    name: str
    image: str
    command: list[str]
    status: str                 # created | running | paused | exited
    created: float              # seconds since the epoch
    engine: str
    pid: int | None = None      # host PID of the container's init while it runs
    exit_code: int | None = None
    finished: float | None = None
    ports: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # engine-specific extras for `inspect`


@dataclass
class ImageInfo:
    name: str          # repository:tag
    id: str            # sha256:...
    created: str       # RFC 3339, or ""
    size: int          # bytes


class Engine(ABC):
    """The verbs of gophernetes, whatever makes the containers.

    Containers are named by NAME or (a prefix of) ID everywhere. Unknown containers raise
    errors.NotFound, clashes (name taken, container not running, already paused)
    errors.Conflict, all with one line that says what to do.
    """

    name: str

    def __init__(self, state: StateRoot) -> None:
        self.state = state

    # images
    @abstractmethod
    def pull(self, reference: str, insecure: bool = False) -> str:
        """Fetch an image; return its normalized name."""

    @abstractmethod
    def import_archive(self, path: str, name: str | None = None) -> list[str]:
        """Import a `docker save` archive, an OCI layout or an oci-archive; return the image names."""

    @abstractmethod
    def images(self) -> list[ImageInfo]:
        """The images this engine has."""

    @abstractmethod
    def remove_image(self, reference: str) -> list[str] | None:
        """Forget an image (its layers go when nothing uses them); the names removed, if known."""

    # containers
    @abstractmethod
    def run(self, request: RunRequest) -> int:
        """Run a container in the foreground with our stdio; return its exit status."""

    @abstractmethod
    def run_detached(self, request: RunRequest) -> ContainerInfo:
        """Start a container in the background under request.name; return at once."""

    @abstractmethod
    def list(self, all: bool = False) -> list[ContainerInfo]:
        """Running (and paused) containers; with all=True exited ones too."""

    @abstractmethod
    def inspect(self, name: str) -> ContainerInfo:
        """Everything known about one container."""

    @abstractmethod
    def logs(self, name: str, follow: bool = False, tail: int | None = None, timestamps: bool = False):
        """Yield the container's output lines (str, with newline); with follow, until it exits."""

    @abstractmethod
    def exec(self, name: str, command: list[str], tty: bool = False, interactive: bool = False,
             env: list[str] | None = None, user: str = "", workdir: str = "") -> int:
        """Run a command inside a running container; return its exit status."""

    @abstractmethod
    def pause(self, name: str) -> None:
        """Freeze every process of the container."""

    @abstractmethod
    def resume(self, name: str) -> None:
        """Thaw a paused container."""

    @abstractmethod
    def stop(self, name: str, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""

    @abstractmethod
    def kill(self, name: str, signal_name: str = "KILL") -> None:
        """Send a signal to the container's init."""

    @abstractmethod
    def remove(self, name: str, force: bool = False) -> None:
        """Delete a stopped container (force: stop it first)."""

    def prune(self) -> list[str]:
        """Remove exited containers and whatever a crash left behind; return what went."""
        return []

    def info(self) -> dict:
        """What `gophernetes info` shows about this engine."""
        return {"engine": self.name}


def get_engine(name: str, state: StateRoot, containerd_address: str | None = None) -> Engine:
    """The engine called `name` ("native" or "containerd")."""
    if name == "native":
        from gophernetes.engines.native import NativeEngine
        return NativeEngine(state)
    if name == "containerd":
        from gophernetes.engines.containerd import ContainerdEngine
        return ContainerdEngine(state, containerd_address)
    from gophernetes.errors import UsageError
    raise UsageError(f"unknown engine {name!r}: use native or containerd")
