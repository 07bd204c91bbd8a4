"""Fixtures for the networking tests: every test runs in network namespaces it made.

`host` is a fresh namespace that the test process itself has entered: gophernetes called
from the test creates its bridges, veths and firewall rules there, as it would in the
host's namespace in real life. Each test module first moves the whole pytest process into
a sandbox namespace, so even a test that forgot to enter its own cannot touch the host's.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections.abc import Iterator

import netlab
import pytest

from gophernetes.paths import StateRoot

_counter = itertools.count()

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="networking tests need root")


def _name(kind: str) -> str:
    return f"gnt-{os.getpid()}-{kind}{next(_counter)}"


@pytest.fixture(scope="module", autouse=True)
def sandbox() -> Iterator[netlab.Netns]:
    """Each module's tests run with this process in a namespace of their own, left at the end.

    Per module, not per session: the tests of other folders that run after ours must find
    the process back in the namespace it started in (their registry on 127.0.0.1 is there).
    """
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("networking tests need root and iproute2")
    sandbox = netlab.Netns.create(_name("sandbox"))
    try:
        with sandbox.entered():
            yield sandbox
    finally:
        sandbox.delete()


@pytest.fixture
def netns_factory(sandbox) -> Iterator:
    made: list[netlab.Netns] = []

    def make(kind: str = "ns") -> netlab.Netns:
        netns = netlab.Netns.create(_name(kind))
        made.append(netns)
        return netns

    yield make
    for netns in made:
        netns.delete()


@pytest.fixture
def host(netns_factory) -> Iterator[netlab.Netns]:
    """A namespace playing the host, entered by this process for the test's duration."""
    netns = netns_factory("host")
    with netns.entered():
        yield netns


@pytest.fixture
def world(netns_factory, host) -> tuple[netlab.Netns, str, str]:
    """Another namespace cabled to `host`: (world, host's address there, world's address)."""
    other = netns_factory("world")
    host_address, world_address = netlab.link_world(host, other)
    return other, host_address, world_address


@pytest.fixture
def root(tmp_path) -> StateRoot:
    return StateRoot.from_option(tmp_path / "state")


@pytest.fixture
def container(host) -> Iterator:
    """Start containers (processes in new network namespaces) inside `host`."""
    started: list[netlab.Container] = []

    def start() -> netlab.Container:
        made = netlab.Container.start(host)
        started.append(made)
        return made

    yield start
    for made in started:
        made.kill()


@pytest.fixture(params=["nft", "iptables"])
def firewall_backend(request, monkeypatch) -> str:
    """Run the test once with each firewall backend."""
    if not shutil.which(request.param):
        pytest.skip(f"{request.param} is not installed")
    monkeypatch.setenv("GOPHERNETES_FIREWALL", request.param)
    return request.param


def assert_nothing_left(host: netlab.Netns, root: StateRoot) -> None:
    """Nothing of any container is left; and once its networks are deleted, nothing of gophernetes.

    A container leaves no veth, DNAT rule or lease behind; its network's bridge and
    masquerade rules stay (as docker0 does) until `network delete`.
    """
    from gophernetes import network

    deadline = time.monotonic() + 5  # a dead container's veth goes with its namespace, a moment later
    while [link for link in host.links() if link.startswith("gv")] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [link for link in host.links() if link.startswith("gv")], host.links()
    assert "container:" not in host.ruleset() + host.iptables_save()
    assert list((root.networks / "leases").glob("*")) == []
    assert list((root.networks / "hosts").glob("*")) == []
    for info in network.list_networks(root):
        network.delete_network(root, info.network.name)
    assert host.links() <= {"lo", "gntw0"}, host.links()
    devices = {line.split()[1] for line in host.run("ip", "-o", "addr", "show").stdout.splitlines()}
    assert devices <= {"lo", "gntw0"}, devices
    assert "gophernetes" not in host.ruleset()
    assert "GOPHERNETES" not in host.iptables_save()


@pytest.fixture
def nothing_left():
    return assert_nothing_left
