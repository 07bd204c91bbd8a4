"""port, rename and wait with real containers; port and the network counters of stats on a
bridge inside a network namespace this test made (never the host's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from support import wait_until


@pytest.fixture
def netcli(gophernetes):
    """The CLI run inside a fresh network namespace (nsenter keeps the cgroup mounts in view,
    `ip netns exec` would not): its bridge, veths and firewall rules go with the namespace."""
    if subprocess.run(["which", "nsenter", "ip", "nft"], capture_output=True).returncode:
        pytest.skip("needs nsenter, ip and nft")
    name = f"gne-eco-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["nsenter", f"--net=/run/netns/{name}", sys.executable, "-m", "gophernetes", *args],
                              capture_output=True, text=True, timeout=timeout, env=gophernetes.env)

    try:
        yield run
    finally:
        ids = run("list", "--all", "--quiet").stdout.split()
        if ids:
            run("rm", "--force", *ids)
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_port_lists_what_run_published(netcli):
    started = netcli("run", "-d", "--name", "web", "-p", "8080:80", "-p", "127.0.0.1:5353:53/udp", "busybox",
                     "sleep", "600")
    assert started.returncode == 0, started.stderr
    assert netcli("port", "web").stdout.splitlines() == ["80/tcp -> 0.0.0.0:8080", "53/udp -> 127.0.0.1:5353"]
    assert netcli("port", "web", "53/udp").stdout == "127.0.0.1:5353\n"
    missing = netcli("port", "web", "81")
    assert (missing.returncode, missing.stderr.strip()) == (125, "gophernetes: no public port '81/tcp' published")


def test_stats_count_the_bytes_through_the_containers_veth(netcli):
    started = netcli("run", "-d", "--name", "pinger", "busybox", "sh", "-c",
                     "ping -c 5 -s 1000 $(ip route | awk '/default/ {print $3}') >/dev/null; sleep 600")
    assert started.returncode == 0, started.stderr

    def sent() -> int:
        (line,) = netcli("stats", "--no-stream", "--format", "json", "pinger").stdout.splitlines()
        return json.loads(line)["net_tx"]

    assert wait_until(lambda: sent() >= 5 * 1028, timeout=20)  # five 1000-byte pings and their headers
    (line,) = netcli("stats", "--no-stream", "--format", "json", "pinger").stdout.splitlines()
    assert json.loads(line)["net_rx"] >= 5 * 1028  # and their replies


def test_port_of_a_container_without_published_ports_prints_nothing(cli):
    assert cli("run", "-d", "--net", "none", "--name", "quiet", "busybox", "sleep", "600").returncode == 0
    result = cli("port", "quiet")
    assert (result.returncode, result.stdout) == (0, "")


def test_rename_changes_the_name_everywhere_and_frees_the_old_one(cli):
    container_id = cli("run", "-d", "--net", "none", "--name", "web", "busybox", "sleep", "600").stdout.strip()
    assert cli("rename", "web", "web-old").returncode == 0
    assert cli("exec", "web-old", "true").returncode == 0
    assert json.loads(cli("inspect", "web-old").stdout)["id"] == container_id
    assert cli("ps", "--format", "{{.Names}}").stdout == "web-old\n"
    assert cli("inspect", "web").returncode == 125
    assert cli("run", "-d", "--net", "none", "--name", "web", "busybox", "sleep", "600").returncode == 0
    assert sorted(cli("ps", "--format", "{{.Names}}").stdout.split()) == ["web", "web-old"]


def test_rename_refuses_a_taken_or_bad_name_and_changes_nothing(cli):
    first = cli("run", "-d", "--net", "none", "--name", "a", "busybox", "sleep", "600").stdout.strip()
    cli("run", "-d", "--net", "none", "--name", "b", "busybox", "sleep", "600")
    taken = cli("rename", "a", "b")
    assert (taken.returncode, taken.stderr.strip()) == (
        125, f'gophernetes: the container name "b" is already in use by container '
             f'{json.loads(cli("inspect", "b").stdout)["id"][:12]}: remove it or choose another name')
    bad = cli("rename", "a", "no/slash")
    assert bad.returncode == 125 and "invalid container name 'no/slash'" in bad.stderr
    assert cli("rename", "nope", "c").returncode == 125
    assert json.loads(cli("inspect", "a").stdout)["id"] == first
    assert sorted(cli("ps", "--format", "{{.Names}}").stdout.split()) == ["a", "b"]


def test_wait_prints_the_exit_codes_when_the_containers_stop(cli):
    cli("run", "-d", "--net", "none", "--name", "three", "busybox", "sh", "-c", "sleep 1; exit 3")
    cli("run", "-d", "--net", "none", "--name", "killed", "busybox", "sleep", "600")
    cli("run", "-d", "--net", "none", "--name", "zero", "busybox", "true")
    waiter = subprocess.Popen([sys.executable, "-m", "gophernetes", "wait", "three", "killed", "zero"],
                              stdout=subprocess.PIPE, text=True, env=cli.env)
    time.sleep(2)
    assert waiter.poll() is None  # still waiting for "killed"
    cli("kill", "killed")
    output, _ = waiter.communicate(timeout=15)
    assert (waiter.returncode, output.splitlines()) == (0, ["3", "137", "0"])


def test_wait_returns_as_the_container_exits_not_a_poll_interval_later(cli):
    cli("run", "-d", "--net", "none", "--name", "job", "busybox", "sleep", "600")
    waiter = subprocess.Popen([sys.executable, "-m", "gophernetes", "wait", "job"], stdout=subprocess.PIPE,
                              text=True, env=cli.env)
    time.sleep(1.5)
    pid = json.loads(cli("inspect", "job").stdout)["pid"]
    killed = time.monotonic()
    os.kill(pid, 9)
    output, _ = waiter.communicate(timeout=15)
    assert output == "137\n" and time.monotonic() - killed < 2


def test_wait_for_an_unknown_container_is_one_line(cli):
    result = cli("wait", "nope")
    assert (result.returncode, result.stderr.strip()) == (
        125, "gophernetes: no such container: nope (see gophernetes list --all)")
