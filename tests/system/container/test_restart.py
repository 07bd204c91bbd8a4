"""--restart kept by the supervisor, and the start and restart verbs, with real containers."""

from __future__ import annotations

import time

from support import wait_until


def field(cli, name: str, template: str) -> str:
    return cli("inspect", "--format", template, name).stdout.strip()


def test_on_failure_restarts_at_most_n_times_and_counts_them(cli):
    result = cli("run", "-d", "--net", "none", "--name", "job", "--restart", "on-failure:2", "busybox",
                 "sh", "-c", "echo attempt; exit 3")
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: field(cli, "job", "{{.Status}} {{.Details.restart_count}}") == "exited 2", 15)
    time.sleep(1)  # no third restart comes
    assert field(cli, "job", "{{.Status}} {{.Exit_code}} {{.Details.restart_count}} {{.Details.restart_policy}}") \
        == "exited 3 2 on-failure:2"
    assert cli("logs", "job").stdout == "attempt\n" * 3


def test_on_failure_leaves_a_clean_exit_alone(cli):
    assert cli("run", "-d", "--net", "none", "--name", "ok", "--restart", "on-failure", "busybox",
               "true").returncode == 0
    assert wait_until(lambda: field(cli, "ok", "{{.Status}}") == "exited", 10)
    time.sleep(0.5)
    assert field(cli, "ok", "{{.Status}} {{.Details.restart_count}}") == "exited 0"


def test_always_restarts_until_stop(cli):
    assert cli("run", "-d", "--net", "none", "--name", "loop", "--restart", "always", "busybox",
               "sh", "-c", "sleep 0.2").returncode == 0
    assert wait_until(lambda: int(field(cli, "loop", "{{.Details.restart_count}}") or 0) >= 2, 15)
    assert cli("stop", "loop").returncode == 0
    count = field(cli, "loop", "{{.Details.restart_count}}")
    time.sleep(2)  # longer than the back-off so far: a restart would have come
    assert field(cli, "loop", "{{.Status}} {{.Details.restart_count}}") == f"exited {count}"


def test_kill_ends_an_always_container_for_good(cli):
    assert cli("run", "-d", "--net", "none", "--name", "svc", "--restart", "always", "busybox",
               "sleep", "600").returncode == 0
    assert cli("kill", "svc").returncode == 0
    assert wait_until(lambda: field(cli, "svc", "{{.Status}}") == "exited", 10)
    time.sleep(1)
    assert field(cli, "svc", "{{.Status}} {{.Exit_code}} {{.Details.restart_count}}") == "exited 137 0"
    assert cli("start", "svc").returncode == 0  # start clears it: the policy applies again
    assert field(cli, "svc", "{{.Status}}") == "running"


def test_restart_gives_a_running_container_a_new_init_and_keeps_its_files(cli):
    assert cli("run", "-d", "--net", "none", "--name", "web", "busybox", "sleep", "600").returncode == 0
    assert cli("exec", "web", "sh", "-c", "echo kept > /note").returncode == 0
    first = field(cli, "web", "{{.Pid}}")
    result = cli("restart", "-t", "1", "web")
    assert (result.returncode, result.stdout) == (0, "web\n"), result.stderr
    assert field(cli, "web", "{{.Status}}") == "running" and field(cli, "web", "{{.Pid}}") != first
    assert cli("exec", "web", "cat", "/note").stdout == "kept\n"


def test_start_runs_an_exited_container_again(cli):
    assert cli("run", "-d", "--net", "none", "--name", "once", "busybox", "sh", "-c",
               "echo run >> /count; cat /count | wc -l").returncode == 0
    assert cli("wait", "once").stdout.strip() == "0"
    assert cli("start", "once").returncode == 0
    assert cli("wait", "once").stdout.strip() == "0"
    assert cli("logs", "once").stdout.split() == ["1", "2"]  # its writable layer was kept


def test_restart_policies_are_refused_where_they_cannot_be_kept(cli):
    foreground = cli("run", "--net", "none", "--restart", "always", "busybox", "true")
    assert foreground.returncode == 125 and "needs -d" in foreground.stderr
    with_rm = cli("run", "-d", "--rm", "--net", "none", "--restart", "always", "busybox", "true")
    assert with_rm.returncode == 125 and "cannot be used together" in with_rm.stderr
    bad = cli("run", "-d", "--net", "none", "--restart", "sometimes", "busybox", "true")
    assert bad.returncode == 125 and bad.stderr.count("\n") == 1
    assert cli("list", "--all", "--quiet").stdout == ""
