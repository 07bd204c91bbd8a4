"""Fixtures for driving OCI runtimes through real engines: containerd 1.6 (its runc shim) and
podman 4.3 (conmon), each pointed at a runtime binary as they would be pointed at runc.

The same tests run over `RUNTIMES`: runc itself (which proves the harness) and
gophernetes-runtime. Each runtime is reached through a small wrapper script that puts the
runtime's state under this session's folder (`--root`; podman's cleanup process calls the
runtime without any --root of its own, which would otherwise fall back to /run/runc).
Nothing touches the host's containerd, podman or runc state: containerd runs from its own
config under a temporary folder (the engines' fixture), podman from its own
containers.conf and storage.conf, and cgroups go under this session's cgroup parent.
Everything is removed at the end, also when tests fail, and checked to be gone.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import REPO, build_busybox_rootfs, skip_without_tools

from tests.system.engines.conftest import Containerd, mounts_under, unmount_under

RUNTIMES = ["runc", "gophernetes"]

# What gophernetes-runtime does not do yet, by feature: a test over RUNTIMES that needs one
# is marked xfail (strict: once it works, the mark must go) with this reason, never skipped.
MISSING: dict[str, str] = {}
if importlib.util.find_spec("gophernetes.runtime.oci") is None:
    MISSING["lifecycle"] = ("create/start/state/kill/delete/exec are not wired yet: the OCI lifecycle "
                            "(branch `bundle`) is not merged")


def pytest_collection_modifyitems(items):
    skip_without_tools(items, Path(__file__).parent, ("containerd", "ctr", "containerd-shim-runc-v2", "runc",
                                                      "podman", "conmon", "script"),
                       ".ci/packages/oci.txt")


# ---------------------------------------------------------------------- the runtime binaries


@dataclass
class Runtime:
    """One OCI runtime as an engine sees it: a binary path, and the state folder it keeps."""

    name: str
    binary: Path
    root: Path

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """The runtime's own command line (`state ID`, `list`), as a person would use it.

        Output goes to files, not pipes: a container made by `create` or `run --detach`
        inherits them and would keep a pipe open long after the runtime has returned.
        """
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            done = subprocess.run([str(self.binary), *args], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                  timeout=timeout)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(done.args, done.returncode, out.read().decode(), err.read().decode())

    def leftovers(self) -> list[str]:
        """Files left under the runtime's root (a deleted container leaves none; the empty
        folders of containerd's namespaces may stay)."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if not p.is_dir())


def write_wrapper(path: Path, command: list[str], root: Path) -> Path:
    """An executable script that runs `command --root ROOT "$@"` (an engine's own --root, given
    later on the line, wins; podman's cleanup gives none)."""
    quoted = " ".join(f"'{part}'" for part in command)
    path.write_text(f"#!/bin/sh\nexport PYTHONPATH='{REPO}'\nexec {quoted} --root '{root}' \"$@\"\n")
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def runtimes(tmp_path_factory) -> dict[str, Runtime]:
    home = tmp_path_factory.mktemp("oci-runtimes")
    commands = {"runc": [shutil.which("runc") or "runc"],
                "gophernetes": [sys.executable, "-m", "gophernetes.cli.oci_runtime"]}
    made = {}
    for name, command in commands.items():
        root = home / f"{name}-root"
        made[name] = Runtime(name, write_wrapper(home / name, command, root), root)
    return made


@pytest.fixture(params=RUNTIMES)
def runtime(request, runtimes) -> Runtime:
    xfail_for_gophernetes(request, runtimes[request.param], "lifecycle")
    return runtimes[request.param]


@pytest.fixture
def lifecycle_or_xfail(request, runtimes) -> None:
    """For the tests that compare both runtimes at once: xfail while the lifecycle is missing."""
    xfail_for_gophernetes(request, runtimes["gophernetes"], "lifecycle")


@pytest.fixture
def gophernetes_lacks(request, runtimes):
    """`gophernetes_lacks("feature", ...)`: xfail this comparison for what MISSING lists."""
    return lambda *features: xfail_for_gophernetes(request, runtimes["gophernetes"], *features)


