"""Fixtures for proving the labs: a network namespace to run them in, a state root, the
services some labs need (a registry for lab 06, containerd for lab 07).

Every lab command runs under `nsenter --net=/run/netns/<ours>`: even a lab step that
made a bridge by mistake would make it in our namespace, never in the host's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LABS = REPO / "labs"


@dataclass
class LabHost:
    """How to run things as a student would on the lab host: a shell in our namespace."""

    netns: str
    env: dict
    log_dir: Path

    def prefix(self) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}"]

    def run(self, *command: str, timeout: float = 300, log: str | None = None) -> subprocess.CompletedProcess:
        """Run COMMAND; with `log`, its output goes to a file (background processes the
        command leaves behind keep their stdout open: a pipe would never reach EOF)."""
        if log is None:
            return subprocess.run([*self.prefix(), *command], capture_output=True, text=True, timeout=timeout,
                                  env=self.env, cwd=LABS)
        path = self.log_dir / log
        with open(path, "w") as out:
            completed = subprocess.run([*self.prefix(), *command], stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, timeout=timeout, env=self.env, cwd=LABS)
        return subprocess.CompletedProcess(completed.args, completed.returncode, path.read_text(), "")

    def gophernetes(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "gophernetes", *args, timeout=timeout)


@pytest.fixture(scope="session")
def lab_netns():
    name = f"gn-labs-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture(scope="session")
def lab_bin(tmp_path_factory) -> Path:
    """A `gophernetes` command on PATH that is this checkout, whatever is installed."""
    folder = tmp_path_factory.mktemp("lab-bin")
    script = folder / "gophernetes"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} -m gophernetes \"$@\"\n")
    script.chmod(0o755)
    return folder


@pytest.fixture
def lab_host(lab_netns, lab_bin, tmp_path) -> LabHost:
    """A fresh state root with the busybox image (as the VM's images role leaves it)."""
    state = tmp_path / "state"
    env = {**os.environ, "GOPHERNETES_ROOT": str(state), "GOPHERNETES_LABS": str(LABS),
           "GOPHERNETES_CGROUP_PARENT": f"gophernetes-labtest-{uuid.uuid4().hex[:6]}",
           "PYTHONPATH": str(REPO), "PATH": f"{lab_bin}:{os.environ['PATH']}",
           "DOCKER_CONFIG": str(tmp_path / "no-docker-config")}
    host = LabHost(lab_netns, env, tmp_path)
    built = host.gophernetes("image", "build-busybox")
    assert built.returncode == 0, built.stderr
    return host
