"""Every verb, the same test on both engines: run, run -d, list, logs, exec, pause/resume,
stop, kill, rm, images and pull, with images from the local registry."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import wait_until
from tests.system.engines.conftest import busybox_layer
from tests.system.images import oci

COUNTER = "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.1; done"


def start(engine, name: str, image: str, script: str = COUNTER, *options: str) -> str:
    result = engine("run", "-d", "--name", name, *options, image, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def log_lines(engine, name: str) -> list[str]:
    return engine("logs", name).stdout.splitlines()


def test_run_in_the_foreground_passes_output_and_exit_status_through(engine, image):
    result = engine("run", "--net", "none", image, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


def test_an_absolute_command_runs_in_the_default_busybox_made_from_the_hosts(engine):
    result = engine("run", "--net", "none", "/bin/sh", "-c", "busybox | head -1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("BusyBox v")


def test_a_command_missing_from_the_image_exits_127_with_one_line(engine, image):
    result = engine("run", "--net", "none", image, "no-such-command")
    assert result.returncode == 127
    assert len(result.stderr.splitlines()) == 1 and "no-such-command" in result.stderr


def test_the_bridge_network_gives_an_address_and_the_hostname_is_ours(engine, image):
    result = engine("run", "--hostname", "lab", image, "sh", "-c", "hostname; ip -4 addr show eth0")
    assert result.returncode == 0, result.stderr
    hostname, addresses = result.stdout.split("\n", 1)
    assert hostname == "lab"
    assert re.search(r"inet 10\.\d+\.\d+\.\d+/\d+", addresses), addresses


def test_run_detached_is_listed_running_and_logs_its_output(engine, image):
    container_id = start(engine, "web", image)
    assert re.fullmatch(r"[0-9a-f]{64}", container_id)
    web = engine.container("web")
    assert (web["id"], web["status"], web["image"].split("/")[-1]) == (container_id, "running", "busybox:latest")
    assert web["pid"] and Path(f"/proc/{web['pid']}").exists()
    assert wait_until(lambda: len(log_lines(engine, "web")) >= 3)
    assert log_lines(engine, "web")[:3] == ["line 0", "line 1", "line 2"]
    assert engine("logs", "--tail", "1", "web").stdout.count("\n") == 1


def test_a_name_in_use_is_refused(engine, image):
    first = start(engine, "web", image)
    again = engine("run", "-d", "--name", "web", image, "true")
    assert again.returncode == 125
    assert again.stderr.strip() == (f'gophernetes: the container name "web" is already in use by container '
                                    f'{first[:12]}: remove it (gophernetes rm web) or choose another name')


def test_logs_live_follows_until_the_container_exits(engine, image):
    start(engine, "counter", image, "for i in 1 2 3; do echo line $i; sleep 0.3; done")
    result = engine("logs", "--live", "counter", timeout=20)
    assert result.stdout == "line 1\nline 2\nline 3\n"
    assert engine.container("counter")["status"] == "exited"


def test_exec_runs_inside_the_container_and_passes_its_status(engine, image):
    start(engine, "web", image, "sleep 30", "--hostname", "inside", "--net", "none")
    result = engine("exec", "web", "sh", "-c", "hostname; ls /proc | grep -c '^[0-9]'; exit 5")
    assert result.returncode == 5, result.stderr
    hostname, processes = result.stdout.split()
    assert hostname == "inside"
    assert int(processes) <= 5  # its own PID namespace: sleep, sh, ls, grep; not the host's hundreds


def test_pause_freezes_every_process_and_resume_thaws_them(engine, image):
    start(engine, "web", image, COUNTER, "--net", "none")
    assert wait_until(lambda: len(log_lines(engine, "web")) >= 2)
    assert engine("pause", "web").returncode == 0
    assert engine.container("web")["status"] == "paused"
    time.sleep(0.2)  # what was written just before the freeze may still be on its way to the log
    frozen = len(log_lines(engine, "web"))
    time.sleep(0.5)
    assert len(log_lines(engine, "web")) == frozen
    again = engine("pause", "web")
    assert again.returncode == 125 and "paused" in again.stderr
    assert engine("resume", "web").returncode == 0
    assert wait_until(lambda: len(log_lines(engine, "web")) > frozen + 2)
    assert engine.container("web")["status"] == "running"


def test_stop_ends_with_sigkill_when_sigterm_is_ignored_and_rm_removes(engine, image):
    start(engine, "web", image, "trap '' TERM; while :; do sleep 0.1; done", "--net", "none")
    refused = engine("rm", "web")
    assert refused.returncode == 125 and "stop it first" in refused.stderr
    began = time.monotonic()
    assert engine("stop", "-t", "1", "web").returncode == 0
    assert 0.9 < time.monotonic() - began < 10
    web = engine.container("web")
    assert (web["status"], web["exit_code"]) == ("exited", 137)
    assert engine("rm", "web").returncode == 0
    assert engine.containers() == []
    gone = engine("logs", "web")
    assert gone.returncode == 125 and gone.stderr.startswith("gophernetes: no such container: web")


def test_kill_sends_the_signal_the_container_handles(engine, image):
    start(engine, "web", image, "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done",
          "--net", "none")
    assert wait_until(lambda: "ready" in log_lines(engine, "web"))  # the trap is in place
    assert engine("kill", "-s", "TERM", "web").returncode == 0
    assert wait_until(lambda: engine.container("web")["status"] == "exited")
    assert engine.container("web")["exit_code"] == 7
    assert "got TERM" in log_lines(engine, "web")


@pytest.mark.skipif(not Path("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists(),
                    reason="reads cgroup v1 files, with swap accounting")
def test_limits_reach_the_cgroup(engine, image, cgroup_parent):
    container_id = start(engine, "limited", image, "sleep 30", "--net", "none", "--memory", "64m",
                         "--memory-swap", "96m", "--pids-limit", "20", "--cpus", "0.5", "--cpu-shares", "512")
    cgroup = Path("/sys/fs/cgroup")
    memory = cgroup / "memory" / cgroup_parent / container_id
    assert (memory / "memory.limit_in_bytes").read_text() == "67108864\n"
    assert (memory / "memory.memsw.limit_in_bytes").read_text() == "100663296\n"
    assert (cgroup / "cpu" / cgroup_parent / container_id / "cpu.shares").read_text() == "512\n"
    assert (cgroup / "pids" / cgroup_parent / container_id / "pids.max").read_text() == "20\n"
    assert (cgroup / "cpu" / cgroup_parent / container_id / "cpu.cfs_quota_us").read_text() == "50000\n"


def test_a_fork_bomb_stops_at_the_pids_limit(engine, image):
    # Not lower: on containerd the limit is in place before runc's own init (a Go program
    # with several threads) joins the cgroup, and counts those threads too.
    result = engine("run", "--net", "none", "--pids-limit", "10", image, "sh", "-c",
                    "for i in $(seq 30); do sleep 1 & done; wait")
    assert "can't fork" in result.stderr or "Resource temporarily unavailable" in result.stderr, result.stderr


def test_unknown_containers_are_one_clear_line(engine):
    for verb in (["logs"], ["exec"], ["stop"], ["rm"], ["pause"], ["inspect"]):
        result = engine(*verb, "nobody", *(["true"] if verb == ["exec"] else []))
        assert result.returncode == 125
        assert result.stderr.startswith("gophernetes: no such container: nobody"), (verb, result.stderr)
        assert len(result.stderr.splitlines()) == 1


def test_run_detached_with_rm_leaves_nothing_when_it_exits(engine, image):
    start(engine, "brief", image, "echo bye", "--rm", "--net", "none")
    assert wait_until(lambda: engine.containers() == [])


def test_run_local_imports_an_oci_archive_and_runs_it_detached_under_the_name(engine, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(layout.image([busybox_layer()], cmd=["sh", "-c", "echo from the archive"], env=["PATH=/bin"]),
               "latest")
    archive = tmp_path / "bb-oci.tar"
    subprocess.run(["tar", "-C", str(layout.path), "-cf", str(archive), "."], check=True)
    result = engine("run", "local", str(archive), "fromtar")
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: engine.container("fromtar")["status"] == "exited")
    container = engine.container("fromtar")
    assert (container["image"], container["exit_code"]) == ("bb-oci:latest", 0)
    assert log_lines(engine, "fromtar") == ["from the archive"]


def test_pull_images_and_rmi(engine, image, registry):
    copy = f"{registry.address}/lab/busybox-copy:{engine.engine}"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{image}", f"docker://{copy}"], check=True, capture_output=True, timeout=60)
    pulled = engine.on_host("pull", copy)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip().splitlines()[-1] == copy
    listed = {i["name"]: i for i in json.loads(engine("images", "--format", "json").stdout)}
    assert listed[copy]["id"] == listed[image]["id"]  # the same config: the same IMAGE ID, as docker
    assert listed[copy]["size"] > 500_000 and listed[copy]["created"] == "2024-01-02T03:04:05Z"
    assert engine("rmi", copy).returncode == 0
    assert copy not in {i["name"] for i in json.loads(engine("images", "--format", "json").stdout)}
    missing = engine.on_host("pull", f"{registry.address}/lab/nothing:here")
    assert missing.returncode == 125 and "lab/nothing:here" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1
    again = engine("rmi", copy)
    assert again.returncode == 125 and f"image '{copy}' not found" in again.stderr, again.stderr


def test_a_published_port_answers_on_the_hosts_loopback(engine, image):
    start(engine, "web", image, "mkdir /www && echo published > /www/index.html && httpd -f -p 80 -h /www",
          "--publish", "18080:80")
    assert "18080" in " ".join(engine.container("web")["ports"])
    fetch = ("import urllib.request, time\n"
             "for _ in range(40):\n"
             "    try:\n"
             "        print(urllib.request.urlopen('http://127.0.0.1:18080/', timeout=2).read().decode(), end='')\n"
             "        break\n"
             "    except OSError:\n"
             "        time.sleep(0.1)\n")
    answer = subprocess.run(["nsenter", f"--net={engine.netns}", sys.executable, "-c", fetch], capture_output=True,
                            text=True, timeout=30, env={"no_proxy": "*", "PATH": "/usr/bin:/bin"})
    assert answer.stdout == "published\n", answer.stderr


def test_attach_and_detach_plug_a_running_container_into_another_network(engine, image):
    start(engine, "hub", image, "sleep 600")
    assert engine("network", "create", "side", "--subnet", "10.93.0.0/24").returncode == 0

    attached = engine("attach", "hub", "side")

    assert attached.returncode == 0, attached.stderr
    assert attached.stdout.split() == ["eth1", "10.93.0.2/24"]
    assert "10.93.0.2/24" in engine("exec", "hub", "ip", "-4", "addr", "show", "eth1").stdout
    assert engine("detach", "hub", "side").returncode == 0
    assert engine("exec", "hub", "ip", "link", "show", "eth1").returncode != 0
    assert engine("rm", "-f", "hub").returncode == 0
    assert engine("network", "delete", "side").returncode == 0
