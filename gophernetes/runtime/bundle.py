"""One container as the runtime executes it: an ID, a bundle folder, its parsed config.json,
and the few choices that belong to whoever runs it rather than to the bundle.

The runtime-spec keeps some choices out of config.json on purpose: runc takes them as
command-line flags (`--no-pivot`, `--console-socket`, the state directory) — here they are
the fields after `config`. Nothing here knows images, names or networks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from gophernetes.linux.capabilities import Sets
from gophernetes.runtime import oci_config
from gophernetes.runtime.oci_config import Config, ConfigError


@dataclass
class Container:
    id: str
    bundle: Path
    config: Config
    no_pivot: bool = False        # chroot instead of pivot_root (runc --no-pivot; `run --chroot`)
    seccomp_program: str = ""     # a file holding config's linux.seccomp compiled (the engine's cache)
    die_with_parent: bool = True  # PR_SET_PDEATHSIG: a foreground run's container dies with it

    @classmethod
    def load(cls, container_id: str, bundle: str | os.PathLike, **options) -> Container:
        bundle = Path(bundle).absolute()
        return cls(container_id, bundle, oci_config.load(bundle), **options)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def rootfs(self) -> Path:
        return self.config.root_path(self.bundle)

    @property
    def layers(self) -> list[Path]:
        """The image layers to stack at rootfs (bottom first); [] for a rootfs used as it is."""
        try:
            return [Path(layer) for layer in self.config.layers()]
        except (ValueError, TypeError):
            raise ConfigError(f"config.json: annotation {oci_config.ROOTFS_LAYERS} is not a JSON list") from None

    @property
    def upper(self) -> Path:
        return Path(self.config.annotations.get(oci_config.ROOTFS_UPPER, self.bundle / "upper"))

    @property
    def work(self) -> Path:
        return Path(self.config.annotations.get(oci_config.ROOTFS_WORK, self.bundle / "work"))

    def has_namespace(self, kind: str) -> bool:
        return kind in self.config.namespace_types()

    def capabilities(self) -> frozenset[str]:
        """The bounding set, names without CAP_ (what linux/capabilities.py restricts to)."""
        caps = self.config.process.capabilities
        return frozenset(name.removeprefix("CAP_") for name in (caps.bounding if caps else []))

    def capability_sets(self) -> Sets:
        """process.capabilities' five sets, names without CAP_ (none given: none at all)."""
        caps = self.config.process.capabilities
        if caps is None:
            return Sets(frozenset())
        names = [frozenset(name.removeprefix("CAP_") for name in group)
                 for group in (caps.bounding, caps.effective, caps.permitted, caps.inheritable, caps.ambient)]
        return Sets(*names)

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for item in self.config.process.env:
            key, _, value = item.partition("=")
            env[key] = value
        return env

    def memory_limit(self) -> int | None:
        return (self.config.linux.resources.get("memory") or {}).get("limit")

    def describe(self) -> str:
        return json.dumps({"id": self.id, "bundle": str(self.bundle)})
