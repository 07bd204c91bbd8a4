"""The native engine's container, written as an OCI bundle's config.json (runtime-spec 1.0).

`make_config` turns what the engine resolved from a request and an image (a RunSpec) into
the runtime-spec document runc, crun and gophernetes' runtime read — the same step
containerd's `oci.WithImageConfig`, `WithUser`, ... options take before calling runc. The
engine writes it ONCE into the container's folder (the bundle), with one atomic rename,
and never changes it; facts only the engine cares about (name, image, network, published
ports, --rm) stay in the engine's own record beside it (record.json).

A student can `cat /run/gophernetes/containers/ID/config.json` and compare it with
`runc spec`: process (args, env, cwd, numeric user, the five capability sets,
noNewPrivileges, terminal), root (rootfs, readonly), hostname, mounts (/proc, /dev and its
devpts, shm and mqueue, /sys; /etc/hosts, /etc/hostname and /etc/resolv.conf bound from
the container's folder as docker does), and linux (namespaces, devices, cgroupsPath,
resources, maskedPaths, readonlyPaths, seccomp).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gophernetes.engines.native.spec import DEFAULT_PATH, RunSpec
from gophernetes.errors import GophernetesError
from gophernetes.linux.cgroups.base import DEFAULT_DEVICE_RULES, Limits, parse_device_rule
from gophernetes.runtime import oci_config as oci
from gophernetes.runtime.bundle import Container

# Our namespace names (linux/namespaces.py FLAGS) -> the runtime-spec's.
NAMESPACE_TYPES = {"pid": "pid", "uts": "uts", "mnt": "mount", "net": "network", "ipc": "ipc",
                   "cgroup": "cgroup", "user": "user"}
ETC_FILES = {"/etc/hosts": "hosts", "/etc/hostname": "hostname", "/etc/resolv.conf": "resolv.conf"}


def make_config(spec: RunSpec, folder: Path, etc_sources: dict[str, str], seccomp: dict | None,
                cgroups_path: str, mapping=None) -> oci.Config:
    """The runtime-spec config of the container `spec` describes, whose bundle is `folder`.

    `etc_sources`: container path -> host file bound over it (/etc/hosts, ...).
    `seccomp`: the resolved profile in the spec's form (None: unconfined).
    `mapping`: the block of subordinate ids of --userns auto (runtime/subids.py), or None.
    """
    from gophernetes.linux import mounts as linux_mounts

    privileged = spec.privileged
    user = resolve_user(spec.user, [Path(d) for d in spec.lower_dirs])
    return oci.Config(
        process=oci.Process(
            args=list(spec.command), env=environment(spec), cwd=clean_path(spec.working_dir or "/"),
            terminal=spec.tty, user=user,
            capabilities=capability_sets(all_capabilities() if privileged else spec.capabilities, user.uid),
            no_new_privileges=not privileged),
        root=oci.Root(path="rootfs", readonly=spec.read_only),
        hostname=(spec.hostname or spec.short_id) if "uts" in spec.namespaces else "",
        mounts=default_mounts() + by_depth(etc_mounts(etc_sources, folder), user_mounts(spec.mounts)),
        linux=oci.Linux(
            namespaces=[oci.Namespace(NAMESPACE_TYPES[kind]) for kind in spec.namespaces]
            + ([oci.Namespace("user")] if mapping is not None else []),
            uid_mappings=[oci.IdMapping(0, mapping.uid_base, mapping.size)] if mapping is not None else [],
            gid_mappings=[oci.IdMapping(0, mapping.gid_base, mapping.size)] if mapping is not None else [],
            devices=default_devices(), cgroups_path=cgroups_path,
            resources=resources(spec.limits, privileged),
            masked_paths=[] if privileged else list(linux_mounts.MASKED_PATHS),
            readonly_paths=[] if privileged else list(linux_mounts.READONLY_PATHS),
            seccomp=seccomp),
        annotations={oci.ROOTFS_LAYERS: json.dumps(list(spec.lower_dirs)),
                     oci.ROOTFS_UPPER: str(folder / "upper"), oci.ROOTFS_WORK: str(folder / "work"),
                     **copy_up_annotation(spec.mounts)},
    )


def by_depth(etc: list[oci.Mount], users: list[oci.Mount]) -> list[oci.Mount]:
    """The /etc files and the user's mounts, shallowest destination first (a volume on /etc comes
    before /etc/hosts, which would otherwise be hidden under it), as docker sorts them; a user's
    mount on /etc/hosts itself replaces ours."""
    taken = {mount.destination for mount in users}
    merged = [mount for mount in etc if mount.destination not in taken] + users
    return sorted(merged, key=lambda mount: mount.destination.rstrip("/").count("/"))


def user_mounts(mounts: list[dict]) -> list[oci.Mount]:
    """-v, --mount and --tmpfs as config.json mounts. A bind or a volume is an rbind of its host folder; a tmpfs is a
    tmpfs; "rprivate" only says what every mount of the container is anyway (linux/mounts.py
    make_all_private): nothing mounted in the container reaches the host, nor the reverse."""
    result = []
    for mount in mounts:
        readonly = ["ro"] if mount["readonly"] else []
        if mount["type"] == "tmpfs":
            result.append(oci.Mount(mount["target"], "tmpfs", "tmpfs", list(mount["options"]) + readonly))
        else:
            result.append(oci.Mount(mount["target"], "bind", mount["source"], ["rbind", "rprivate"] + readonly))
    return result


def copy_up_annotation(mounts: list[dict]) -> dict[str, str]:
    """The volumes that get the image's files at their target when they are still empty (docker's
    copy-up; runtime/oci_mounts.py COPY_UP). Another runtime ignores it: the volume stays empty."""
    from gophernetes.runtime.oci_mounts import COPY_UP

    targets = [m["target"] for m in mounts if m["type"] == "volume" and m.get("copy_up")]
    return {COPY_UP: json.dumps(targets)} if targets else {}


def etc_mounts(etc_sources: dict[str, str], folder: Path) -> list[oci.Mount]:
    """/etc/hosts, /etc/hostname, /etc/resolv.conf bound from their host files: the container's
    own (in its folder) writable, a network's shared /etc/hosts read-only (network/hosts.py)."""
    return [oci.Mount(destination, "bind", source,
                      ["rbind", "rw" if Path(source).parent == folder else "ro"])
            for destination, source in etc_sources.items()]


