"""Lab 05 exercise check: exercise.py really makes namespaces, a veth cable, and a working link.

Each part runs in a throw-away child (gophernetes.lab_exercises.in_child) that first
enters a sandbox: a network namespace and a mount namespace of its own, with a fresh
tmpfs on /run, so /run/netns/NAME files, namespaces, veths and addresses all vanish with
the child. The host's network is never touched, and the TCP connection of part 3 runs
between two namespaces inside the sandbox (10.55.5.0/24 exists nowhere else).
"""

import contextlib
import os
import socket

from gophernetes.lab_exercises import in_child
from gophernetes.linux import mounts, syscalls
from gophernetes.network import netlink

A, B = "ex05a", "ex05b"
IF_A, IF_B = "ex05-a", "ex05-b"
ADDR_A, ADDR_B, PREFIX = "10.55.5.1", "10.55.5.2", 24


def sandbox() -> None:
    """In the child: a network namespace, a mount namespace with private mounts, an empty /run/netns."""
    syscalls.unshare(syscalls.CLONE_NEWNS | syscalls.CLONE_NEWNET)
    mounts.make_all_private()
    syscalls.mount("tmpfs", "/run", "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NODEV, "mode=0755")
    os.mkdir("/run/netns")


@contextlib.contextmanager
def joined(name: str):
    """This (single-threaded) child inside namespace `name` for a while, then home again."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        syscalls.setns(target, syscalls.CLONE_NEWNET)
        yield
    finally:
        syscalls.setns(home, syscalls.CLONE_NEWNET)
        os.close(home)
        os.close(target)


def links(name: str | None = None) -> dict[str, str]:
    """interface name -> kind ("veth", "" for lo) in namespace `name` (None: the sandbox's own)."""
    with joined(name) if name else contextlib.nullcontext():
        ipr = netlink.iproute_class()()
    with ipr:
        found = {}
        for link in ipr.get_links():
            info = link.get_attr("IFLA_LINKINFO")
            found[link.get_attr("IFLA_IFNAME")] = (info.get_attr("IFLA_INFO_KIND") if info else "") or ""
        return found


def make_namespaces() -> None:
    from pyroute2 import netns

    netns.create(A)
    netns.create(B)


def make_cable() -> None:
    """The check's own veth between A and B (parts 3 tests only the student's configure)."""
    peer = os.open(f"/run/netns/{B}", os.O_RDONLY)
    with joined(A):
        ipr = netlink.iproute_class()()
    with ipr:
        ipr.link("add", ifname=IF_A, kind="veth", peer={"ifname": IF_B, "net_ns_fd": peer})
    os.close(peer)


def test_part_1_create_namespace_makes_a_named_network_namespace():
    """create_namespace(name) makes /run/netns/NAME, a network namespace other than the caller's.

    Hint: pyroute2.netns.create(name) does what `ip netns add NAME` does: a new network
    namespace, bind-mounted onto /run/netns/NAME so it lives on without a process.
    """
    def body(module):
        sandbox()
        module.create_namespace(A)
        path = f"/run/netns/{A}"
        if not os.path.exists(path):
            return f"no {path}: {os.listdir('/run/netns')}"
        made, mine = os.stat(path), os.stat("/proc/self/ns/net")
        if made.st_dev != mine.st_dev:
            return f"{path} is a plain file, not a namespace (nothing is mounted on it)"
        if made.st_ino == mine.st_ino:
            return f"{path} is the caller's own network namespace, not a new one"
        return "ok"

    assert in_child(body) == "ok"


def test_part_2_veth_between_puts_one_end_in_each_namespace():
    """veth_between() makes a veth pair with one end in each namespace, none left in the caller's.

    Hint: create the pair inside the first namespace (IPRoute opened there: see inside()),
    then move the peer with ipr.link("set", index=..., net_ns_fd=FD), FD an open
    descriptor of /run/netns/NAME; or give the peer "net_ns_fd" at once.
    """
    def body(module):
        sandbox()
        make_namespaces()
        module.veth_between(A, IF_A, B, IF_B)
        return links(A), links(B), links()

    in_a, in_b, in_caller = in_child(body)
    assert in_a.get(IF_A) == "veth", f"in {A}: {in_a}"
    assert in_b.get(IF_B) == "veth", f"in {B}: {in_b}"
    assert IF_B not in in_a and IF_A not in in_b, f"{A} has {sorted(in_a)}, {B} has {sorted(in_b)}"
    assert set(in_caller) == {"lo"}, f"the caller's namespace has {sorted(in_caller)}: made outside the namespaces?"


def test_part_3_configure_lets_one_namespace_connect_to_the_other():
    """After configure() on both ends, a TCP connection from the first namespace reaches the second.

    Hint: inside the namespace, ipr.addr("add", index=..., address=..., prefixlen=...),
    then ipr.link("set", index=..., state="up") for the interface, and for lo too.
    """
    def body(module):
        sandbox()
        make_namespaces()
        make_cable()
        module.configure(A, IF_A, ADDR_A, PREFIX)
        module.configure(B, IF_B, ADDR_B, PREFIX)
        with joined(B):
            server = socket.socket()  # this socket belongs to B, wherever this process goes next
        server.bind((ADDR_B, 0))
        server.listen(1)
        try:
            with joined(A):
                client = socket.create_connection((ADDR_B, server.getsockname()[1]), timeout=5)
        except OSError as error:
            raise AssertionError(f"no TCP connection {ADDR_A} -> {ADDR_B}: {error}") from None
        peer, (source, _) = server.accept()
        client.sendall(b"hello from A")
        return peer.recv(64).decode(), source

    said, source = in_child(body)
    assert (said, source) == ("hello from A", ADDR_A)
