"""Fixtures for the engine tests: a real containerd started by hand, a real registry, and
the CLI of either engine run as a user would, inside a network namespace of the test.

containerd runs with its root, state and socket under a temporary folder (the recipe
../shared/recipes/containerd/config.toml, CRI off) and is stopped at the end of the
session, also when tests fail: its tasks are killed, its shims (which outlive the
daemon on purpose) are killed by PID, the overlay mounts under the folder unmounted.

The same test functions run on both engines: the `engine` fixture is parametrized and
yields the CLI with `--engine NAME` already in front.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import skip_without_tools

from tests.system.images import oci
from tests.system.images.conftest import start_registry

REPO = Path(__file__).resolve().parents[3]
ENGINES = ["native", "containerd"]
CONFIG = """version = 2
root = "{state}/root"
state = "{state}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{state}/containerd.sock"

[ttrpc]
  address = "{state}/containerd.sock.ttrpc"

[debug]
  level = "info"
"""
_netns_counter = itertools.count()


def pytest_collection_modifyitems(items):
    skip_without_tools(items, Path(__file__).parent, ("containerd", "ctr", "runc", "docker-registry", "skopeo"),
                       ".ci/packages/containerd.txt")


# ---------------------------------------------------------------------- containerd


@dataclass
class Containerd:
    """A containerd daemon of our own: config, root, state and socket under `home`."""

    home: Path
    process: subprocess.Popen | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.home / "containerd.log"

    @property
    def socket(self) -> str:
        return str(self.home / "containerd.sock")

    def ctr(self, *args: str, namespace: str = "gophernetes", timeout: float = 60,
            check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["ctr", "--address", self.socket, "--connect-timeout", "3s", "--namespace",
                               namespace, *args], capture_output=True, text=True, timeout=timeout, check=check)

    def start(self) -> Containerd:
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "config.toml"
        config.write_text(CONFIG.format(state=self.home))
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(["containerd", "--config", str(config)], stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"containerd exited: {self.log.read_text()[-2000:]}")
            if os.path.exists(self.socket) and self.ctr("version", check=False).returncode == 0:
                return self
            time.sleep(0.05)
        raise RuntimeError("containerd did not answer within 20 s")

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Stop the daemon only (its shims and containers live on, as they would in production)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stop(self) -> None:
        """Kill every task, then the daemon, then the shims by PID; unmount what is left."""
        if self.process and self.process.poll() is None:
            for namespace in self.ctr("namespaces", "ls", "-q", check=False).stdout.split():
                for task in self.ctr("tasks", "ls", "-q", namespace=namespace, check=False).stdout.split():
                    self.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", task, namespace=namespace, check=False)
                    self.ctr("tasks", "rm", "--force", task, namespace=namespace, check=False)
        self.kill()
        for pid in processes_mentioning(self.socket):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        unmount_under(self.home)


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains `text` (our shims carry the socket path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as file:
        return [line.split()[4] for line in file if line.split()[4].startswith(str(path))]


def unmount_under(path: Path) -> None:
    for target in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


@pytest.fixture(scope="session", autouse=True)
def cgroup_parent_removed(cgroup_parent):
    """At the end, the session's cgroup parent must be empty; then it goes, in every hierarchy
    (runc makes it also in the named `systemd` and the `unified` ones, which the native
    engine does not use)."""
    yield
    parents = [p for p in Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}")]
    parents += [p for p in [Path("/sys/fs/cgroup") / cgroup_parent] if p.exists()]
    children = [str(child) for parent in parents for child in parent.iterdir() if child.is_dir()]
    for parent in parents:
        with contextlib.suppress(OSError):
            parent.rmdir()
    assert children == [], f"cgroups left behind: {children}"


@pytest.fixture(scope="session")
def containerd(tmp_path_factory):
    daemon = Containerd(tmp_path_factory.mktemp("containerd")).start()
    try:
        yield daemon
    finally:
        daemon.stop()


# ---------------------------------------------------------------------- images


def busybox_layer() -> list[oci.Entry]:
    """The host's static busybox, one symlink per applet, and the usual empty folders."""
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    entries = [oci.directory("bin"), oci.file("bin/busybox", Path("/bin/busybox").read_bytes(), mode=0o755)]
    entries += [oci.symlink(f"bin/{applet}", "busybox") for applet in applets if applet != "busybox"]
    entries += [oci.directory(name) for name in ("etc", "proc", "sys", "dev", "root")]
    entries += [oci.directory("tmp", mode=0o1777),
                oci.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"),
                oci.file("etc/group", "root:x:0:\nnogroup:x:65534:\n")]
    return entries


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("engines-registry")
    started = start_registry(workdir, workdir / "storage")
    yield started
    started.process.terminate()
    started.process.wait(10)


