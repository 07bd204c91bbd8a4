"""docker's spellings: --env-file, ps -q/--no-trunc, and --format json or {{.Field}} on ps,
images and inspect (one formatter: gophernetes/cli/output.py)."""

from __future__ import annotations

import json


def test_env_file_sets_variables_and_e_wins(cli, tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text("# the app\nGREETING=hello world\nLEVEL=debug\nFROM_CALLER\n")
    result = cli("run", "--net", "none", "--env-file", str(env_file), "-e", "LEVEL=info", "busybox", "sh", "-c",
                 'echo "$GREETING|$LEVEL|$FROM_CALLER"', env={"FROM_CALLER": "passed"})
    assert (result.returncode, result.stdout) == (0, "hello world|info|passed\n")


def test_a_bad_env_file_is_one_line_and_nothing_runs(cli, tmp_path):
    env_file = tmp_path / "bad.env"
    env_file.write_text("A=1\nNOT A VARIABLE\n")
    result = cli("run", "--net", "none", "--env-file", str(env_file), "busybox", "true")
    assert (result.returncode, result.stderr.strip()) == (
        125, f"gophernetes: --env-file {env_file}, line 2: 'NOT A VARIABLE' is not KEY=VALUE "
             "(a variable name has no spaces)")
    assert cli("ps", "-aq").stdout == ""


def test_ps_quiet_and_no_trunc(cli):
    container_id = cli("run", "-d", "--net", "none", "--name", "web", "busybox", "sh", "-c",
                       "sleep 600 # a long command line, longer than twenty").stdout.strip()
    assert cli("ps", "-q").stdout == container_id[:12] + "\n"
    assert cli("ps", "-q", "--no-trunc").stdout == container_id + "\n"
    row = cli("ps", "--no-trunc").stdout.splitlines()[1]
    assert row.startswith(container_id) and '"sh -c sleep 600 # a long command line, longer than twenty"' in row


def test_ps_images_and_inspect_take_templates(cli):
    container_id = cli("run", "-d", "--net", "none", "--name", "web", "busybox", "sleep", "600").stdout.strip()
    assert cli("ps", "--format", "{{.Names}} {{.Image}} {{.Status}}").stdout == "web busybox running\n"
    assert cli("ps", "--format", "table {{.Name}}\\t{{.Status}}").stdout == "NAME\tSTATUS\nweb\trunning\n"
    pid = json.loads(cli("inspect", "web").stdout)["pid"]
    assert cli("inspect", "--format", "{{.Pid}} {{.Details.State.Status}}", "web").stdout == f"{pid} running\n"
    assert cli("inspect", "-f", "{{json .Command}}", "web").stdout == '["sleep", "600"]\n'
    assert cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == "busybox:latest\n"
    assert json.loads(cli("ps", "--format", "json").stdout)[0]["id"] == container_id


def test_a_bad_format_or_field_is_one_line(cli):
    cli("run", "-d", "--net", "none", "--name", "web", "busybox", "sleep", "600")
    bad = cli("ps", "--format", "yaml")
    assert (bad.returncode, bad.stderr.strip()) == (
        125, "gophernetes: ps: Invalid value for '--format': 'yaml' is not table, json or a template such as "
             "'{{.Name}}' (see 'gophernetes ps --help')")
    unknown = cli("ps", "--format", "{{.Nope}}")
    assert unknown.returncode == 125
    assert unknown.stderr.startswith("gophernetes: template: no field '.Nope' (the fields are those of --format "
                                     "json: ")


def test_add_host_and_dns_write_the_containers_etc_files(cli):
    result = cli("run", "--net", "none", "--add-host", "db:10.0.0.5", "--add-host", "v6:fd00::1",
                 "--dns", "192.0.2.53", "busybox", "sh", "-c", "cat /etc/hosts /etc/resolv.conf")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-3:] == ["10.0.0.5\tdb", "fd00::1\tv6", "nameserver 192.0.2.53"]


def test_bad_add_host_or_dns_is_one_line_and_nothing_runs(cli):
    bad = cli("run", "--net", "none", "--add-host", "db", "busybox", "true")
    assert (bad.returncode, bad.stderr.strip()) == (
        125, "gophernetes: invalid --add-host 'db': use NAME:IP, e.g. db:10.0.0.5")
    host = cli("run", "--net", "host", "--dns", "192.0.2.53", "busybox", "true")
    assert host.returncode == 125 and "--net host" in host.stderr
    assert cli("ps", "-aq").stdout == ""
