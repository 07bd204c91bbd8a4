"""A container run as the native engine resolved it from a request: its record of facts.

The engine validates the command line into a RunSpec first; only a valid spec makes
anything on the host. From it the engine writes the OCI bundle's config.json
(engines/native/bundle.py), which is all the runtime executes; the RunSpec itself stays in
the container's record (record.json) for what only the engine needs: the image, the
network and its published ports, the layers in use, --chroot, the seccomp program cache.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gophernetes.engine import DEFAULT_PATH, new_container_id  # noqa: F401 (the names this record uses)
from gophernetes.linux.cgroups.base import Limits


@dataclass
class RunSpec:
    id: str
    command: list[str]                 # argv of the container's process
    lower_dirs: list[str]              # read-only layers, BOTTOM first (overlay lowerdirs)
    image: str = ""                    # the image (or rootfs) it came from, for display
    env: list[str] = field(default_factory=list)
    working_dir: str = "/"
    user: str = ""                     # "", "name", "uid", "uid:gid"
    hostname: str = ""
    namespaces: list[str] = field(default_factory=lambda: ["pid", "uts", "mnt", "net", "ipc", "cgroup"])
    net: str = "none"                  # none | host | a network name
    publish: list[str] = field(default_factory=list)
    use_chroot: bool = False
    privileged: bool = False
    capabilities: list[str] = field(default_factory=list)
    read_only: bool = False
    seccomp: str = "default"           # docker's default profile, "unconfined", or a custom profile's file name
    seccomp_profile: dict | None = None  # that custom profile (docker's JSON format), read once by `run`
    seccomp_program: str = ""          # the compiled filter (KEY.bpf; its listing is KEY.txt beside it)
    tty: bool = False
    limits: Limits = field(default_factory=Limits)
    userns: str = "host"               # host | auto: a user namespace mapping 0.. to a range of subids
    add_hosts: list[str] = field(default_factory=list)  # --add-host NAME:IP (network/etc_overrides.py)
    dns: list[str] = field(default_factory=list)        # --dns IP
    # -v/--mount/--tmpfs as resolved: {"type", "source" (host path), "target", "readonly",
    # "volume" (its name, for type volume), "copy_up", "options"}; config.json's user mounts
    mounts: list[dict] = field(default_factory=list)
    restart: str = "no"                # --restart, kept by the supervisor (gophernetes/restart_policy.py)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def to_dict(self) -> dict:
        """What json.loads(to_json()) gives, without the round trip (`ps` asks it of every container):
        the fields are JSON values already, but for the Limits. Shallow: read it, do not change it."""
        data = dict(vars(self))
        data["limits"] = dict(vars(self.limits))
        return data

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        """The spec from its JSON form, as record.json holds it (`data` is not changed)."""
        known = cls.__dataclass_fields__  # its fields by name (RunSpec has no ClassVar or InitVar)
        spec = {key: value for key, value in data.items() if key in known}  # older records had more
        spec["limits"] = Limits(**data["limits"])
        return cls(**spec)


@dataclass(frozen=True)
class ContainerDirs:
    """The per-container folders under the state root: overlay upper/work and the mount point."""

    base: Path

    @property
    def rootfs(self) -> Path:
        return self.base / "rootfs"

    @property
    def upper(self) -> Path:
        return self.base / "upper"

    @property
    def work(self) -> Path:
        return self.base / "work"
