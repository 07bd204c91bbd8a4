"""Talking to the kernel's routing subsystem (rtnetlink) in this or another network namespace.

`ip link`, `ip addr` and `ip route` are thin clients of rtnetlink: they send messages
(RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, ...) on an AF_NETLINK socket and read the
answer. pyroute2 sends the same messages from Python, so each call below reads like the
`ip` command it replaces.

A netlink socket belongs to the network namespace it was created in, forever. To talk
to a container's namespace, pyroute2 creates the socket in a short-lived helper process
that first joins `/proc/PID/ns/net` (setns(2)) and hands the socket back over a unix
socket; everything sent on it then acts inside the container.

pyroute2 costs ~150 ms to import, so it is imported here, on first use, never at the top
of a module that `run --net none` loads.

man 7 rtnetlink, man 7 netlink, man 2 setns
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def here() -> Iterator[Any]:
    """An rtnetlink connection to the caller's own network namespace (the "host" side)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        yield ipr


@contextlib.contextmanager
def inside(pid: int) -> Iterator[Any]:
    """An rtnetlink connection to the network namespace of process `pid`.

    flags=0: open the existing namespace file, never create a namespace by that name.
    NetNS is pyroute2's name for this since 0.5 (Debian 12 ships 0.7); 0.9 keeps it as a
    thin wrapper of IPRoute(netns=...).
    """
    from pyroute2 import NetNS

    with NetNS(f"/proc/{pid}/ns/net", flags=0) as ipr:
        yield ipr


def index_of(ipr: Any, ifname: str) -> int | None:
    """The interface index of `ifname` (like `ip link show NAME`), or None if there is none."""
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


def is_gone(error: Exception) -> bool:
    """True for the netlink errors that mean "already gone": no such device, no such process."""
    code = getattr(error, "code", None)
    return code in (2, 3, 19)  # ENOENT, ESRCH, ENODEV
