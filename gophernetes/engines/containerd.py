"""The containerd engine: the same verbs as the native engine, carried out by containerd.

containerd splits what the native engine does in one process into three things:

- an *image* is content (manifest, config, layer blobs) in its content store, unpacked
  by a *snapshotter* (overlayfs here) into read-only *snapshots*, one per layer;
- a *container* is only a record: an OCI runtime spec (the config.json runc reads), the
  image it came from and a writable snapshot on top of the image's layers;
- a *task* is the container running: containerd starts a `containerd-shim-runc-v2`,
  which calls `runc create/start`, stays the parent of the container's init, keeps its
  exit status and its stdio, and lets containerd restart without killing containers.

Everything we make lives in containerd namespace `gophernetes` (see containerd_client.py,
which also explains why we drive `ctr` rather than gRPC). Where containerd has no notion
of a thing gophernetes has, we add it around containerd and say so:

- Names: containerd knows only IDs. Each container gets docker's 64-hex ID and a label
  `gophernetes.name`; a lock file makes "is the name free? create it" one step.
- Detached runs and their logs: `ctr run --log-uri file://LOG` makes the shim itself
  append the container's stdout and stderr to LOG, so the output outlives every client.
  A small supervisor, `sh -c 'ctr run ...; echo $? > exit-status'`, waits for the task
  (ctr run does, when not told --detach) and keeps its exit status, which containerd
  forgets when the task is deleted; the file's mtime is when it finished.
- Hostname and network: ctr 1.6 cannot set a hostname, and bridge networking needs the
  container's network namespace before its command starts. So we make both namespaces
  ourselves first (a forked child unshares them, sets the hostname, brings `lo` up) and
  pin them with bind mounts under the state root, as `ip netns add` does; the bridge
  network (gophernetes/network) plugs a veth into that namespace, and runc is told to
  join them (`--with-ns network:PATH`). Both engines therefore share networks.
- Limits: --memory, --cpus and --cpu-shares become ctr's --memory-limit, --cpus and
  --cpu-shares (runc writes them into the cgroup). ctr has no flag for --pids-limit,
  --memory-swap or --blkio-weight: for those we make the cgroup beforehand with the
  native engine's driver and point runc at it (`--cgroup`); runc joins a cgroup that
  exists and leaves alone the limits its spec does not mention. (One difference shows:
  runc's own init, a Go program with a handful of threads, joins the cgroup before the
  command runs and counts against a pids limit set beforehand; keep --pids-limit >= 10.)
- Seccomp: the native engine's profile, resolved for the container's capabilities, is
  written as the OCI spec's linux.seccomp and handed to ctr (`--seccomp-profile`); runc
  compiles it with libseccomp. Both engines thus filter the same calls the same way.
- Not expressible through ctr 1.6, so refused with a clear error: --user (the image's
  User applies), --rootfs (containerd runs images), `exec -e`, `logs --timestamps`. The
  cgroup namespace is always the host's (ctr's default spec has none).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

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
from gophernetes.engines.containerd_client import PULL_TIMEOUT, Ctr, ImageRecord, Task, error_line
from gophernetes.errors import CannotRun, CommandNotFound, Conflict, GophernetesError, NotFound, UsageError
from gophernetes.paths import StateRoot

LABEL_NAME = "gophernetes.name"     # containerd labels: free-form key=value on the container record
LABEL_IMAGE = "gophernetes.image"
HOST_NS = "/proc/1/ns"              # the host's namespaces, joined for --pid/--ipc/--uts host
START_TIMEOUT = 30.0                # seconds a container may take to be created and started

# A task's status as containerd reports it -> the status gophernetes shows.
TASK_STATUS = {"RUNNING": "running", "PAUSED": "paused", "PAUSING": "paused", "CREATED": "created",
               "STOPPED": "exited", "UNKNOWN": "unknown"}

# The supervisor of a detached container: ctr run, without --detach, waits for the task
# and exits with its status; we keep that status, because containerd forgets it.
# With --rm, once the container has run (ctr said nothing), it removes what we made around
# it (ctr run --rm removes the rest); a failed start is cleaned up by the `run -d` waiting.
SUPERVISOR = ('ctr "$@" 2>"$CTR_ERRORS"; echo $? >"$EXIT_FILE.tmp"; mv "$EXIT_FILE.tmp" "$EXIT_FILE"; '
              '[ -z "$AFTER_EXIT" ] || [ -s "$CTR_ERRORS" ] || eval "$AFTER_EXIT"')


@dataclass
class Launch:
    """A validated `run`: what ctr will be asked, and what was made for it on the host."""

    id: str
    name: str
    image: str               # short name, as the user wrote it after normalization
    ref: str                 # containerd's fully qualified reference
    argv: list[str]
    flags: list[str] = field(default_factory=list)
    remove_on_exit: bool = False

    @property
    def ctr_args(self) -> list[str]:
        return [*self.flags, self.ref, self.id, *self.argv]


class ContainerdEngine(Engine):
    name = "containerd"

    def __init__(self, state: StateRoot, address: str | None = None) -> None:
        super().__init__(state)
        self.ctr = Ctr(address) if address else Ctr.from_environment()
        self.home = state.run / "containerd"

    # ------------------------------------------------------------------ images

    def pull(self, reference: str, insecure: bool = False, platform: str | None = None,
             progress=None) -> Pulled:
        """`ctr images pull`: containerd fetches the blobs into its content store and unpacks
        the layers into overlayfs snapshots (one per layer, each on its parent)."""
        from gophernetes.image.reference import is_local_registry, parse

        parsed = parse(reference)
        flags = ["--plain-http"] if insecure or is_local_registry(parsed.registry) else []
        flags += ["--platform", platform] if platform else []
        try:
            self.ctr.run("images", "pull", *flags, full_reference(reference), timeout=PULL_TIMEOUT,
                         what=f"image {parsed.name}")
        except NotFound:
            raise NotFound(f"{parsed.name}: not found at {parsed.registry}; check the name and tag") from None
        return Pulled(parsed.name)

    def import_archive(self, path: str, name: str | None = None, platform: str | None = None,
                       progress=None) -> list[str]:
        """`ctr images import`: a `docker save` tar or an OCI archive (a directory holding an
        OCI layout is tarred on the way). Returns the names that were added or changed."""
        source = Path(path)
        if not source.exists():
            raise NotFound(f"no such archive: {path}")
        before = {record.ref: record.digest for record in self.ctr.images()}
        base = import_base_name(source, name)
        flags = ["--base-name", base] if base else []
        if source.is_dir():
            with tar_stream(source) as stream:
                result = self.ctr.call("images", "import", *flags, "-", timeout=PULL_TIMEOUT, stdin=stream)
        else:
            result = self.ctr.call("images", "import", *flags, str(source), timeout=PULL_TIMEOUT)
        if result.returncode != 0:
            raise self.ctr.error(result.stderr, f"archive {path}")
        added = [record.ref for record in self.ctr.images() if before.get(record.ref) != record.digest]
        named = re.findall(r"^unpacking (\S+) \(sha256:", result.stdout, re.MULTILINE)
        return [short_name(ref) for ref in (added or named)]

    def images(self) -> list[ImageInfo]:
        """Each image containerd has in our namespace; ID = config digest, as docker's."""
        return [self._image_info(record) for record in self.ctr.images()]

    def remove_image(self, reference: str) -> None:
        """`ctr images rm`: the name goes; containerd's garbage collector removes the blobs
        and snapshots nothing references any more."""
        refs = self._image_refs(reference)
        if not refs:
            raise NotFound(f"image {reference!r} not found; see gophernetes --engine containerd images")
        self.ctr.run("images", "rm", *refs, what=f"image {reference}")

    def attach(self, name: str, network: str) -> tuple[str, str]:
        """The same bridge networks as the native engine: a veth into the task's namespace."""
        from gophernetes import network as networks

        container_id = self._require_status(name, {"running"}, "attach")
        task = self.ctr.tasks()[container_id]
        attachment = networks.attach(self.state, container_id, task.pid, network)
        return attachment.ifname, attachment.address

    def detach(self, name: str, network: str) -> None:
        from gophernetes import network as networks

        networks.detach(self.state, self._lookup(name), network)

    def _image_refs(self, reference: str) -> list[str]:
        """The references `reference` means: a name, or (a prefix of) an IMAGE ID, as docker."""
        records = self.ctr.images()
        if re.fullmatch(r"(sha256:)?[0-9a-f]{4,64}", reference):
            wanted = reference.removeprefix("sha256:")
            by_id = [r.ref for r in records if self._image_info(r).id.removeprefix("sha256:").startswith(wanted)]
            if len(by_id) > 1:
                raise Conflict(f"image ID {reference} is named {', '.join(map(short_name, by_id))}: "
                               "remove them by name")
            if by_id:
                return by_id
        ref = full_reference(reference)
        return [ref] if ref in {record.ref for record in records} else []

    def _image_info(self, record: ImageRecord) -> ImageInfo:
        from gophernetes.image.manifest import parse_config

        manifest, config_blob = self._manifest_and_config(record)
        created = parse_config(config_blob, record.ref).created
        size = manifest.config.size + sum(layer.size for layer in manifest.layers)
        return ImageInfo(short_name(record.ref), manifest.config.digest, created, size)

    def _manifest_and_config(self, record: ImageRecord):
        """The manifest for this host's platform (through an index if need be) and its config blob."""
        from gophernetes.image.manifest import Index, host_platform, parse_document, select_platform

        document = parse_document(self.ctr.content(record.digest), "", record.ref)
        if isinstance(document, Index):
            chosen = select_platform(document, host_platform(), record.ref)
            document = parse_document(self.ctr.content(chosen.digest), chosen.media_type, record.ref)
            if isinstance(document, Index):
                raise GophernetesError(f"{record.ref}: an index inside an index is not supported")
        return document, self.ctr.content(document.config.digest)

    def _image_config(self, ref: str) -> dict:
        """Entrypoint, Cmd, Env, WorkingDir and User of an image containerd has."""
        from gophernetes.image.manifest import parse_config

        record = next((r for r in self.ctr.images() if r.ref == ref), None)
        if record is None:
            name = short_name(ref)
            raise NotFound(f"image {name!r} not found; pull it with: gophernetes --engine containerd pull {name}")
        config = parse_config(self._manifest_and_config(record)[1], ref).image
        return {"entrypoint": config.entrypoint, "cmd": config.cmd, "env": config.env,
                "working_dir": config.working_dir, "user": config.user}

    def _default_image(self) -> str:
        """busybox:latest for `run /bin/sh`; made offline from the host's busybox, as the native
        engine makes its own, and imported into containerd the first time it is needed."""
        import json
        import tempfile

        from gophernetes.image import busybox
        from gophernetes.image.store import ImageStore

        ref = full_reference("busybox")
        if any(record.ref == ref for record in self.ctr.images()):
            return ref
        self.home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.home, prefix=".busybox-") as scratch:
            store = ImageStore(Path(scratch) / "store")
            image = busybox.build(store)
            layout = Path(scratch) / "layout"
            shutil.copytree(store.blobs, layout / "blobs" / "sha256", copy_function=os.link)
            (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
            manifest = store.read_blob(image.manifest_digest)
            entry = {"mediaType": json.loads(manifest)["mediaType"], "digest": image.manifest_digest,
                     "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "latest"}}
            (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
            self.import_archive(str(layout), "busybox")
        return ref

    # ------------------------------------------------------------------ run

    def run(self, request: RunRequest) -> int:
        """`ctr run --rm` with our stdin, stdout and stderr; its status is the container's."""
        with self._locked():
            launch = self._prepare(request)
            try:
                argv = self.ctr.command("run", "--rm", *launch.ctr_args)
                attached = Attached(self.ctr, argv, stdin=None, what=f"container {launch.name}")
                self._wait_created(launch.id, attached.process)  # the name is taken once it exists
            except BaseException:
                self._clean_up(launch.id)
                raise
        try:
            return attached.wait()
        finally:
            self._clean_up(launch.id)

    def run_detached(self, request: RunRequest) -> ContainerInfo:
        """Start the supervisor, wait until containerd has the task running, return."""
        with self._locked():
            launch = self._prepare(request, log=True)
            directory = self._dir(launch.id)
            try:
                self._start_supervisor(launch, directory)
                self._wait_started(launch, directory)
            except BaseException:
                with contextlib.suppress(GophernetesError):
                    self.ctr.call("containers", "rm", launch.id)
                self._clean_up(launch.id)
                raise
        try:
            return self.inspect(launch.id)
        except NotFound:  # run -d --rm of a command that has already finished
            return ContainerInfo(launch.id, launch.name, launch.image, launch.argv, "exited", time.time(), self.name)

    def _prepare(self, request: RunRequest, log: bool = False) -> Launch:
        """Validate the request as the native engine does, then make what ctr cannot."""
        from gophernetes.linux import capabilities
        from gophernetes.runtime.spec import new_container_id

        limits = parse_limits(request)
        caps = capabilities.effective_set(request.cap_add, request.cap_drop)
        check_request(request)
        check_supported(request)
        require_root()
        ref = full_reference(request.image) if request.image else self._default_image()
        config = self._image_config(ref)
        argv = container_command(request, config)
        container_id = new_container_id()
        name = self._free_name(request.name)
        launch = Launch(container_id, name, short_name(ref), ref, argv, remove_on_exit=request.remove_on_exit)
        try:
            launch.flags = self._flags(request, launch, limits, caps, log)
            launch.flags += default_path_flags(list(config.get("env") or []) + list(request.env))
        except BaseException:
            self._clean_up(container_id)
            raise
        return launch

    def _flags(self, request: RunRequest, launch: Launch, limits, caps: frozenset[str], log: bool) -> list[str]:
        """The `ctr run` options for this request; makes namespaces, cgroup and files it needs."""
        from gophernetes.linux.cgroups import default_parent

        directory = self._dir(launch.id)
        directory.mkdir(parents=True)
        flags = ["--label", f"{LABEL_NAME}={launch.name}", "--label", f"{LABEL_IMAGE}={launch.image}",
                 "--cgroup", f"/{default_parent()}/{launch.id}"]
        if log:
            flags += ["--log-uri", f"file://{directory / 'log'}"]
        for variable in request.env:
            flags += ["--env", variable]
        if request.working_dir:
            flags += ["--cwd", request.working_dir]
        flags += [f"--{flag}" for flag, wanted in (("tty", request.tty), ("read-only", request.read_only),
                                                   ("no-pivot", request.use_chroot)) if wanted]
        flags += capability_flags(caps, request.privileged)
        flags += seccomp_flags(request, caps, directory)
        flags += limit_flags(limits)
        if needs_cgroup_beforehand(limits):
            self._make_cgroup(launch.id, limits)
        flags += self._namespace_flags(request, launch, directory)
        return flags

    def _namespace_flags(self, request: RunRequest, launch: Launch, directory: Path) -> list[str]:
        """Namespaces: the host's where asked, else ones we made and pinned (net, uts)."""
        shared = set(request.share_namespaces) - {"cgroup"}  # ctr 1.6 never unshares cgroup
        flags = [f"--with-ns={kind}:{HOST_NS}/{kind}" for kind in sorted(shared)]
        if request.net == "host":
            return flags + ["--net-host"]
        hostname = request.hostname or launch.id[:12]
        pin = ["net"] + ([] if "uts" in shared else ["uts"])
        etc = self._pin_and_plug(request, launch, directory, pin, hostname)
        from gophernetes.runtime import etc_overrides

        etc = etc_overrides.apply(etc, request.add_hosts, request.dns)  # --add-host, --dns
        flags += ["--with-ns", f"network:{directory / 'ns' / 'net'}"]
        if "uts" in pin:
            flags += ["--with-ns", f"uts:{directory / 'ns' / 'uts'}"]
        for path, text in sorted(etc.items()):
            source = directory / "etc" / Path(path).name
            source.parent.mkdir(exist_ok=True)
            source.write_text(text)
            flags += ["--mount", f"type=bind,src={source},dst={path},options=rbind:ro"]
        return flags

    def _pin_and_plug(self, request: RunRequest, launch: Launch, directory: Path, kinds: list[str],
                      hostname: str) -> dict[str, str]:
        """Make and pin the namespaces; on a bridge network lease an address and plug it in.

        Returns the /etc files the container should see (hostname, hosts, resolv.conf).
        """
        etc = default_etc_files(hostname)
        plug = None
        if request.net != "none":
            from gophernetes import network

            aliases = [launch.name] if launch.name != hostname else []  # reachable by name, as with docker
            attachment = network.allocate(self.state, launch.id, request.net, request.publish, hostname, aliases)
            plug = attachment.plug
            etc.update(attachment.etc_files())
        pin_namespaces(directory / "ns", kinds, hostname, plug)
        return etc

    def _wait_created(self, container_id: str, process: subprocess.Popen) -> None:
        """Until containerd has the container (or ctr has already finished, maybe failing)."""
        deadline = time.monotonic() + START_TIMEOUT
        while process.poll() is None and container_id not in self.ctr.container_ids():
            if time.monotonic() > deadline:
                raise GophernetesError(f"containerd did not create the container within {START_TIMEOUT:g} s")
            time.sleep(0.01)

    def _start_supervisor(self, launch: Launch, directory: Path) -> None:
        """`sh -c 'ctr run ... ; echo $? > exit-status'` in its own session, detached from us."""
        environment = {**os.environ, "CTR_ERRORS": str(directory / "ctr-errors"),
                       "EXIT_FILE": str(directory / "exit-status"), "AFTER_EXIT": ""}
        run = ["run", *launch.ctr_args]
        if launch.remove_on_exit:
            run.insert(1, "--rm")
            environment["AFTER_EXIT"] = shlex.join([
                sys.executable, "-c", "import sys; from gophernetes.engines.containerd import clean_up_after_exit as "
                "clean; clean(*sys.argv[1:])", str(self.state.lib), str(self.state.run), self.ctr.address, launch.id])
        subprocess.Popen(["sh", "-c", SUPERVISOR, "gophernetes-supervisor", *self.ctr.command(*run)[1:]],
                         env=environment, start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _wait_started(self, launch: Launch, directory: Path) -> None:
        """Until containerd reports the task, or the supervisor has finished (maybe failing)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not directory.exists():
                return  # run -d --rm: it has run and its supervisor has already cleaned up
            status = read_exit_status(directory)
            if status is not None:
                errors = (directory / "ctr-errors").read_text(errors="replace")
                if status != 0 and "ctr: " in errors:
                    raise start_error(error_line(errors), f"container {launch.name}", self.ctr)
                return
            if launch.id in self.ctr.tasks():
                return
            time.sleep(0.02)
        raise GophernetesError(f"container {launch.name} did not start within {START_TIMEOUT:g} s; "
                               f"see {directory / 'ctr-errors'}")

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
        path = self._dir(container_id) / "log"
        if not path.exists():
            raise Conflict(f"container {name} runs in the foreground: its output goes to its terminal, "
                           "not to a log")
        return follow_file(path, tail, (lambda: self._is_alive(container_id)) if follow else None)

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

    def remove(self, name: str, force: bool = False) -> None:
        """Delete the task (if one is left), the container and its snapshot, then our own parts."""
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
        self._clean_up(container_id)

    def prune(self) -> list[str]:
        """Remove exited containers, then folders of containers containerd no longer has."""
        removed = []
        for container in self.containers(all=True):
            if container.status == "exited":
                self.remove(container.id)
                removed.append(container.name)
        known = set(self.ctr.container_ids())
        if self.home.is_dir():
            for directory in self.home.iterdir():
                if directory.is_dir() and directory.name not in known:
                    self._clean_up(directory.name)
                    removed.append(directory.name)
        return removed

    def info(self) -> dict:
        """containerd's version, the runtime its tasks use, our namespace and its socket."""
        return {"engine": self.name, "version": self.ctr.version(),
                "runtime": f"io.containerd.runc.v2 (runc {runc_version()})",
                "namespace": self.ctr.namespace, "socket": self.ctr.address}

    # ------------------------------------------------------------------ helpers

    def _info(self, container_id: str, record: dict, tasks: dict[str, Task]) -> ContainerInfo:
        """A ContainerInfo from containerd's record, its task (if any) and our exit-status file."""
        labels = record.get("Labels") or {}
        spec = record.get("Spec") or {}
        task = tasks.get(container_id)
        directory = self._dir(container_id)
        exit_code = read_exit_status(directory)
        status = TASK_STATUS.get(task.status, "unknown") if task else ("exited" if exit_code is not None
                                                                        else "created")
        finished = (directory / "exit-status").stat().st_mtime if exit_code is not None else None
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
                     "hostname": spec.get("hostname", ""), "log": str(directory / "log")},
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
        if status == "paused":
            raise Conflict(f"container {name} is paused: resume it first (gophernetes resume {name})")
        if wanted == {"paused"}:
            raise Conflict(f"container {name} is not paused")
        raise Conflict(f"container {name} is not running: cannot {action} it")

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
        directory = self._dir(container_id)
        if not (directory / "log").exists():
            return  # not detached: no supervisor
        deadline = time.monotonic() + timeout
        while read_exit_status(directory) is None and time.monotonic() < deadline:
            time.sleep(0.02)

    def _make_cgroup(self, container_id: str, limits) -> None:
        from gophernetes.linux.cgroups import open_driver

        open_driver().create(container_id).apply(limits)

    def _clean_up(self, container_id: str) -> None:
        """Undo what we made around containerd: network lease and veth, pinned namespaces,
        a cgroup runc left (and its parent once empty), the container's folder."""
        from gophernetes import network
        from gophernetes.linux.cgroups import default_parent

        directory = self._dir(container_id)
        with contextlib.suppress(GophernetesError):
            network.release_container(self.state, container_id)
        unpin_namespaces(directory / "ns")
        remove_cgroup(default_parent(), container_id)
        shutil.rmtree(directory, ignore_errors=True)

    def _dir(self, container_id: str) -> Path:
        return self.home / container_id

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One `run` at a time decides on names: an exclusive lock on a file under the state root."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def rename(self, old: str, new: str) -> None:
        """The name is the container's gophernetes.name label: `ctr containers label` changes it."""
        with self._locked():
            container_id = self._lookup(old)
            new = self._free_name(new)
            self.ctr.run("containers", "label", container_id, f"{LABEL_NAME}={new}", what=f"container {old}")


def clean_up_after_exit(lib: str, run: str, address: str, container_id: str) -> None:
    """What a `run -d --rm` supervisor calls once ctr has removed the container."""
    ContainerdEngine(StateRoot(Path(lib), Path(run)), address)._clean_up(container_id)


# ---------------------------------------------------------------------- the request


def check_supported(request: RunRequest) -> None:
    """Options the native engine has and ctr 1.6 cannot express: refuse them, clearly."""
    if request.rootfs:
        raise UsageError("--rootfs is for the native engine: containerd runs images from its snapshotter "
                         "(import the directory as an image instead)")
    if request.user:
        raise UsageError("--user: ctr 1.6 cannot choose the user; the image's User is used")
    if request.net == "host" and request.publish:
        raise UsageError("--publish needs a bridge network, not --net host")
    if request.userns != "host":
        raise UsageError("--userns auto is for the native engine: ctr 1.6's --uidmap needs a remapped snapshot "
                         "per range, which gophernetes does not allocate for containerd")


def default_path_flags(environment: list[str]) -> list[str]:
    """docker's (and the native engine's) PATH where the image and the user set none: ctr
    would otherwise start the command with no PATH at all, and `cat` would not be found."""
    from gophernetes.runtime.spec import DEFAULT_PATH

    if any(variable.startswith("PATH=") for variable in environment):
        return []
    return ["--env", f"PATH={DEFAULT_PATH}"]


def capability_flags(caps: frozenset[str], privileged: bool) -> list[str]:
    """--privileged, or the differences from containerd's default set (which is docker's)."""
    from gophernetes.linux.capabilities import DOCKER_DEFAULT

    if privileged:
        return ["--privileged"]
    flags = []
    for name in sorted(caps - DOCKER_DEFAULT):
        flags += ["--cap-add", f"CAP_{name}"]
    for name in sorted(DOCKER_DEFAULT - caps):
        flags += ["--cap-drop", f"CAP_{name}"]
    return flags


def seccomp_flags(request: RunRequest, caps: frozenset[str], directory: Path) -> list[str]:
    """The native engine's seccomp profile for this container, resolved the same way and
    written in the OCI form runc reads: `--seccomp --seccomp-profile FILE`. (ctr's own
    --seccomp alone would apply containerd's copy of docker's profile; ours keeps both
    engines identical, custom profiles included.) Unconfined and --privileged: no flag."""
    import json

    from gophernetes.engine import seccomp_option
    from gophernetes.linux import seccomp_profile

    setting, custom = seccomp_option(request, caps)
    if setting == "unconfined":
        return []
    chosen = seccomp_profile.DEFAULT if custom is None else seccomp_profile.from_json(custom, setting)
    profile = directory / "seccomp.json"
    profile.write_text(json.dumps(seccomp_profile.to_oci(seccomp_profile.resolve(chosen, caps))))
    return ["--seccomp", "--seccomp-profile", str(profile)]


def limit_flags(limits) -> list[str]:
    """The limits ctr has flags for; runc writes them into the cgroup."""
    flags = []
    if limits.memory is not None:
        flags += ["--memory-limit", str(limits.memory)]
    if limits.cpus is not None:
        flags += ["--cpus", f"{limits.cpus:g}"]
    if limits.cpu_shares is not None:
        flags += ["--cpu-shares", str(limits.cpu_shares)]
    return flags


def needs_cgroup_beforehand(limits) -> bool:
    """Limits without a ctr flag: --pids-limit, --memory-swap, --blkio-weight."""
    return any(value is not None for value in (limits.pids, limits.memory_swap, limits.blkio_weight))


def full_reference(reference: str) -> str:
    """containerd wants references in full: busybox -> docker.io/library/busybox:latest."""
    from gophernetes.image.reference import parse

    parsed = parse(reference)
    text = f"{parsed.registry}/{parsed.repository}"
    if parsed.tag:
        text += f":{parsed.tag}"
    if parsed.digest:
        text += f"@{parsed.digest}"
    return text


def import_base_name(source: Path, name: str | None) -> str | None:
    """What `ctr images import --base-name` needs to name the images of an archive.

    An OCI archive often names its images by tag only ("latest"); ctr then needs the
    repository, else it invents "import-DATE". We choose as the native engine does: the
    --name given, else the archive's file or folder name. A `docker save` archive
    carries full names (RepoTags) and needs none.
    """
    if name:
        return full_reference(name).rsplit(":", 1)[0]
    if not is_oci_layout(source):
        return None
    return full_reference(source.name.split(".")[0].lower() or "image").rsplit(":", 1)[0]


def is_oci_layout(source: Path) -> bool:
    """A folder or tar archive with an `oci-layout` file at its top."""
    import tarfile

    if source.is_dir():
        return (source / "oci-layout").exists()
    with contextlib.suppress(tarfile.TarError, OSError), tarfile.open(source) as archive:
        return any(member.lstrip("./") == "oci-layout" for member in archive.getnames())
    return False


def short_name(ref: str) -> str:
    """docker.io/library/busybox:latest -> busybox:latest (what `images` shows)."""
    from gophernetes.image.reference import parse

    try:
        return parse(ref).name
    except GophernetesError:
        return ref


def start_error(message: str, what: str, ctr: Ctr) -> GophernetesError:
    """ctr's error when runc could not start the command: 127/126 as docker, else 125."""
    runc_says = message[message.find("exec: "):].removesuffix(": unknown") if "exec: " in message else ""
    if "not found" in runc_says or "no such file" in runc_says:
        return CommandNotFound(runc_says)
    if "permission denied" in runc_says:
        return CannotRun(runc_says)
    return ctr.error(f"ctr: {message}", what)


def parse_time(text: str) -> float:
    """containerd's RFC 3339 time with nanoseconds -> seconds since the epoch."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", text)
    if not match:
        return 0.0
    fraction = (match.group(2) or ".0")[:7]
    zone = match.group(3) or "Z"
    return datetime.fromisoformat(match.group(1) + fraction + zone.replace("Z", "+00:00")).timestamp()


def network_of(state: StateRoot, container_id: str) -> tuple[list[str], list[str]]:
    """The networks and published ports of a container's lease, if it has one."""
    from gophernetes.network import ipam

    lease = ipam.load(state.networks, container_id) if state.networks.exists() else None
    if lease is None:
        return [], []
    return ([e.network for e in lease.endpoints], [str(p) for e in lease.endpoints for p in e.ports])


def runc_version() -> str:
    """The first line of `runc --version` is "runc version 1.1.5+ds1"."""
    try:
        words = subprocess.run(["runc", "--version"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return words[2] if words[:2] == ["runc", "version"] and len(words) > 2 else "unknown"


def read_exit_status(directory: Path) -> int | None:
    """What the supervisor wrote when the task ended, or None while it runs."""
    try:
        return int((directory / "exit-status").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


# ---------------------------------------------------------------------- processes


class Attached:
    """ctr (run or exec) with our terminal's stdin and stdout; its status is the container's.

    ctr exits with the container's status, and with 1 when it failed itself: then its
    last stderr line starts with "ctr: ". We relay stderr and hold back such lines, so a
    failure becomes our one-line error instead of ctr's. Ctrl-C reaches ctr from the
    terminal directly (ctr forwards it to the container), so we ignore it meanwhile.
    """

    def __init__(self, ctr: Ctr, argv: list[str], stdin, what: str) -> None:
        self.ctr, self.what = ctr, what
        self.process = subprocess.Popen(argv, stdin=stdin, stderr=subprocess.PIPE)
        self.held: list[bytes] = []
        self.relay = threading.Thread(target=relay_stderr, args=(self.process.stderr, self.held), daemon=True)
        self.relay.start()

    def wait(self) -> int:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        forward = signal.signal(signal.SIGTERM, lambda number, frame: self.process.send_signal(number))
        try:
            status = self.process.wait()
            self.relay.join(5)
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, forward)
        message = b"".join(self.held).decode(errors="replace")
        if status != 0 and message.startswith("ctr: "):
            raise start_error(error_line(message), self.what, self.ctr)
        if message:
            sys.stderr.write(message)
        return 128 - status if status < 0 else status


def relay_stderr(stream, held: list[bytes]) -> None:
    """Copy ctr's stderr to ours as it comes, keeping back what looks like ctr's own error."""
    out = sys.stderr.buffer
    for chunk in iter(lambda: stream.read1(65536), b""):
        if held or chunk.startswith(b"ctr: ") or b"\nctr: " in chunk:
            held.append(chunk)
            continue
        out.write(chunk)
        out.flush()


@contextlib.contextmanager
def tar_stream(directory: Path) -> Iterator:
    """`tar -C DIRECTORY -c .` as a stream to read from: an OCI layout as an archive."""
    process = subprocess.Popen(["tar", "-C", str(directory), "-c", "."], stdout=subprocess.PIPE)
    stream = process.stdout
    assert stream is not None, "stdout=PIPE gives the process a pipe to read"
    try:
        yield stream
    finally:
        stream.close()
        process.wait()


def follow_file(path: Path, tail: int | None, alive) -> Iterator[str]:
    """The lines of `path` (the last `tail` of them); with `alive`, keep reading until it is False."""
    with open(path, errors="replace") as file:
        lines = file.readlines()
        if tail is not None:
            lines = lines[len(lines) - tail:] if 0 <= tail < len(lines) else lines
        yield from lines
        if alive is None:
            return
        partial = ""
        while True:
            running = alive()
            chunk = file.read()
            if chunk:
                partial += chunk
                *complete, partial = partial.split("\n")
                yield from (line + "\n" for line in complete)
            elif not running:
                break
            else:
                time.sleep(0.1)
        if partial:
            yield partial


# ---------------------------------------------------------------------- namespaces


def pin_namespaces(directory: Path, kinds: list[str], hostname: str, plug=None) -> None:
    """Make new `kinds` namespaces ("net", "uts") and keep them alive with bind mounts.

    A namespace lives as long as a process is in it or a file refers to it: bind-mounting
    /proc/PID/ns/net onto an ordinary file keeps it after PID exits (this is all `ip netns
    add` does). A forked child unshares the namespaces, names the host, brings `lo` up and
    waits; we bind its namespace files under `directory`, let `plug(pid)` wire the network
    into it while the child is still inside, then let the child go.

    man 2 unshare, man 7 namespaces, man 8 ip-netns
    """
    from gophernetes.linux import loopback, syscalls

    flags = {"net": syscalls.CLONE_NEWNET, "uts": syscalls.CLONE_NEWUTS}
    ready_read, ready_write = os.pipe()
    done_read, done_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(ready_read)
            os.close(done_write)
            syscalls.unshare(sum(flags[kind] for kind in kinds))
            if "uts" in kinds:
                syscalls.sethostname(hostname)
            loopback.bring_up()
            os.write(ready_write, b"1")
            os.read(done_read, 1)
            status = 0
        finally:
            os._exit(status)
    os.close(ready_write)
    os.close(done_read)
    try:
        if os.read(ready_read, 1) != b"1":
            raise GophernetesError(f"could not create the container's {' and '.join(kinds)} namespaces")
        directory.mkdir(parents=True, exist_ok=True)
        for kind in kinds:
            target = directory / kind
            target.touch()
            syscalls.mount(f"/proc/{pid}/ns/{kind}", target, None, syscalls.MS_BIND)
        if plug is not None:
            plug(pid)
    finally:
        os.close(done_write)
        os.close(ready_read)
        os.waitpid(pid, 0)


def unpin_namespaces(directory: Path) -> None:
    """Unmount the pinned namespace files; the namespaces go when nothing else holds them."""
    from gophernetes.linux import syscalls

    if not directory.is_dir():
        return
    for target in directory.iterdir():
        with contextlib.suppress(OSError, GophernetesError):
            syscalls.umount2(target, syscalls.MNT_DETACH)
        with contextlib.suppress(OSError):
            target.unlink()


def remove_cgroup(parent: str, container_id: str) -> None:
    """Remove a container's cgroup if runc left it, and the parent once it is empty.

    rmdir is the only way to delete a cgroup, and it fails while anything is inside; so
    this never harms a cgroup in use (e.g. the parent while other containers run).
    """
    root = Path("/sys/fs/cgroup")
    tops = [root] + [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    for top in tops:
        for directory in (top / parent / container_id, top / parent):
            with contextlib.suppress(OSError):
                directory.rmdir()
