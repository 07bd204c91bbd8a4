"""The engines: native (made by hand here) and containerd (a real daemon), one class each.

The CLI asks `get_engine` for the one the user chose; each engine module is imported
only then (containerd's client, pyroute2 and the image store are not free to import).
"""

from __future__ import annotations

from gophernetes.errors import UsageError

TYPE_CHECKING = False  # typing's own costs the lean monitor enum and re (~1 MB): mypy reads the name alike

if TYPE_CHECKING:  # the factory imports no engine, nor their interface, until one is asked for
    from gophernetes.engine import Engine
    from gophernetes.paths import StateRoot


def get_engine(name: str, state: StateRoot, containerd_address: str | None = None) -> Engine:
    """The engine called `name` ("native" or "containerd")."""
    if name == "native":
        from gophernetes.engines.native import NativeEngine

        return NativeEngine(state)
    if name == "containerd":
        from gophernetes.engines.containerd import ContainerdEngine

        return ContainerdEngine(state, containerd_address)
    raise UsageError(f"unknown engine {name!r}: use native or containerd")
