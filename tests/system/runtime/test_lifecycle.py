"""Containers that live on: run -d, list, logs, exec, pause/resume, stop, kill, rm, inspect."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from support import wait_until

COUNTER = "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.1; done"


def start(cli, name: str, script: str = COUNTER, *options: str) -> str:
    result = cli("run", "-d", "--net", "none", "--name", name, *options, "busybox", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def status_of(cli, name: str) -> dict:
    return next(c for c in json.loads(cli("list", "--all", "--format", "json").stdout) if c["name"] == name)


def test_run_detached_returns_an_id_and_list_shows_it_running(cli):
    container_id = start(cli, "web")
    assert len(container_id) == 64
    listing = cli("list").stdout.splitlines()
    assert listing[0].split() == ["CONTAINER", "ID", "NAME", "IMAGE", "COMMAND", "STATUS", "CREATED", "PORTS"]
    row = next(line for line in listing if " web " in line)
    assert row.startswith(container_id[:12]) and "busybox" in row and " Up " in row


def test_a_name_in_use_is_refused_and_nothing_changes(cli):
    first = start(cli, "web")
    again = cli("run", "-d", "--net", "none", "--name", "web", "busybox", "true")
    assert again.returncode == 125
    assert again.stderr.strip() == (f'gophernetes: the container name "web" is already in use by container '
                                    f'{first[:12]}: remove it (gophernetes rm web) or choose another name')
    assert [c["id"] for c in json.loads(cli("list", "--all", "--format", "json").stdout)] == [first]


def test_logs_show_the_output_and_live_follows_new_lines_until_exit(cli):
    start(cli, "counter", "for i in 1 2 3; do echo out $i; echo err $i >&2; sleep 0.3; done")
    live = cli("logs", "--live", "counter", timeout=30)
    assert live.returncode == 0
    assert live.stdout.splitlines() == ["out 1", "err 1", "out 2", "err 2", "out 3", "err 3"]
    assert cli("logs", "--tail", "2", "counter").stdout.splitlines() == ["out 3", "err 3"]
    stamped = cli("logs", "-t", "--tail", "1", "counter").stdout
    assert stamped.startswith("20") and stamped.rstrip().endswith("err 3")


def test_exec_joins_the_containers_namespaces(cli):
    container_id = start(cli, "web", "hostname > /tmp/name; while :; do sleep 1; done")
    result = cli("exec", "web", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; cat /tmp/name; "
                 "echo $$")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sh -c hostname")  # PID 1 is the container's own command
    assert lines[1] == lines[2] == container_id[:12]
    assert int(lines[3]) > 1


def test_exec_takes_the_bash_tools_single_string_and_passes_the_status(cli):
    start(cli, "web", "sleep 60")
    assert cli("exec", "web", "ls -d /bin /etc").stdout.split() == ["/bin", "/etc"]
    assert cli("exec", "web", "sh", "-c", "exit 7").returncode == 7
    assert cli("exec", "web", "/no/such/tool").returncode == 127


def test_pause_stops_progress_and_resume_continues_it(cli):
    start(cli, "counter")
    assert wait_until(lambda: len(cli("logs", "counter").stdout.splitlines()) >= 3)
    assert cli("pause", "counter").returncode == 0
    assert status_of(cli, "counter")["status"] == "paused"
    frozen = len(cli("logs", "counter").stdout.splitlines())
    time.sleep(0.8)
    assert len(cli("logs", "counter").stdout.splitlines()) == frozen
    assert cli("resume", "counter").returncode == 0
    assert wait_until(lambda: len(cli("logs", "counter").stdout.splitlines()) > frozen + 2)
    assert status_of(cli, "counter")["status"] == "running"


def test_pausing_a_paused_container_is_refused_without_change(cli):
    start(cli, "counter")
    cli("pause", "counter")
    again = cli("pause", "counter")
    assert again.returncode == 125
    assert again.stderr.strip() == "gophernetes: container counter is paused: resume it first " \
                                   "(gophernetes resume counter)"
    assert status_of(cli, "counter")["status"] == "paused"
    assert cli("resume", "counter").returncode == 0
    assert cli("resume", "counter").stderr.strip() == "gophernetes: container counter is not paused"


def test_stop_kills_a_process_that_ignores_sigterm_after_the_grace_time(cli):
    start(cli, "stubborn", "trap '' TERM; echo ready; while :; do sleep 0.1; done")
    assert wait_until(lambda: "ready" in cli("logs", "stubborn").stdout)
    began = time.monotonic()
    assert cli("stop", "--time", "1", "stubborn").returncode == 0
    took = time.monotonic() - began
    container = status_of(cli, "stubborn")
    assert 1 <= took < 8
    assert (container["status"], container["exit_code"]) == ("exited", 137)


def test_stop_lets_a_process_that_handles_sigterm_exit_cleanly(cli):
    start(cli, "polite", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done")
    assert wait_until(lambda: "ready" in cli("logs", "polite").stdout)
    cli("stop", "polite")
    assert (status_of(cli, "polite")["status"], status_of(cli, "polite")["exit_code"]) == ("exited", 0)


def test_kill_sends_the_signal_given(cli):
    start(cli, "target", "trap 'echo got HUP; exit 3' HUP; echo ready; while :; do sleep 0.1; done")
    assert wait_until(lambda: "ready" in cli("logs", "target").stdout)
    assert cli("kill", "-s", "HUP", "target").returncode == 0
    assert wait_until(lambda: status_of(cli, "target")["status"] == "exited")
    assert status_of(cli, "target")["exit_code"] == 3
    assert "got HUP" in cli("logs", "target").stdout


def test_rm_refuses_a_running_container_and_rm_f_removes_it(cli, cgroup_parent):
    start(cli, "web", "sleep 60")
    refused = cli("rm", "web")
    assert refused.returncode == 125 and "stop it first, or use rm -f" in refused.stderr
    assert cli("rm", "-f", "web").returncode == 0
    assert cli("list", "--all", "--quiet").stdout == ""


def test_exec_into_a_stopped_container_is_refused(cli):
    start(cli, "done", "true")
    assert wait_until(lambda: status_of(cli, "done")["status"] == "exited")
    result = cli("exec", "done", "ls")
    assert result.returncode == 125
    assert result.stderr.strip() == "gophernetes: container done is not running: cannot exec into it"


@pytest.mark.parametrize("verb", [["logs"], ["exec", "ls"], ["pause"], ["resume"], ["stop"], ["rm"], ["inspect"],
                                  ["kill"]])
def test_an_unknown_container_is_one_clear_line(cli, verb):
    result = cli(verb[0], "ghost", *verb[1:])
    assert result.returncode == 125
    assert result.stderr.strip() == "gophernetes: no such container: ghost (see gophernetes list --all)"


def test_inspect_shows_the_spec_and_state(cli):
    container_id = start(cli, "web", "sleep 60", "--memory", "64m", "--hostname", "insp")
    info = json.loads(cli("inspect", "web").stdout)
    assert info["id"] == container_id and info["status"] == "running" and info["pid"] > 1
    assert info["details"]["spec"]["hostname"] == "insp"
    assert info["details"]["spec"]["limits"]["memory"] == 64 * 1024 * 1024


def test_the_bash_tools_run_source_image_name_form(cli, busybox_rootfs, tmp_path):
    """`run local ARCHIVE NAME`: import an OCI archive made by umoci, then run it detached."""
    layout = tmp_path / "layout"
    for argv in (["umoci", "init", "--layout", str(layout)], ["umoci", "new", "--image", f"{layout}:1.0"],
                 ["umoci", "insert", "--image", f"{layout}:1.0", str(busybox_rootfs), "/"],
                 ["umoci", "config", "--image", f"{layout}:1.0", "--config.cmd", "sh",
                  "--config.cmd", "-c", "--config.cmd", "echo from the archive; sleep 60"]):
        subprocess.run(argv, check=True, capture_output=True)
    archive = tmp_path / "image.tar"
    subprocess.run(["tar", "-C", str(layout), "-cf", str(archive), "."], check=True)
    result = cli("run", "--net", "none", "local", str(archive), "fromtar")
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: "from the archive" in cli("logs", "fromtar").stdout)
    assert status_of(cli, "fromtar")["status"] == "running"


def test_help_lists_every_verb_of_the_bash_tool(cli):
    text = cli("help").stdout
    for verb in ("run", "pause", "resume", "stop", "rm", "logs", "exec", "pull", "list", "network", "attach"):
        assert f"  {verb} " in text or f"  {verb}\n" in text, verb
    assert "gophernetes logs web --live" in cli("help", "logs").stdout
