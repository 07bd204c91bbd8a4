"""What stays with a detached container once it runs: the lean monitor (engines/native/monitor.py).

The supervisor execs it after the start, in the same PID: it must keep every job the
supervisor had — logs, the exit status (137 and oom_killed after an OOM kill), --rm, the
cgroup — while costing a fraction of a forked CLI."""

from __future__ import annotations

import json
import os

import pytest
from support import host_leftovers, wait_until
from test_lifecycle import start, status_of

from gophernetes.linux.cgroups import detect_version


def _monitor_of(cli, name: str) -> int:
    return json.loads(cli("inspect", name).stdout)["details"]["state"]["monitor_pid"]


def _rollup(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/smaps_rollup") as file:
        return {line.split()[0].rstrip(":"): int(line.split()[1]) for line in file if line.split()[1:2] != []
                and line.split()[1].isdigit()}


def test_the_supervisor_becomes_a_small_monitor_that_still_writes_the_logs(cli):
    start(cli, "lean", "echo before; sleep 1; echo after; echo oops >&2; sleep 60")
    monitor = _monitor_of(cli, "lean")
    with open(f"/proc/{monitor}/cmdline", "rb") as file:
        argv = file.read().split(b"\0")
    assert b"-I" in argv and b"-S" in argv and any(b"gophernetes.engines.native.monitor" in a for a in argv)
    # A forked CLI keeps 9-10 MB of its own (click, every module); the monitor about 3.
    assert _rollup(monitor)["Private_Dirty"] < 5 * 1024
    assert wait_until(lambda: cli("logs", "lean").stdout == "before\nafter\noops\n")
    assert cli("logs", "lean").stdout == "before\nafter\noops\n"
    assert json.loads(cli("inspect", "lean").stdout)["details"]["state"]["monitor_pid"] == monitor


def test_the_monitor_records_the_exit_status_and_removes_the_cgroup(cli, state_root, cgroup_parent):
    start(cli, "brief", "echo bye; exit 3")
    assert wait_until(lambda: status_of(cli, "brief")["status"] == "exited")
    assert status_of(cli, "brief")["exit_code"] == 3
    assert cli("logs", "brief").stdout == "bye\n"
    assert wait_until(lambda: host_leftovers(state_root, cgroup_parent)["cgroups"] == [])


def test_a_detached_rm_container_is_forgotten_by_its_monitor(cli, state_root, cgroup_parent):
    start(cli, "gone", "sleep 0.5", "--rm")
    assert wait_until(lambda: cli("list", "--all", "--quiet").stdout == "")
    assert wait_until(lambda: host_leftovers(state_root, cgroup_parent) ==
                      {"cgroups": [], "mounts": [], "container folders": []})


@pytest.mark.skipif(detect_version() != 1, reason="reads v1 files; the VM test covers v2")
def test_an_oom_kill_of_a_detached_container_is_recorded_as_137_and_oom_killed(cli):
    start(cli, "hog", "x=0123456789abcdef; while :; do x=$x$x; done", "--memory", "32m")
    assert wait_until(lambda: status_of(cli, "hog")["status"] == "exited", timeout=60)
    state = json.loads(cli("inspect", "hog").stdout)["details"]["state"]
    assert state["exit_code"] == 137 and state["oom_killed"] is True


def test_a_signal_to_the_monitor_reaches_the_container(cli):
    start(cli, "relay", "trap 'echo got TERM; exit 7' TERM; while :; do sleep 0.1; done")
    os.kill(_monitor_of(cli, "relay"), 15)
    assert wait_until(lambda: status_of(cli, "relay")["status"] == "exited")
    assert status_of(cli, "relay")["exit_code"] == 7
    assert "got TERM" in cli("logs", "relay").stdout
