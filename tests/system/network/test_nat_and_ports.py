"""Outbound masquerade, published ports and isolation, with each firewall backend."""

from __future__ import annotations

import netlab
import pytest

from gophernetes import network
from gophernetes.errors import Conflict


def test_outbound_traffic_is_masqueraded_to_the_hosts_address(firewall_backend, host, world, root, container):
    other, host_address, world_address = world
    other.serve(9000)
    c = container()
    network.allocate(root, "c1").plug(c.pid)

    # The world has no route to 10.77.0.0/16: an answer proves the rewrite, and so does its view.
    assert c.ask(world_address, 9000) == host_address


def test_a_published_port_is_reached_from_another_machine(firewall_backend, host, world, root, container):
    other, host_address, world_address = world
    c = container()
    network.allocate(root, "web", publish=["8080:80"]).plug(c.pid)
    c.serve(80)

    # DNAT keeps the client's address: the container sees who really called.
    assert other.ask(host_address, 8080) == world_address


def test_a_published_port_is_reached_from_the_host_itself_on_localhost(firewall_backend, host, root, container):
    c = container()
    network.allocate(root, "web", publish=["8080:80"]).plug(c.pid)
    c.serve(80)

    # OUTPUT-chain DNAT + route_localnet; 127.0.0.1 is masqueraded to the gateway so the container can answer.
    assert netlab.ask_here("127.0.0.1", 8080) == "10.77.0.1"
    assert netlab.ask_here("10.77.0.1", 8080) == "10.77.0.1"


def test_containers_reach_a_published_port_through_the_host_too(firewall_backend, host, world, root, container):
    _, host_address, _ = world
    server, neighbour = container(), container()
    network.allocate(root, "web", publish=["8080:80"]).plug(server.pid)
    network.allocate(root, "client").plug(neighbour.pid)
    server.serve(80)

    # Hairpin NAT: DNATed back into the bridge, and masqueraded so the answer takes the same way.
    assert neighbour.ask(host_address, 8080) == "10.77.0.1"
    assert neighbour.ask("10.77.0.1", 8080) == "10.77.0.1"
    assert server.ask(host_address, 8080) == "10.77.0.1"  # its own published port, through the host


def test_a_port_bound_to_one_host_address_is_not_published_on_the_others(firewall_backend, host, world, root,
                                                                          container):
    other, host_address, _ = world
    c = container()
    network.allocate(root, "web", publish=["127.0.0.1:8080:80"]).plug(c.pid)
    c.serve(80)

    assert netlab.ask_here("127.0.0.1", 8080) == "10.77.0.1"
    assert other.ask(host_address, 8080) is None


def test_containers_on_different_networks_cannot_reach_each_other(firewall_backend, host, root, container):
    network.create_network(root, "red", "10.90.0.0/24")
    network.create_network(root, "blue", "10.91.0.0/24")
    red, blue = container(), container()
    network.allocate(root, "red1", "red").plug(red.pid)
    network.allocate(root, "blue1", "blue").plug(blue.pid)

    assert red.ping("10.90.0.1") and blue.ping("10.91.0.1")
    assert red.cannot_ping("10.91.0.2")
    assert blue.cannot_ping("10.90.0.2")


def test_a_port_already_published_is_refused_and_changes_nothing(firewall_backend, host, root, container):
    c = container()
    network.allocate(root, "web", publish=["8080:80"]).plug(c.pid)
    leases = sorted(p.name for p in (root.networks / "leases").iterdir())
    rules = host.ruleset() + host.iptables_save()

    with pytest.raises(Conflict, match="port 8080/tcp is already published by container web"):
        network.allocate(root, "web2", publish=["9090:90", "8080:81"])

    assert sorted(p.name for p in (root.networks / "leases").iterdir()) == leases
    assert host.ruleset() + host.iptables_save() == rules


def test_a_port_a_host_program_listens_on_is_refused(host, root):
    import socket

    from gophernetes.errors import UsageError

    with socket.create_server(("127.0.0.1", 8080)):
        with pytest.raises(Conflict, match="port 8080/tcp is already in use on the host by another program"):
            network.allocate(root, "web", publish=["8080:80"])
    with pytest.raises(UsageError, match="cannot publish on 192.0.2.1: not an address of this host"):
        network.allocate(root, "web", publish=["192.0.2.1:8080:80"])
    assert list((root.networks / "leases").glob("*")) == []


def test_udp_and_tcp_may_share_a_port_number(host, root):
    network.allocate(root, "dns1", publish=["5353:53/udp"])
    network.allocate(root, "dns2", publish=["5353:53"])

    with pytest.raises(Conflict):
        network.allocate(root, "dns3", publish=["5353:53/udp"])


def test_other_rules_of_the_host_are_left_exactly_as_they_were(firewall_backend, host, root, container):
    host.run("nft", "add table ip theirs")
    host.run("nft", "add chain ip theirs input { type filter hook input priority 0; policy accept; }")
    host.run("nft", "add rule ip theirs input tcp dport 22 accept")
    host.run("iptables", "-w", "-A", "FORWARD", "-s", "192.0.2.0/24", "-j", "DROP")
    host.run("iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", "192.0.2.0/24", "-j", "MASQUERADE")
    theirs = host.run("nft", "list", "table", "ip", "theirs").stdout
    iptables = host.iptables_save()

    c = container()
    network.allocate(root, "web", publish=["8080:80"]).plug(c.pid)
    network.release_container(root, "web")
    network.delete_network(root, "bridge")

    assert host.run("nft", "list", "table", "ip", "theirs").stdout == theirs
    assert host.iptables_save() == iptables


def test_with_iptables_a_forward_drop_policy_does_not_cut_containers_off(host, world, root, container, monkeypatch):
    monkeypatch.setenv("GOPHERNETES_FIREWALL", "iptables")
    other, host_address, world_address = world
    host.run("iptables", "-w", "-P", "FORWARD", "DROP")  # as a hardened host (or docker) leaves it
    other.serve(9000)
    web = container()
    network.allocate(root, "web", publish=["8080:80"]).plug(web.pid)
    web.serve(80)

    assert web.ask(world_address, 9000) == host_address
    assert other.ask(host_address, 8080) == world_address
