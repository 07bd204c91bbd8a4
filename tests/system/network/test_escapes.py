"""A container with NET_ADMIN attacks the host's loopback and its neighbours, with each firewall backend.

The "containers" here are processes in network namespaces of their own with every
capability, as `--cap-add NET_ADMIN --cap-add NET_RAW` would give: they may change their
own routes, addresses and MAC at will. What they send is stopped on the host's side.
"""

from __future__ import annotations

import subprocess
import sys

import netlab

from gophernetes import network

LOOPBACK_SERVER = netlab.PEER_SERVER.replace('"0.0.0.0"', '"127.0.0.1"')


def _route_loopback_to_the_gateway(c: netlab.Container, gateway: str) -> None:
    """Inside `c`: 127.0.0.1 is no longer local but "over there, via the gateway" (the CVE-2020-8558 trick)."""
    for command in (["ip", "addr", "del", "127.0.0.1/8", "dev", "lo"],
                    ["sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet"],
                    ["ip", "route", "add", "127.0.0.1/32", "via", gateway, "dev", "eth0"]):
        assert c.run(*command).returncode == 0, command
    assert f"via {gateway} dev eth0" in c.run("ip", "route", "get", "127.0.0.1").stdout


def test_a_host_service_on_127_0_0_1_is_out_of_a_containers_reach(firewall_backend, host, root, container):
    secret = host.popen(sys.executable, "-c", LOOPBACK_SERVER, "9999", stdout=subprocess.PIPE, text=True)
    assert secret.stdout.readline().strip() == "ready"
    web, rogue, neighbour = container(), container(), container()
    network.allocate(root, "web", publish=["8080:80"]).plug(web.pid)
    network.allocate(root, "rogue", publish=["9090:90"]).plug(rogue.pid)  # publishing turns route_localnet on
    network.allocate(root, "neighbour").plug(neighbour.pid)
    web.serve(80)

    _route_loopback_to_the_gateway(rogue, "10.77.0.1")

    assert rogue.ask("127.0.0.1", 9999) is None  # never published: unreachable
    assert netlab.ask_here("127.0.0.1", 9999) == "127.0.0.1"  # the host itself still has it
    assert rogue.ask("127.0.0.1", 8080) == "10.77.0.1"  # a published port is DNATed before the drop
    assert netlab.ask_here("127.0.0.1", 8080) == "10.77.0.1"  # from the host's 127.0.0.1
    assert neighbour.ask("10.77.0.1", 8080) == "10.77.0.1"  # hairpin, from another container


def test_a_container_cannot_send_from_an_address_not_its_own(firewall_backend, host, root, container):
    web, rogue = container(), container()
    network.allocate(root, "web").plug(web.pid)
    network.allocate(root, "rogue").plug(rogue.pid)
    web.serve(80)
    assert netlab.ask_here("10.77.0.2", 80) == "10.77.0.1"  # the host knows web's MAC now
    assert rogue.ping("10.77.0.1") and rogue.ping("10.77.0.2")  # its own address: fine

    rogue.run("ip", "addr", "add", "10.77.0.99/16", "dev", "eth0")
    assert rogue.run("busybox", "ping", "-c", "1", "-W", "1", "-I", "10.77.0.99", "10.77.0.1").returncode != 0

    # It claims web's address: an unsolicited ARP would move the host's entry for 10.77.0.2 to it.
    rogue.run("ip", "addr", "add", "10.77.0.2/32", "dev", "eth0")
    rogue.run("busybox", "arping", "-U", "-c", "2", "-w", "1", "-I", "eth0", "-s", "10.77.0.2", "10.77.0.2")
    assert netlab.ask_here("10.77.0.2", 80) == "10.77.0.1"  # still web that answers


def test_a_container_cannot_send_from_a_mac_not_its_own(firewall_backend, host, root, container):
    rogue = container()
    network.allocate(root, "rogue").plug(rogue.pid)
    assert rogue.ping("10.77.0.1")

    rogue.run("ip", "link", "set", "eth0", "address", "02:42:0a:4d:00:63")
    rogue.run("ip", "neigh", "flush", "dev", "eth0")  # ask for the gateway again, from the new MAC

    assert rogue.cannot_ping("10.77.0.1")
    rogue.run("ip", "link", "set", "eth0", "address", "02:42:0a:4d:00:02")  # its own again
    assert rogue.ping("10.77.0.1")
