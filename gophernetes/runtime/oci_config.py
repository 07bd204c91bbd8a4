"""config.json of an OCI bundle, as the runtime-spec defines it: a typed model, read and checked.

An OCI bundle is a folder holding `config.json` and (usually) `rootfs/`. The runtime-spec
(https://github.com/opencontainers/runtime-spec, config.md and config-linux.md) says what
each field means; runc, crun and gophernetes read the same file. `runc spec` prints a
default one; `python3 -m gophernetes.runtime.oci_config BUNDLE` checks and prints ours.

    load(bundle)     parse and validate BUNDLE/config.json -> Config (one-line ConfigError)
    from_dict(data)  the same for a dict
    config.to_json() the text to write (the engine writes it once, atomically, never again)

Only what gophernetes executes is modelled; everything is type-checked on the way in so that
a wrong bundle fails with one line naming the field ("config.json: process.user.uid: expected
an integer, got 'root'"), never with a traceback half-way through creating a container.
Paths must be absolute inside the container (mount destinations, cwd, masked paths); the
root path may be relative to the bundle, as the spec allows.

The root filesystem: the spec leaves how `root.path` is made to whoever makes the bundle
(containerd's snapshotter mounts it before calling runc). Gophernetes' engine names its
image layers in annotations instead (ROOTFS_LAYERS, ROOTFS_UPPER, ROOTFS_WORK), and the
runtime mounts the overlay at root.path *inside the container's own mount namespace*: the
overlay then vanishes with the container's last process, with nothing to unmount on the
host and nothing to leak when a keeper is SIGKILLed. Annotations are the spec's place for
such runtime-specific facts (crun reads `run.oci.*` ones); runc ignores them, so a copy of
the bundle whose rootfs/ is filled runs under runc unchanged.
"""

import copy
import json
import os
import types
import typing
from pathlib import Path

from gophernetes.errors import GophernetesError

OCI_VERSION = "1.0.2"
NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")

# Annotations gophernetes' runtime reads (others are kept and shown, as the spec asks).
ROOTFS_LAYERS = "org.gophernetes.rootfs.layers"   # JSON list of layer folders, BOTTOM first
ROOTFS_UPPER = "org.gophernetes.rootfs.upper"     # the overlay's writable layer
ROOTFS_WORK = "org.gophernetes.rootfs.work"       # the overlay's work folder


class ConfigError(GophernetesError):
    """config.json is not a valid runtime-spec document (exit code 125, one line)."""


def _name(python: str) -> str:
    """The spec's JSON name of a field: camelCase (no_new_privileges -> noNewPrivileges)."""
    head, *rest = python.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_JSON_NAMES = {"container_id": "containerID", "host_id": "hostID", "additional_gids": "additionalGids",
               "oci_version": "ociVersion", "cgroups_path": "cgroupsPath", "file_mode": "fileMode"}


def json_name(python: str) -> str:
    return _JSON_NAMES.get(python, _name(python))


class _Model:
    """A record of named fields, declared as annotations with their defaults (a list, dict
    or model default is copied for each object). Not a dataclass on purpose: dataclasses generate and
    compile code for every class at import, ~1.5 ms each here, paid by every `run`."""

    def __init__(self, *args, **values) -> None:
        names = _fields(type(self))
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}: {len(args)} values for {len(names)} fields")
        values.update(zip(names, args, strict=False))
        for name in names:
            if name in values:
                setattr(self, name, values.pop(name))
            elif hasattr(type(self), name):
                default = getattr(type(self), name)
                setattr(self, name, copy.deepcopy(default) if isinstance(default, (list, dict, _Model)) else default)
            else:
                raise TypeError(f"{type(self).__name__}: {name} is required")
        if values:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(values)}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def _fields(kind) -> list[str]:
    """The field names of a model class, in the order they are declared."""
    return list(kind.__dict__.get("__annotations__", {}))


class User(_Model):
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = []
    umask: int | None = None


class Capabilities(_Model):
    """The five capability sets of the process (names with CAP_), see capabilities(7)."""

    bounding: list[str] = []
    effective: list[str] = []
    inheritable: list[str] = []
    permitted: list[str] = []
    ambient: list[str] = []


class Rlimit(_Model):
    type: str
    hard: int
    soft: int


class ConsoleSize(_Model):
    """process.consoleSize: the pty's window, in character cells (what `stty size` prints)."""

    height: int
    width: int


class Process(_Model):
    args: list[str]
    cwd: str = "/"
    env: list[str] = []
    terminal: bool = False
    console_size: ConsoleSize | None = None
    user: User = User()
    capabilities: Capabilities | None = None
    rlimits: list[Rlimit] = []
    no_new_privileges: bool = False
    oom_score_adj: int | None = None


class Root(_Model):
    path: str
    readonly: bool = False


class Mount(_Model):
    destination: str
    type: str = ""
    source: str = ""
    options: list[str] = []


class Namespace(_Model):
    type: str
    path: str = ""


class IdMapping(_Model):
    container_id: int
    host_id: int
    size: int


class Device(_Model):
    path: str
    type: str
    major: int
    minor: int
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0


class Linux(_Model):
    namespaces: list[Namespace] = []
    uid_mappings: list[IdMapping] = []
    gid_mappings: list[IdMapping] = []
    devices: list[Device] = []
    cgroups_path: str = ""
    resources: dict = {}          # the spec's linux.resources, as JSON
    masked_paths: list[str] = []
    readonly_paths: list[str] = []
    seccomp: dict | None = None                              # the spec's linux.seccomp, as JSON
    sysctl: dict[str, str] = {}


