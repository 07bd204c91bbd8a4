"""The native engine: containers made by gophernetes itself, from namespaces, mounts and cgroups."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import asdict
from pathlib import Path

from gophernetes.engine import ContainerInfo, Engine, ImageInfo, RunRequest
from gophernetes.errors import Conflict, NotFound, PermissionDenied, UsageError
from gophernetes.linux import capabilities
from gophernetes.linux.cgroups.base import Limits
from gophernetes.linux.namespaces import FLAGS
from gophernetes.runtime import process, units
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

    def import_archive(self, path: str, name: str | None = None) -> list[str]:
        from gophernetes.image.archive import import_archive

        return [image.name for image in import_archive(self._store(), Path(path), name=name)]

    def images(self) -> list[ImageInfo]:
        return [ImageInfo(name=i.name, id=i.id, created=getattr(i, "created", "") or "", size=getattr(i, "size", 0))
                for i in self._store().list()]

    def remove_image(self, reference: str) -> list[str]:
        """Forget an image, unless a container (in any state) stacks its layers; return the names removed."""
        in_use = {layer: record.name for record in self._records().all() for layer in record.spec.lower_dirs}
        return self._store().remove(reference, in_use)

    # containers

    def run(self, request: RunRequest) -> int:
        from gophernetes.runtime.launcher import run_container

        spec = self.build_spec(request)
        record = self._records().create(spec, request.name, detached=False, auto_remove=True)
        if not (request.tty and os.isatty(0)):
            return run_container(self.state, record)
        from gophernetes.runtime import terminal

        with terminal.raw_mode(0):
            return run_container(self.state, record, console=terminal.Console())

    def run_detached(self, request: RunRequest) -> ContainerInfo:
        from gophernetes.runtime.supervisor import start_detached

        if request.tty:
            raise UsageError("-t with -d is not supported yet: run detached without a terminal, then "
                             "gophernetes exec -it NAME sh")
        spec = self.build_spec(request)
        record = self._records().create(spec, request.name, detached=True, auto_remove=request.remove_on_exit)
        start_detached(self.state, record)
        return self.inspect(record.id)

    # containers: records in gophernetes/runtime/records.py, one cgroup each

    def _records(self):
        from gophernetes.runtime.records import RecordStore

        return RecordStore(self.state)

    def _current(self, name: str):
        """The record named `name`, with its state checked against the kernel (see _observe)."""
        return self._observe(self._records().find(name))

    def _observe(self, record):
        """Repair a record whose monitor died (SIGKILL, OOM, reboot of the CLI): the container
        cannot be waited for any more, so it is killed and its resources freed, as containerd
        does when a shim dies."""
        from gophernetes.runtime import records

        state = record.state
        if state.status in (records.RUNNING, records.PAUSED, records.CREATED) and not process.is_alive(
                state.monitor_pid, state.monitor_started):
            from gophernetes.runtime.cleanup import release_resources

            release_resources(self.state, record)
            if record.auto_remove:
                shutil.rmtree(record.folder, ignore_errors=True)
                return None
            self._records().update(record, status=records.EXITED, exit_code=137, finished_at=time.time(),
                                   error="the supervisor died; the container was killed")
        return record

    def list(self, all: bool = False) -> list[ContainerInfo]:
        from gophernetes.runtime import records

        infos = []
        for record in self._records().all():
            record = self._observe(record)
            if record is None or (not all and record.state.status == records.EXITED):
                continue
            infos.append(self._info(record))
        return infos

    def inspect(self, name: str) -> ContainerInfo:
        record = self._current(name)
        if record is None:
            raise NotFound(f"no such container: {name}")
        return self._info(record)

    def _addresses(self, record) -> dict[str, str]:
        """network name -> the container's address there (attached networks included)."""
        if record.spec.net in ("none", "host"):
            return {}
        from gophernetes.network import ipam

        lease = ipam.load(self.state.networks, record.id) if self.state.networks.exists() else None
        return {endpoint.network: endpoint.address for endpoint in lease.endpoints} if lease else {}

    def _info(self, record) -> ContainerInfo:
        state = record.state
        addresses = self._addresses(record)
        return ContainerInfo(
            id=record.id, name=record.name, image=record.spec.image, command=record.spec.command,
            status=state.status, created=record.created, engine=self.name, pid=state.pid,
            exit_code=state.exit_code, finished=state.finished_at, ports=record.spec.publish,
            networks=list(addresses) or ([] if record.spec.net in ("none", "host") else [record.spec.net]),
            details={"spec": json.loads(record.spec.to_json()), "state": asdict(state), "addresses": addresses,
                     "detached": record.detached, "log_path": str(record.log_path), "folder": str(record.folder),
                     "userns": userns_details(record)})

    def _running(self, name: str, verb: str):
        from gophernetes.runtime import records

        record = self._current(name)
        if record is None:
            raise NotFound(f"no such container: {name}")
        if record.state.status != records.RUNNING:
            if record.state.status == records.PAUSED:
                raise Conflict(f"container {record.name} is paused: resume it first (gophernetes resume {name})")
            raise Conflict(f"container {record.name} is not running: cannot {verb} it")
        return record

    def _cgroup(self, record):
        from gophernetes.linux.cgroups import open_driver

        return open_driver().open(record.id)

    def logs(self, name: str, follow: bool = False, tail: int | None = None, timestamps: bool = False):
        from gophernetes.runtime import logs, records

        record = self._current(name)
        if record is None:
            raise NotFound(f"no such container: {name}")
        if not record.detached:
            raise Conflict(f"container {record.name} runs in the foreground: its output goes to its terminal, "
                           "not to a log")

        def still_running() -> bool:
            current = self._observe(self._records().reload_state(record))
            return current is not None and current.state.status in (records.RUNNING, records.PAUSED)

        for entry in logs.read(record.log_path, tail=tail, follow=follow, still_running=still_running):
            yield (f"{entry['time']} " if timestamps else "") + entry["log"]

    def exec(self, name, command, tty=False, interactive=False, env=None, user="", workdir="") -> int:
        from gophernetes.runtime import terminal
        from gophernetes.runtime.exec import exec_in_container

        if not command:
            raise UsageError("exec needs a command, e.g. gophernetes exec NAME sh")
        record = self._running(name, "exec into")
        cgroup = self._cgroup(record)
        if not (tty and os.isatty(0)):
            return exec_in_container(record.spec, record.pid, cgroup, command, env or [], user, workdir)
        with terminal.raw_mode(0):
            return exec_in_container(record.spec, record.pid, cgroup, command, env or [], user, workdir,
                                     console=terminal.Console())

    def pause(self, name: str) -> None:
        from gophernetes.runtime import records

        record = self._running(name, "pause")
        self._cgroup(record).freeze()
        self._records().update(record, status=records.PAUSED)

    def resume(self, name: str) -> None:
        from gophernetes.runtime import records

        record = self._current(name)
        if record is None:
            raise NotFound(f"no such container: {name}")
        if record.state.status != records.PAUSED:
            raise Conflict(f"container {record.name} is not paused")
        self._cgroup(record).thaw()
        self._records().update(record, status=records.RUNNING)

    def stop(self, name: str, timeout: float = 10) -> None:
        from gophernetes.runtime import records

        record = self._current(name)
        if record is None or record.state.status not in (records.RUNNING, records.PAUSED):
            if record is None:
                raise NotFound(f"no such container: {name}")
            return  # already stopped: nothing to do, as docker
        cgroup = self._cgroup(record)
        _signal(record.pid, signal.SIGTERM)
        if record.state.status == records.PAUSED:
            cgroup.thaw()  # a frozen process cannot act on SIGTERM
        if not self._wait_for_exit(record, timeout):
            cgroup.kill_all()
            self._wait_for_exit(record, 10)

    def _wait_for_exit(self, record, timeout: float) -> bool:
        from gophernetes.runtime import records

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self._observe(self._records().reload_state(record)) if record.folder.exists() else None
            if current is None or current.state.status == records.EXITED:
                return True
            time.sleep(0.05)
        return False

    def kill(self, name: str, signal_name: str = "KILL") -> None:
        record = self._running(name, "kill")
        _signal(record.pid, parse_signal(signal_name))

    def remove(self, name: str, force: bool = False) -> None:
        from gophernetes.runtime import records

        record = self._current(name)
        if record is None:
            raise NotFound(f"no such container: {name}")
        if record.state.status in (records.RUNNING, records.PAUSED):
            if not force:
                raise Conflict(f"container {record.name} is {record.state.status}: stop it first, or use rm -f")
            self._cgroup(record).kill_all()
            if record.state.status == records.PAUSED:
                self._cgroup(record).thaw()
            self._wait_for_exit(record, 10)
        with self._records().locked():
            shutil.rmtree(record.folder, ignore_errors=True)

    def prune(self) -> list[str]:
        """Remove exited containers and anything a crash left behind; return what was removed."""
        from gophernetes.runtime import records
        from gophernetes.runtime.cleanup import remove_orphans

        removed = []
        for record in self._records().all():
            record = self._observe(record)
            if record is not None and record.state.status == records.EXITED:
                shutil.rmtree(record.folder, ignore_errors=True)
                removed.append(record.name)
        removed += remove_orphans(self.state, {r.id for r in self._records().all()})
        return removed

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
            userns=userns_mode(request),
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
        if request.image in (None, "busybox", "busybox:latest"):
            image = store.default_image()  # built from the host's busybox when missing: no network needed
        else:
            image = store.get(request.image)
        config = image.config
        return list(image.layer_dirs), {
            "entrypoint": list(config.entrypoint or []), "cmd": list(config.cmd or []),
            "env": list(config.env or []), "working_dir": config.working_dir or "", "user": config.user or "",
        }


