"""Bad input is refused with one line on stderr, exit 125, and nothing made on the host."""

from __future__ import annotations

import os
import subprocess

import pytest
from support import REPO, cli_env


@pytest.mark.parametrize(("options", "message"), [
    (["--memory", "10XB"], "invalid size '10XB' for --memory"),
    (["--memory", "1k"], "minimum memory limit"),
    (["--cpus", "abc"], "invalid value 'abc' for --cpus"),
    (["--cpus", "999"], "range of CPUs"),
    (["--cap-add", "FLY"], "unknown capability 'FLY'"),
    (["--memory-swap", "1g"], "--memory-swap needs --memory"),
    (["--blkio-weight", "5"], "--blkio-weight must be between 10 and 1000"),
    (["-e", "=x"], "invalid environment variable '=x'"),
    (["--memory", "99999999999999999999g"], "invalid size '99999999999999999999g' for --memory"),
    (["--name", ""], "invalid container name ''"),
])
def test_bad_option_values_are_refused_before_anything_is_made(gophernetes, busybox_rootfs, options, message):
    result = gophernetes("run", "--net", "none", *options, "--rootfs", str(busybox_rootfs), "/bin/true")
    assert result.returncode == 125
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_a_missing_root_filesystem_is_refused(gophernetes, tmp_path):
    result = gophernetes("run", "--net", "none", "--rootfs", str(tmp_path / "nope"), "/bin/sh")
    assert result.returncode == 125
    assert result.stderr.strip() == f"gophernetes: root filesystem {tmp_path / 'nope'} does not exist or is not " \
                                    "a directory"


def test_a_missing_command_is_refused(gophernetes, busybox_rootfs):
    result = gophernetes("run", "--net", "none", "--rootfs", str(busybox_rootfs))
    assert result.returncode == 125
    assert "needs a command" in result.stderr


def test_an_unknown_option_exits_125_not_click_2(gophernetes, busybox_rootfs):
    result = gophernetes("run", "--no-such-option", "--rootfs", str(busybox_rootfs), "/bin/true")
    assert result.returncode == 125
    assert "No such option" in result.stderr


def test_not_root_is_refused_with_a_hint(busybox_rootfs, tmp_path, cgroup_parent):
    """As nobody, through Debian's python (pyenv's lives under /root, unreadable to nobody)."""
    python = "/usr/bin/python3"
    env = cli_env(tmp_path, cgroup_parent)
    probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c",
                            "import click"], env=env, capture_output=True)
    if probe.returncode != 0 or not os.access(REPO, os.R_OK):
        pytest.skip("needs Debian's python3-click and a world-readable checkout")
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-m",
                             "gophernetes", "run", "--net", "none", "--rootfs", str(busybox_rootfs), "/bin/true"],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 125
    assert result.stderr.strip() == ("gophernetes: making a container needs root (namespaces, mounts, cgroups): "
                                     "run gophernetes with sudo")
    assert not (tmp_path / "run").exists()


def test_debug_adds_the_traceback(gophernetes, busybox_rootfs):
    result = gophernetes("--debug", "run", "--net", "none", "--memory", "lots", "--rootfs", str(busybox_rootfs),
                         "/bin/true")
    assert result.returncode == 125
    assert "Traceback" in result.stderr and "UsageError" in result.stderr


def test_a_bad_choice_is_one_line_not_clicks_usage_block(gophernetes):
    result = gophernetes("ps", "--format", "nope")
    assert result.returncode == 125
    assert result.stderr.strip().splitlines() == [
        "gophernetes: ps: Invalid value for '--format': 'nope' is not table, json or a template such as "
        "'{{.Name}}' (see 'gophernetes ps --help')"]
