"""The loopback interface of a new network namespace, which starts DOWN.

A fresh network namespace has exactly one interface, `lo`, and it is down: even
127.0.0.1 is unreachable until it is brought up (`ip link set lo up`); the kernel then
adds 127.0.0.1/8 and the local routes by itself.

man 7 network_namespaces, lab 05
"""

from __future__ import annotations

from typing import Any

LOOPBACK_IFINDEX = 1  # the kernel gives lo index 1 in every network namespace (no lookup needed)


def bring_up(ipr: Any) -> None:
    """`ip link set lo up` in the namespace `ipr` talks to."""
    ipr.link("set", index=LOOPBACK_IFINDEX, state="up")
