"""Killed at the worst moment: a supervisor, the CLI or the container's init dies by SIGKILL,
and the next command still tells the truth and leaves nothing behind."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from support import host_leftovers, wait_until
from test_lifecycle import start, status_of


def test_a_killed_supervisor_is_noticed_and_its_container_cleaned_up(cli, state_root, cgroup_parent):
    start(cli, "orphan", "sleep 60")
    info = json.loads(cli("inspect", "orphan").stdout)
    supervisor, init = info["details"]["state"]["monitor_pid"], info["pid"]
    os.kill(supervisor, signal.SIGKILL)
    assert wait_until(lambda: status_of(cli, "orphan")["status"] == "exited")
    container = json.loads(cli("inspect", "orphan").stdout)
    assert container["exit_code"] == 137
    assert "supervisor died" in container["details"]["state"]["error"]
    assert wait_until(lambda: not os.path.exists(f"/proc/{init}") or _is_zombie(init))
    assert container["status"] == json.loads(cli("inspect", "orphan").stdout)["status"]  # reads repair nothing
    assert cli("rm", "orphan").returncode == 0  # a command that changes state frees what it left
    assert host_leftovers(state_root, cgroup_parent)["cgroups"] == []


def test_a_killed_init_is_recorded_as_137_by_its_supervisor(cli):
    start(cli, "victim", "sleep 60")
    os.kill(json.loads(cli("inspect", "victim").stdout)["pid"], signal.SIGKILL)
    assert wait_until(lambda: status_of(cli, "victim")["status"] == "exited")
    assert status_of(cli, "victim")["exit_code"] == 137


def test_a_foreground_run_killed_at_random_points_leaves_nothing_after_prune(cli, gophernetes, state_root,
                                                                            cgroup_parent, busybox_rootfs):
    randomness = random.Random(4)  # bounded and repeatable: six kills, at points spread over start-up
    for _ in range(6):
        process = subprocess.Popen(
            [sys.executable, "-m", "gophernetes", "run", "--net", "none", "--rootfs", str(busybox_rootfs),
             "/bin/sh", "-c", "sleep 30"], env=gophernetes.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(randomness.uniform(0.0, 0.4))
        process.kill()
        process.wait()
    cli("prune")  # list only reports; prune removes what the killed runs left
    assert wait_until(lambda: cli("list", "--all", "--quiet").stdout == "")
    assert wait_until(lambda: host_leftovers(state_root, cgroup_parent) ==
                      {"cgroups": [], "mounts": [], "container folders": []})
    assert subprocess.run(["pgrep", "-f", str(busybox_rootfs)], capture_output=True).stdout == b""


def test_twenty_containers_started_at_once_are_all_recorded_under_unique_names(cli):
    def run(index: int) -> subprocess.CompletedProcess:
        return cli("run", "-d", "--net", "none", "busybox", "sleep", "60")

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(run, range(20)))
    assert [r.returncode for r in results] == [0] * 20, [r.stderr for r in results if r.returncode]
    listed = json.loads(cli("list", "--format", "json").stdout)
    assert sorted(c["id"] for c in listed) == sorted(r.stdout.strip() for r in results)
    assert len({c["name"] for c in listed}) == 20
    assert all(c["status"] == "running" for c in listed)


def test_one_name_claimed_five_times_at_once_goes_to_exactly_one(cli):
    def run(index: int) -> subprocess.CompletedProcess:
        return cli("run", "-d", "--net", "none", "--name", "contested", "busybox", "sleep", "60")

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(run, range(5)))
    assert sorted(r.returncode for r in results) == [0, 125, 125, 125, 125]
    assert len(json.loads(cli("list", "--format", "json").stdout)) == 1


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
