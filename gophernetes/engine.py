"""The Engine interface: the verbs every engine offers, and the request a `run` makes.

The CLI builds a RunRequest from the command line and hands it to an engine: the native
engine (gophernetes/engines/native/engine.py) makes the container itself from Linux primitives;
the containerd engine asks a containerd daemon to. Both take the same request and raise
the same errors (gophernetes/errors.py).
"""

from __future__ import annotations

import os
import signal
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from gophernetes.errors import NotFound, PermissionDenied, UsageError
from gophernetes.linux.cgroups.base import Limits
from gophernetes.names import check_name
from gophernetes.paths import StateRoot
from gophernetes.runtime import units


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
    security_opt: list[str] = field(default_factory=list)  # --security-opt: seccomp=unconfined|PROFILE.json
    tty: bool = False
    memory: str | None = None
    memory_swap: str | None = None
    cpus: str | None = None
    cpu_shares: int | None = None
    pids_limit: int | None = None
    blkio_weight: int | None = None
    remove_on_exit: bool = False       # --rm for a detached container (a foreground one always goes)
    userns: str = "host"               # host | auto (root inside = a subordinate uid range outside)
    add_hosts: list[str] = field(default_factory=list)  # --add-host NAME:IP, lines of its /etc/hosts
    dns: list[str] = field(default_factory=list)        # --dns IP, the name servers of its /etc/resolv.conf
    volumes: list[str] = field(default_factory=list)    # -v HOST:CONTAINER[:ro], NAME:CONTAINER, CONTAINER
    mounts: list[str] = field(default_factory=list)     # --mount type=bind|volume|tmpfs,source=,target=,...
    tmpfs: list[str] = field(default_factory=list)      # --tmpfs CONTAINER[:size=..,mode=..]
    restart: str = "no"                                 # --restart no|on-failure[:N]|always (detached only)


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
    digest: str = ""   # the manifest's digest, where the engine keeps it
    layers: list[str] = field(default_factory=list)  # unpacked layer folders, where the engine shows them