@pytest.fixture(scope="session")
def image(registry, tmp_path_factory, containerd) -> str:
    """A busybox image in the local registry, already pulled into our containerd."""
    layout = oci.Layout(tmp_path_factory.mktemp("busybox-layout"))
    layout.tag(layout.image([busybox_layer()], cmd=["sh"], env=["PATH=/bin"]), "latest")
    ref = registry.push(layout.path, "latest", "lab/busybox")
    containerd.ctr("images", "pull", "--plain-http", ref)
    return ref


# ---------------------------------------------------------------------- the CLI


@dataclass
class Cli:
    """`gophernetes --engine NAME ...` as a user would type it, in the test's network namespace."""

    engine: str
    env: dict
    netns: str

    def __call__(self, *args: str, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
        return self.on_host("nsenter", f"--net={self.netns}", *args, timeout=timeout, input=input)

    def on_host(self, *args: str, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
        """In the host's network namespace (where the registry on 127.0.0.1 listens)."""
        prefix, args = (list(args[:2]), args[2:]) if args[:1] == ("nsenter",) else ([], args)
        return subprocess.run([*prefix, sys.executable, "-m", "gophernetes", "--engine", self.engine, *args],
                              capture_output=True, text=True, timeout=timeout, input=input, env=self.env, cwd=REPO)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(["nsenter", f"--net={self.netns}", sys.executable, "-m", "gophernetes",
                                 "--engine", self.engine, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=self.env, cwd=REPO)

    def containers(self) -> list[dict]:
        result = self("list", "--all", "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def container(self, name: str) -> dict:
        return next(c for c in self.containers() if c["name"] == name)


@pytest.fixture
def netns():
    """A network namespace that plays the host's part for the test (bridges, NAT rules)."""
    name = f"gne-{os.getpid()}-{next(_netns_counter)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    yield f"/run/netns/{name}"
    subprocess.run(["ip", "netns", "delete", name], check=False)


def cli_for(engine: str, state: Path, containerd: Containerd, netns: str, cgroup_parent: str) -> Cli:
    env = {**os.environ, "GOPHERNETES_ROOT": str(state), "GOPHERNETES_CONTAINERD_ADDRESS": containerd.socket,
           "GOPHERNETES_CGROUP_PARENT": cgroup_parent, "PYTHONPATH": str(REPO),
           "DOCKER_CONFIG": str(state / "no-docker-config")}
    return Cli(engine, env, netns)


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path, containerd, image, netns, cgroup_parent):
    """The CLI of one engine, with `image` pulled; every container removed afterwards, and
    nothing may be left: no container in containerd, no mount, no cgroup, no folder."""
    state = tmp_path / "state"
    cli = cli_for(request.param, state, containerd, netns, cgroup_parent)
    if request.param == "native":
        pulled = cli.on_host("pull", image)
        assert pulled.returncode == 0, pulled.stderr
    yield cli
    ids = [c["id"] for c in cli.containers()]
    if ids:
        cli("rm", "--force", *ids)
    assert_nothing_left(cli, state, containerd, cgroup_parent)


def assert_nothing_left(cli: Cli, state: Path, containerd: Containerd, cgroup_parent: str) -> None:
    left = {
        "containers": cli.containers(),
        "containerd containers": containerd.ctr("containers", "ls", "-q").stdout.split(),
        "mounts": mounts_under(state),
        "cgroups": [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}/*")],
        "containerd folders": sorted(p.name for p in (state / "run" / "containerd").glob("*") if p.is_dir()),
    }
    unmount_under(state)
    assert left == {"containers": [], "containerd containers": [], "mounts": [], "cgroups": [],
                    "containerd folders": []}, f"left behind: {left}"
