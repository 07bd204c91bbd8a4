"""A container on a bridge network: its address, its gateway, its neighbours."""

from __future__ import annotations

from gophernetes import network


def test_a_plugged_container_has_eth0_an_address_and_a_default_route(host, root, container):
    c = container()
    att = network.allocate(root, "c1")
    att.plug(c.pid)

    assert att.address == "10.77.0.2/16"
    assert c.addresses("eth0") == ["10.77.0.2/16"]
    assert c.default_route().startswith("default via 10.77.0.1 dev eth0")
    assert "<LOOPBACK,UP," in c.run("ip", "link", "show", "lo").stdout
    assert "gophernetes0" in host.links()


def test_container_reaches_its_gateway(host, root, container):
    c = container()
    network.allocate(root, "c1").plug(c.pid)

    assert c.ping("10.77.0.1")


def test_two_containers_on_one_network_reach_each_other_by_address(host, root, container):
    first, second = container(), container()
    network.allocate(root, "first", hostname="web").plug(first.pid)
    network.allocate(root, "second", hostname="db").plug(second.pid)

    assert first.ping("10.77.0.3")
    assert second.ping("10.77.0.2")


def test_the_second_container_finds_the_first_by_name_in_its_hosts_file(host, root, container):
    network.allocate(root, "first", hostname="web", aliases=["frontend"])
    second = network.allocate(root, "second", hostname="db")

    hosts = second.etc_files()["/etc/hosts"].splitlines()
    assert "127.0.0.1\tlocalhost" in hosts
    assert "10.77.0.3\tdb second" in hosts
    assert "10.77.0.2\tweb frontend first" in hosts


def test_a_containers_kept_hosts_file_learns_of_neighbours_that_come_and_go(host, root):
    first = network.allocate(root, "first", hostname="web")
    kept = first.hosts_path
    inode = kept.stat().st_ino
    assert "db" not in kept.read_text()

    second = network.allocate(root, "second", hostname="db")
    assert "10.77.0.3\tdb second" in kept.read_text().splitlines()
    assert kept.read_text() == first.etc_files()["/etc/hosts"]

    second.release()
    assert "db" not in kept.read_text()
    assert kept.stat().st_ino == inode  # rewritten in place: a bind mount of it stays valid
    first.release()
    assert not kept.exists()


def test_resolv_conf_never_points_a_container_at_a_loopback_resolver(tmp_path):
    from gophernetes.network import hosts

    stub = tmp_path / "stub.conf"
    stub.write_text("nameserver 127.0.0.53\noptions edns0\n")
    upstream = tmp_path / "upstream.conf"
    upstream.write_text("nameserver 127.0.0.1\nnameserver 10.255.255.53\nsearch lab\n")

    assert hosts.resolv_conf([stub, upstream]) == "nameserver 10.255.255.53\nsearch lab\n"
    assert not any(line.startswith("nameserver") for line in hosts.resolv_conf([stub]).splitlines())


def test_a_named_network_gets_its_own_bridge_and_subnet(host, root, container):
    network.create_network(root, "backend", "10.90.0.0/24")
    c = container()
    att = network.allocate(root, "c1", "backend")
    att.plug(c.pid)

    assert att.address == "10.90.0.2/24"
    assert "gn-backend" in host.links()
    assert c.ping("10.90.0.1")


def test_the_default_subnet_can_be_chosen_by_environment(host, root, container, monkeypatch):
    monkeypatch.setenv("GOPHERNETES_DEFAULT_SUBNET", "10.99.0.0/24")
    c = container()
    att = network.allocate(root, "c1")
    att.plug(c.pid)

    assert att.address == "10.99.0.2/24"
    assert c.ping("10.99.0.1")


def test_importing_the_network_package_does_not_load_pyroute2():
    import subprocess
    import sys

    code = "import gophernetes.network, sys; print('pyroute2' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
