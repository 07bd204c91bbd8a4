"""A `run` request as the options of `ctr run`: what ctr can express, and what it cannot.

ctr 1.6 turns its flags into the OCI runtime spec it hands to runc, so each option of
`gophernetes run` becomes a ctr flag (or a refusal): this module is that translation,
pure functions of the request that a test can read. Making the things ctr cannot
(pinned namespaces, a cgroup for the limits ctr has no flag for, the /etc files) is the
engine's part (engine.py); here they appear only as the paths ctr is pointed at.

- Limits: --memory, --cpus and --cpu-shares become ctr's --memory-limit, --cpus and
  --cpu-shares (runc writes them into the cgroup). ctr has no flag for --pids-limit,
  --memory-swap or --blkio-weight: for those the engine makes the cgroup beforehand with
  the cgroup driver and points runc at it (`--cgroup`); runc joins a cgroup that exists
  and leaves alone the limits its spec does not mention. (One difference shows: runc's
  own init, a Go program with a handful of threads, joins the cgroup before the command
  runs and counts against a pids limit set beforehand; keep --pids-limit >= 10.)
- Namespaces: the host's where asked (`--with-ns KIND:/proc/1/ns/KIND`), else new ones;
  the network and UTS namespaces are made and pinned beforehand (ctr 1.6 cannot set a
  hostname, and a bridge network must be plugged in before the command starts), and
  runc joins them (`--with-ns network:PATH`). The cgroup namespace is always the host's
  (ctr's default spec has none).
- Seccomp: the native engine's profile, resolved for the container's capabilities, is
  written as the OCI spec's linux.seccomp and handed over (`--seccomp-profile`).
- Not expressible through ctr 1.6, so refused with a clear error: --user (the image's
  User applies), --rootfs (containerd runs images), --userns auto.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gophernetes.engine import RunRequest
from gophernetes.engines.containerd.client import Ctr
from gophernetes.errors import CannotRun, CommandNotFound, GophernetesError, UsageError
from gophernetes.linux.cgroups import Limits

LABEL_NAME = "gophernetes.name"     # containerd labels: free-form key=value on the container record
LABEL_IMAGE = "gophernetes.image"
HOST_NS = "/proc/1/ns"              # the host's namespaces (init's), joined for --pid/--ipc/--uts host


@dataclass
class Launch:
    """A validated `run`: what ctr will be asked."""

    id: str
    name: str
    image: str               # short name, as the user wrote it after normalization
    ref: str                 # containerd's fully qualified reference
    argv: list[str]
    flags: list[str] = field(default_factory=list)
    remove_on_exit: bool = False

    @property
    def ctr_args(self) -> list[str]:
        """The arguments of `ctr run` after its own options: flags, image, ID, command."""
        return [*self.flags, self.ref, self.id, *self.argv]


def check_supported(request: RunRequest) -> None:
    """Options the native engine has and ctr 1.6 cannot express: refuse them, clearly."""
    if request.rootfs:
        raise UsageError("--rootfs is for the native engine: containerd runs images from its snapshotter "
                         "(import the directory as an image instead)")
    if request.user:
        raise UsageError("--user: ctr 1.6 cannot choose the user; the image's User is used")
    if request.net == "host" and request.publish:
        raise UsageError("--publish needs a bridge network, not --net host")
    from gophernetes import mount_specs

    if any(spec.type == mount_specs.VOLUME for spec in
           mount_specs.parse_all(request.volumes, request.mounts, request.tmpfs)):
        raise UsageError("volumes are not supported with --engine containerd: bind a host folder "
                         "(-v /PATH:/DST) or use the native engine")
    if request.restart != "no":
        raise UsageError(f"--restart {request.restart} is not supported with --engine containerd: its "
                         "supervisor does not start a container again; use the native engine")
    if request.userns != "host":
        raise UsageError("--userns auto is for the native engine: ctr 1.6's --uidmap needs a remapped snapshot "
                         "per range, which gophernetes does not allocate for containerd")


def record_flags(launch: Launch, cgroup_parent: str, log: Path | None) -> list[str]:
    """Labels (our name and image, which containerd has no field for), the cgroup, the log file."""
    flags = ["--label", f"{LABEL_NAME}={launch.name}", "--label", f"{LABEL_IMAGE}={launch.image}",
             "--cgroup", f"/{cgroup_parent}/{launch.id}"]
    return flags + (["--log-uri", f"file://{log}"] if log is not None else [])


def process_flags(request: RunRequest, image_env: list[str]) -> list[str]:
    """The process: environment (PATH included), working directory, terminal, read-only root, chroot."""
    flags = []
    for variable in request.env:
        flags += ["--env", variable]
    flags += default_path_flags(list(image_env) + list(request.env))
    if request.working_dir:
        flags += ["--cwd", request.working_dir]
    return flags + [f"--{flag}" for flag, wanted in (("tty", request.tty), ("read-only", request.read_only),
                                                      ("no-pivot", request.use_chroot)) if wanted]


def default_path_flags(environment: list[str]) -> list[str]:
    """docker's (and the native engine's) PATH where the image and the user set none: ctr
    would otherwise start the command with no PATH at all, and `cat` would not be found."""
    from gophernetes.engine import DEFAULT_PATH

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


def seccomp_profile(request: RunRequest, caps: frozenset[str]) -> dict | None:
    """The native engine's seccomp profile for this container, in the OCI form runc reads;
    None for unconfined and --privileged. (ctr's own --seccomp alone would apply
    containerd's copy of docker's profile; ours keeps both engines identical, custom
    profiles included.)"""
    from gophernetes.engine import seccomp_option
    from gophernetes.linux import seccomp_profile as profiles

    setting, custom = seccomp_option(request, caps)
    if setting == "unconfined":
        return None
    chosen = profiles.DEFAULT if custom is None else profiles.from_json(custom, setting)
    return profiles.to_oci(profiles.resolve(chosen, caps))


def seccomp_flags(profile_file: Path | None) -> list[str]:
    """`--seccomp --seccomp-profile FILE` for a profile written to FILE; none without one."""
    return [] if profile_file is None else ["--seccomp", "--seccomp-profile", str(profile_file)]


def limit_flags(limits: Limits) -> list[str]:
    """The limits ctr has flags for; runc writes them into the cgroup."""
    flags = []
    if limits.memory is not None:
        flags += ["--memory-limit", str(limits.memory)]
    if limits.cpus is not None:
        flags += ["--cpus", f"{limits.cpus:g}"]
    if limits.cpu_shares is not None:
        flags += ["--cpu-shares", str(limits.cpu_shares)]
    return flags


def needs_cgroup_beforehand(limits: Limits) -> bool:
    """Limits without a ctr flag: --pids-limit, --memory-swap, --blkio-weight."""
    return any(value is not None for value in (limits.pids, limits.memory_swap, limits.blkio_weight))


def shared_namespaces(request: RunRequest) -> list[str]:
    """The kinds the container shares with the host (--pid host, ...), as ctr can: never cgroup."""
    return sorted(set(request.share_namespaces) - {"cgroup"})


def namespaces_to_pin(request: RunRequest) -> list[str]:
    """The kinds made and pinned before ctr runs: the network (for the bridge), and the UTS
    namespace (for the hostname) unless it is the host's; none with --net host."""
    if request.net == "host":
        return []
    return ["net"] + ([] if "uts" in request.share_namespaces else ["uts"])


