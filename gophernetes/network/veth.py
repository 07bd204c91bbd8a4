"""The veth pair: a virtual Ethernet cable whose two ends may sit in different namespaces.

`ip link add A type veth peer name B` makes two interfaces; a frame sent into one comes
out of the other. Move B into a container's network namespace (`ip link set B netns
PID`) and the cable crosses the namespace boundary: A stays on the host, enslaved to
the bridge, and B becomes the container's eth0. Deleting either end deletes both, and
when the container's namespace dies with its last process, the kernel deletes B and so
A too; that is why releasing a crashed container finds its veth often already gone.

man 4 veth, man 8 ip-link, lab 05
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gophernetes.network import loopback, netlink


@dataclass(frozen=True)
class Plug:
    """One end of the cable inside a container: its name, address and gateway."""

    ifname: str  # eth0, eth1, ...
    address: str  # "10.77.0.2"
    prefixlen: int
    gateway: str  # the default route goes there when `default_route`
    default_route: bool


def create(ipr: Any, host_end: str, bridge: str, pid: int, plug: Plug) -> None:
    """Cable a container (process `pid`) to `bridge` and configure its end as `plug` says.

    On the host side, one request makes both ends, each where it belongs:
        ip link add HOST_END master BRIDGE up type veth peer name eth0 address MAC netns PID
        bridge link set dev HOST_END hairpin on
    The peer is born in the container's namespace (IFLA_NET_NS_PID in its part of the
    request), so it can be called eth0 even when the host has an eth0, and it has a MAC of
    our choosing (mac_for), which the anti-spoofing rules know in advance. Every rtnetlink
    round trip costs pyroute2 a few ms, so the steps that can share a request do.
    Hairpin mode lets the bridge send a frame back out of the port it came in by: needed
    when a container calls its own published port through the host's address, and the
    host's DNAT turns the packet around towards that same container.
    """
    ipr.link("add", ifname=host_end, kind="veth", master=netlink.index_of(ipr, bridge), state="up",
             peer={"ifname": plug.ifname, "address": mac_for(plug.address), "net_ns_pid": pid})
    ipr.brport("set", index=netlink.index_of(ipr, host_end), mode=1)  # IFLA_BRPORT_MODE = BRIDGE_MODE_HAIRPIN
    with netlink.inside(pid) as inner:
        _configure_inside(inner, plug)


def _configure_inside(ipr: Any, plug: Plug) -> None:
    """Inside the container's namespace:
        ip addr add 10.77.0.2/16 dev eth0
        ip link set eth0 up ; ip link set lo up
        ip route add default via 10.77.0.1       (eth0 only)
    """
    index = netlink.index_of(ipr, plug.ifname)
    ipr.addr("add", index=index, address=plug.address, prefixlen=plug.prefixlen)
    ipr.link("set", index=index, state="up")
    loopback.bring_up(ipr)
    if plug.default_route:
        ipr.route("add", dst="0.0.0.0/0", gateway=plug.gateway)


def mac_for(address: str) -> str:
    """The container's MAC, made from its IPv4 address as docker does: 10.77.0.2 -> 02:42:0a:4d:00:02.

    02 in the first byte: a "locally administered" unicast address, never a vendor's.
    """
    return "02:42:" + ":".join(f"{int(byte):02x}" for byte in address.split("."))


def remove(ipr: Any, host_end: str) -> None:
    """`ip link del HOST_END`: unplug the cable, both ends; nothing if already gone."""
    netlink.delete_link(ipr, host_end)