def environment(spec: RunSpec) -> list[str]:
    """PATH, HOSTNAME, HOME, TERM (with -t), then the image's and the user's variables, later wins."""
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": spec.hostname or spec.short_id, "HOME": "/root"}
    if spec.tty:
        env["TERM"] = "xterm"
    for item in spec.env:
        key, _, value = item.partition("=")
        env[key] = value
    return [f"{key}={value}" for key, value in env.items()]


def clean_path(path: str) -> str:
    """"/a/../b" -> "/b", as docker cleans a working directory (never above "/")."""
    return os.path.normpath("/" + path).replace("//", "/")


def capability_sets(names, uid: int = 0) -> oci.Capabilities:
    """Bounding, effective and permitted: the container's set; inheritable and ambient empty
    (as containerd gives since runc 1.1: execve must not pass them on by itself). A non-root
    user gets the bounding set only, as docker writes it (moby's WithCapabilities): the
    runtime keeps the effective and permitted sets across the switch to any user, as runc does."""
    wanted = sorted(f"CAP_{name}" for name in names)
    if uid != 0:
        return oci.Capabilities(bounding=wanted)
    return oci.Capabilities(bounding=wanted, effective=list(wanted), permitted=list(wanted))


def all_capabilities() -> list[str]:
    from gophernetes.linux.capabilities import CAPABILITIES, last_capability

    last = last_capability()
    return [name for name, number in CAPABILITIES.items() if number <= last]


def default_mounts() -> list[oci.Mount]:
    """What the runtime mounts in every container (linux/mounts.py and linux/devices.py)."""
    return [
        oci.Mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        oci.Mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        oci.Mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                                   "mode=0620", "gid=5"]),
        oci.Mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        oci.Mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        oci.Mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
    ]


def default_devices() -> list[oci.Device]:
    """The device nodes made in the container's /dev (linux/devices.py CHARACTER_DEVICES)."""
    from gophernetes.linux.devices import CHARACTER_DEVICES

    return [oci.Device(f"/dev/{name}", "c", major, minor) for name, (major, minor) in CHARACTER_DEVICES.items()]


def resources(limits: Limits, privileged: bool) -> dict:
    """linux.resources: the limits in the spec's units, and the device rules (docker's list)."""
    result: dict = {"devices": device_rules(privileged)}
    memory = {key: value for key, value in (("limit", limits.memory), ("swap", limits.memory_swap))
              if value is not None}
    cpu = {key: value for key, value in (("quota", limits.cpu_quota_us()), ("shares", limits.cpu_shares))
           if value is not None}
    if limits.cpus is not None:
        from gophernetes.linux.cgroups.base import CPU_PERIOD_US

        cpu["period"] = CPU_PERIOD_US
    for key, value in (("memory", memory), ("cpu", cpu)):
        if value:
            result[key] = value
    if limits.pids is not None:
        result["pids"] = {"limit": limits.pids}
    if limits.blkio_weight is not None:
        result["blockIO"] = {"weight": limits.blkio_weight}
    return result


