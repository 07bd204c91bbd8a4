"""The native engine: containers made by gophernetes itself, from namespaces, mounts and cgroups."""

from __future__ import annotations

import os
from pathlib import Path

from gophernetes.engine import ContainerInfo, Engine, ImageInfo, RunRequest
from gophernetes.errors import GophernetesError, NotFound, PermissionDenied, UsageError
from gophernetes.linux import capabilities
from gophernetes.linux.cgroups.base import Limits
from gophernetes.linux.namespaces import FLAGS
from gophernetes.runtime import units
from gophernetes.runtime.spec import RunSpec, new_container_id

SHAREABLE = {"pid", "ipc", "uts", "cgroup"}


class NativeEngine(Engine):
    name = "native"

    # images: the store in gophernetes/image/

    def _store(self):
        from gophernetes.image.store import ImageStore

        return ImageStore(self.state.images)

    def pull(self, reference: str, insecure: bool = False) -> str:
        from gophernetes.image.pull import pull

        pulled, _ = pull(self._store(), reference, insecure=insecure)
        return pulled.name

    def images(self) -> list[ImageInfo]:
        return [ImageInfo(name=i.name, id=i.id, created=getattr(i, "created", "") or "", size=getattr(i, "size", 0))
                for i in self._store().list()]

    def remove_image(self, reference: str) -> None:
        self._store().remove(reference)

    # containers

    def run(self, request: RunRequest) -> int:
        spec = self.build_spec(request)
        from gophernetes.runtime.launcher import run_foreground

        return run_foreground(self.state, spec)

    def run_detached(self, request: RunRequest) -> ContainerInfo:
        raise GophernetesError("detached containers are not available on the native engine yet")

    def list(self, all: bool = False) -> list[ContainerInfo]:
        return []

    def inspect(self, name: str) -> ContainerInfo:
        raise NotFound(f"no such container: {name}")

    def logs(self, name: str, follow: bool = False, tail: int | None = None, timestamps: bool = False):
        raise NotFound(f"no such container: {name}")

    def exec(self, name, command, tty=False, interactive=False, env=None, user="", workdir="") -> int:
        raise NotFound(f"no such container: {name}")

    def pause(self, name: str) -> None:
        raise NotFound(f"no such container: {name}")

    def resume(self, name: str) -> None:
        raise NotFound(f"no such container: {name}")

    def stop(self, name: str, timeout: float = 10) -> None:
        raise NotFound(f"no such container: {name}")

    def kill(self, name: str, signal: str = "KILL") -> None:
        raise NotFound(f"no such container: {name}")

    def remove(self, name: str, force: bool = False) -> None:
        raise NotFound(f"no such container: {name}")

    def build_spec(self, request: RunRequest) -> RunSpec:
        """Validate the request completely and turn it into a RunSpec; creates nothing."""
        limits = parse_limits(request)
        caps = capabilities.effective_set(request.cap_add, request.cap_drop)
        require_root()
        container_id = new_container_id()
        lower_dirs, config = self.resolve_root(request)
        command = container_command(request, config)
        spec = RunSpec(
            id=container_id,
            command=command,
            lower_dirs=[os.fspath(d) for d in lower_dirs],
            image=request.rootfs or request.image or "busybox",
            env=list(config.get("env", [])) + list(request.env),
            working_dir=request.working_dir or config.get("working_dir") or "/",
            user=request.user or config.get("user", ""),
            hostname=request.hostname,
            namespaces=namespace_kinds(request),
            net=request.net,
            publish=list(request.publish),
            use_chroot=request.use_chroot,
            privileged=request.privileged,
            capabilities=sorted(caps),
            read_only=request.read_only,
            tty=request.tty,
            limits=limits,
        )
        if spec.net != "host":
            spec.etc_files = default_etc_files(spec.hostname or spec.short_id)
        return spec

    def resolve_root(self, request: RunRequest) -> tuple[list[Path], dict]:
        """The layers to mount (bottom first) and the image config (entrypoint, cmd, env, ...)."""
        if request.rootfs:
            rootfs = Path(request.rootfs).absolute()
            if not rootfs.is_dir():
                raise NotFound(f"root filesystem {request.rootfs} does not exist or is not a directory")
            return [rootfs], {}
        from gophernetes.image.store import ImageStore

        store = ImageStore(self.state.images)
        image = store.get(request.image) if request.image else store.default_image()
        config = image.config
        return list(image.layer_dirs), {
            "entrypoint": list(config.entrypoint or []), "cmd": list(config.cmd or []),
            "env": list(config.env or []), "working_dir": config.working_dir or "", "user": config.user or "",
        }


def require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionDenied("making a container needs root (namespaces, mounts, cgroups): "
                               "run gophernetes with sudo")


def parse_limits(request: RunRequest) -> Limits:
    """The resource options as kernel units, refusing bad values before anything is made."""
    memory = units.parse_size(request.memory, "--memory") if request.memory else None
    if memory is not None and memory < 6 * 1024 * 1024:
        raise UsageError("--memory: minimum memory limit allowed is 6MB")
    swap = units.parse_memory_swap(request.memory_swap) if request.memory_swap else None
    if swap is not None and memory is None:
        raise UsageError("--memory-swap needs --memory as well")
    if swap not in (None, -1) and swap < memory:
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


def namespace_kinds(request: RunRequest) -> list[str]:
    shared = set(request.share_namespaces)
    unknown = shared - SHAREABLE
    if unknown:
        raise UsageError(f"cannot share namespace {sorted(unknown)[0]!r} with the host")
    if request.net == "host":
        shared.add("net")
    return [kind for kind in FLAGS if kind not in shared]


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
