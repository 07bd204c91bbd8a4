"""Where gophernetes keeps its state: one root, overridable for tests.

By default persistent data (images, network definitions) lives in /var/lib/gophernetes
and runtime state (containers, leases of a boot) in /run/gophernetes, as docker keeps
/var/lib/docker and /run/docker. `--root DIR` or GOPHERNETES_ROOT=DIR moves both under
DIR (DIR/lib and DIR/run), so a test never touches the real ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LIB = Path("/var/lib/gophernetes")
DEFAULT_RUN = Path("/run/gophernetes")


@dataclass(frozen=True)
class StateRoot:
    lib: Path
    run: Path

    @classmethod
    def from_option(cls, root: str | os.PathLike | None = None) -> StateRoot:
        """The state root named by `root`, else by GOPHERNETES_ROOT, else the defaults."""
        root = root or os.environ.get("GOPHERNETES_ROOT")
        if not root:
            return cls(DEFAULT_LIB, DEFAULT_RUN)
        base = Path(root).absolute()
        return cls(base / "lib", base / "run")

    @property
    def images(self) -> Path:
        """The image store: blobs, unpacked layers and the name -> image index."""
        return self.lib / "images"

    @property
    def networks(self) -> Path:
        """Network definitions and IP leases."""
        return self.lib / "networks"

    @property
    def containers(self) -> Path:
        """One folder per container: its record, overlay upper/work dirs, logs."""
        return self.run / "containers"