@dataclass
class Pulled:
    """What a pull did: the image's name, its manifest digest, and whether anything new came."""

    name: str
    digest: str = ""
    downloaded: bool | None = None   # None: the engine does not say


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
    def pull(self, reference: str, insecure: bool = False, platform: str | None = None,
             progress: Any = None) -> Pulled:
        """Fetch an image (reporting to `progress`, an image.progress.Progress, if the engine can)."""

    @abstractmethod
    def import_archive(self, path: str, name: str | None = None, platform: str | None = None,
                       progress: Any = None) -> list[str]:
        """Import a `docker save` archive, an OCI layout or an oci-archive; return the image names."""

    def prune_images(self) -> list[str]:
        """Remove dangling images no container uses; return their names."""
        return []

    def build_default_image(self, name: str, source: str) -> str:
        """Build the one-layer busybox image from the host's static busybox, offline."""
        raise UsageError(f"the {self.name} engine cannot build the default image: use the native engine")

    def login(self, server: str, username: str, password: str, insecure: bool = False) -> str:
        """Check the credentials against the registry, then keep them for later pulls; return the registry."""
        from gophernetes.image.auth import Credentials, save
        from gophernetes.image.reference import Reference
        from gophernetes.image.registry import RegistryClient

        docker_hub = ("docker.io", "index.docker.io", "https://index.docker.io/v1/")
        registry = "docker.io" if server in docker_hub else server
        credentials = Credentials(username, password)
        RegistryClient(Reference(registry, "library/probe"), insecure=insecure, credentials=credentials).ping()
        save(registry, credentials, self.state.images / "auth.json")
        return registry

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
    def containers(self, all: bool = False) -> list[ContainerInfo]:
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
    def remove(self, name: str, force: bool = False, volumes: bool = False) -> None:
        """Delete a stopped container (force: stop it first; volumes: its anonymous volumes too)."""

    def start(self, name: str) -> None:
        """Start an exited (detached) container again, with the same bundle and writable layer."""
        raise UsageError(f"start is not supported with --engine {self.name}: run the container again")

    def restart(self, name: str, timeout: float = 10) -> None:
        """stop, then start (refused before the stop by an engine that cannot start a container again)."""
        raise UsageError(f"restart is not supported with --engine {self.name}: stop it and run it again")

    # volumes (issue 18): folders kept under the state root, bind-mounted into containers
    def create_volume(self, name: str | None) -> dict:
        """Make a named volume (a random name when None); return what `volume inspect` shows."""
        raise UsageError(f"volumes are not supported with --engine {self.name}: use the native engine")

    def volumes(self) -> list[dict]:
        """Every volume, as `volume inspect` shows each, with the containers using it."""
        raise UsageError(f"volumes are not supported with --engine {self.name}: use the native engine")

    def inspect_volume(self, name: str) -> dict:
        raise UsageError(f"volumes are not supported with --engine {self.name}: use the native engine")

    def remove_volume(self, name: str) -> None:
        """Delete a volume and its data, refused while a container (in any state) uses it."""
        raise UsageError(f"volumes are not supported with --engine {self.name}: use the native engine")

    def prune_volumes(self, everything: bool = False) -> list[str]:
        """Remove the volumes no container uses (anonymous ones only, unless `everything`)."""
        raise UsageError(f"volumes are not supported with --engine {self.name}: use the native engine")

    @abstractmethod
    def attach(self, name: str, network: str) -> tuple[str, str]:
        """Plug a running container into one more network; return (interface, address/prefix)."""

    @abstractmethod
    def detach(self, name: str, network: str) -> None:
        """Unplug a container from a network."""

    def prune(self) -> list[str]:
        """Remove exited containers and whatever a crash left behind; return what went."""
        return []

    def info(self) -> dict:
        """What `gophernetes info` shows about this engine."""
        return {"engine": self.name}

    # images you make (push, save; load is import_archive)
    def push(self, source: str, destination: str | None = None, insecure: bool = False,
             progress: Any = None) -> tuple[str, str]:
        """Push a stored image to a registry, the manifest last; return (reference, manifest digest)."""
        raise UsageError(f"push is not supported with --engine {self.name}")

    def save(self, images: list[str], output: str, format: str = "docker-archive") -> None:
        """Write images to a docker-archive or oci-archive tar (`-` = stdout)."""
        raise UsageError(f"save is not supported with --engine {self.name}")

    def build(self, context: str, containerfile: str | None, tag: str, build_args: dict[str, str] | None = None,
              network: str = "none", use_cache: bool = True, say: Any = None) -> tuple[str, str]:
        """Build a Containerfile in `context` into an image named `tag`; return (name, image ID)."""
        raise UsageError(f"build is not supported with --engine {self.name}: use the native engine")

    def inspect_image(self, reference: str) -> dict:
        """An image's config, layers and history, as docker image inspect shows them."""
        raise UsageError(f"image inspect is not supported with --engine {self.name}")

    # Seeing what runs (issue 18). Both engines keep a container's processes in the cgroup
    # PARENT/ID and report its init's host PID, so these work for both from inspect().

    def stats(self, names: list[str], stream: bool = True, interval: float = 1.0):
        """Yield every `interval` seconds a list of runtime.stats.ContainerStats, one per container
        (every running one when `names` is empty); only one list without `stream`."""
        from gophernetes.runtime import stats

        return stats.watch(lambda: stats.targets([self.inspect(n) for n in names] if names else self.containers()),
                           stream, interval)

    def top(self, name: str) -> list:
        """The processes of a running container as the host sees them (runtime.top.ProcessInfo)."""
        from gophernetes.linux.cgroups import open_driver
        from gophernetes.runtime import top

        return top.processes(open_driver().open(require_running(self.inspect(name), "list the processes of").id))

    def copy(self, source: str, destination: str) -> None:
        """cp between the host and a container (CONTAINER:PATH on one side), resolved in its root:
        a running one's as its init sees it, a stopped one's mounted again (stopped_root)."""
        from gophernetes.runtime import copy

        src, dst = copy.parse_copy(source, destination)
        info = self.inspect(src.container or dst.container or "")
        if info.status in ("running", "paused") and info.pid:
            copy.copy_with_container(src, dst, info.pid)
        else:
            copy.copy_with_stopped(src, dst, self.stopped_root(info))

    def stopped_root(self, info: ContainerInfo):
        """How to mount the root filesystem of the stopped container `info` (runtime.copy.StoppedRoot)."""
        from gophernetes.errors import Conflict

        raise Conflict(f"container {info.name} is not running: cannot copy files of it")

    def port(self, name: str, wanted: str | None = None) -> list[str]:
        """The container's published ports as docker port prints them ("80/tcp -> 0.0.0.0:8080")."""
        from gophernetes.network import published

        return [published.describe(m) for m in published.select(self.inspect(name).ports, wanted)]

    def rename(self, old: str, new: str) -> None:
        """Give a container another name."""
        raise UsageError(f"the {self.name} engine cannot rename containers")

    def wait(self, name: str) -> int:
        """Block until the container has exited; return its exit status."""
        from gophernetes.runtime.waiting import wait_for

        return wait_for(lambda: self.inspect(name))


