"""Fixtures shared by every system test: a state root of our own, a busybox root filesystem,
the gophernetes CLI as a subprocess, and a check that nothing was left behind.

Everything here is real: containers are made by the kernel, as root. State lives under a
temporary GOPHERNETES_ROOT and cgroups under a parent of this test session, so the host's
/var/lib/gophernetes and its cgroups are never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from support import build_busybox_rootfs, cli_env, host_leftovers


def pytest_runtest_setup(item):
    """The system tier makes real containers: without root, each test skips (the unit tier still runs)."""
    if os.geteuid() != 0:
        pytest.skip("system tier: makes real namespaces, mounts and cgroups; run as root (sudo)")


@pytest.fixture(scope="session")
def cgroup_parent() -> str:
    """A cgroup parent for this session (e.g. gophernetes-test-1a2b3c) instead of gophernetes."""
    return f"gophernetes-test-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> Path:
    """A root filesystem with the host's static busybox and one relative link per applet."""
    root = tmp_path_factory.mktemp("busybox-rootfs")
    build_busybox_rootfs(root)
    return root


@pytest.fixture
def state_root(tmp_path) -> Path:
    root = tmp_path / "state"
    root.mkdir()
    return root


@pytest.fixture
def gophernetes(state_root, cgroup_parent, leak_check):
    """Run the CLI as a user would: `gophernetes(args..., input=...)` -> CompletedProcess."""

    def run(*args: str, input: str | None = None, timeout: float = 60, check: bool = False,
            env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gophernetes", *args], input=input, capture_output=True,
                              text=True, timeout=timeout, check=check, env=cli_env(state_root, cgroup_parent, env))

    run.env = cli_env(state_root, cgroup_parent)
    run.state_root = state_root
    return run


@pytest.fixture
def cli(gophernetes):
    """The CLI, and every container removed afterwards even when the test fails."""
    yield gophernetes
    ids = gophernetes("list", "--all", "--quiet").stdout.split()
    if ids:
        gophernetes("rm", "--force", *ids)


@pytest.fixture
def leak_check(state_root, cgroup_parent):
    """After the test: no cgroup, mount or container folder may remain (and clean them if they do)."""
    yield
    left = host_leftovers(state_root, cgroup_parent)
    for path in sorted(left["cgroups"], reverse=True):
        for child in sorted(Path(path).glob("*/"), reverse=True):
            if child.is_dir():
                subprocess.run(["rmdir", str(child)], check=False)
        subprocess.run(["rmdir", path], check=False)
    assert left == {"cgroups": [], "mounts": [], "container folders": []}, f"left behind: {left}"
