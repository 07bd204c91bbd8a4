"""`gophernetes run` on a bridge network, end to end: the runtime calls allocate/plug/release."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from gophernetes.network import ipam

pytest.importorskip("gophernetes.cli.run")


@pytest.fixture
def run(host, gophernetes, busybox_rootfs):
    """`gophernetes run --rootfs BUSYBOX ARGS...` in the test's host namespace."""
    def run_(*arguments: str, net: str = "bridge", options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        return gophernetes("run", "--net", net, *options, "--rootfs", str(busybox_rootfs), *arguments)

    def start(*arguments: str, options: tuple[str, ...] = ()) -> subprocess.Popen:
        command = [sys.executable, "-m", "gophernetes", "run", *options, "--rootfs", str(busybox_rootfs),
                   *arguments]
        return subprocess.Popen(command, env=gophernetes.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    run_.start = start
    return run_


def _wait_for_plugged(root, count: int = 1, timeout: float = 20) -> list[ipam.Lease]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leases = [lease for lease in ipam.all_leases(root.networks) if lease.pid]
        if len(leases) >= count:
            return leases
        time.sleep(0.05)
    raise TimeoutError("no container was plugged in time")


def test_run_on_the_default_bridge_has_an_address_a_gateway_and_leaves_nothing(run, host, root, nothing_left):
    result = run("sh", "-c", "ip -4 -o addr show eth0; ip route; ping -c1 -W2 10.77.0.1 >/dev/null && echo gw-ok;"
                 " cat /etc/resolv.conf")

    assert result.returncode == 0, result.stderr
    assert "inet 10.77.0.2/16" in result.stdout
    assert "default via 10.77.0.1 dev eth0" in result.stdout
    assert "gw-ok" in result.stdout
    assert "nameserver 127." not in result.stdout
    nothing_left(host, root)


def test_run_with_net_none_has_only_loopback_and_takes_no_lease(run, host, root, nothing_left):
    result = run("ip", "-o", "link", net="none")

    assert result.returncode == 0, result.stderr
    assert [line.split(":")[1].strip() for line in result.stdout.splitlines()] == ["lo"]
    assert not (root.networks / "leases").exists() or not list((root.networks / "leases").iterdir())
    nothing_left(host, root)


def test_two_runs_on_one_network_talk_by_name(run, host, root, nothing_left):
    listener = run.start("nc", "-l", "-p", "7", options=("--hostname", "web"))
    _wait_for_plugged(root)

    talker = run("sh", "-c", "grep web /etc/hosts && for i in $(seq 50); do echo hello | nc web 7 && exit; "
                             "sleep 0.1; done; exit 1")

    assert talker.returncode == 0, talker.stderr
    assert "10.77.0.2\tweb" in talker.stdout
    assert listener.communicate(timeout=20)[0].strip() == "hello"
    assert listener.returncode == 0
    nothing_left(host, root)


def test_run_publishes_a_port_reached_from_the_host(run, host, root, nothing_left):
    server = run.start("sh", "-c", "echo hello | nc -l -p 80", options=("-p", "8080:80"))
    _wait_for_plugged(root)

    assert _read_when_listening("127.0.0.1", 8080) == "hello"
    server.communicate(timeout=20)
    nothing_left(host, root)


def test_run_on_a_named_network(run, gophernetes, host, root, nothing_left):
    assert gophernetes("network", "create", "lab", "--subnet", "10.90.0.0/24").returncode == 0

    result = run("sh", "-c", "ip -4 -o addr show eth0 && ping -c1 -W2 10.90.0.1 >/dev/null", net="lab")

    assert result.returncode == 0, result.stderr
    assert "inet 10.90.0.2/24" in result.stdout
    nothing_left(host, root)


@pytest.mark.parametrize("net, options, message", [
    ("nope", (), "gophernetes: network 'nope' not found; see 'gophernetes network ls'\n"),
    ("bridge", ("-p", "80"), "gophernetes: invalid port spec '80': expected [HOST_IP:]HOST_PORT:CONTAINER_PORT"),
])
def test_run_refuses_bad_network_input_with_125_and_leaves_nothing(run, host, root, nothing_left, net, options,
                                                                   message):
    result = run("true", net=net, options=options)

    assert result.returncode == 125
    assert result.stderr.startswith(message)
    nothing_left(host, root)


def test_run_refuses_a_port_another_container_published(run, host, root, nothing_left):
    server = run.start("sh", "-c", "echo hello | nc -l -p 80", options=("-p", "8080:80"))
    _wait_for_plugged(root)

    result = run("true", options=("-p", "8080:81"))

    assert result.returncode == 125
    assert "port 8080/tcp is already published by container" in result.stderr
    assert _read_when_listening("127.0.0.1", 8080) == "hello"
    server.communicate(timeout=20)
    nothing_left(host, root)


def _read_when_listening(host: str, port: int, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2) as conn:
                data = conn.recv(100).decode().strip()
                if data:
                    return data
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def test_attach_and_detach_a_running_container_by_name(gophernetes, busybox_rootfs, host, root, nothing_left):
    assert gophernetes("network", "create", "lab", "--subnet", "10.90.0.0/24").returncode == 0
    started = gophernetes("run", "-d", "--name", "web", "--rootfs", str(busybox_rootfs), "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        attached = gophernetes("attach", "web", "lab")
        assert (attached.returncode, attached.stdout) == (0, "eth1 10.90.0.2/24\n"), attached.stderr
        assert "inet 10.90.0.2/24" in gophernetes("exec", "web", "ip", "-4", "-o", "addr", "show", "eth1").stdout
        assert gophernetes("exec", "web", "ping", "-c1", "-W2", "10.90.0.1").returncode == 0

        assert gophernetes("network", "delete", "lab").returncode == 125  # in use
        assert gophernetes("detach", "web", "lab").returncode == 0
        assert gophernetes("exec", "web", "ip", "link", "show", "eth1").returncode != 0
    finally:
        gophernetes("stop", "-t", "1", "web")
        gophernetes("rm", "web")
    nothing_left(host, root)


def test_a_detached_container_is_reached_by_its_name_and_inspect_shows_its_address(run, gophernetes, host, root,
                                                                                   busybox_rootfs, nothing_left):
    import json

    started = gophernetes("run", "-d", "--name", "db", "--rootfs", str(busybox_rootfs), "sh", "-c",
                          "while :; do echo pong | nc -l -p 7; done")
    assert started.returncode == 0, started.stderr
    try:
        address = json.loads(gophernetes("inspect", "db").stdout)["details"]["addresses"]["bridge"]
        talker = run("sh", "-c", "for i in $(seq 50); do nc db 7 </dev/null && exit; sleep 0.1; done; exit 1")
        assert talker.returncode == 0, talker.stderr
        assert talker.stdout.strip() == "pong"
        assert address.startswith("10.77.0.")
    finally:
        gophernetes("rm", "-f", "db")
    nothing_left(host, root)
