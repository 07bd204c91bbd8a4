"""Hot-plugging a second network into a running container, and unplugging it."""

from __future__ import annotations

import pytest

from gophernetes import network
from gophernetes.errors import Conflict, NotFound


@pytest.fixture
def red_and_blue(host, root):
    """Two networks, defined in the test's host namespace (network state belongs to a namespace)."""
    network.create_network(root, "red", "10.90.0.0/24")
    network.create_network(root, "blue", "10.91.0.0/24")


def test_attach_gives_a_running_container_eth1_on_the_other_network(red_and_blue, host, root, container):
    red, blue = container(), container()
    network.allocate(root, "red1", "red").plug(red.pid)
    network.allocate(root, "blue1", "blue").plug(blue.pid)
    assert red.cannot_ping("10.91.0.2")

    att = network.attach(root, "red1", red.pid, "blue")

    assert (att.ifname, att.address) == ("eth1", "10.91.0.3/24")
    assert red.addresses("eth1") == ["10.91.0.3/24"]
    assert red.default_route().startswith("default via 10.90.0.1 dev eth0")  # eth0 keeps the way out
    assert red.ping("10.91.0.2")


def test_detach_removes_the_interface_and_the_reach(red_and_blue, host, root, container, nothing_left):
    red, blue = container(), container()
    network.allocate(root, "red1", "red").plug(red.pid)
    network.allocate(root, "blue1", "blue").plug(blue.pid)
    network.attach(root, "red1", red.pid, "blue")

    network.detach(root, "red1", "blue")

    assert "eth1" not in red.run("ip", "-o", "link").stdout
    assert red.cannot_ping("10.91.0.2")
    assert [c["id"] for c in network.inspect_network(root, "blue").as_dict()["containers"]] == ["blue1"]
    network.release_container(root, "red1")
    network.release_container(root, "blue1")
    nothing_left(host, root)


def test_a_container_without_network_can_be_attached_as_eth0(red_and_blue, host, root, container):
    c = container()

    att = network.attach(root, "lonely", c.pid, "red")

    assert att.ifname == "eth0"
    assert c.ping("10.90.0.1")


def test_attaching_twice_to_one_network_is_refused(red_and_blue, host, root, container):
    c = container()
    network.allocate(root, "red1", "red").plug(c.pid)

    with pytest.raises(Conflict, match="already on network 'red'"):
        network.attach(root, "red1", c.pid, "red")


def test_detaching_from_a_network_the_container_is_not_on_is_refused(red_and_blue, host, root):
    with pytest.raises(NotFound, match="not attached to network 'blue'"):
        network.detach(root, "nobody", "blue")


def test_a_process_sharing_the_hosts_namespace_is_never_plugged(red_and_blue, host, root, nothing_left):
    import os

    from gophernetes.errors import UsageError

    before = host.run("ip", "-o", "addr").stdout
    with pytest.raises(UsageError, match="shares this host's network namespace"):
        network.attach(root, "hosty", os.getpid(), "red")  # this test process: in `host` itself

    assert "eth0" not in host.links()
    assert host.run("ip", "-o", "addr").stdout == before
    nothing_left(host, root)


def test_a_failed_attach_leaves_no_lease_behind(red_and_blue, host, root, container, nothing_left):
    c = container()
    c.kill()  # the process is gone: its namespace cannot be entered

    with pytest.raises(NotFound, match=f"process {c.pid} is gone"):
        network.attach(root, "ghost", c.pid, "red")

    nothing_left(host, root)
