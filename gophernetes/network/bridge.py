"""The bridge: a virtual Ethernet switch in the kernel that joins a network's containers.

`ip link add gophernetes0 type bridge` makes a software switch: every interface enslaved
to it (`ip link set vethX master gophernetes0`) becomes a port, and frames are forwarded
between ports by MAC address, exactly as a hardware switch would. Giving the bridge
itself an address (`ip addr add 10.77.0.1/16 dev gophernetes0`) makes the host a member
of that Ethernet: the kernel adds the route 10.77.0.0/16 -> gophernetes0, and the
bridge's address is the gateway containers send everything else to.

The bridge lives in the caller's network namespace (the host's, or a test's); it is
made when the first container of its network plugs in and stays, as docker0 does, until
`gophernetes network delete` (deleting a bridge costs the kernel ~80 ms, every time).

man 8 ip-link (type bridge), lab 05
"""

from __future__ import annotations

from typing import Any

from gophernetes.network import netlink
from gophernetes.network.definitions import Network


def ensure(ipr: Any, network: Network) -> bool:
    """Make the bridge of `network` with its gateway address, up; True if it was made now.

    Equivalent to:
        ip link add NAME type bridge
        ip addr add GATEWAY/PREFIX dev NAME
        ip link set NAME up
    """
    if netlink.index_of(ipr, network.bridge) is not None:
        return False
    ipr.link("add", ifname=network.bridge, kind="bridge")
    index = netlink.index_of(ipr, network.bridge)
    ipr.addr("add", index=index, address=network.gateway, prefixlen=network.prefixlen)
    ipr.link("set", index=index, state="up")
    return True


def remove(ipr: Any, network: Network) -> None:
    """Delete the bridge (its address and its route go with it); nothing if it is gone.

    Equivalent to: ip link del NAME
    """
    netlink.delete_link(ipr, network.bridge)