def namespace_flags(request: RunRequest, pinned: Path) -> list[str]:
    """Join the host's namespaces asked for, and the pinned ones under `pinned` (or the host's network)."""
    flags = [f"--with-ns={kind}:{HOST_NS}/{kind}" for kind in shared_namespaces(request)]
    if request.net == "host":
        return flags + ["--net-host"]
    ctr_kind = {"net": "network", "uts": "uts"}
    for kind in namespaces_to_pin(request):
        flags += ["--with-ns", f"{ctr_kind[kind]}:{pinned / kind}"]
    return flags


def etc_mount_flags(files: dict[str, Path]) -> list[str]:
    """Bind-mount each file (container path -> host file) read-only over the image's."""
    flags = []
    for path, source in sorted(files.items()):
        flags += ["--mount", f"type=bind,src={source},dst={path},options=rbind:ro"]
    return flags


def mount_flags(request: RunRequest) -> list[str]:
    """-v /HOST:/DST[:ro], --mount type=bind|tmpfs and --tmpfs as ctr's --mount, which become the same
    config.json mounts the native engine writes (runc resolves the target inside the root)."""
    from gophernetes import mount_specs
    from gophernetes.engine import check_bind_sources

    specs = mount_specs.parse_all(request.volumes, request.mounts, request.tmpfs)
    check_bind_sources(specs)
    flags = []
    for spec in sorted(specs, key=lambda s: s.target.count("/")):
        readonly = ["ro"] if spec.readonly else []
        if spec.type == mount_specs.TMPFS:
            options = list(spec.options) + readonly
            flags += ["--mount", f"type=tmpfs,src=tmpfs,dst={spec.target},options={':'.join(options)}"]
        else:
            for text in (spec.source, spec.target):
                if "," in text or ":" in text:
                    raise UsageError(f"{text}: ctr's --mount cannot carry a path with ',' or ':'")
            flags += ["--mount", f"type=bind,src={spec.source},dst={spec.target},"
                                 f"options={':'.join(['rbind', 'rprivate'] + readonly)}"]
    return flags


def start_error(message: str, what: str, ctr: Ctr) -> GophernetesError:
    """ctr's error when runc could not start the command: 127/126 as docker, else 125."""
    runc_says = message[message.find("exec: "):].removesuffix(": unknown") if "exec: " in message else ""
    if "not found" in runc_says or "no such file" in runc_says:
        return CommandNotFound(runc_says)
    if "permission denied" in runc_says:
        return CannotRun(runc_says)
    return ctr.error(f"ctr: {message}", what)
