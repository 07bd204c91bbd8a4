"""Lab 05 exercise: two network namespaces and a veth cable between them, in Python with pyroute2.

Fill in the three gaps (`raise NotImplementedError`), then check your work as root:

    sudo gophernetes lab check 05 --exercise

The check runs your functions in a child process that it has first put in a network
namespace and a mount namespace of its own, with an empty /run/netns: the namespaces,
cables and addresses you make there vanish with that child, and your host's network is
never touched. It then connects over TCP from one of your namespaces to the other.

pyroute2 speaks rtnetlink, the protocol of `ip link` and `ip addr`: each call below
reads like the `ip` command it replaces. Afterwards, read gophernetes/network/netlink.py
(the same setns trick as `inside` below), network/veth.py and network/loopback.py.
"""

import contextlib
import ctypes
import os

from pyroute2 import IPRoute, netns  # noqa: F401 (netns: for create_namespace)

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def namespace_file(name: str) -> str:
    """Where `ip netns add NAME` keeps a network namespace alive: a bind mount of /proc/PID/ns/net."""
    return f"/run/netns/{name}"


@contextlib.contextmanager
def inside(name: str):
    """An IPRoute (`ip` in Python) that acts inside the network namespace `name`.

    A netlink socket belongs to the network namespace it was created in, forever. So:
    join the namespace with setns(2), open the socket, and go home at once; everything
    sent on that socket then acts inside `name` (man 2 setns, man 7 netlink).
    """
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(namespace_file(name), os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) < 0:
            raise OSError(ctypes.get_errno(), f"setns into {name}")
        try:
            ipr = IPRoute()
        finally:
            if libc.setns(home, CLONE_NEWNET) < 0:
                raise OSError(ctypes.get_errno(), "setns back home")
    finally:
        os.close(home)
        os.close(target)
    with ipr:
        yield ipr


def create_namespace(name: str) -> None:
    """`ip netns add NAME`: a new network namespace, kept alive by /run/netns/NAME.

    pyroute2.netns.create does it: read its source (python3 -c "import pyroute2.netns as n,
    inspect; print(inspect.getsource(n._create))"): unshare(CLONE_NEWNET) in a child, then
    bind-mount that child's /proc/self/ns/net onto the file. man 8 ip-netns.
    """
    raise NotImplementedError("make the named network namespace (pyroute2's netns module has the function)")


def veth_between(ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
    """`ip -n NS_A link add IF_A type veth peer name IF_B netns NS_B`: a cable from NS_A to NS_B.

    With inside(ns_a) as ipr: ipr.link("add", ifname=..., kind="veth", peer=...), the peer
    being {"ifname": IF_B}; then move IF_B into NS_B: ipr.link("set", index=..., net_ns_fd=FD)
    with FD an open descriptor of namespace_file(NS_B) (ipr.link_lookup(ifname=...)[0] is
    an index). man 4 veth, man 8 ip-link.
    """
    raise NotImplementedError("create the veth pair inside ns_a and move its peer to ns_b")


def configure(ns: str, ifname: str, address: str, prefixlen: int) -> None:
    """`ip -n NS addr add ADDRESS/PREFIXLEN dev IFNAME; ip -n NS link set IFNAME up; ... lo up`.

    ipr.addr("add", index=..., address=..., prefixlen=...) and ipr.link("set", index=...,
    state="up"); a new namespace's loopback is down too: bring "lo" up as well.
    """
    raise NotImplementedError("give the interface its address and bring it (and lo) up, inside ns")
