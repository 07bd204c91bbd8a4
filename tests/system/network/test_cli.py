"""`gophernetes network ...` as a user types it: tables, JSON, and one-line refusals (exit 125)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gophernetes import network


@pytest.fixture
def gophernetes(host, root):
    """Run the CLI in the test's namespace with the test's state root."""
    def run(*arguments: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "GOPHERNETES_ROOT": str(root.lib.parent)}
        return subprocess.run([sys.executable, "-m", "gophernetes", *arguments], capture_output=True,
                              text=True, env=env, timeout=60)
    return run


def _state(root) -> list[str]:
    return sorted(str(p.relative_to(root.lib)) for p in root.lib.rglob("*"))


def test_network_create_ls_inspect_delete(gophernetes):
    assert gophernetes("network", "create", "backend", "--subnet", "10.90.0.0/24").stdout == "backend\n"

    table = gophernetes("network", "ls").stdout.splitlines()
    assert table[0].split() == ["NAME", "DRIVER", "SUBNET", "GATEWAY", "BRIDGE", "FIREWALL", "CONTAINERS"]
    assert table[1].split() == ["backend", "bridge", "10.90.0.0/24", "10.90.0.1", "gn-backend", "nft", "0"]
    assert table[2].split() == ["bridge", "bridge", "10.77.0.0/16", "10.77.0.1", "gophernetes0", "nft", "0"]

    inspected = json.loads(gophernetes("network", "inspect", "backend").stdout)
    assert inspected[0]["gateway"] == "10.90.0.1" and inspected[0]["firewall"] == "nft"

    assert gophernetes("network", "delete", "backend").returncode == 0
    assert gophernetes("network", "ls", "-q").stdout == "bridge\n"


def test_without_subnet_a_network_gets_the_next_free_slash_16(gophernetes):
    gophernetes("network", "create", "one")
    gophernetes("network", "create", "two")

    subnets = {row.split()[0]: row.split()[2] for row in gophernetes("network", "ls").stdout.splitlines()[1:]}
    assert subnets == {"bridge": "10.77.0.0/16", "one": "10.78.0.0/16", "two": "10.79.0.0/16"}


def test_ls_shows_the_iptables_backend_when_chosen(gophernetes, monkeypatch):
    monkeypatch.setenv("GOPHERNETES_FIREWALL", "iptables")
    assert gophernetes("network", "ls").stdout.splitlines()[1].split()[5] == "iptables"


def test_inspect_lists_the_containers_on_a_network(gophernetes, root, container):
    c = container()
    network.allocate(root, "web", publish=["8080:80"], hostname="www").plug(c.pid)

    inspected = json.loads(gophernetes("network", "inspect", "bridge").stdout)[0]
    assert inspected["containers"] == [{"id": "web", "names": ["www", "web"], "pid": c.pid,
                                        "address": "10.77.0.2", "interface": "eth0",
                                        "veth": inspected["containers"][0]["veth"], "ports": ["8080->80/tcp"]}]
    assert gophernetes("network", "ls").stdout.splitlines()[1].split()[-1] == "1"


@pytest.mark.parametrize("arguments, message", [
    (["network", "create", "b", "--subnet", "10.90.0.0/25"],
     "gophernetes: subnet 10.90.0.0/25 overlaps network 'a' (10.90.0.0/24); choose another\n"),
    (["network", "create", "b", "--subnet", "10.77.5.0/24"],
     "gophernetes: subnet 10.77.5.0/24 overlaps network 'bridge' (10.77.0.0/16); choose another\n"),
    (["network", "create", "b", "--subnet", "10.90.0.0/33"],
     "gophernetes: invalid subnet '10.90.0.0/33': '33' is not a valid netmask (expected e.g. 10.90.0.0/24)\n"),
    (["network", "create", "b", "--subnet", "10.90.0.1/24"],
     "gophernetes: invalid subnet '10.90.0.1/24': 10.90.0.1/24 has host bits set (expected e.g. 10.90.0.0/24)\n"),
    (["network", "create", "b", "--subnet", "banana"],
     "gophernetes: invalid subnet 'banana': Expected 4 octets in 'banana' (expected e.g. 10.90.0.0/24)\n"),
    (["network", "create", "a"], "gophernetes: network 'a' already exists\n"),
    (["network", "create", "none"], "gophernetes: network name 'none' is reserved (--net none means something "
                                    "else)\n"),
    (["network", "delete", "nope"], "gophernetes: network 'nope' not found; see 'gophernetes network ls'\n"),
    (["network", "inspect", "nope"], "gophernetes: network 'nope' not found; see 'gophernetes network ls'\n"),
    (["attach", "ghost", "a"], "gophernetes: no such container: ghost"),
])
def test_bad_input_is_one_line_exit_125_and_changes_nothing(gophernetes, root, arguments, message):
    gophernetes("network", "create", "a", "--subnet", "10.90.0.0/24")
    before = _state(root)

    result = gophernetes(*arguments)

    assert result.returncode == 125
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert _state(root) == before


def test_network_delete_removes_the_bridge_and_its_rules(gophernetes, host, root, container):
    gophernetes("network", "create", "a", "--subnet", "10.90.0.0/24")
    c = container()
    att = network.allocate(root, "web", "a")
    att.plug(c.pid)
    att.release()
    assert "gn-a" in host.links() and "network:a" in host.ruleset()  # the bridge outlives its containers

    assert gophernetes("network", "delete", "a").returncode == 0

    assert "gn-a" not in host.links()
    assert "gophernetes" not in host.ruleset()


def test_deleting_the_default_network_resets_it(gophernetes, host, root, container, monkeypatch):
    c = container()
    network.allocate(root, "web").plug(c.pid)
    network.release_container(root, "web")

    assert gophernetes("network", "delete", "bridge").returncode == 0
    assert "gophernetes0" not in host.links()
    monkeypatch.setenv("GOPHERNETES_DEFAULT_SUBNET", "10.99.0.0/24")
    assert "10.99.0.0/24" in gophernetes("network", "ls").stdout


def test_a_network_in_use_cannot_be_deleted(gophernetes, root):
    gophernetes("network", "create", "a", "--subnet", "10.90.0.0/24")
    network.allocate(root, "web", "a")

    result = gophernetes("network", "delete", "a")

    assert (result.returncode, result.stderr) == (
        125, "gophernetes: network 'a' is in use by 1 container(s): web; detach them first\n")
    assert "a" in gophernetes("network", "ls", "-q").stdout.split()


def test_an_unknown_network_is_refused_before_anything_is_leased(host, root):
    from gophernetes.errors import NotFound

    with pytest.raises(NotFound, match="network 'nope' not found"):
        network.allocate(root, "web", "nope")
    assert list((root.networks / "leases").glob("*")) == []


@pytest.mark.parametrize("spec, message", [
    ("80", "invalid port spec '80': expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/udp]"),
    ("8080:80/sctp", "invalid port spec '8080:80/sctp': protocol must be tcp or udp"),
    ("70000:80", "invalid port spec '70000:80': '70000' is not a port number (1-65535)"),
    ("x:80", "invalid port spec 'x:80': 'x' is not a port number (1-65535)"),
    ("300.1.1.1:80:80", "invalid port spec '300.1.1.1:80:80': '300.1.1.1' is not an IPv4 address"),
])
def test_a_bad_publish_spec_is_refused_before_anything_is_leased(host, root, spec, message):
    from gophernetes.errors import UsageError

    with pytest.raises(UsageError) as refused:
        network.allocate(root, "web", publish=[spec])
    assert str(refused.value) == message
    assert list((root.networks / "leases").glob("*")) == []


@pytest.mark.parametrize("hostname, aliases", [("web server", []), ("web", ["db\n10.0.0.1 evil"])])
def test_a_name_that_would_break_etc_hosts_is_refused(host, root, hostname, aliases):
    from gophernetes.errors import UsageError

    with pytest.raises(UsageError, match="invalid host name"):
        network.allocate(root, "web", hostname=hostname, aliases=aliases)
    assert list((root.networks / "leases").glob("*")) == []
