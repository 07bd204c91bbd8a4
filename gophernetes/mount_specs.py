"""`run -v`, `--mount` and `--tmpfs`: docker's three spellings of a mount, read into one form.

A bind mount, a volume and a tmpfs are all one mount(2) in the container's own mount
namespace, made by the runtime from config.json's `mounts` (runtime/oci_mounts.py)
inside the new root before pivot_root:

    -v /srv/site:/usr/share/html:ro          bind: a host folder (or file) seen at a second place
    -v data:/var/lib/db                      volume: a folder gophernetes keeps (engines/native/volumes.py)
    -v /var/cache                            an anonymous volume (a random name; `rm -v` removes it)
    --mount type=bind,source=/srv,target=/srv,readonly
    --mount type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1777
    --tmpfs /run:size=64m,mode=1777           a tmpfs: memory, gone with the container

Pure parsing: nothing is looked up or made here (the engine checks that a host path
exists and makes a missing volume).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field

from gophernetes.errors import UsageError
from gophernetes.runtime import units

BIND, VOLUME, TMPFS = "bind", "volume", "tmpfs"
VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")  # docker's rule for local volume names
# What the container's tmpfs gets unless it asks otherwise (runc's and docker's defaults).
TMPFS_DEFAULTS = ("nosuid", "nodev", "noexec")
TMPFS_FLAGS = {"ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec"}
# Only private propagation: a mount made in the container never appears on the host, nor the reverse.
PROPAGATION = {"private", "rprivate"}


@dataclass(frozen=True)
class MountSpec:
    """One mount a `run` asked for, as the user wrote it but checked."""

    type: str                    # bind | volume | tmpfs
    source: str                  # bind: the host path; volume: its name ("" = anonymous); tmpfs: ""
    target: str                  # the absolute path in the container
    readonly: bool = False
    copy_up: bool = True         # volume: fill an empty volume with the image's files at target (docker's)
    options: tuple[str, ...] = field(default=())  # tmpfs: size=N, mode=OCTAL, noexec, ...

    def describe(self) -> str:
        """As `inspect` shows it: "bind /srv -> /srv (ro)"."""
        return f"{self.type} {self.source or '-'} -> {self.target}{' (ro)' if self.readonly else ''}"


def parse_all(volumes: list[str], mounts: list[str], tmpfs: list[str]) -> list[MountSpec]:
    """Every -v, --mount and --tmpfs, refusing two mounts on one target (docker: "Duplicate mount point")."""
    specs = [parse_volume(v) for v in volumes] + [parse_mount(m) for m in mounts] + [parse_tmpfs(t) for t in tmpfs]
    seen: set[str] = set()
    for spec in specs:
        if spec.target in seen:
            raise UsageError(f"duplicate mount point {spec.target}: give one -v, --mount or --tmpfs per path")
        seen.add(spec.target)
    return specs


def parse_volume(text: str) -> MountSpec:
    """-v SOURCE:TARGET[:OPTIONS] or -v TARGET; SOURCE an absolute host path (bind) or a volume name.

    OPTIONS, comma-separated: ro, rw, nocopy (leave a new volume empty), private, rprivate.
    """
    parts = text.split(":")
    if len(parts) == 1:
        source, target, options = "", parts[0], ""
    elif len(parts) in (2, 3):
        source, target, options = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
    else:
        raise UsageError(f"-v {text}: use HOST_PATH:CONTAINER_PATH[:ro], VOLUME:CONTAINER_PATH[:ro] or "
                         "CONTAINER_PATH (a path with ':' cannot be given to -v: use --mount)")
    readonly, copy_up = False, True
    for option in filter(None, options.split(",")):
        if option in ("ro", "rw"):
            readonly = option == "ro"
        elif option == "nocopy":
            copy_up = False
        elif option not in PROPAGATION:
            raise UsageError(f"-v {text}: unknown option {option!r}: use ro, rw, nocopy or private")
    if source.startswith("/"):
        return MountSpec(BIND, clean_host_path(source), check_target(target, f"-v {text}"), readonly)
    if source:
        check_volume_name(source, f"-v {text}")
    return MountSpec(VOLUME, source, check_target(target, f"-v {text}"), readonly, copy_up)


def parse_mount(text: str) -> MountSpec:
    """--mount type=bind|volume|tmpfs,source=..,target=..[,readonly][,volume-nocopy][,tmpfs-size=..,tmpfs-mode=..]"""
    where = f"--mount {text}"
    fields: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, equals, value = item.partition("=")
        key = {"src": "source", "dst": "target", "destination": "target", "ro": "readonly"}.get(key, key)
        if key not in ("type", "source", "target", "readonly", "volume-nocopy", "bind-propagation",
                       "tmpfs-size", "tmpfs-mode"):
            raise UsageError(f"{where}: unknown field {key!r}: use type, source, target, readonly, "
                             "volume-nocopy, tmpfs-size or tmpfs-mode")
        fields[key] = value if equals else "true"
    kind = fields.get("type", VOLUME)
    if kind not in (BIND, VOLUME, TMPFS):
        raise UsageError(f"{where}: type {kind!r} is not supported: use bind, volume or tmpfs")
    if "target" not in fields:
        raise UsageError(f"{where}: say where it goes in the container: target=/PATH")
    target = check_target(fields["target"], where)
    readonly = _boolean(fields.get("readonly", "false"), where)
    if fields.get("bind-propagation", "rprivate") not in PROPAGATION:
        raise UsageError(f"{where}: only private propagation is supported (a container's mounts stay its own)")
    tmpfs_fields = [key for key in ("tmpfs-size", "tmpfs-mode") if key in fields]
    if tmpfs_fields and kind != TMPFS:
        raise UsageError(f"{where}: {tmpfs_fields[0]} is only for type=tmpfs")
    source = fields.get("source", "")
    if kind == TMPFS:
        if source:
            raise UsageError(f"{where}: a tmpfs has no source")
        options = [f"size={fields['tmpfs-size']}"] if "tmpfs-size" in fields else []
        options += [f"mode={fields['tmpfs-mode']}"] if "tmpfs-mode" in fields else []
        return MountSpec(TMPFS, "", target, readonly, options=tmpfs_options(options, where))
    if kind == BIND:
        if not source.startswith("/"):
            raise UsageError(f"{where}: a bind mount needs an absolute host path: source=/PATH")
        return MountSpec(BIND, clean_host_path(source), target, readonly)
    if source:
        check_volume_name(source, where)
    return MountSpec(VOLUME, source, target, readonly, not _boolean(fields.get("volume-nocopy", "false"), where))


def parse_tmpfs(text: str) -> MountSpec:
    """--tmpfs TARGET[:size=64m,mode=1777,exec,...]"""
    target, _, options = text.partition(":")
    where = f"--tmpfs {text}"
    listed = [option for option in options.split(",") if option]
    return MountSpec(TMPFS, "", check_target(target, where), "ro" in listed,
                     options=tmpfs_options([o for o in listed if o not in ("ro", "rw")], where))


def tmpfs_options(options: list[str], where: str) -> tuple[str, ...]:
    """size= (bytes, or 64m as docker), mode= (octal), and flags; the defaults nosuid,nodev,noexec
    unless the user said suid, dev or exec."""
    result = []
    for option in options:
        key, equals, value = option.partition("=")
        if key == "size" and equals:
            result.append(f"size={units.parse_size(value, where)}")
        elif key == "mode" and equals:
            if not re.fullmatch(r"[0-7]{3,4}", value):
                raise UsageError(f"{where}: mode={value}: use octal permissions such as 1777 or 755")
            result.append(f"mode={value}")
        elif option in TMPFS_FLAGS:
            result.append(option)
        else:
            raise UsageError(f"{where}: unknown tmpfs option {option!r}: use size=, mode=, exec, suid, dev or ro")
    undone = {"nosuid": "suid", "nodev": "dev", "noexec": "exec"}
    defaults = [flag for flag in TMPFS_DEFAULTS if undone[flag] not in result and flag not in result]
    return tuple(defaults + [option for option in result if option not in undone.values()])


def check_target(target: str, where: str) -> str:
    """An absolute container path other than "/", cleaned ('/a/./b/' -> '/a/b'; '..' cannot climb)."""
    if not target.startswith("/"):
        raise UsageError(f"{where}: the container path {target!r} must be absolute, e.g. /data")
    cleaned = posixpath.normpath(target)
    if cleaned in ("/", "//"):
        raise UsageError(f"{where}: cannot mount over the container's root /")
    return cleaned


def clean_host_path(path: str) -> str:
    return os.path.normpath(path)


def check_volume_name(name: str, where: str) -> None:
    if not VOLUME_NAME.match(name):
        raise UsageError(f"{where}: {name!r} is not a volume name (letters, digits, _ . -; at least two) "
                         "nor an absolute host path")


def _boolean(value: str, where: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise UsageError(f"{where}: {value!r} is not true or false")