def xfail_for_gophernetes(request, runtime: Runtime, *features: str) -> None:
    """Mark the running test xfail when gophernetes-runtime lacks one of `features` (listed in MISSING)."""
    missing = [MISSING[feature] for feature in features if feature in MISSING]
    if runtime.name == "gophernetes" and missing:
        request.applymarker(pytest.mark.xfail(reason=f"gophernetes-runtime: {'; '.join(missing)}", strict=True))


# ---------------------------------------------------------------------- root filesystems


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory) -> Path:
    """The busybox root filesystem (host's static busybox, one link per applet)."""
    root = tmp_path_factory.mktemp("oci-rootfs")
    build_busybox_rootfs(root)
    root.chmod(0o755)  # mktemp's 0700 would keep a non-root user of the container out of its own /
    return root


# ---------------------------------------------------------------------- containerd


@dataclass
class Ctr:
    """`ctr` against the session's containerd, in a namespace of its own, with the runtime's binary."""

    daemon: Containerd
    runtime: Runtime
    namespace: str
    cgroup_parent: str

    def __call__(self, *args: str, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
        return self.daemon.ctr(*args, namespace=self.namespace, timeout=timeout, check=False)

    def run_options(self, container_id: str) -> list[str]:
        """The options that point `ctr run` at our runtime, root and cgroup."""
        return ["--runc-binary", str(self.runtime.binary), "--runc-root", str(self.runtime.root / "containerd"),
                "--cgroup", f"/{self.cgroup_parent}/{container_id}"]

    def tasks(self) -> dict[str, tuple[int, str]]:
        """`ctr task ls` as {id: (pid, STATUS)}."""
        lines = self("task", "ls").stdout.splitlines()[1:]
        return {fields[0]: (int(fields[1]), fields[2]) for fields in (line.split() for line in lines)}


@pytest.fixture(scope="session")
def containerd(tmp_path_factory):
    daemon = Containerd(tmp_path_factory.mktemp("oci-containerd")).start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def ctr(containerd, runtime, cgroup_parent):
    """ctr in a fresh namespace; afterwards its tasks are force-removed through ctr, and then no
    task, container, runtime state or cgroup may remain."""
    client = Ctr(containerd, runtime, f"oci-{runtime.name}-{uuid.uuid4().hex[:6]}", cgroup_parent)
    yield client
    for task in client("task", "ls", "-q").stdout.split():  # what a test left running: removed as a user would
        client("task", "kill", "--all", "--signal", "SIGKILL", task)
        client("task", "rm", "--force", task)
    for container in client("c", "ls", "-q").stdout.split():
        client("c", "rm", container)
    left = {"tasks": client("task", "ls", "-q").stdout.split(), "containers": client("c", "ls", "-q").stdout.split()}
    left["runtime state"] = runtime.leftovers()
    # conmon's own cgroup (PARENT/conmon) is podman's, shared, and goes at the session's end
    left["cgroups"] = sorted(str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}/*")
                             if p.is_dir() and p.name != "conmon")
    for cgroup in left["cgroups"]:
        with contextlib.suppress(OSError):
            os.rmdir(cgroup)
    assert left == {"tasks": [], "containers": [], "runtime state": [], "cgroups": []}, f"left behind: {left}"


# ---------------------------------------------------------------------- podman


class Podman:
    """Rootful podman with a configuration, storage and state of its own under `home`
    (../shared/recipes/podman: runc's hybrid-cgroup support, cgroupfs, lowered ulimits)."""

    def __init__(self, home: Path, cgroup_parent: str, default_runtime: Path) -> None:
        self.home = home
        self.cgroup_parent = f"/{cgroup_parent}"
        (home / "containers.conf").write_text(
            "[containers]\n"
            "# root here lacks CAP_SYS_RESOURCE: podman's default rlimits would be refused\n"
            'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
            "[engine]\n"
            "# calls without --runtime (rm --all, system reset) use runc with this session's root, not /run/runc\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'tmp_dir = "{home}/tmp"\n'
            f'static_dir = "{home}/static"\n'
            f'volume_path = "{home}/volumes"\n'
            "[engine.runtimes]\n"
            f'runc = ["{default_runtime}"]\n')
        (home / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{home}/storage"\nrunroot = "{home}/run"\n')
        self.env = {**os.environ, "CONTAINERS_CONF": str(home / "containers.conf"),
                    "CONTAINERS_STORAGE_CONF": str(home / "storage.conf")}
        self.image = "localhost/oci-busybox:latest"

    def __call__(self, *args: str, runtime: Runtime | None = None, timeout: float = 120,
                 input: str | None = None) -> subprocess.CompletedProcess:
        prefix = ["--runtime", str(runtime.binary)] if runtime else []
        # cwd: conmon leaves an `oom` file in its working folder when a container is OOM-killed
        return subprocess.run(["podman", *prefix, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, input=input, cwd=self.home)

    def run_options(self) -> list[str]:
        """No network, our cgroup parent, and no_new_privs (podman's default, without it, is
        test_podman.py::test_the_default_run_with_seccomp_and_privileges)."""
        return ["--network", "none", "--cgroup-parent", self.cgroup_parent, "--security-opt", "no-new-privileges"]

    def import_rootfs(self, rootfs: Path) -> None:
        tarball = self.home / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        imported = self("import", "--change", "ENV PATH=/bin", str(tarball), self.image)
        assert imported.returncode == 0, imported.stderr

    def remove_everything(self) -> None:
        self("rm", "--all", "--force", "--time", "0", timeout=60)
        self("system", "reset", "--force", timeout=120)
        for point in sorted(mounts_under(self.home), key=len, reverse=True):
            subprocess.run(["umount", "--lazy", point], check=False)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="session")
def podman_home(tmp_path_factory, rootfs, cgroup_parent, runtimes):
    podman = Podman(tmp_path_factory.mktemp("oci-podman"), cgroup_parent, runtimes["runc"].binary)
    try:
        podman.import_rootfs(rootfs)
        yield podman
    finally:
        podman.remove_everything()


@pytest.fixture
def podman(podman_home, runtime, cgroup_parent):
    """podman pointed at the runtime; afterwards no container, runtime state or cgroup may remain."""
    yield podman_home
    running = podman_home("ps", "-aq").stdout.split()
    if running:
        podman_home("rm", "--force", "--time", "0", *running, runtime=runtime)
    left = {"containers": podman_home("ps", "-aq").stdout.split()}
    left["runtime state"] = runtime.leftovers()
    # conmon's own cgroup (PARENT/conmon) is podman's, shared, and goes at the session's end
    left["cgroups"] = sorted(str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}/*")
                             if p.is_dir() and p.name != "conmon")
    for cgroup in left["cgroups"]:
        with contextlib.suppress(OSError):
            os.rmdir(cgroup)
    assert left == {"containers": [], "runtime state": [], "cgroups": []}, f"left behind: {left}"


@pytest.fixture(scope="session")
def cgroup_parent() -> str:
    """The OCI tests' own cgroup parent, apart from the session's: runc and podman make it in
    every hierarchy (cpuset, the named systemd one, unified) and conmon keeps PARENT/conmon
    until the session ends, which the other packages' leak checks must never see."""
    return f"gophernetes-oci-test-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session", autouse=True)
def cgroup_parent_removed(cgroup_parent):
    """At the end the session's cgroup parent is removed in every hierarchy (runc makes it also
    in the named `systemd` and the `unified` ones)."""
    yield
    for parent in [*Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}"), Path("/sys/fs/cgroup", cgroup_parent)]:
        for directory, _, _ in os.walk(parent, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def cgroup_of(pid: int, controller: str) -> Path:
    """The v1 cgroup folder of `controller` that process `pid` is in (from /proc/PID/cgroup)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path("/sys/fs/cgroup", controller, path.lstrip("/"))
    raise AssertionError(f"process {pid} is in no {controller} cgroup")


def in_a_terminal(command: list[str], timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `command` with a pseudo-terminal as its stdin/stdout (script(1)), as a person at a terminal."""
    import shlex

    return subprocess.run(["script", "-qec", shlex.join(command), "/dev/null"], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=env)


__all__ = ["MISSING", "Runtime", "cgroup_of", "in_a_terminal", "mounts_under", "unmount_under", "xfail_for_gophernetes"]