class Config(_Model):
    oci_version: str = OCI_VERSION
    process: Process
    root: Root
    hostname: str = ""
    mounts: list[Mount] = []
    linux: Linux = Linux()
    annotations: dict[str, str] = {}

    def namespace_types(self) -> list[str]:
        return [namespace.type for namespace in self.linux.namespaces]

    def root_path(self, bundle: Path) -> Path:
        """root.path, made absolute against the bundle folder as the spec says."""
        return bundle / self.root.path

    def layers(self) -> list[str]:
        """The image layers named by the ROOTFS_LAYERS annotation, bottom first ([] when none)."""
        return list(json.loads(self.annotations.get(ROOTFS_LAYERS, "[]")))

    def to_dict(self) -> dict:
        return _to_json(self)

    def to_json(self) -> str:
        """One top-level field a line. (json.dumps with indent= runs the pure-Python encoder,
        ~10x slower on the seccomp list; `python3 -m json.tool config.json` shows it all indented.)"""
        fields_text = (f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in self.to_dict().items())
        return "{\n" + ",\n".join(fields_text) + "\n}\n"


# --- Reading and checking ------------------------------------------------------------------

def load(bundle: str | os.PathLike) -> Config:
    """BUNDLE/config.json, parsed and checked."""
    path = Path(bundle) / "config.json"
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise ConfigError(f"{path}: not JSON: {error}") from None
    return from_dict(data)


def from_dict(data: object) -> Config:
    config = _parse(Config, data, "")
    _check_meaning(config)
    return config


def process_from_dict(data: object, where: str = "process") -> Process:
    """A `process` object alone (exec's process.json), type-checked as config.json's is."""
    return _parse(Process, data, where)


def _parse(kind, data: object, where: str):
    """`data` as the model class `kind`: each field type-checked, unknown keys ignored (as runc does)."""
    if not isinstance(data, dict):
        raise ConfigError(f"config.json: {where}: expected an object, got {_show(data)}")
    hints = _hints(kind)
    values = {}
    for name in _fields(kind):
        key = json_name(name)
        if key in data and data[key] is not None:
            values[name] = _value(hints[name], data[key], f"{where}.{key}" if where else key)
        elif not hasattr(kind, name):  # required
            raise ConfigError(f"config.json: {where + '.' if where else ''}{key} is missing")
    return kind(**values)


def _hints(kind) -> dict:
    """The field types of a model class: real objects, as this module does not postpone its
    annotations (typing.get_type_hints would evaluate strings, ~0.3 ms a class at every run)."""
    return kind.__dict__.get("__annotations__", {})


def _value(hint, value: object, where: str):
    """One value checked against its type hint (int, str, bool, list[T], dict, a model class, T | None)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _value(next(a for a in args if a is not type(None)), value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"config.json: {where}: expected a list, got {_show(value)}")
        return [_value(args[0], item, f"{where}[{index}]") for index, item in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config.json: {where}: expected an object, got {_show(value)}")
        if args and args[1] is str and not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"config.json: {where}: every value must be a string")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config.json: {where}: expected true or false, got {_show(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config.json: {where}: expected an integer, got {_show(value)}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"config.json: {where}: expected a string, got {_show(value)}")
        return value
    return _parse(hint, value, where)


def _show(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_meaning(config: Config) -> None:
    """What types alone cannot say: known namespace types, absolute paths, one of each namespace."""
    if not config.oci_version.startswith("1."):
        raise ConfigError(f"config.json: ociVersion {config.oci_version!r}: gophernetes reads runtime-spec 1.x")
    if not config.process.args:
        raise ConfigError("config.json: process.args is empty: say which program to run")
    seen = set()
    for index, namespace in enumerate(config.linux.namespaces):
        if namespace.type not in NAMESPACE_TYPES:
            raise ConfigError(f"config.json: linux.namespaces[{index}].type: unknown namespace type "
                              f"{namespace.type!r} (one of {', '.join(NAMESPACE_TYPES)})")
        if namespace.type in seen:
            raise ConfigError(f"config.json: linux.namespaces: {namespace.type} is named twice")
        seen.add(namespace.type)
    paths = [("process.cwd", config.process.cwd)]
    paths += [(f"mounts[{i}].destination", m.destination) for i, m in enumerate(config.mounts)]
    paths += [(f"linux.maskedPaths[{i}]", p) for i, p in enumerate(config.linux.masked_paths)]
    paths += [(f"linux.readonlyPaths[{i}]", p) for i, p in enumerate(config.linux.readonly_paths)]
    paths += [(f"linux.devices[{i}].path", d.path) for i, d in enumerate(config.linux.devices)]
    for where, path in paths:
        if not path.startswith("/"):
            raise ConfigError(f"config.json: {where}: {path!r} is relative: paths in the container are absolute")
    if (config.linux.uid_mappings or config.linux.gid_mappings) and "user" not in seen:
        raise ConfigError("config.json: linux.uidMappings need a user namespace in linux.namespaces")


# --- Writing -------------------------------------------------------------------------------

def _to_json(value):
    """A model object as the spec's JSON: camelCase keys, empty optional parts left out."""
    if isinstance(value, _Model):
        result = {}
        for name in _fields(type(value)):
            inner = getattr(value, name)
            if inner is None or (inner in ([], {}, "") and name != "args"):
                continue
            result[json_name(name)] = _to_json(inner)
        return result
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    return value


if __name__ == "__main__":
    import sys

    try:
        print(load(sys.argv[1] if len(sys.argv) > 1 else ".").to_json())
    except ConfigError as failure:
        sys.exit(f"gophernetes: {failure}")
