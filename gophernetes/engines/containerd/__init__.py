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
"""

from __future__ import annotations

from gophernetes.engines.containerd.engine import ContainerdEngine

__all__ = ["ContainerdEngine"]