# ---------------------------------------------------------------- request validation
# What every engine checks before it makes anything: the same request gets the same
# answer from both engines (and the same one-line error).


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # docker's, both engines


def new_container_id() -> str:
    """64 hex digits, as docker's IDs; the first 12 are the short form and default hostname."""
    return os.urandom(32).hex()


def require_root() -> None:
    """Refuse early, in one line, when this process cannot make containers at all."""
    if os.geteuid() != 0:
        raise PermissionDenied("making a container needs root (namespaces, mounts, cgroups): "
                               "run gophernetes with sudo")
    from gophernetes.linux.privileges import check_can_make_containers

    check_can_make_containers()


def check_request(request: RunRequest) -> None:
    """What can be refused from the request alone, before any image is looked up."""
    if request.name is not None:
        check_name(request.name)
    check_environment(request.env)
    if request.add_hosts or request.dns:  # the network package costs a `run --net none` ~20 ms to import
        from gophernetes.network import etc_overrides

        etc_overrides.check(request.add_hosts, request.dns, request.net)
    check_mounts_and_restart(request)


def check_mounts_and_restart(request: RunRequest) -> None:
    """-v/--mount/--tmpfs parse (gophernetes/mount_specs.py), --restart parses and is kept by a
    supervisor: only for a detached container without --rm (docker refuses --rm with it too)."""
    if not (request.volumes or request.mounts or request.tmpfs or request.restart != "no"):
        return  # the common `run`: nothing to import
    from gophernetes import mount_specs, restart_policy

    specs = mount_specs.parse_all(request.volumes, request.mounts, request.tmpfs)
    if request.userns == "auto" and any(spec.type == mount_specs.VOLUME for spec in specs):
        raise UsageError("volumes with --userns auto are not supported: a volume's files belong to the host's "
                         "root, which the remapped root cannot write; bind a folder it owns with -v /PATH:/DST")
    policy = restart_policy.parse(request.restart)
    if policy.name != restart_policy.NO and request.remove_on_exit:
        raise UsageError(f"--restart {request.restart} and --rm cannot be used together")


def check_bind_sources(specs) -> None:
    """A bind mount's host path must exist: refused in one line (docker's -v would create it, and
    a typo would become an empty root-owned folder on the host). `specs`: mount_specs.MountSpec."""
    for spec in specs:
        if spec.type == "bind" and not os.path.exists(spec.source):
            raise NotFound(f"bind mount source {spec.source} does not exist on the host: create it first "
                           f"(gophernetes does not create it, unlike docker's -v)")


def check_environment(variables: list[str]) -> None:
    """-e KEY=VALUE (or KEY=): refuse what execve's environment cannot carry, as docker does."""
    for variable in variables:
        key = variable.partition("=")[0]
        if not key or "\0" in variable:
            raise UsageError(f"invalid environment variable {variable!r}: use KEY=VALUE with a non-empty KEY")


