"""stats, top, cp, port, rename and wait: the same test on both engines (the containerd
engine's containers sit in the same cgroup PARENT/ID and report their init's host PID)."""

from __future__ import annotations

import json

from tests.support import wait_until


def test_stats_read_the_cgroup_and_the_veth(engine, image):
    result = engine("run", "-d", "--name", "busy", "--memory", "64m", image, "sh", "-c",
                    "ping -c 3 -s 1000 $(ip route | awk '/default/ {print $3}') >/dev/null; while :; do :; done")
    assert result.returncode == 0, result.stderr

    def line() -> dict:
        output = engine("stats", "--no-stream", "--format", "json", "busy").stdout.splitlines()
        return json.loads(output[0]) if output else {}

    assert wait_until(lambda: line().get("net_tx", 0) >= 3 * 1028, timeout=20)
    seen = line()
    assert seen["cpu_percent"] > 10 and seen["memory_limit"] == 64 * 1024 * 1024 and seen["pids"] >= 1


def test_top_shows_the_containers_processes(engine, image):
    result = engine("run", "-d", "--name", "web", image, "sh", "-c", "sleep 600 & exec sleep 700")
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: sorted(line.split(None, 3)[3] for line in engine("top", "web").stdout.splitlines()[1:])
                      == ["sleep 600", "sleep 700"])


def test_cp_goes_both_ways_and_stays_in_the_root(engine, image, tmp_path):
    result = engine("run", "-d", "--name", "box", image, "sh", "-c", "ln -s /etc/shadow /leak; sleep 600")
    assert result.returncode == 0, result.stderr
    note = tmp_path / "note"
    note.write_text("from the host\n")
    assert engine("cp", str(note), "box:/tmp/").returncode == 0
    assert engine("exec", "box", "cat", "/tmp/note").stdout == "from the host\n"
    assert engine("cp", "box:/tmp/note", str(tmp_path / "back")).returncode == 0
    assert (tmp_path / "back").read_text() == "from the host\n"
    assert wait_until(lambda: engine("exec", "box", "test", "-L", "/leak").returncode == 0)
    stolen = engine("cp", "box:/leak", str(tmp_path / "stolen"))
    assert stolen.returncode == 125 and not (tmp_path / "stolen").exists()


def test_port_rename_and_wait(engine, image):
    result = engine("run", "-d", "--name", "web", "-p", "18081:80", image, "sh", "-c", "sleep 2; exit 7")
    assert result.returncode == 0, result.stderr
    assert engine("port", "web").stdout == "80/tcp -> 0.0.0.0:18081\n"
    assert engine("rename", "web", "job").returncode == 0
    assert engine.container("job")["id"] == result.stdout.strip()
    waited = engine("wait", "job", timeout=30)
    assert (waited.returncode, waited.stdout) == (0, "7\n"), waited.stderr


def test_add_host_and_dns_on_a_bridge_network_stay_the_containers_own(engine, image):
    result = engine("run", "-d", "--name", "app", "--add-host", "db:10.0.0.5", "--dns", "192.0.2.53", image,
                    "sleep", "600")
    assert result.returncode == 0, result.stderr
    assert engine("run", "-d", "--name", "other", image, "sleep", "600").returncode == 0
    hosts = engine("exec", "app", "cat", "/etc/hosts").stdout
    assert "10.0.0.5\tdb\n" in hosts and " app" in hosts  # the network's lines, then its own
    assert engine("exec", "app", "cat", "/etc/resolv.conf").stdout.startswith("nameserver 192.0.2.53\n")
    assert "10.0.0.5" not in engine("exec", "other", "cat", "/etc/hosts").stdout  # (a hex ID may contain "db")
