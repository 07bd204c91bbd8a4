"""Network state belongs to the network namespace it was made in: two namespaces, one state root."""

from __future__ import annotations

import os
import subprocess
import sys

import netlab

from gophernetes import network


def _ls(root, netns: netlab.Netns) -> list[str]:
    """`gophernetes network ls -q` as typed in `netns` (GOPHERNETES_ROOT is in our environment)."""
    assert os.environ["GOPHERNETES_ROOT"] == str(root.lib.parent)
    result = netns.run(sys.executable, "-m", "gophernetes", "network", "ls", "-q")
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_two_namespaces_each_have_their_own_networks_and_ports(netns_factory, root, monkeypatch):
    monkeypatch.setenv("GOPHERNETES_ROOT", str(root.lib.parent))
    lab, host = netns_factory("lab"), netns_factory("host")
    answers = {}
    for netns, only in ((lab, "lab05net"), (host, "hostnet")):
        with netns.entered():
            network.create_network(root, "shared", "10.90.0.0/24")  # the same name in both
            network.create_network(root, only)
            web = netlab.Container.start(netns)
            network.allocate(root, "web", "shared", publish=["8080:80"]).plug(web.pid)  # the same port
            web.serve(80)

    for netns in (lab, host):
        with netns.entered():
            answers[netns.name] = netlab.ask_here("127.0.0.1", 8080)
    assert answers == {lab.name: "10.90.0.1", host.name: "10.90.0.1"}  # both published ports answer

    assert _ls(root, lab) == ["bridge", "lab05net", "shared"]
    assert _ls(root, host) == ["bridge", "hostnet", "shared"]
    for netns in (lab, host):
        with netns.entered():
            network.release_container(root, "web")
            assert [info.containers for info in network.list_networks(root)] == [[], [], []]


def test_a_namespace_that_died_leaves_nothing_to_the_next_one_with_its_inode(netns_factory, root):
    first = netns_factory("first")
    with first.entered():
        network.create_network(root, "gone")
        old = root.networks
    first.delete()

    second = netns_factory("second")
    with second.entered():
        assert [info.network.name for info in network.list_networks(root)] == ["bridge"]
        assert root.networks != old or not (old / "gone.json").exists()


def test_the_cli_and_the_library_agree_on_the_namespace(host, root):
    network.create_network(root, "mine")
    env = {**os.environ, "GOPHERNETES_ROOT": str(root.lib.parent)}
    listed = subprocess.run([sys.executable, "-m", "gophernetes", "network", "ls", "-q"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert listed.stdout.split() == ["bridge", "mine"]
