"""Fixtures for proving the labs: a network namespace to run them in, a state root, the
services some labs need (a registry for lab 06, containerd for lab 07).

Every lab command runs under `nsenter --net=/run/netns/<ours>`: even a lab step that
made a bridge by mistake would make it in our namespace, never in the host's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
LABS = REPO / "labs"


@dataclass
class LabHost:
    """How to run things as a student would on the lab host: a shell in our namespace."""

    netns: str | None   # None: the host's own (only for labs that make no network devices)
    env: dict
    log_dir: Path

    def prefix(self) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}"] if self.netns else []

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
    """`gophernetes` and `gophernetes-runtime` commands on PATH that are this checkout, whatever is installed."""
    folder = tmp_path_factory.mktemp("lab-bin")
    for name, module in (("gophernetes", "gophernetes"), ("gophernetes-runtime", "gophernetes.cli.oci_runtime")):
        # PYTHONPATH here too: containerd's shim runs gophernetes-runtime (lab 09) with the
        # daemon's environment, not the lab's
        script = folder / name
        script.write_text(f"#!/bin/sh\nexport PYTHONPATH='{REPO}'\nexec {sys.executable} -m {module} \"$@\"\n")
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


# ---------------------------------------------------------------- lab 06: a registry


@pytest.fixture(scope="session")
def lab_registry(tmp_path_factory):
    """Debian's docker-registry on a free port of 127.0.0.1, holding busybox:latest made as
    the lab VM's roles make it (roles/images: busybox.yml, oci.yml; roles/registry: seed.yml):
    a busybox root filesystem with `busybox --install -s /bin`, `umoci insert`ed at /, pushed
    with skopeo. The same tools make the same layer, so the READMEs' sample output of lab 06
    (absolute paths in the tar, links to /bin/busybox) is checked against the real thing."""
    from tests.system.images.conftest import start_registry

    missing = [tool for tool in ("docker-registry", "umoci", "skopeo") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"lab 06/07 need {', '.join(missing)} (apt-get install docker-registry umoci skopeo)")
    workdir = tmp_path_factory.mktemp("lab-registry")
    started = start_registry(workdir, workdir / "storage")
    try:
        layout = vm_busybox_layout(workdir)
        subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:latest",
                        f"docker://{started.address}/busybox:latest"], check=True, capture_output=True)
        yield started
    finally:
        started.process.terminate()
        started.process.wait(10)


def vm_busybox_layout(workdir: Path) -> Path:
    """The OCI layout roles/images writes for busybox, made with the same commands."""
    rootfs, layout = workdir / "rootfs" / "busybox", workdir / "oci" / "busybox"
    for folder in ("bin", "etc", "dev", "proc", "sys", "tmp", "root", "var"):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "bin" / "busybox").write_bytes(Path("/bin/busybox").read_bytes())
    (rootfs / "bin" / "busybox").chmod(0o755)
    subprocess.run(["chroot", str(rootfs), "/bin/busybox", "--install", "-s", "/bin"], check=True)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                           "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    layout.parent.mkdir(parents=True)
    for command in (["umoci", "init", "--layout", str(layout)], ["umoci", "new", "--image", f"{layout}:latest"],
                    ["umoci", "insert", "--image", f"{layout}:latest", str(rootfs), "/"],
                    ["umoci", "config", "--image", f"{layout}:latest", "--config.cmd=/bin/sh"]):
        subprocess.run(command, check=True, capture_output=True)
    return layout


@pytest.fixture
def registry(lab_registry):
    """Point a lab host at the registry: REGISTRY=127.0.0.1:PORT, as the README allows.

    The registry listens on the host's loopback, so lab 06 runs in the host's network
    namespace: it only talks to 127.0.0.1 and makes no network device (no `--net`
    container, no bridge), so the host's network stays as it is.
    """

    def use(host: LabHost) -> None:
        host.env["REGISTRY"] = lab_registry.address
        host.netns = None

    return use


# ---------------------------------------------------------------- lab 07: containerd


@pytest.fixture(scope="session")
def lab_containerd(tmp_path_factory):
    """A containerd of our own, started by hand as tests/system/engines does (socket in a tmp folder)."""
    from tests.system.engines.conftest import Containerd

    daemon = Containerd(tmp_path_factory.mktemp("lab-containerd")).start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def containerd(lab_containerd, registry):
    """Point a lab host at our containerd (ctr and gophernetes both) and at the registry."""

    def use(host: LabHost) -> None:
        registry(host)
        host.env["CONTAINERD_ADDRESS"] = lab_containerd.socket
        host.env["GOPHERNETES_CONTAINERD_ADDRESS"] = lab_containerd.socket

    return use


# ---------------------------------------------------------------- lab 08: subordinate ids


@pytest.fixture
def subids(tmp_path):
    """`--userns auto` takes its range from /etc/subuid and /etc/subgid, which the lab VM's
    gophernetes role fills (containers:2147483647:2147483648); a test host may have none,
    and the test must not write the host's: the same line in files of our own. The remapped
    root must also walk to the state root (pytest's tmp_path sits in 0700 folders): a state
    root of its own in a 0711 folder, with the busybox image, as tests/system/runtime does."""
    state = Path(tempfile.mkdtemp(prefix="gophernetes-lab08-"))
    state.chmod(0o711)

    def use(host: LabHost) -> None:
        ids = tmp_path / "subid"
        ids.write_text("containers:2147483647:2147483648\n")
        host.env["GOPHERNETES_SUBUID"] = host.env["GOPHERNETES_SUBGID"] = str(ids)
        host.env["GOPHERNETES_ROOT"] = str(state / "state")
        built = host.gophernetes("image", "build-busybox")
        assert built.returncode == 0, built.stderr

    yield use
    shutil.rmtree(state, ignore_errors=True)
