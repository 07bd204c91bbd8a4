"""`gophernetes build`: a Containerfile, step by step, into an image in the store.

    FROM busybox [AS name]  the base: its layers and its config (or `scratch`: none), or an
                            earlier stage; its ONBUILD triggers run now
    ENV, WORKDIR, USER,     change the config only ("empty layers" in the history)
      CMD, ENTRYPOINT,
      LABEL, EXPOSE, ARG,
      SHELL, VOLUME,
      HEALTHCHECK,
      STOPSIGNAL, ONBUILD
    COPY, ADD               files of the context, written straight into a new layer tar;
                            COPY --from=STAGE|INDEX|IMAGE takes them from that root instead
    RUN                     a container on the image so far; what it changed is the layer

Multi-stage: every FROM starts a stage; the last one is the image. A stage is kept (its
layers and config) for a later `FROM stage` or `COPY --from=stage`; its layers stay in
the store like any layer and go when no image uses them. Every stage is built, as
docker's classic builder does (BuildKit and buildah skip the ones the last does not use).

HEALTHCHECK, VOLUME, STOPSIGNAL and ONBUILD are kept in the image config as docker keeps
them (Healthcheck, Volumes, StopSignal, OnBuild). gophernetes itself does not run health
checks, and a RUN step's writes under a VOLUME path are kept (docker's classic builder
drops them; buildah keeps them).

A RUN step, the way docker's classic builder does it:

    1. the layers so far are stacked read-only (an overlayfs without an upper dir) at
       work/step-N/root                            (one layer: that folder; none: an empty one)
    2. the engine runs the command in a container on that root (`run --rootfs`): its
       own overlayfs puts every change in the container's *upper* folder
    3. the upper folder, translated by diff.py (whiteouts, opaque folders), is the layer;
       /etc/hosts and /etc/hostname, which the runtime writes into every container, and
       the empty /dev, /proc, /sys mount points are left out
    4. the container is removed; the layer is unpacked into the store like a pulled one

Every step that changes files gets a cache key: the previous step's key, the
instruction with its variables expanded, and (COPY/ADD) a digest of the files. A key
seen before, whose layer is still in the store, reuses that layer ("Using cache").
The cache (build-cache.json in the store) lasts as long as some image uses the layer.

The image is named last, in one write, as a pull does: a build that fails leaves no
image (and no layer, once the store collects what no image uses).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gophernetes.errors import GophernetesError, NotFound, UsageError
from gophernetes.image import containerfile, context, reference
from gophernetes.image.busybox import manifest_json
from gophernetes.image.containerfile import Instruction
from gophernetes.image.diff import LayerWriter, diff_upper
from gophernetes.image.manifest import (
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    host_platform,
    parse_config,
    parse_document,
)
from gophernetes.image.progress import human_size
from gophernetes.image.store import Image, ImageStore, StoreWriter

CACHE_FILE = "build-cache.json"
RUNTIME_FILES = frozenset({"etc/hosts", "etc/hostname", "etc/resolv.conf"})
MOUNT_POINTS = ("dev", "proc", "sys")

# (root folder, argv, env, workdir, user, network) -> a context giving (exit status, upper folder)
StepRunner = Callable[[Path, list[str], list[str], str, str, str], AbstractContextManager[tuple[int, Path]]]


@dataclass
class State:
    """The image as the steps so far made it."""

    layers: list[Descriptor] = field(default_factory=list)
    config: dict = field(default_factory=dict)       # the whole image config JSON
    key: str = "scratch"                             # the cache key of the last step
    args: dict[str, str] = field(default_factory=dict)   # ARG values in scope
    name: str = ""                                   # FROM ... AS name
    started: bool = False                            # after its FROM (ARGs before the first belong to none)

    @property
    def run(self) -> dict:
        return self.config.setdefault("config", {})

    @property
    def diff_ids(self) -> list[str]:
        return self.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"]

    def variables(self) -> dict[str, str]:
        """What $NAME means in an instruction: the ARGs, then the ENV (ENV wins, as docker has it)."""
        env = dict(item.partition("=")[::2] for item in self.run.get("Env") or [])
        return {**self.args, **env}


@dataclass
class Build:
    """One build: where its files come from, how RUN runs, what it prints."""

    store: ImageStore
    writer: StoreWriter
    context: Path
    filename: str
    run_step: StepRunner
    build_args: dict[str, str]
    network: str = "none"
    use_cache: bool = True
    say: Callable[[str], None] = lambda line: None
    cache: dict[str, dict] = field(default_factory=dict)
    used_args: set[str] = field(default_factory=set)
    stages: list[State] = field(default_factory=list)      # the stages before the current one
    global_args: dict[str, str] = field(default_factory=dict)  # ARGs before the first FROM

    def stage(self, text: str) -> State | None:
        """An earlier stage by name (any case) or index, as FROM and COPY --from name one."""
        if text.isdigit():
            index = int(text)
            return self.stages[index] if index < len(self.stages) else None
        return next((stage for stage in self.stages if stage.name and stage.name == text.lower()), None)


def build(store: ImageStore, context_dir: Path, containerfile_path: Path | None, tag: str, run_step: StepRunner, *,
          build_args: dict[str, str] | None = None, network: str = "none", use_cache: bool = True,
          say: Callable[[str], None] = lambda line: None) -> Image:
    """Build the Containerfile (default CONTEXT/Containerfile, else Dockerfile) and name the image `tag`."""
    if not context_dir.is_dir():
        raise NotFound(f"build context {context_dir} is not a folder")
    path = containerfile_path or next((context_dir / n for n in ("Containerfile", "Dockerfile")
                                       if (context_dir / n).is_file()), context_dir / "Containerfile")
    try:
        text = path.read_text()
    except OSError as error:
        raise NotFound(f"cannot read {path}: {error.strerror}; give one with -f") from None
    name = reference.parse(tag).name
    instructions = containerfile.parse(text, path.name)
    _default_base(store, instructions, build_args or {}, path.name)
    with store.writing() as writer:
        job = Build(store, writer, context_dir, path.name, run_step, dict(build_args or {}), network, use_cache, say,
                    _read_cache(store))
        state = State()
        steps = len(instructions)
        for number, instruction in enumerate(instructions, 1):
            say(f"STEP {number}/{steps}: {instruction.source}")
            if instruction.keyword == "FROM" and state.started:  # a new stage: the one before is kept
                job.stages.append(state)
                state = State(args=dict(job.global_args))
            step(job, state, instruction, number)
        unused = sorted(set(job.build_args) - job.used_args)
        if unused:
            say(f"warning: build arguments not consumed by an ARG: {', '.join(unused)}")
        image = _commit(job, state, name)
        _write_cache(job)
    say(f"COMMIT {name}")
    return image


def _default_base(store: ImageStore, instructions: list[Instruction], build_args: dict[str, str],
                  filename: str) -> None:
    """FROM busybox on a fresh machine: build the default image first, as `run` does (offline)."""
    args: dict[str, str] = {}
    for instruction in instructions:
        where = instruction.where(filename)
        if instruction.keyword == "ARG":
            for key, default in containerfile.key_values(instruction.text, args, where, "ARG"):
                args[key] = build_args.get(key, default)
        elif instruction.keyword == "FROM":
            if containerfile.expand(instruction.text, args, where) in ("busybox", "busybox:latest"):
                from gophernetes.image.busybox import default_image

                default_image(store)
            return


def step(job: Build, state: State, instruction: Instruction, number: int) -> None:
    """Run one instruction against `state`; errors carry FILE:LINE."""
    where = instruction.where(job.filename)
    keyword = instruction.keyword
    try:
        if keyword == "FROM":
            _from(job, state, instruction, where)
            _onbuild_triggers(job, state, instruction, number)
        elif keyword == "ARG":
            _arg(job, state, instruction, where)
            if not state.started:
                job.global_args = dict(state.args)
            if state.config:  # an ARG before FROM belongs to no image
                _history(state, instruction, empty=True)
        elif keyword in ("RUN",):
            _run(job, state, instruction, where, number)
        elif keyword in ("COPY", "ADD"):
            _copy(job, state, instruction, where, number)
        else:
            _configure(state, instruction, where)
            state.key = _key(state.key, instruction.source, json.dumps(state.run, sort_keys=True))
            made_layer = keyword == "WORKDIR" and _workdir(job, state, number)
            _history(state, instruction, empty=not made_layer)
    except GophernetesError as error:
        message = str(error)
        if not message.startswith(f"{job.filename}:"):
            error.args = (f"{where}: {message}",)
        raise


def _from(job: Build, state: State, instruction: Instruction, where: str) -> None:
    base = containerfile.expand(instruction.text, state.args, where)
    state.name, state.started = instruction.flags.get("as", ""), True
    earlier = job.stage(base) if not base.isdigit() else None  # FROM takes a stage's name, not its index
    if earlier is not None:
        state.layers, state.key = list(earlier.layers), earlier.key
        state.config = json.loads(json.dumps({k: v for k, v in earlier.config.items() if not k.startswith("_")}))
        job.say(f"--> stage {earlier.name} ({len(state.layers)} layer(s))")
        return
    if base == "scratch":
        os_name, _, arch = host_platform().partition("/")
        state.config = {"architecture": arch, "os": os_name, "config": {}, "rootfs": {"type": "layers", "diff_ids": []},
                        "history": []}
        state.key = _key("scratch")
        return
    image = job.store.get(base)
    document = parse_document(job.store.read_blob(image.manifest_digest), "", image.name)
    assert isinstance(document, Manifest), "the store keeps one platform's manifest per image"
    state.layers = list(document.layers)
    state.config = json.loads(job.store.read_blob(image.id))
    state.config.setdefault("history", [])
    state.key = _key(image.id)
    job.say(f"--> {image.name} ({image.id[7:19]}, {len(state.layers)} layer(s))")


def _onbuild_triggers(job: Build, state: State, instruction: Instruction, number: int) -> None:
    """The base's ONBUILD instructions, run now as if written after FROM (docker's rule); the
    new image does not inherit them."""
    triggers = state.run.pop("OnBuild", None) or []
    for text in triggers:
        trigger = containerfile.trigger(text, instruction.line, job.filename)
        job.say(f"--> ONBUILD {text}")
        step(job, state, trigger, number)


def _image_state(job: Build, name: str, where: str) -> State:
    """The image `name` of the store as a stage (COPY --from=IMAGE)."""
    state = State()
    _from(job, state, Instruction(0, "FROM", name), where)
    return state


def _arg(job: Build, state: State, instruction: Instruction, where: str) -> None:
    for key, default in containerfile.key_values(instruction.text, state.variables(), where, "ARG"):
        job.used_args.add(key)
        state.args[key] = job.build_args.get(key, default)
    state.key = _key(state.key, instruction.source, json.dumps(state.args, sort_keys=True))


def _configure(state: State, instruction: Instruction, where: str) -> None:
    """ENV, WORKDIR, USER, CMD, ENTRYPOINT, LABEL, EXPOSE: the config only."""
    run, keyword, variables = state.run, instruction.keyword, state.variables()
    if keyword == "ENV":
        env = dict(item.partition("=")[::2] for item in run.get("Env") or [])
        for key, value in containerfile.key_values(instruction.text, variables, where, "ENV"):
            env.pop(key, None)
            env[key] = value
        run["Env"] = [f"{k}={v}" for k, v in env.items()]
    elif keyword == "WORKDIR":
        path = containerfile.expand(instruction.text, variables, where)
        run["WorkingDir"] = posixpath.normpath(posixpath.join(run.get("WorkingDir") or "/", path))
        if ".." in run["WorkingDir"].split("/"):
            raise UsageError(f"WORKDIR {path!r} climbs above /")
    elif keyword == "USER":
        run["User"] = containerfile.expand(instruction.text, variables, where)
    elif keyword in ("CMD", "ENTRYPOINT"):
        argv = containerfile.command(instruction, run.get("Shell"))
        if keyword == "ENTRYPOINT" and not state.config.get("_cmd_set"):
            run.pop("Cmd", None)  # docker: a new ENTRYPOINT drops the base image's CMD
        run["Cmd" if keyword == "CMD" else "Entrypoint"] = argv or None
        if keyword == "CMD":
            state.config["_cmd_set"] = True
    elif keyword == "LABEL":
        labels = run.get("Labels") or {}
        labels.update(containerfile.key_values(instruction.text, variables, where, "LABEL"))
        run["Labels"] = labels
    elif keyword == "EXPOSE":
        exposed = run.get("ExposedPorts") or {}
        exposed.update({port: {} for port in containerfile.ports(instruction.text, variables, where)})
        run["ExposedPorts"] = exposed
    else:
        _configure_more(run, instruction, variables, where)


def _configure_more(run: dict, instruction: Instruction, variables: dict[str, str], where: str) -> None:
    """SHELL, VOLUME, HEALTHCHECK, STOPSIGNAL, ONBUILD: the config only, as docker keeps them."""
    keyword = instruction.keyword
    if keyword == "SHELL":
        run["Shell"] = list(instruction.exec_form or [])
    elif keyword == "VOLUME":
        found = instruction.exec_form if instruction.exec_form is not None else \
            containerfile.words(instruction.text, variables, where)
        if not found or not all(found):
            raise UsageError("VOLUME needs a path")
        run["Volumes"] = {**(run.get("Volumes") or {}), **{path: {} for path in found}}
    elif keyword == "HEALTHCHECK":
        run["Healthcheck"] = containerfile.healthcheck(instruction, where)
    elif keyword == "STOPSIGNAL":
        run["StopSignal"] = containerfile.expand(instruction.text, variables, where)
    elif keyword == "ONBUILD":
        run["OnBuild"] = [*(run.get("OnBuild") or []), instruction.text]


def _workdir(job: Build, state: State, number: int) -> bool:
    """WORKDIR makes its folder when the image lacks it (a small layer), as docker and buildah do."""
    target = state.run["WorkingDir"].lstrip("/")
    if not target:
        return False
    with _root(job, state, number) as merged:
        if context.is_folder_in(merged, target):
            return False
        blob = job.writer.temp_path("layer-")
        writer = LayerWriter(blob)
        context.add_parents(writer, target + "/x", merged, set())
    _add_layer(job, state, writer, blob, cached_key=None)
    return True


def _run(job: Build, state: State, instruction: Instruction, where: str, number: int) -> None:
    run = state.run
    argv = containerfile.command(instruction, run.get("Shell"))
    if not argv:
        raise UsageError("RUN needs a command")
    env = list(run.get("Env") or []) + [f"{k}={v}" for k, v in state.args.items()
                                         if k not in dict(e.partition("=")[::2] for e in run.get("Env") or [])]
    workdir, user = run.get("WorkingDir") or "/", run.get("User") or ""
    key = _key(state.key, "RUN", json.dumps([argv, env, workdir, user]))
    if _from_cache(job, state, instruction, key):
        return
    with _root(job, state, number) as merged, job.run_step(merged, argv, env, workdir, user, job.network) as done:
        status, upper = done
        if status != 0:
            raise GophernetesError(f"RUN {' '.join(argv)[:200]} returned exit code {status}")
        blob = job.writer.temp_path("layer-")
        writer = LayerWriter(blob)
        try:
            diff_upper(upper, writer, _runtime_leftovers(upper))
        except BaseException:
            writer.abort()
            raise
    _add_layer(job, state, writer, blob, key, instruction)


def _runtime_leftovers(upper: Path) -> frozenset[str]:
    """What the runtime, not the RUN command, put in the upper folder."""
    skip = {name for name in RUNTIME_FILES if (upper / name).is_file() and not (upper / name).is_symlink()}
    skip |= {name for name in MOUNT_POINTS if (upper / name).is_dir() and not any((upper / name).iterdir())}
    return frozenset(skip)


def _copy(job: Build, state: State, instruction: Instruction, where: str, number: int) -> None:
    variables = state.variables()
    found = instruction.exec_form if instruction.exec_form is not None else \
        containerfile.words(instruction.text, variables, where)
    if len(found) < 2:
        raise UsageError(f"{instruction.keyword} needs SRC... DEST")
    with contextlib.ExitStack() as stack:
        merged = stack.enter_context(_root(job, state, number))
        origin, in_root, origin_key = job.context, False, ""
        if "from" in instruction.flags:  # another stage's root, or an image's: resolved inside it
            stage = _copy_origin(job, instruction, variables, where)
            origin, in_root, origin_key = stack.enter_context(_root(job, stage, number, "from")), True, stage.key
        sources = context.plan(origin, found[:-1], found[-1], state.run.get("WorkingDir") or "/", where,
                               merged, in_root=in_root)
        owner = context.parse_owner(instruction.flags.get("chown"), merged, where)
        mode = _mode(instruction.flags.get("chmod"), where)
        key = _key(state.key, instruction.keyword, json.dumps([[s.target for s in sources], owner, mode]),
                   context.digest(sources), origin_key)  # the origin's key: its owners are kept, not digested
        if _from_cache(job, state, instruction, key):
            return
        blob = job.writer.temp_path("layer-")
        writer = LayerWriter(blob)
        try:
            plain = [s for s in sources if not (instruction.keyword == "ADD" and context.is_archive(s.path))]
            context.copy_sources(writer, plain, merged, owner, mode, keep_owner=in_root)
            for archive in [s for s in sources if s not in plain]:
                target = posixpath.dirname(archive.target) if not archive.path.is_dir() else archive.target
                context.unpack_archive(writer, archive.path, target, merged, owner, where)
        except BaseException:
            writer.abort()
            raise
    _add_layer(job, state, writer, blob, key, instruction)


def _copy_origin(job: Build, instruction: Instruction, variables: dict[str, str], where: str) -> State:
    """COPY --from=NAME|INDEX|IMAGE: an earlier stage, else an image of the store."""
    name = containerfile.expand(instruction.flags["from"], variables, where)
    stage = job.stage(name)
    if stage is not None:
        return stage
    if name.isdigit():
        raise UsageError(f"COPY --from={name}: there are only {len(job.stages)} earlier stage(s)")
    return _image_state(job, name, where)


def _mode(text: str | None, where: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 8) & 0o7777
    except ValueError:
        raise UsageError(f"--chmod={text}: give an octal mode such as 0755") from None


# --- layers, cache, commit -------------------------------------------------------------------


def _add_layer(job: Build, state: State, writer: LayerWriter, blob: Path, cached_key: str | None,
               instruction: Instruction | None = None) -> None:
    diff_id, digest, size = writer.close()
    job.writer.add_layer(blob, digest, diff_id)  # unpacked by layers.py, as any pulled layer
    descriptor = Descriptor(OCI_LAYER_GZIP, digest, size)
    state.layers.append(descriptor)
    state.diff_ids.append(diff_id)
    if instruction is not None:
        _history(state, instruction, empty=False)
    if cached_key:
        job.cache[cached_key] = {"diff_id": diff_id, "digest": digest, "size": size}
        state.key = cached_key
    job.say(f"--> layer {digest[7:19]} ({human_size(size)}, {writer.entries} entries)")


def _from_cache(job: Build, state: State, instruction: Instruction, key: str) -> bool:
    hit = job.cache.get(key) if job.use_cache else None
    if not hit or not job.store.has_layer(hit["diff_id"]) or not job.store.has_blob(hit["digest"]):
        return False
    state.layers.append(Descriptor(OCI_LAYER_GZIP, hit["digest"], hit["size"]))
    state.diff_ids.append(hit["diff_id"])
    _history(state, instruction, empty=False)
    state.key = key
    job.say(f"--> Using cache {hit['digest'][7:19]}")
    return True


def _history(state: State, instruction: Instruction, empty: bool) -> None:
    entry: dict[str, Any] = {"created": _now(), "created_by": f"/bin/sh -c #(nop) {instruction.source}"
                             if empty else instruction.source}
    if empty:
        entry["empty_layer"] = True
    state.config.setdefault("history", []).append(entry)


def _commit(job: Build, state: State, name: str) -> Image:
    config = {key: value for key, value in state.config.items() if not key.startswith("_")}
    config["created"] = _now()
    config["config"] = {key: value for key, value in config.get("config", {}).items() if value is not None}
    body = json.dumps(config, separators=(",", ":")).encode()
    config_digest = "sha256:" + hashlib.sha256(body).hexdigest()
    manifest = Manifest(OCI_MANIFEST, Descriptor(OCI_CONFIG, config_digest, len(body)), list(state.layers))
    manifest_body = manifest_json(manifest)
    manifest_digest = "sha256:" + hashlib.sha256(manifest_body).hexdigest()
    job.writer.put_blob(body, config_digest)
    job.writer.put_blob(manifest_body, manifest_digest)
    job.writer.commit(name, manifest, manifest_digest, parse_config(body, name))
    return job.store.get(name)


def _key(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _now() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch and epoch.isdigit() else int(time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _read_cache(store: ImageStore) -> dict[str, dict]:
    try:
        data = json.loads((store.root / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(job: Build) -> None:
    live = {key: value for key, value in job.cache.items() if job.store.has_layer(value.get("diff_id", ""))}
    path = job.writer.temp_path("cache-")
    path.write_text(json.dumps(live, indent=1, sort_keys=True))
    os.replace(path, job.store.root / CACHE_FILE)


# --- the root a step sees --------------------------------------------------------------------


@contextlib.contextmanager
def _root(job: Build, state: State, number: int, purpose: str = "step") -> Iterator[Path]:
    """The image so far as one read-only folder: an overlayfs of its layers without an upper dir."""
    dirs = [job.store.layer_link(d) for d in state.diff_ids]
    if len(dirs) == 1:
        yield job.store.layer_dir(state.diff_ids[0])
        return
    target = Path(job.writer.work) / f"{purpose}-{number}"
    target.mkdir(exist_ok=True)
    if not dirs:
        yield target
        return
    from gophernetes.linux import syscalls

    options = "lowerdir=" + ":".join(os.fspath(d) for d in reversed(dirs))  # top layer first
    if len(options) >= 4096:
        raise GophernetesError(f"{len(dirs)} layers do not fit in one overlay mount; build fewer layers")
    syscalls.mount("overlay", target, "overlay", syscalls.MS_RDONLY, options)
    try:
        yield target
    finally:
        try:
            syscalls.umount2(target, 0)
        except OSError:  # still busy (a process of the step lingering): detach it, the kernel finishes later
            syscalls.umount2(target, syscalls.MNT_DETACH)
