"""The containerd engine: gophernetes' verbs carried out by a real containerd, through `ctr`.

One module per job:

    engine.py      ContainerdEngine: each verb of the Engine interface, mapped onto ctr
    client.py      the `ctr` client: one socket, one containerd namespace, errors, parsing
    images.py      images in containerd: pull, import, list, rmi, the default busybox
    launch.py      a run request as `ctr run` flags, and what ctr 1.6 cannot express
    attached.py    ctr in the foreground (run, exec): our stdio, the container's status
    supervisor.py  `python -m` process that waits for a detached task and keeps its status
    folders.py     what we keep beside containerd per container, and its clean-up

It may import gophernetes.engine, the layers below engines (runtime, network, image,
linux) and errors; nothing above it (cli), and not the native engine.

ContainerdEngine is imported on first use: the supervisor, one long-lived process per
detached container, lives in this package too and should cost neither the engine's
imports (~40 ms) nor their memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gophernetes.engines.containerd.engine import ContainerdEngine

__all__ = ["ContainerdEngine"]


def __getattr__(name: str) -> object:
    if name == "ContainerdEngine":
        from gophernetes.engines.containerd.engine import ContainerdEngine

        return ContainerdEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