def device_rules(privileged: bool) -> list[dict]:
    """Deny every device, then allow docker's few (or everything, privileged), as runc's list reads."""
    if privileged:
        return [{"allow": True, "access": "rwm"}]
    rules: list[dict] = [{"allow": False, "access": "rwm"}]
    for text in DEFAULT_DEVICE_RULES:
        rule = parse_device_rule(text)
        entry: dict = {"allow": True, "type": rule.type, "access": rule.access}
        if rule.major is not None:
            entry["major"] = rule.major
        if rule.minor is not None:
            entry["minor"] = rule.minor
        rules.append(entry)
    return rules


def resolve_user(user: str, layers: list[Path]) -> oci.User:
    """"name", "uid", "uid:gid" or "name:group" as numbers, read from the image's own
    /etc/passwd and /etc/group (the top-most layer that has them), as containerd's WithUser does;
    additionalGids are the groups that name the user as a member (docker's `id`: groups=0(root),10(wheel))."""
    name, _, group = (user or "0").partition(":")
    passwd = _database(layers, "etc/passwd")
    if name.isdigit():
        uid = int(name)
        gid = next((int(e[3]) for e in passwd.values() if e[2] == name), 0)
    elif name in passwd:
        uid, gid = int(passwd[name][2]), int(passwd[name][3])
    else:
        raise GophernetesError(f"unable to find user {name}: no matching entries in /etc/passwd")
    groups = _database(layers, "etc/group")
    if group:
        if group.isdigit():
            gid = int(group)
        elif group in groups:
            gid = int(groups[group][2])
        else:
            raise GophernetesError(f"unable to find group {group}: no matching entries in /etc/group")
    # the groups that list the user as a member come too, as docker's `id` shows (root: 0, then wheel...)
    login = next((entry[0] for entry in passwd.values() if entry[2] == str(uid)), name)
    members = [int(entry[2]) for entry in groups.values()
               if len(entry) > 3 and login in entry[3].split(",") and entry[2].isdigit()]
    return oci.User(uid, gid, [gid, *(g for g in members if g != gid)])


def _database(layers: list[Path], relative: str) -> dict[str, list[str]]:
    """/etc/passwd or /etc/group of the top-most layer holding a regular file there, as {name: fields}."""
    for layer in reversed(layers):
        path = layer / relative
        if path.is_file() and not path.is_symlink():
            lines = path.read_text(errors="replace").splitlines()
            return {line.split(":")[0]: line.split(":") for line in lines
                    if line and not line.startswith("#") and line.count(":") >= 3}
    return {}


def seccomp_document(program: Path | None, profile: dict | None, capabilities) -> dict:
    """The resolved profile in the spec's form, kept beside its compiled program (KEY.oci.json):
    resolving docker's default costs ~15 ms, a container start should not pay it each time."""
    if program is None:
        from gophernetes.linux import seccomp_profile

        chosen = seccomp_profile.DEFAULT if profile is None else seccomp_profile.from_json(profile)
        return seccomp_profile.to_oci(seccomp_profile.resolve(chosen, frozenset(capabilities)))
    path = program.with_suffix(".oci.json")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    document = seccomp_document(None, profile, capabilities)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, path)
    return document


def child_container(config_file: str | None, rootfs: str | None, command: list[str], hostname: str,
                    use_chroot: bool) -> Container:
    """What `gophernetes child` runs: a given config.json, or docker's defaults over ROOTFS
    (PID, mount, UTS and IPC namespaces, no cgroup, no network)."""
    from gophernetes.engines.native.spec import new_container_id
    from gophernetes.linux.capabilities import DOCKER_DEFAULT

    if config_file:
        path = Path(config_file).absolute()
        return Container(new_container_id(), path.parent, oci.load(path.parent), no_pivot=use_chroot)
    spec = RunSpec(id=new_container_id(), command=command, lower_dirs=[os.path.abspath(rootfs or "/")],
                   hostname=hostname, capabilities=sorted(DOCKER_DEFAULT), namespaces=["pid", "mnt", "uts", "ipc"])
    config = make_config(spec, Path(spec.lower_dirs[0]), {}, seccomp_document(None, None, spec.capabilities), "")
    config.root.path = spec.lower_dirs[0]
    return Container(spec.id, Path(spec.lower_dirs[0]), config, no_pivot=use_chroot)
