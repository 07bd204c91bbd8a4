"""The native engine: containers made by gophernetes itself, from namespaces, mounts and cgroups."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from gophernetes.engine import (
    ContainerInfo,
    Engine,
    ImageInfo,
    Pulled,
    RunRequest,
    check_bind_sources,
    check_request,
    container_command,
    default_etc_files,
    parse_limits,
    parse_signal,
    require_root,
    seccomp_option,
)
from gophernetes.engines.native.spec import RunSpec, new_container_id
from gophernetes.errors import Conflict, GophernetesError, NotFound, UsageError
from gophernetes.runtime import process

SHAREABLE = {"pid", "ipc", "uts", "cgroup"}


class NativeEngine(Engine):
    name = "native"

    # images: the store in gophernetes/image/

    def _store(self):
        from gophernetes.image.store import ImageStore

        return ImageStore(self.state.images)

    def pull(self, reference: str, insecure: bool = False, platform: str | None = None,
             progress=None) -> Pulled:
        from gophernetes.image.pull import pull

        pulled, downloaded = pull(self._store(), reference, insecure=insecure, platform=platform,
                                  progress=progress)
        return Pulled(pulled.name, pulled.manifest_digest, downloaded)

    def import_archive(self, path: str, name: str | None = None, platform: str | None = None,
                       progress=None) -> list[str]:
        from gophernetes.image.archive import import_archive

        return [image.name for image in import_archive(self._store(), Path(path), name=name, platform=platform,
                                                       progress=progress)]

    def images(self) -> list[ImageInfo]:
        return [ImageInfo(name=i.name, id=i.id, created=getattr(i, "created", "") or "", size=getattr(i, "size", 0),
                          digest=i.manifest_digest, layers=[str(d) for d in i.layer_dirs])
                for i in self._store().images()]

    def _layers_in_use(self) -> dict[str, str]:
        """Layer directory -> a container (in any state) whose root filesystem stacks it."""
        return {layer: record.name for record in self._records().all() for layer in record.spec.lower_dirs}

    def remove_image(self, reference: str) -> list[str]:
        """Forget an image, unless a container (in any state) stacks its layers; return the names removed."""
        return self._store().remove(reference, self._layers_in_use())

    def prune_images(self) -> list[str]:
        return self._store().prune(self._layers_in_use())

    def build_default_image(self, name: str, source: str) -> str:
        from gophernetes.image import busybox
        from gophernetes.image.reference import parse

        return busybox.build(self._store(), parse(name).name, Path(source)).name

    # networks of a running container

    def attach(self, name: str, network: str) -> tuple[str, str]:
        from gophernetes import network as networks

        record = self._running(name, "attach")
        attachment = networks.attach(self.state, record.id, record.pid, network)
        # kept on the record: ps lists it, and rm frees its lease even for a --net none container
        self._records().update(record, networks=sorted({*record.state.networks, network}))
        return attachment.ifname, attachment.address

    def detach(self, name: str, network: str) -> None:
        from gophernetes import network as networks

        record = self._current(name)
        if record is None:
            raise NotFound(f"no such container: {name}")
        networks.detach(self.state, record.id, network)
        self._records().update(record, networks=[name for name in record.state.networks if name != network])

    # containers

    def run(self, request: RunRequest) -> int:
        if request.restart != "no":
            raise UsageError(f"--restart {request.restart} needs -d: a foreground container is removed when "
                             "it exits; its supervisor keeps the policy of a detached one")
        self.prepare_image(request)
        spec = self.build_spec(request)
        try:
            return self._run_foreground(request, spec)
        finally:  # a foreground container always goes, and its anonymous volumes with it (docker's --rm)
            self._remove_anonymous_volumes(spec)

    def _run_foreground(self, request: RunRequest, spec: RunSpec) -> int:
        from gophernetes.engines.native.run import run_container

        record, config = self._create(spec, request.name, detached=False, auto_remove=True)
        network = self._network(spec, record.name)
        if not (request.tty and os.isatty(0)):
            if not any(os.isatty(fd) for fd in (0, 1, 2)):
                # files and pipes are handed over as they are
                return run_container(self.state, record, network=network, config=config)
            from gophernetes.runtime import terminal

            with terminal.Relay() as relay:  # never our terminal: pipes, copied (runtime/terminal.py)
                return run_container(self.state, record, stdio=relay.stdio, on_started=relay.started,
                                     network=network, config=config)
        from gophernetes.runtime import terminal

        with terminal.raw_mode(0):
            return run_container(self.state, record, console=terminal.Console(), network=network, config=config)

    def run_detached(self, request: RunRequest) -> ContainerInfo:
        from gophernetes.engines.native.supervisor import start_detached

        if request.tty:
            raise UsageError("-t with -d is not supported yet: run detached without a terminal, then "
                             "gophernetes exec -it NAME sh")
        self.prepare_image(request)
        spec = self.build_spec(request)
        try:
            record, config = self._create(spec, request.name, detached=True, auto_remove=request.remove_on_exit)
            start_detached(self.state, record, network=self._network(spec, record.name), config=config)
        except BaseException:
            self._remove_anonymous_volumes(spec)  # the record went with the failure: so do they
            raise
        return self.inspect(record.id)

    def restart(self, name: str, timeout: float = 10) -> None:
        self.stop(name, timeout)
        self.start(name)

    def start(self, name: str) -> None:
        """A stopped detached container under a new supervisor: the same config.json and record,
        its writable layer as it was left (docker start)."""
        from gophernetes.engines.native import records
        from gophernetes.engines.native.supervisor import start_detached

        record = self._current(name)
        if record is None:
            raise NotFound(f"no such container: {name}")
        if record.state.status in (records.RUNNING, records.PAUSED):
            return  # already running: nothing to do, as docker
        if process.is_alive(record.state.monitor_pid, record.state.monitor_started):
            raise Conflict(f"container {record.name} is restarting (its --restart policy): stop it first")
        if not record.detached:
            raise Conflict(f"container {record.name} ran in the foreground: run it again instead")
        self._records().update(record, status=records.CREATED, exit_code=None, finished_at=None, error="",
                               oom_killed=False, manually_stopped=False, restart_count=0)
        start_detached(self.state, record, network=self._network(record.spec, record.name))

    # containers: records in gophernetes/engines/native/records.py, one cgroup each

    def _create(self, spec: RunSpec, name: str | None, detached: bool, auto_remove: bool):
        """Write the container's folder whole: the record, and the OCI bundle's config.json
        (engines/native_bundle.py) with the /etc files it binds, in one atomic rename.
        Returns the record and the config as written (the runtime need not read it back)."""
        folder = self.state.containers / spec.id
        made = {}

        def bundle_files(draft: Path) -> dict[str, str]:
            mapping = None
            if spec.userns == "auto":  # under the records lock: no other container takes the same block
                from gophernetes.runtime import subids

                mapping = subids.allocate(self.state.containers, draft)
            made["config"], files = self._bundle_files(spec, folder, mapping)
            return files
        record = self._records().create(spec, name, detached=detached, auto_remove=auto_remove, files=bundle_files)
        return record, made["config"]

    def _bundle_files(self, spec: RunSpec, folder: Path, mapping):
        """The config, and config.json with the /etc files it binds (hosts, hostname, resolv.conf)
        as name -> text."""
        from gophernetes.engines.native import bundle as native_bundle
        from gophernetes.linux.cgroups import default_parent

        etc: dict[str, str] = {}
        if spec.net != "host":
            etc = default_etc_files(spec.hostname or spec.short_id)
        shared_hosts = None
        if spec.net not in ("none", "host"):
            from gophernetes.network import hosts

            shared_hosts = self.state.networks / "hosts" / spec.net  # see network/__init__.py
            etc["/etc/resolv.conf"] = hosts.resolv_conf()
            if spec.add_hosts:  # extra names: a file of its own, the network's lines as they are now
                etc["/etc/hosts"] = hosts.read(shared_hosts)
            else:
                del etc["/etc/hosts"]
        if spec.add_hosts or spec.dns:  # imported only then: see engine.check_request
            from gophernetes.network import etc_overrides

            etc = etc_overrides.apply(etc, spec.add_hosts, spec.dns)
        files, etc_sources = {}, {}
        for path, text in etc.items():
            files[native_bundle.ETC_FILES[path]] = text
            etc_sources[path] = str(folder / native_bundle.ETC_FILES[path])
        if shared_hosts is not None and not spec.add_hosts:
            etc_sources["/etc/hosts"] = str(shared_hosts)
        seccomp = None
        if spec.seccomp_program and not spec.privileged:
            seccomp = native_bundle.seccomp_document(Path(spec.seccomp_program), spec.seccomp_profile,
                                                     spec.capabilities)
        config = native_bundle.make_config(spec, folder, etc_sources, seccomp,
                                           f"/{default_parent().strip('/')}/{spec.id}", mapping)
        files["config.json"] = config.to_json()
        return config, files

    def _network(self, spec: RunSpec, name: str | None):
        """The outside work before "go" on a named network: a lease now, undone by the launcher's
        cleanup; the veth plugged into PID 1's namespace later. None for --net none/host."""
        if spec.net in ("none", "host"):
            return None
        state, hostname = self.state, spec.hostname or spec.short_id

        def allocate(cleanup):
            from gophernetes import network

            attachment = network.allocate(state, spec.id, spec.net, spec.publish, hostname,
                                          aliases=[name] if name and name != hostname else [])
            cleanup.callback(attachment.release)
            if spec.add_hosts:  # its own /etc/hosts: the network's lines now its lease is in, then its extras
                from gophernetes.network import etc_overrides, hosts

                own = etc_overrides.apply({"/etc/hosts": hosts.read(attachment.hosts_path)}, spec.add_hosts, [])
                (state.containers / spec.id / "hosts").write_text(own["/etc/hosts"])  # bound at start, after this
            return attachment.plug
        return allocate

    def _records(self):
        from gophernetes.engines.native.records import RecordStore

        return RecordStore(self.state)

    def _current(self, name: str, repair: bool = True):
        """The record named `name`, with its state checked against the kernel: repaired (see
        _repair) for the commands that change a container, only observed for those that read.

        A record that cannot be read stops every verb but `rm -f` with one line naming it.
        """
        from gophernetes.engines.native.records import Damaged

        found = self._records().find(name)
        if isinstance(found, Damaged):
            raise GophernetesError(str(found))
        return self._repair(found) if repair else self._observe(found)

    def _observe(self, record):
        """The record as it really is, changing nothing: a container whose monitor died
        (SIGKILL, OOM, reboot of the CLI) cannot be waited for any more, so it is shown as
        exited (its init dies with its monitor: PR_SET_PDEATHSIG) until a command that
        changes state (_repair) or `prune` frees what it left."""
        import dataclasses

        from gophernetes.engines.native import records

        state = record.state
        if state.status in (records.RUNNING, records.PAUSED, records.CREATED) and not process.is_alive(
                state.monitor_pid, state.monitor_started):
            seen = dataclasses.replace(state, status=records.EXITED, exit_code=137,
                                       error="the supervisor died; the container was killed")
            return dataclasses.replace(record, state=seen)
        return record

    def _repair(self, record):
        """Make the record true, as containerd does when a shim dies: kill what is left of a
        container whose monitor died, free its cgroup and lease, record it as exited (or forget
        it, for --rm). None when it is gone."""
        from gophernetes.engines.native import records

        seen = self._observe(record)
        if seen is record:
            return record
        from gophernetes.engines.native.cleanup import release_resources

        release_resources(self.state, record)
        if record.auto_remove:
            self._records().delete(record)
            return None
        self._records().update(record, status=records.EXITED, exit_code=137, finished_at=time.time(),
                               error=seen.state.error)
        return record

    def containers(self, all: bool = False) -> list[ContainerInfo]:
        from gophernetes.engines.native import records

        infos = []
        found, damaged = self._records().scan()
        for record in found:
            record = self._observe(record)
            if record is None or (not all and record.state.status == records.EXITED):
                continue
            infos.append(self._info(record))
        return infos + [self._damaged_info(d) for d in damaged]

    def _damaged_info(self, damaged) -> ContainerInfo:
        """A container whose record cannot be read: listed, so that it can be found and removed."""
        return ContainerInfo(id=damaged.id, name=damaged.name or "", image="?", command=[], status="damaged",
                             created=damaged.folder.stat().st_mtime if damaged.folder.exists() else 0.0,
                             engine=self.name, details={"error": str(damaged), "folder": str(damaged.folder)})

    def inspect(self, name: str) -> ContainerInfo:
        from gophernetes.engines.native.records import Damaged

        found = self._records().find(name)
        if isinstance(found, Damaged):
            return self._damaged_info(found)
        record = self._observe(found)
        if record is None:
            raise NotFound(f"no such container: {name}")
        return self._info(record)

    def _addresses(self, record) -> dict[str, str]:
        """network name -> the container's address there (attached networks included)."""
        if record.spec.net in ("none", "host") and not record.state.networks:
            return {}
        from gophernetes.network import ipam

        networks = self._networks()
        lease = ipam.load(networks, record.id) if networks.exists() else None
        return {endpoint.network: endpoint.address for endpoint in lease.endpoints} if lease else {}

    def _networks(self) -> Path:
        """state.networks, found once per command: it stats our network namespace (`ps` asks per container)."""
        if getattr(self, "_networks_dir", None) is None:
            self._networks_dir = self.state.networks
        return self._networks_dir

    def _info(self, record) -> ContainerInfo:
        from gophernetes.engines.native import records

        state = record.state
        addresses = self._addresses(record)
        status = state.status
        if status == records.EXITED and record.spec.restart != "no" and not state.manually_stopped and \
                process.is_alive(state.monitor_pid, state.monitor_started):
            status = "restarting"  # exited, and its supervisor is waiting to start it again (docker's word)
        return ContainerInfo(
            id=record.id, name=record.name, image=record.spec.image, command=record.spec.command,
            status=status, created=record.created, engine=self.name, pid=state.pid,
            exit_code=state.exit_code, finished=state.finished_at, ports=record.spec.publish,
            networks=list(addresses) or ([] if record.spec.net in ("none", "host") else [record.spec.net]),
            details={"spec": record.spec.to_dict(), "state": dict(vars(state)), "addresses": addresses,
                     "detached": record.detached, "log_path": str(record.log_path), "folder": str(record.folder),
                     "bundle": str(record.folder / "config.json"),
                     "userns": userns_details(record),
                     "mounts": record.spec.mounts, "restart_policy": record.spec.restart,
                     "restart_count": state.restart_count})

    def _running(self, name: str, verb: str):
        from gophernetes.engines.native import records

        record = self._current(name)
        if record is None:
            raise NotFound(f"no such container: {name}")
        if record.state.status != records.RUNNING:
            if record.state.status == records.PAUSED:
                raise Conflict(f"container {record.name} is paused: resume it first (gophernetes resume {name})")
            raise Conflict(f"container {record.name} is not running: cannot {verb} it")
        return record

    def _has_processes(self, record) -> bool:
        """Whether the container's cgroup still holds a process (False when it has no cgroup left)."""
        cgroup = self._cgroup(record)
        return bool(cgroup.directories() and cgroup.pids())

    def _cgroup(self, record):
        from gophernetes.linux.cgroups import open_driver

        return open_driver().open(record.id)

    def logs(self, name: str, follow: bool = False, tail: int | None = None, timestamps: bool = False):
        from gophernetes.engines.native import records
        from gophernetes.runtime import logs

        record = self._current(name, repair=False)
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
        from gophernetes.engines.native.run import container_of
        from gophernetes.runtime.exec import exec_in_container

        if not command:
            raise UsageError("exec needs a command, e.g. gophernetes exec NAME sh")
        record = self._running(name, "exec into")
        cgroup = self._cgroup(record)
        container = container_of(record)
        if not (tty and os.isatty(0)):
            if not any(os.isatty(fd) for fd in (0, 1, 2)):
                return exec_in_container(container, record.pid, cgroup, command, env or [], user, workdir)
        from gophernetes.runtime import terminal  # socket, tty: only for a terminal

        if not (tty and os.isatty(0)):
            with terminal.Relay() as relay:  # never our terminal: pipes, copied (runtime/terminal.py)
                return exec_in_container(container, record.pid, cgroup, command, env or [], user, workdir,
                                         relay=relay)
        with terminal.raw_mode(0):
            return exec_in_container(container, record.pid, cgroup, command, env or [], user, workdir,
                                     console=terminal.Console())

    def pause(self, name: str) -> None:
        from gophernetes.engines.native import records

        record = self._running(name, "pause")
        self._cgroup(record).freeze()
        self._records().update(record, status=records.PAUSED)

    def resume(self, name: str) -> None:
        from gophernetes.engines.native import records

        record = self._current(name)
        if record is None:
            raise NotFound(f"no such container: {name}")
        if record.state.status != records.PAUSED:
            raise Conflict(f"container {record.name} is not paused")
        self._cgroup(record).thaw()
        self._records().update(record, status=records.RUNNING)

    def stop(self, name: str, timeout: float = 10) -> None:
        from gophernetes.engines.native import records

        record = self._current(name)
        if record is None:
            raise NotFound(f"no such container: {name}")
        if record.spec.restart != "no":  # its supervisor must not start it again (gophernetes/restart_policy.py)
            self._records().update(record, manually_stopped=True)
        if record.state.status not in (records.RUNNING, records.PAUSED):
            if process.is_alive(record.state.monitor_pid, record.state.monitor_started):
                process.wait_for_exit(record.state.monitor_pid, record.state.monitor_started, timeout)
            return  # already stopped (or between two restarts, now not restarted): as docker
        cgroup = self._cgroup(record)
        _signal(record.pid, signal.SIGTERM)
        if record.state.status == records.PAUSED:
            cgroup.thaw()  # a frozen process cannot act on SIGTERM
        if not self._wait_for_exit(record, timeout):
            cgroup.kill_all()
            self._wait_for_exit(record, 10)

    def _wait_for_exit(self, record, timeout: float) -> bool:
        """Until the container has exited and its keeper (the supervisor, or a foreground
        `run`) has recorded it. The keeper writes the exit status and then cleans up, so we
        first wait for the container's init on a pidfd, then briefly for the record."""
        from gophernetes.engines.native import records

        deadline = time.monotonic() + timeout
        process.wait_for_exit(record.pid, record.state.pid_started, timeout)
        while time.monotonic() < deadline:
            try:
                current = self._repair(self._records().reload_state(record)) if record.folder.exists() else None
            except NotFound:
                return True  # removed meanwhile (run --rm, or a foreground run's cleanup)
            if current is None or current.state.status == records.EXITED:
                process.wait_for_exit(current.state.monitor_pid if current else None,
                                      current.state.monitor_started if current else None,
                                      max(deadline - time.monotonic(), 0))
                return True
            time.sleep(0.005)
        return False

    def kill(self, name: str, signal_name: str = "KILL") -> None:
        record = self._running(name, "kill")
        number = parse_signal(signal_name)
        if record.spec.restart != "no":  # as docker's kill: the user ended it, its policy does not bring it back
            self._records().update(record, manually_stopped=True)
        _signal(record.pid, number)

    def remove(self, name: str, force: bool = False, volumes: bool = False) -> None:
        from gophernetes.engines.native import records

        found = self._records().find(name)
        if isinstance(found, records.Damaged):
            self._remove_damaged(found, force)
            return
        record = self._repair(found)
        if record is None:
            raise NotFound(f"no such container: {name}")
        if record.spec.restart != "no":  # a supervisor between two restarts must give up first
            self._records().update(record, manually_stopped=True)
            if record.state.status not in (records.RUNNING, records.PAUSED):
                process.wait_for_exit(record.state.monitor_pid, record.state.monitor_started, 10)
                record = self._records().reload_state(record)
        if record.state.status in (records.RUNNING, records.PAUSED):
            if not force:
                raise Conflict(f"container {record.name} is {record.state.status}: stop it first, or use rm -f")
            self._cgroup(record).kill_all()
            if record.state.status == records.PAUSED:
                self._cgroup(record).thaw()
            # Its init's exit, on a pidfd; then we free the cgroup and lease ourselves rather than
            # wait for its monitor to import its clean-up (~50 ms each, one after the other for
            # `rm -f` of many): the monitor finds the record gone and what it would free already free.
            process.wait_for_exit(record.pid, record.state.pid_started, 10)
            from gophernetes.engines.native.cleanup import release_resources

            release_resources(self.state, record)
        self._records().delete(record)
        if volumes:
            self._remove_anonymous_volumes(record.spec)

    def _remove_damaged(self, damaged, force: bool) -> None:
        """rm of a container whose record cannot be read: its cgroup and lease still name it by ID."""
        from gophernetes.engines.native.cleanup import release_by_id

        if self._has_processes(damaged) and not force:
            raise Conflict(f"{damaged}; it still has processes: use rm -f")
        release_by_id(self.state, damaged.id)
        self._records().delete(damaged)

    def prune(self) -> list[str]:
        """Remove exited containers and anything a crash left behind; return what was removed."""
        from gophernetes.engines.native import records
        from gophernetes.engines.native.cleanup import remove_orphans

        removed = []
        found, damaged = self._records().scan()
        for record in found:
            record = self._repair(record)
            if record is not None and record.state.status == records.EXITED:
                self._records().delete(record)
                removed.append(record.name)
        for broken in damaged:  # only when nothing runs in it any more: prune removes what has stopped
            if not self._has_processes(broken):
                self._remove_damaged(broken, force=False)
                removed.append(broken.name or broken.id[:12])
        removed += remove_orphans(self.state, set(self._records().ids()))
        return removed

    def prepare_image(self, request: RunRequest) -> None:
        """Make sure the request's image is here: the default busybox image is built from the
        host's busybox the first time it is needed (no network needed); any other image must
        have been pulled. A --rootfs needs nothing."""
        if request.rootfs or request.image not in (None, "busybox", "busybox:latest"):
            return
        from gophernetes.image.store import DEFAULT_IMAGE, ImageStore

        store = ImageStore(self.state.images)
        try:
            store.get(DEFAULT_IMAGE)  # there already: no need for busybox.py (tarfile, subprocess, hashlib)
        except NotFound:
            from gophernetes.image.busybox import default_image

            default_image(store)

    def build_spec(self, request: RunRequest) -> RunSpec:
        """Validate the request completely and turn it into a RunSpec. Creates nothing but, on
        the first run of a seccomp profile, its compiled program under the state root (a cache
        keyed by the profile); the image must be there already (prepare_image)."""
        check_request(request)
        limits = parse_limits(request)
        from gophernetes.linux import capabilities  # ctypes: not for ps, inspect, logs

        caps = capabilities.effective_set(request.cap_add, request.cap_drop)
        seccomp, seccomp_profile = seccomp_option(request, caps)
        require_root()
        container_id = new_container_id()
        lower_dirs, config = self.resolve_root(request)
        command = container_command(request, config)
        mounts = self._resolve_mounts(request)
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
            seccomp=seccomp,
            seccomp_profile=seccomp_profile,
            tty=request.tty,
            limits=limits,
            userns=userns_mode(request),
            add_hosts=list(request.add_hosts),
            dns=list(request.dns),
            mounts=mounts,
            restart=canonical_restart(request.restart),
        )
        if seccomp != "unconfined":
            from gophernetes.linux.seccomp import cached_program

            spec.seccomp_program = str(cached_program(self.state.lib / "seccomp", seccomp_profile, caps))
        return spec

    def _resolve_mounts(self, request: RunRequest) -> list[dict]:
        """-v/--mount/--tmpfs with their host sources: a bind's path must exist (refused in one line:
        docker's -v would create it, and a typo would become an empty root-owned folder); a named
        volume that does not exist yet is made (as docker does), an anonymous one always."""
        if not (request.volumes or request.mounts or request.tmpfs):
            return []
        from gophernetes import mount_specs

        specs = mount_specs.parse_all(request.volumes, request.mounts, request.tmpfs)
        check_bind_sources(specs)
        resolved = []
        for spec in specs:
            entry = {"type": spec.type, "source": spec.source, "target": spec.target, "readonly": spec.readonly,
                     "volume": "", "copy_up": False, "options": list(spec.options)}
            if spec.type == mount_specs.VOLUME:
                volume = self._volume_store().create(spec.source or None)
                entry.update(source=volume.mountpoint, volume=volume.name, copy_up=spec.copy_up,
                             anonymous=volume.anonymous)
            resolved.append(entry)
        return resolved

    # volumes: engines/native/volumes.py; who uses one is read from the container records

    def _volume_store(self):
        from gophernetes.engines.native.volumes import VolumeStore

        return VolumeStore(self.state.lib / "volumes")

    def _volume_users(self) -> dict[str, list[str]]:
        """Volume name -> the containers (any state) that mount it."""
        users: dict[str, list[str]] = {}
        for record in self._records().all():
            for mount in record.spec.mounts:
                if mount.get("volume"):
                    users.setdefault(mount["volume"], []).append(record.name)
        return users

    def _remove_anonymous_volumes(self, spec: RunSpec) -> None:
        users = self._volume_users()
        for mount in spec.mounts:
            if mount.get("anonymous") and not users.get(mount["volume"]):
                try:
                    self._volume_store().remove(mount["volume"], [])
                except NotFound:
                    pass

    def create_volume(self, name: str | None) -> dict:
        return self._volume_store().create(name).as_dict()

    def volumes(self) -> list[dict]:
        users = self._volume_users()
        return [dict(v.as_dict(), Containers=users.get(v.name, [])) for v in self._volume_store().all()]

    def inspect_volume(self, name: str) -> dict:
        return dict(self._volume_store().get(name).as_dict(), Containers=self._volume_users().get(name, []))

    def remove_volume(self, name: str) -> None:
        self._volume_store().remove(name, self._volume_users().get(name, []))

    def prune_volumes(self, everything: bool = False) -> list[str]:
        users, removed = self._volume_users(), []
        for volume in self._volume_store().all():
            if not users.get(volume.name) and (everything or volume.anonymous):
                try:
                    self._volume_store().remove(volume.name, [])
                except (NotFound, Conflict):
                    continue
                removed.append(volume.name)
        return removed

    def resolve_root(self, request: RunRequest) -> tuple[list[Path], dict]:
        """The layers to mount (bottom first) and the image config (entrypoint, cmd, env, ...)."""
        if request.rootfs:
            rootfs = Path(request.rootfs).absolute()
            if not rootfs.is_dir():
                raise NotFound(f"root filesystem {request.rootfs} does not exist or is not a directory")
            return [rootfs], {}
        from gophernetes.image.store import DEFAULT_IMAGE, ImageStore

        store = ImageStore(self.state.images)
        wanted = request.image or DEFAULT_IMAGE
        image = store.get(DEFAULT_IMAGE if wanted == "busybox" else wanted)
        config = image.config
        return list(image.layer_dirs), {
            "entrypoint": list(config.entrypoint or []), "cmd": list(config.cmd or []),
            "env": list(config.env or []), "working_dir": config.working_dir or "", "user": config.user or "",
        }

    # images you make: gophernetes/image/push.py and save.py

    def push(self, source: str, destination: str | None = None, insecure: bool = False,
             progress=None) -> tuple[str, str]:
        from gophernetes.image.push import push

        pushed = push(self._store(), source, destination, insecure=insecure, progress=progress)
        return pushed.name, pushed.digest

    def save(self, images: list[str], output: str, format: str = "docker-archive") -> None:
        from gophernetes.image.save import save

        save(self._store(), images, output, format)

    def build(self, context: str, containerfile: str | None, tag: str, build_args: dict[str, str] | None = None,
              network: str = "none", use_cache: bool = True, say=None) -> tuple[str, str]:
        from gophernetes.engines.build_steps import step_runner
        from gophernetes.image.build import build

        say = say or (lambda line: None)
        image = build(self._store(), Path(context), Path(containerfile) if containerfile else None, tag,
                      step_runner(self, say), build_args=build_args, network=network, use_cache=use_cache, say=say)
        return image.name, image.id

    def inspect_image(self, reference: str) -> dict:
        from gophernetes.image.describe import describe
        from gophernetes.image.manifest import Manifest, parse_document

        store = self._store()
        image = store.get(reference)
        manifest = parse_document(store.read_blob(image.manifest_digest), "", image.name)
        assert isinstance(manifest, Manifest), "the store keeps one platform's manifest per image"
        return describe(image.name, image.manifest_digest, manifest, store.read_blob(image.id))

    def stopped_root(self, info: ContainerInfo):
        """The stopped container's root as it runs on: its image layers (overlay lowerdirs) under
        its own upper folder, which keeps what it wrote; a --rootfs folder is a layer like any other."""
        from gophernetes.engines.native.spec import ContainerDirs
        from gophernetes.runtime.copy import StoppedRoot
        from gophernetes.runtime.subids import load

        if info.status == "damaged":
            raise GophernetesError(info.details["error"])
        record = self._current(info.id, repair=False)
        dirs = ContainerDirs(record.folder)
        layers = [Path(layer) for layer in record.spec.lower_dirs]
        mapping = load(record.folder) if record.spec.userns == "auto" else None

        def mount(target: Path) -> None:
            from gophernetes.linux import mounts

            for folder in (dirs.upper, dirs.work, target):
                folder.mkdir(exist_ok=True)
            mounts.mount_overlay(list(reversed(layers)), dirs.upper, dirs.work, target)

        return StoppedRoot(mount, dirs.rootfs, (mapping.uid_base, mapping.gid_base) if mapping else (0, 0),
                           record.spec.read_only)

    def rename(self, old: str, new: str) -> None:
        """The names index, the record and the neighbours' /etc/hosts (engines/native/rename.py)."""
        from gophernetes.engines.native.rename import rename, rename_on_networks

        record = self._current(old)
        if record is None:
            raise NotFound(f"no such container: {old}")
        previous = record.name
        rename(self._records(), record, new)
        rename_on_networks(self.state, self._records(), record, previous)


def canonical_restart(text: str) -> str:
    """--restart as the record keeps it ("on-failure:3"); the default costs no import."""
    if text == "no":
        return text
    from gophernetes import restart_policy

    return str(restart_policy.parse(text))


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


def namespace_kinds(request: RunRequest) -> list[str]:
    from gophernetes.linux.namespaces import FLAGS

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


def _signal(pid: int | None, number: int) -> None:
    if pid:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass
