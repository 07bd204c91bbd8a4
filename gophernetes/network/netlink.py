"""Talking to the kernel's routing subsystem (rtnetlink) in this or another network namespace.

`ip link`, `ip addr` and `ip route` are thin clients of rtnetlink: they send messages
(RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, ...) on an AF_NETLINK socket and read the
answer. pyroute2 sends the same messages from Python, so each call below reads like the
`ip` command it replaces.

A netlink socket belongs to the network namespace it was created in, forever. To talk
to a container's namespace, the calling thread joins `/proc/PID/ns/net` with setns(2),
opens the socket, and at once joins its own namespace again: everything sent on that
socket then acts inside the container, while the thread is back home. (pyroute2's own
NetNS does the same in a helper process it forks: safer against a forgotten way back,
but 10-100 ms per container instead of well under one.)

pyroute2 costs ~150 ms to import, so it is imported here, on first use, never at the top
of a module that `run --net none` loads. And only the part we use: `import pyroute2` runs
its package __init__, which imports every family it knows (NDB and sqlite3, IPDB,
conntrack, ethtool, wireguard, nl80211, ...). iproute_class() loads pyroute2.iproute.linux
alone, under "lazy" package modules whose __init__ runs only if someone asks them for a
name (see _lazy_package): about half the time and a third fewer modules. A bridge `run`
that finds the container's network namespace already gone does not load pyroute2 at all
(see network._release): the kernel deletes the veth with the namespace.

man 7 rtnetlink, man 7 netlink, man 2 setns
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from typing import Any

from gophernetes.errors import GophernetesError, NotFound


@contextlib.contextmanager
def here() -> Iterator[Any]:
    """An rtnetlink connection to the caller's own network namespace (the "host" side)."""
    with iproute_class()() as ipr:
        yield ipr


@contextlib.contextmanager
def inside(pid: int) -> Iterator[Any]:
    """An rtnetlink connection to the network namespace of process `pid`."""
    from gophernetes.linux.syscalls import CLONE_NEWNET, setns

    try:
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"process {pid} is gone: it has no network namespace to plug into") from None
    IPRoute = iproute_class()  # noqa: N806 — a class, imported late
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(target, CLONE_NEWNET)
        try:
            ipr = IPRoute()  # the socket is made (and bound to a namespace) here
        finally:
            try:
                setns(home, CLONE_NEWNET)
            except OSError as error:  # never carry on in the container's namespace
                raise GophernetesError(f"could not return to our own network namespace: {error}") from error
    finally:
        os.close(target)
        os.close(home)
    with ipr:
        yield ipr


def iproute_class() -> type:
    """pyroute2's IPRoute (the `ip` command's API), imported without the rest of pyroute2."""
    for name in ("pyroute2", "pyroute2.iproute"):
        if name not in sys.modules:
            _lazy_package(name)
    from pyroute2.iproute.linux import IPRoute

    return IPRoute


def _lazy_package(name: str) -> None:
    """Put package `name` in sys.modules without running its __init__ until a name is looked up in it.

    Importing `pyroute2.iproute.linux` normally runs pyroute2/__init__.py and
    pyroute2/iproute/__init__.py first. A module object made from the package's spec
    (importlib.util.module_from_spec) has the package's __path__, so its submodules can be
    found, but none of its code has run. The first `pyroute2.X` that is not a submodule
    already loaded (`from pyroute2 import NDB`, say) runs the real __init__ then, so
    nothing that expects the whole package breaks; a submodule asked for by name
    (`from pyroute2 import config`) is simply imported.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = spec.loader
    package = importlib.util.module_from_spec(spec)

    def load_on_demand(attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        if importlib.util.find_spec(f"{name}.{attribute}") is not None:  # `from pyroute2 import config`
            return importlib.import_module(f"{name}.{attribute}")
        del vars(package)["__getattr__"]  # run the real __init__ once, into this very module
        loader.exec_module(package)
        return getattr(package, attribute)

    vars(package)["__getattr__"] = load_on_demand  # PEP 562: looked up in the module's namespace
    sys.modules[name] = package


def index_of(ipr: Any, ifname: str) -> int | None:
    """The interface index of `ifname` (like `ip link show NAME`), or None if there is none."""
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


def delete_link(ipr: Any, ifname: str) -> None:
    """`ip link del IFNAME`, and nothing if there is no such link (any more)."""
    index = index_of(ipr, ifname)
    if index is None:
        return
    try:
        ipr.link("del", index=index)
    except Exception as error:  # noqa: BLE001 — pyroute2's NetlinkError, imported lazily
        if not is_gone(error):
            raise


def is_gone(error: Exception) -> bool:
    """True for the netlink errors that mean "already gone": no such device, no such process."""
    code = getattr(error, "code", None)
    return code in (2, 3, 19)  # ENOENT, ESRCH, ENODEV
