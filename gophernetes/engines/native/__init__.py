"""The native engine: containers made by hand here, as docker and containerd make them around runc.

    engine.py      NativeEngine: every verb of the Engine interface (engine.py one level up)
    spec.py        RunSpec: what the engine resolved from a request and an image, its own record
    bundle.py      a RunSpec turned into an OCI bundle's config.json (compare it with `runc spec`)
    records.py     container records and the names index under a lock, written atomically
    run.py         `run`: the runtime's create + start + wait of a record's bundle, the record in step
    supervisor.py  what keeps a detached container: starts it, then becomes the monitor
    monitor.py     the lean interpreter that stays with a running detached container (~3 MB PSS)
    cleanup.py     what a container leaves behind (cgroup, network lease), also after a crash
    rename.py      `rename`: the names index and the record

It may import runtime/ (which executes OCI bundles and knows nothing of names, images or
networks), network/, image/ and linux/ — never cli/ or the containerd engine.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's own costs the lean monitor enum and re (~1 MB): mypy reads the name alike

if TYPE_CHECKING:
    from gophernetes.engines.native.engine import NativeEngine

__all__ = ["NativeEngine"]


def __getattr__(name: str):
    """NativeEngine on first use (PEP 562): the lean monitor imports its own module from this
    package and must not pay for the engine, click's callers and the image store."""
    if name == "NativeEngine":
        from gophernetes.engines.native.engine import NativeEngine

        return NativeEngine
    raise AttributeError(name)