def parse_limits(request: RunRequest) -> Limits:
    """The resource options as kernel units, refusing bad values before anything is made."""
    memory = units.parse_size(request.memory, "--memory") if request.memory else None
    if memory is not None and memory < 6 * 1024 * 1024:
        raise UsageError("--memory: minimum memory limit allowed is 6MB")
    swap = units.parse_memory_swap(request.memory_swap) if request.memory_swap else None
    if swap is not None and memory is None:
        raise UsageError("--memory-swap needs --memory as well")
    if swap is not None and memory is not None and swap != -1 and swap < memory:
        raise UsageError("--memory-swap must be at least --memory (it counts memory plus swap)")
    if request.cpu_shares is not None and request.cpu_shares < 2:
        raise UsageError("--cpu-shares must be at least 2")
    if request.blkio_weight is not None and not 10 <= request.blkio_weight <= 1000:
        raise UsageError("--blkio-weight must be between 10 and 1000")
    return Limits(
        memory=memory,
        memory_swap=swap,
        cpus=units.parse_cpus(request.cpus) if request.cpus else None,
        cpu_shares=request.cpu_shares,
        pids=request.pids_limit,
        blkio_weight=request.blkio_weight,
    )


def container_command(request: RunRequest, config: dict) -> list[str]:
    """Entrypoint + Cmd as docker combines them: a given command replaces Cmd, not Entrypoint."""
    entrypoint = [request.entrypoint] if request.entrypoint else config.get("entrypoint", [])
    if request.entrypoint == "":
        entrypoint = []
    command = list(request.command) or ([] if request.entrypoint else config.get("cmd", []))
    argv = list(entrypoint) + command
    if not argv:
        raise UsageError("no command given and the image has none: say what to run, e.g. /bin/sh")
    return argv


def default_etc_files(hostname: str) -> dict[str, str]:
    """/etc/hostname and a minimal /etc/hosts, as docker writes for every container."""
    hosts = (f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n")
    return {"/etc/hostname": hostname + "\n", "/etc/hosts": hosts}


def parse_signal(name: str) -> int:
    """'TERM', 'SIGTERM', 'term' or '15' -> 15."""
    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    try:
        return signal.Signals["SIG" + text.removeprefix("SIG")].value
    except KeyError:
        raise UsageError(f"invalid signal {name!r} (e.g. TERM, KILL, HUP or 15)") from None


def seccomp_option(request: RunRequest, caps: frozenset[str]) -> tuple[str, dict | None]:
    """--security-opt seccomp=...: ("default", None), ("unconfined", None) or (FILE, its profile).

    --privileged runs unconfined, whatever else is asked, as docker does. Calls a custom
    profile names that this machine does not know are ignored with a warning, as runc does.
    """
    setting = "default"
    for option in request.security_opt:
        key, separator, value = option.partition("=")
        if key != "seccomp" or not separator or not value:
            raise UsageError(f"--security-opt {option}: only seccomp=unconfined or seccomp=PROFILE.json "
                             "is supported")
        setting = value
    if request.privileged or setting == "unconfined":
        return "unconfined", None
    if setting == "default":
        return "default", None
    from gophernetes.linux import seccomp, seccomp_profile

    profile = seccomp_profile.load_file(setting)
    unknown = seccomp.unknown_names(seccomp_profile.resolve(seccomp_profile.from_json(profile, setting), caps))
    if unknown:
        print(f"gophernetes: warning: seccomp profile {setting}: unknown system calls ignored: {', '.join(unknown)}",
              file=sys.stderr)
    return os.path.abspath(setting), profile


def require_running(info: ContainerInfo, verb: str) -> ContainerInfo:
    """`info` if its container is running or paused (it has processes), else a Conflict naming it."""
    from gophernetes.errors import Conflict

    if info.status not in ("running", "paused") or not info.pid:
        raise Conflict(f"container {info.name} is not running: cannot {verb} it")
    return info