def userns_details(record) -> dict:
    """What `inspect` shows of the user namespace: the maps, as /proc/PID/uid_map and gid_map write them."""
    if record.spec.userns != "auto":
        return {"mode": "host", "uid_map": "0 0 4294967295", "gid_map": "0 0 4294967295"}
    from gophernetes.runtime import subids

    mapping = subids.load(record.folder)
    if mapping is None:
        return {"mode": "auto"}
    return {"mode": "auto", "uid_map": f"0 {mapping.uid_base} {mapping.size}",
            "gid_map": f"0 {mapping.gid_base} {mapping.size}"}


def require_root() -> None:
    """Refuse early, in one line, when this process cannot make containers at all."""
    if os.geteuid() != 0:
        raise PermissionDenied("making a container needs root (namespaces, mounts, cgroups): "
                               "run gophernetes with sudo")
    from gophernetes.linux.privileges import check_can_make_containers

    check_can_make_containers()


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


def userns_mode(request: RunRequest) -> str:
    """--userns host|auto; auto needs the PID, IPC and network namespaces that /proc, mqueue and /sys belong to."""
    if request.userns not in ("host", "auto"):
        raise UsageError(f"--userns {request.userns}: use host or auto")
    shared = [kind for kind in ("pid", "ipc") if kind in request.share_namespaces] + (
        ["net"] if request.net == "host" else [])
    if request.userns == "auto" and shared:
        raise UsageError(f"--userns auto cannot share the host's {shared[0]} namespace: its root could not mount "
                         f"the container's {dict(pid='/proc', ipc='/dev/mqueue', net='/sys')[shared[0]]}")
    return request.userns


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


def _signal(pid: int | None, number: int) -> None:
    if pid:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass
