"""The containerd engine: the verbs of gophernetes, carried out by a containerd daemon.

containerd splits what the native engine does in one process into three things: an
*image* (content plus unpacked snapshots, images.py), a *container* (only a record: an
OCI runtime spec, the image it came from, a writable snapshot) and a *task* (the
container running, held by a `containerd-shim-runc-v2` that keeps its exit status and
stdio, so containerd can restart without killing it). This class maps each verb onto
`ctr` (client.py) and adds, around containerd, what gophernetes has and containerd has
not (folders.py): names (containerd knows only IDs: each container gets docker's 64-hex
ID and a label with its name), exit statuses and logs that outlive the task (a
supervisor per detached container, supervisor.py), hostnames and bridge networks
(namespaces pinned beforehand, launch.py), and limits ctr has no flag for (a cgroup made
beforehand). Both engines share networks: attach and detach plug the same veths.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from gophernetes.engine import (
    ContainerInfo,
    Engine,
    ImageInfo,
    Pulled,
    RunRequest,
    check_request,
    container_command,
    default_etc_files,
    parse_limits,
    parse_signal,
    require_root,
)
from gophernetes.engines.containerd import launch as flags_for
from gophernetes.engines.containerd.attached import Attached
from gophernetes.engines.containerd.client import Ctr, Task, error_line, parse_time
from gophernetes.engines.containerd.folders import Folder, Folders
from gophernetes.engines.containerd.images import ContainerdImages, full_reference, short_name
from gophernetes.engines.containerd.launch import LABEL_IMAGE, LABEL_NAME, Launch, start_error
from gophernetes.engines.containerd.supervisor import Order
from gophernetes.errors import Conflict, GophernetesError, NotFound, UsageError
from gophernetes.paths import StateRoot

START_TIMEOUT = 30.0                # seconds a container may take to be created and started

# A task's status as containerd reports it -> the status gophernetes shows.
TASK_STATUS = {"RUNNING": "running", "PAUSED": "paused", "PAUSING": "paused", "CREATED": "created",
               "STOPPED": "exited", "UNKNOWN": "unknown"}


class ContainerdEngine(Engine):
    name = "containerd"

    def __init__(self, state: StateRoot, address: str | None = None) -> None:
        super().__init__(state)
        self.ctr = Ctr(address) if address else Ctr.from_environment()
        self.folders = Folders(state)
        self.image_store = ContainerdImages(self.ctr, state, self.folders.home)

    # ------------------------------------------------------------------ images

    def pull(self, reference: str, insecure: bool = False, platform: str | None = None,
             progress: Any = None) -> Pulled:
        return self.image_store.pull(reference, insecure, platform)

    def import_archive(self, path: str, name: str | None = None, platform: str | None = None,
                       progress: Any = None) -> list[str]:
        return self.image_store.import_archive(path, name)

    def images(self) -> list[ImageInfo]:
        return self.image_store.all()

    def remove_image(self, reference: str) -> list[str]:
        """Forget an image, unless a container (in any state) was made from it; return the names removed."""
        return self.image_store.remove(reference, self._image_users())

    def build_default_image(self, name: str, source: str) -> str:
        return self.image_store.build_busybox(name, Path(source))

    def prune_images(self) -> list[str]:
        """Nothing to prune in containerd: see images.py (a pull moves a name, the collector does the rest)."""
        return []

    def _image_users(self) -> dict[str, str]:
        """Fully qualified image reference -> the name of a container made from it."""
        users: dict[str, str] = {}
        for container_id in self.ctr.container_ids():
            with contextlib.suppress(NotFound):  # removed while we listed
                record = self.ctr.container_info(container_id)
                users.setdefault(record.get("Image", ""), (record.get("Labels") or {}).get(LABEL_NAME, container_id))
        return users

    # ------------------------------------------------------------------ networks

    def attach(self, name: str, network: str) -> tuple[str, str]:
        """The same bridge networks as the native engine: a veth into the task's network namespace."""
        from gophernetes import network as networks

        container_id = self._require_status(name, {"running"}, "attach")
        task = self.ctr.tasks()[container_id]
        attachment = networks.attach(self.state, container_id, task.pid, network)
        return attachment.ifname, attachment.address

    def detach(self, name: str, network: str) -> None:
        from gophernetes import network as networks

        networks.detach(self.state, self._lookup(name), network)

    # ------------------------------------------------------------------ run

    def run(self, request: RunRequest) -> int:
        """`ctr run --rm` with our stdin, stdout and stderr; its status is the container's."""
        with self.folders.locked():
            launch = self._prepare(request)
            try:
                argv = self.ctr.command("run", "--rm", *launch.ctr_args)
                attached = Attached(self.ctr, argv, stdin=None, what=f"container {launch.name}")
                self._wait_created(launch.id, attached.process)  # the name is taken once it exists
            except BaseException:
                self.folders.clean_up(launch.id)
                raise
        try:
            return attached.wait()
        finally:
            self.folders.clean_up(launch.id)

    def run_detached(self, request: RunRequest) -> ContainerInfo:
        """Start the supervisor, wait until containerd has the task running, return."""
        with self.folders.locked():
            launch = self._prepare(request, log=True)
            folder = self.folders.folder(launch.id)
            try:
                self._start_supervisor(launch, folder)
                self._wait_started(launch, folder)
            except BaseException:
                with contextlib.suppress(GophernetesError):
                    self.ctr.call("containers", "rm", launch.id)
                self.folders.clean_up(launch.id)
                raise
        try:
            return self.inspect(launch.id)
        except NotFound:  # run -d --rm of a command that has already finished
            return ContainerInfo(launch.id, launch.name, launch.image, launch.argv, "exited", time.time(), self.name)

    def _prepare(self, request: RunRequest, log: bool = False) -> Launch:
        """Validate the request as the native engine does, then make what ctr cannot."""
        from gophernetes.engine import new_container_id
        from gophernetes.linux import capabilities

        limits = parse_limits(request)
        caps = capabilities.effective_set(request.cap_add, request.cap_drop)
        check_request(request)
        flags_for.check_supported(request)
        require_root()
        ref = full_reference(request.image) if request.image else self.image_store.default_image()
        config = self.image_store.run_config(ref)
        launch = Launch(new_container_id(), self._free_name(request.name), short_name(ref), ref,
                        container_command(request, config), remove_on_exit=request.remove_on_exit)
        folder = self.folders.folder(launch.id)
        try:
            folder.path.mkdir(parents=True)
            launch.flags = self._make_and_point(request, launch, folder, log)
            launch.flags += flags_for.process_flags(request, list(config.get("env") or []))
            launch.flags += flags_for.mount_flags(request)
            launch.flags += flags_for.capability_flags(caps, request.privileged)
            launch.flags += flags_for.limit_flags(limits)
            if flags_for.needs_cgroup_beforehand(limits):
                from gophernetes.linux.cgroups import open_driver

                open_driver().create(launch.id).apply(limits)
            launch.flags += self._seccomp(request, caps, folder)
        except BaseException:
            self.folders.clean_up(launch.id)
            raise
        return launch

    def _make_and_point(self, request: RunRequest, launch: Launch, folder: Folder, log: bool) -> list[str]:
        """Make the namespaces and /etc files ctr cannot; the flags that point ctr at them."""
        from gophernetes.linux.cgroups import default_parent

        flags = flags_for.record_flags(launch, default_parent(), folder.log if log else None)
        kinds = flags_for.namespaces_to_pin(request)
        if kinds:
            from gophernetes.network import etc_overrides

            etc = etc_overrides.apply(self._pin_and_plug(request, launch, folder, kinds), request.add_hosts,
                                      request.dns)  # --add-host, --dns
            folder.etc.mkdir()
            sources = {path: folder.etc / Path(path).name for path in etc}
            for path, text in etc.items():
                sources[path].write_text(text)
            flags += flags_for.etc_mount_flags(sources)
        return flags + flags_for.namespace_flags(request, folder.namespaces)

    def _pin_and_plug(self, request: RunRequest, launch: Launch, folder: Folder, kinds: list[str]) -> dict[str, str]:
        """Make and pin the namespaces; on a bridge network lease an address and plug it in.

        Returns the /etc files the container should see (hostname, hosts, resolv.conf).
        """
        from gophernetes.linux import pinned_namespaces

        hostname = request.hostname or launch.id[:12]
        etc = default_etc_files(hostname)
        plug = None
        if request.net != "none":
            from gophernetes import network

            aliases = [launch.name] if launch.name != hostname else []  # reachable by name, as with docker
            attachment = network.allocate(self.state, launch.id, request.net, request.publish, hostname, aliases)
            plug = attachment.plug
            etc.update(attachment.etc_files())
        pinned_namespaces.pin(folder.namespaces, kinds, hostname, plug)
        return etc

    def _seccomp(self, request: RunRequest, caps: frozenset[str], folder: Folder) -> list[str]:
        """Write the container's seccomp profile into its folder; the flags that hand it to runc."""
        import json

        profile = flags_for.seccomp_profile(request, caps)
        if profile is None:
            return flags_for.seccomp_flags(None)
        folder.seccomp_profile.write_text(json.dumps(profile))
        return flags_for.seccomp_flags(folder.seccomp_profile)

    def _wait_created(self, container_id: str, process: subprocess.Popen) -> None:
        """Until containerd has the container (or ctr has already finished, maybe failing)."""
        deadline = time.monotonic() + START_TIMEOUT
        while process.poll() is None and container_id not in self.ctr.container_ids():
            if time.monotonic() > deadline:
                raise GophernetesError(f"containerd did not create the container within {START_TIMEOUT:g} s")
            time.sleep(0.01)

    def _start_supervisor(self, launch: Launch, folder: Folder) -> None:
        """`python -m ...containerd.supervisor` (supervisor.py) in its own session, detached from us."""
        run = ["run", "--rm", *launch.ctr_args] if launch.remove_on_exit else ["run", *launch.ctr_args]
        clean_up = (str(self.state.lib), str(self.state.run)) if launch.remove_on_exit else None
        order = Order(folder.path, self.ctr.command(*run), clean_up)
        subprocess.Popen(order.argv(), start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _wait_started(self, launch: Launch, folder: Folder) -> None:
        """Until containerd reports the task, or the supervisor has finished (maybe failing)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not folder.path.exists():
                return  # run -d --rm: it has run and its supervisor has already cleaned up
            status = folder.exit_status()
            if status is not None:
                errors = folder.ctr_errors.read_text(errors="replace")
                if status != 0 and "ctr: " in errors:
                    raise start_error(error_line(errors), f"container {launch.name}", self.ctr)
                return
            if launch.id in self.ctr.tasks():
                return
            time.sleep(0.02)
        raise GophernetesError(f"container {launch.name} did not start within {START_TIMEOUT:g} s; "
                               f"see {folder.ctr_errors}")

    # ------------------------------------------------------------------ containers

    def containers(self, all: bool = False) -> list[ContainerInfo]:
        tasks = self.ctr.tasks()
        found = []
        for container_id in self.ctr.container_ids():
            try:
                info = self._info(container_id, self.ctr.container_info(container_id), tasks)
            except NotFound:
                continue  # removed while we listed
            if all or info.status in ("running", "paused", "created"):
                found.append(info)
        return sorted(found, key=lambda c: c.created, reverse=True)

    def inspect(self, name: str) -> ContainerInfo:
        container_id = self._lookup(name)
        return self._info(container_id, self.ctr.container_info(container_id), self.ctr.tasks())

    def logs(self, name: str, follow: bool = False, tail: int | None = None, timestamps: bool = False):
        if timestamps:
            raise UsageError("--timestamps: the containerd engine's logs are the shim's plain file, "
                             "without times")
        container_id = self._lookup(name)
        path = self.folders.folder(container_id).log
        if not path.exists():
            raise Conflict(f"container {name} runs in the foreground: its output goes to its terminal, "
                           "not to a log")
        from gophernetes.runtime import logs

        return logs.lines(path, tail, follow, lambda: self._is_alive(container_id))

    def exec(self, name: str, command: list[str], tty: bool = False, interactive: bool = False,
             env: list[str] | None = None, user: str = "", workdir: str = "") -> int:
        """`ctr tasks exec`: the shim asks runc to start one more process in the task's
        namespaces and cgroup (runc exec = setns + exec)."""
        if env:
            raise UsageError("exec -e: ctr 1.6 cannot set environment variables for exec; "
                             "use: exec NAME env KEY=VALUE COMMAND")
        if not command:
            raise UsageError("exec needs a command, e.g. gophernetes exec NAME sh")
        container_id = self._require_status(name, {"running"}, "exec in")
        flags = ["--exec-id", f"exec-{os.getpid()}-{time.monotonic_ns() % 10**9}"]
        flags += ["--tty"] if tty else []
        flags += ["--cwd", workdir] if workdir else []
        flags += ["--user", user] if user else []
        argv = self.ctr.command("tasks", "exec", *flags, container_id, *command)
        return Attached(self.ctr, argv, stdin=None if interactive or tty else subprocess.DEVNULL,
                        what=f"exec in {name}").wait()

    def pause(self, name: str) -> None:
        """`ctr tasks pause`: runc freezes the container's cgroup (freezer), every process stops."""
        container_id = self._require_status(name, {"running"}, "pause")
        self.ctr.run("tasks", "pause", container_id, what=f"container {name}")

    def resume(self, name: str) -> None:
        """`ctr tasks resume`: runc thaws the cgroup."""
        container_id = self._require_status(name, {"paused"}, "resume")
        self.ctr.run("tasks", "resume", container_id, what=f"container {name}")

    def stop(self, name: str, timeout: float = 10) -> None:
        """SIGTERM to the init; after `timeout` s SIGKILL to every process (`ctr tasks kill --all`)."""
        container_id = self._lookup(name)
        task = self.ctr.tasks().get(container_id)
        if task is None or task.status == "STOPPED":
            return
        if task.status in ("PAUSED", "PAUSING"):
            self.ctr.run("tasks", "resume", container_id, what=f"container {name}")
        self._signal(container_id, "SIGTERM", name)
        if not self._wait_gone(container_id, timeout):
            self._signal(container_id, "SIGKILL", name, every_process=True)
            self._wait_gone(container_id, 10)
        self._wait_exit_status(container_id, 5)

    def kill(self, name: str, signal_name: str = "KILL") -> None:
        container_id = self._require_status(name, {"running", "paused"}, "signal")
        self._signal(container_id, str(parse_signal(signal_name)), name)

    def remove(self, name: str, force: bool = False, volumes: bool = False) -> None:
        """Delete the task (if one is left), the container and its snapshot, then our own parts.
        (`volumes`: containerd containers have none of ours: -v/--mount are refused at run.)"""
        container_id = self._lookup(name)
        task = self.ctr.tasks().get(container_id)
        if task is not None and task.status != "STOPPED":
            if not force:
                raise Conflict(f"container {name} is {TASK_STATUS.get(task.status, task.status)}: stop it "
                               "first, or use rm -f")
            self._signal(container_id, "SIGKILL", name, every_process=True)
            self._wait_gone(container_id, 10)
        self._wait_exit_status(container_id, 5)
        if container_id in self.ctr.tasks():
            self.ctr.call("tasks", "rm", "--force", container_id)
        result = self.ctr.call("containers", "rm", container_id)
        if result.returncode != 0 and "not found" not in result.stderr:
            raise self.ctr.error(result.stderr, f"container {name}")
        self.folders.clean_up(container_id)

    def prune(self) -> list[str]:
        """Remove exited containers, then folders of containers containerd no longer has."""
        removed = []
        for container in self.containers(all=True):
            if container.status == "exited":
                self.remove(container.id)
                removed.append(container.name)
        known = set(self.ctr.container_ids())
        for container_id in self.folders.ids():
            if container_id not in known:
                self.folders.clean_up(container_id)
                removed.append(container_id)
        return removed

    def info(self) -> dict:
        """containerd's version, the runtime its tasks use, our namespace and its socket."""
        return {"engine": self.name, "version": self.ctr.version(),
                "runtime": f"io.containerd.runc.v2 (runc {runc_version()})",
                "namespace": self.ctr.namespace, "socket": self.ctr.address}

    # images you make: push and save through ctr (load is import_archive; build is native only)

    def push(self, source: str, destination: str | None = None, insecure: bool = False,
             progress=None) -> tuple[str, str]:
        return self.image_store.push(source, destination, insecure)

    def save(self, images: list[str], output: str, format: str = "docker-archive") -> None:
        self.image_store.save(images, output)

    def inspect_image(self, reference: str) -> dict:
        return self.image_store.describe(reference)

    def stopped_root(self, info: ContainerInfo):
        """The stopped container's snapshot (its image under its writable layer), mounted as
        containerd would: `ctr snapshots mounts` says how, the copy's child does it."""
        from gophernetes.engines.containerd.client import parse_snapshot_mounts
        from gophernetes.runtime.copy import StoppedRoot

        details = info.details["containerd"]
        target = self.folders.folder(info.id).path / "rootfs"
        printed = self.ctr.run("snapshots", "--snapshotter", details["snapshotter"] or "overlayfs", "mounts",
                               str(target), details["snapshot"], what=f"container {info.name}")
        found = parse_snapshot_mounts(printed)
        if len(found) != 1:
            raise GophernetesError(f"container {info.name}: cannot mount its snapshot ({printed.strip()!r})")

        def mount(at: Path) -> None:
            from gophernetes.linux import syscalls

            at.mkdir(exist_ok=True)
            only = found[0]
            if only.type == "bind":
                syscalls.mount(only.source, at, None, syscalls.MS_BIND | syscalls.MS_REC)
            else:
                syscalls.mount(only.source, at, only.type, 0, ",".join(only.options))

        readonly = ((self.ctr.container_info(info.id).get("Spec") or {}).get("root") or {}).get("readonly", False)
        return StoppedRoot(mount, target, read_only=bool(readonly))

    def rename(self, old: str, new: str) -> None:
        """The name is the container's gophernetes.name label: `ctr containers label` changes it.
        Then its line in its networks' hosts file and in every container's own copy of one
        (each gets a copy at its start, folder/etc/hosts) names it `new`: neighbours follow."""
        with self.folders.locked():
            container_id = self._lookup(old)
            new = self._free_name(new)
            current = self._name_of(container_id)
            self.ctr.run("containers", "label", container_id, f"{LABEL_NAME}={new}", what=f"container {old}")
            self._rename_on_networks(container_id, current, new)

    def _rename_on_networks(self, container_id: str, old: str, new: str) -> None:
        if not self.folders.folder(container_id).etc.exists():
            return  # --net none with nothing pinned: no lease, and `network` is not imported for nothing
        from gophernetes import network
        from gophernetes.network import hosts

        lines = network.rename_container(self.state, container_id, old, new)
        for other in self.folders.ids():
            own = self.folders.folder(other).etc / "hosts"
            if own.is_file():
                for address, names in lines.items():
                    hosts.rename(own, address, names)

    # ------------------------------------------------------------------ helpers

    def _info(self, container_id: str, record: dict, tasks: dict[str, Task]) -> ContainerInfo:
        """A ContainerInfo from containerd's record, its task (if any) and our exit-status file."""
        labels = record.get("Labels") or {}
        spec = record.get("Spec") or {}
        task = tasks.get(container_id)
        folder = self.folders.folder(container_id)
        exit_code = folder.exit_status()
        status = TASK_STATUS.get(task.status, "unknown") if task else ("exited" if exit_code is not None
                                                                        else "created")
        finished = folder.finished() if exit_code is not None else None
        networks, ports = network_of(self.state, container_id)
        return ContainerInfo(
            id=container_id, name=labels.get(LABEL_NAME, container_id[:12]),
            image=labels.get(LABEL_IMAGE) or short_name(record.get("Image", "")),
            command=list((spec.get("process") or {}).get("args") or []), status=status,
            created=parse_time(record.get("CreatedAt", "")), engine=self.name,
            pid=task.pid if task and task.status != "STOPPED" else None, exit_code=exit_code,
            finished=finished, ports=ports, networks=networks,
            details={"containerd": {"address": self.ctr.address, "namespace": self.ctr.namespace,
                                    "snapshotter": record.get("Snapshotter", ""),
                                    "snapshot": record.get("SnapshotKey", ""), "image": record.get("Image", ""),
                                    "runtime": (record.get("Runtime") or {}).get("Name", ""),
                                    "task": task.status if task else None},
                     "hostname": spec.get("hostname", ""), "log": str(folder.log)},
        )

    def _lookup(self, name: str) -> str:
        """The ID of the container called `name`, or whose ID is or starts with `name`."""
        if not name:
            raise UsageError("give a container name or ID")
        by_name = self._holder(name)
        if by_name:
            return by_name
        ids = self.ctr.container_ids()
        matches = [i for i in ids if i == name] or [i for i in ids if i.startswith(name)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UsageError(f"the ID prefix {name!r} matches {len(matches)} containers: give more of it")
        raise NotFound(f"no such container: {name} (see gophernetes list --all)")

    def _free_name(self, wanted: str | None) -> str:
        """`wanted` if no container has it yet, else Conflict; without one, a docker-style name."""
        from gophernetes.names import check_name, generate_name

        if not wanted:
            return next(name for name in (generate_name(set()) for _ in range(100)) if not self._holder(name))
        check_name(wanted)
        holder = self._holder(wanted)
        if holder:
            raise Conflict(f'the container name "{wanted}" is already in use by container {holder[:12]}: '
                           f'remove it (gophernetes rm {wanted}) or choose another name')
        return wanted

    def _holder(self, name: str) -> str | None:
        """The ID of the container labelled with `name`, if any (a filtered `ctr containers ls`)."""
        found = self.ctr.container_ids(f'labels."{LABEL_NAME}"=={name}')
        return found[0] if found else None

    def _require_status(self, name: str, wanted: set[str], action: str) -> str:
        """The container's ID if its task is in one of the `wanted` states, else the reason why not."""
        container_id = self._lookup(name)
        task = self.ctr.tasks().get(container_id)
        status = TASK_STATUS.get(task.status, "unknown") if task else "exited"
        if status in wanted:
            return container_id
        known_as = self._name_of(container_id)  # the name, also when `name` was (a prefix of) the ID
        if status == "paused":
            raise Conflict(f"container {known_as} is paused: resume it first (gophernetes resume {name})")
        if wanted == {"paused"}:
            raise Conflict(f"container {known_as} is not paused")
        raise Conflict(f"container {known_as} is not running: cannot {action} it")

    def _name_of(self, container_id: str) -> str:
        """The gophernetes name containerd keeps in the container's labels."""
        try:
            labels = self.ctr.container_info(container_id).get("Labels") or {}
        except NotFound:
            return container_id[:12]
        return labels.get(LABEL_NAME, container_id[:12])

    def _is_alive(self, container_id: str) -> bool:
        task = self.ctr.tasks().get(container_id)
        return task is not None and task.status != "STOPPED"

    def _signal(self, container_id: str, signal_text: str, name: str, every_process: bool = False) -> None:
        flags = ["--all"] if every_process else []
        result = self.ctr.call("tasks", "kill", "--signal", signal_text, *flags, container_id)
        if result.returncode != 0 and "not found" not in result.stderr and "process already finished" \
                not in result.stderr:
            raise self.ctr.error(result.stderr, f"container {name}")

    def _wait_gone(self, container_id: str, timeout: float) -> bool:
        """Wait until the task has stopped (or is deleted); False if it is still alive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._is_alive(container_id):
                return True
            time.sleep(0.05)
        return not self._is_alive(container_id)

    def _wait_exit_status(self, container_id: str, timeout: float) -> None:
        """A detached container's supervisor writes its exit status just after the task ends."""
        folder = self.folders.folder(container_id)
        if not folder.log.exists():
            return  # not detached: no supervisor
        deadline = time.monotonic() + timeout
        while folder.exit_status() is None and time.monotonic() < deadline:
            time.sleep(0.02)


def runc_version() -> str:
    """The first line of `runc --version` is "runc version 1.1.5+ds1"."""
    try:
        words = subprocess.run(["runc", "--version"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return words[2] if words[:2] == ["runc", "version"] and len(words) > 2 else "unknown"


def network_of(state: StateRoot, container_id: str) -> tuple[list[str], list[str]]:
    """The networks and published ports of a container's lease, if it has one."""
    from gophernetes.network import ipam

    lease = ipam.load(state.networks, container_id) if state.networks.exists() else None
    if lease is None:
        return [], []
    return ([e.network for e in lease.endpoints], [str(p) for e in lease.endpoints for p in e.ports])
