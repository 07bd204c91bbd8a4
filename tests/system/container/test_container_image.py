"""Gophernetes in a container image, as the original tool shipped: build it, run it privileged.

The image is built by podman from the project's Containerfile, on a Debian 12 base made
here by debootstrap (no registry on the internet is reachable), then:

- privileged, `gophernetes run --net none /bin/sh -c 'echo ok'` prints ok;
- privileged, a memory limit is enforced inside (over --memory 32m exits 137);
- unprivileged, `gophernetes run` fails at once with exit 125 and one line naming --privileged.

podman runs with a configuration and a storage of this test's own (runc, cgroupfs and
lowered ulimits, as ../shared/recipes/podman found necessary here); the outer containers
use `--network none` and the build `--network host`, so the host's firewall and bridges
are never touched. Everything is removed afterwards, also on failure; only the base
tarball stays, cached under /var/tmp/gophernetes-ci so that a rerun skips debootstrap.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CACHE = Path(os.environ.get("GOPHERNETES_CI_CACHE", "/var/tmp/gophernetes-ci"))
BASE_IMAGE = "localhost/gophernetes-base:bookworm"
IMAGE = "localhost/gophernetes:test"

# What the base holds, as debian:bookworm-slim does: minbase, no docs, manuals or
# translations (dpkg excludes them for later installs too), no apt lists or caches. The
# snapshot mirror CI uses may look expired to apt, hence Check-Valid-Until.
SLIM_DPKG_CONFIG = """\
# as in debian:bookworm-slim: no documentation, manual pages or translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
"""
APT_CONFIG = 'Acquire::Check-Valid-Until "false";\nAcquire::Languages "none";\n'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("podman") or not shutil.which("debootstrap"),
                       reason="podman and debootstrap are needed (.ci/packages/container.txt)"),
]


def debian_mirror() -> str:
    """The mirror this host's apt uses (deb822 sources), else deb.debian.org."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as file:
        points = [line.split()[4] for line in file]
    return [p for p in points if p == str(path) or p.startswith(f"{path}/")]


def remove_tree(path: Path) -> None:
    """rm -rf that first unmounts what is mounted beneath (debootstrap mounts /proc and /sys
    in its target; podman mounts overlays in its storage): never delete through a mount."""
    for point in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False)
    shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class Suite:
    """A distribution release that debootstrap makes a minbase root filesystem of."""

    name: str  # bookworm, noble
    mirror: str
    script: str = ""  # debootstrap's script for it, when it has none by the suite's name
    # makes, in the folder it is given, the keyring debootstrap checks the Release file with
    # (None: debootstrap's default, the host's debian-archive-keyring)
    keyring: Callable[[Path], Path] | None = None
    sources: str = ""  # the finished root's /etc/apt/sources.list.d/NAME.sources ("": debootstrap's sources.list)
    include: tuple[str, ...] = ()  # packages beyond minbase (and what they depend on), as an image builder adds them

    @property
    def key(self) -> str:
        """What the cached tarball was made from: a change makes a new one."""
        recipe = f"{self.name} minbase\n{SLIM_DPKG_CONFIG}{APT_CONFIG}{self.script}{self.sources}"
        recipe += " ".join(self.include)
        return hashlib.sha256(recipe.encode()).hexdigest()[:12]


BOOKWORM = Suite("bookworm", mirror=debian_mirror())


def base_tarball(suite: Suite = BOOKWORM) -> Path:
    """A minbase root filesystem as a tarball (Debian 12's by default); made by debootstrap
    once (~40 s for bookworm, ~75 s for noble), then cached."""
    tarball = CACHE / f"gophernetes-base-{suite.name}{'-plus' if suite.include else ''}-{suite.key}.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    work = CACHE / f"gophernetes-base-{suite.name}.{uuid.uuid4().hex[:6]}"
    root = work / "rootfs"
    log = CACHE / f"gophernetes-base-{suite.name}-debootstrap.log"
    try:
        root.mkdir(parents=True)
        options = [f"--keyring={suite.keyring(work)}"] if suite.keyring else []
        options += [f"--include={','.join(suite.include)}"] if suite.include else []
        script = [f"/usr/share/debootstrap/scripts/{suite.script}"] if suite.script else []
        with open(log, "w") as output:
            done = subprocess.run(["debootstrap", "--variant=minbase", *options, suite.name, str(root), suite.mirror,
                                   *script], stdout=output, stderr=subprocess.STDOUT, timeout=900)
        assert done.returncode == 0, f"debootstrap failed:\n{log.read_text()[-3000:]}"
        slim(root)
        if suite.sources:
            (root / "etc/apt/sources.list").write_text(f"# {suite.name}'s sources are in /etc/apt/sources.list.d\n")
            (root / f"etc/apt/sources.list.d/{suite.name}.sources").write_text(suite.sources)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True, timeout=300)
        partial.rename(tarball)  # atomic: a half-written tarball is never mistaken for the cache
    finally:
        remove_tree(work)
    return tarball


def slim(root: Path) -> None:
    """What a -slim image leaves out, as SLIM_DPKG_CONFIG says; apt lists and caches emptied."""
    (root / "etc/dpkg/dpkg.cfg.d/01-slim").write_text(SLIM_DPKG_CONFIG)
    (root / "etc/apt/apt.conf.d/99gophernetes-ci").write_text(APT_CONFIG)
    for folder in ("usr/share/man", "usr/share/groff", "usr/share/info", "usr/share/locale", "usr/share/lintian",
                   "var/lib/apt/lists", "var/cache/apt"):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir(parents=True, exist_ok=True)
    for document in (root / "usr/share/doc").rglob("*"):
        if not document.is_dir() and document.name != "copyright":
            document.unlink()


class Podman:
    """podman with a configuration, storage and cgroup parent of its own, all under `home`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.cgroup_parent = f"/gophernetes-image-test-{uuid.uuid4().hex[:6]}"
        (home / "containers.conf").write_text(
            "[containers]\n"
            "# root here lacks CAP_SYS_RESOURCE: podman's default rlimits would be refused\n"
            'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
            "[engine]\n"
            "# crun refuses this host's hybrid cgroups; runc works\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'tmp_dir = "{home}/tmp"\n')
        (home / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{home}/storage"\nrunroot = "{home}/run"\n')
        self.env = {**os.environ, "CONTAINERS_CONF": str(home / "containers.conf"),
                    "CONTAINERS_STORAGE_CONF": str(home / "storage.conf")}

    def __call__(self, *args: str, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              input=input)

    def run(self, *args: str, privileged: bool = True) -> subprocess.CompletedProcess:
        """`podman run --rm` of the image (its entrypoint is gophernetes) without a network."""
        options = ["--privileged"] if privileged else []
        return self("run", "--rm", "--network", "none", "--cgroup-parent", self.cgroup_parent, *options, IMAGE, *args)

    def remove_everything(self) -> None:
        self("rm", "--all", "--force", "--volumes", timeout=60)
        self("system", "reset", "--force", timeout=120)
        remove_tree(self.home)
        for leftover in Path("/sys/fs/cgroup").glob(f"*/{self.cgroup_parent.lstrip('/')}"):
            for directory, _, _ in os.walk(leftover, topdown=False):
                os.rmdir(directory)  # only empty cgroups are left once the containers are gone


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("rootful podman: run as root")
    podman = Podman(tmp_path_factory.mktemp("podman"))
    try:
        yield podman
    finally:
        podman.remove_everything()
        assert not mounts_under(podman.home), "podman left mounts behind"
        assert not list(Path("/sys/fs/cgroup").glob(f"*/{podman.cgroup_parent.lstrip('/')}")), "cgroups left behind"


@pytest.fixture(scope="module")
def image(podman) -> str:
    """The project's image, built with podman from the Containerfile on the debootstrapped base."""
    imported = podman("import", str(base_tarball()), BASE_IMAGE, timeout=300)
    assert imported.returncode == 0, imported.stderr
    # --network host: the build's apt-get reaches the Debian mirror without podman making a
    # bridge and NAT rules on this host
    built = podman("build", "--network", "host", "--build-arg", f"BASE={BASE_IMAGE}", "--tag", IMAGE,
                   "--file", str(REPO / "Containerfile"), str(REPO), timeout=900)
    assert built.returncode == 0, built.stdout[-5000:] + built.stderr[-5000:]
    return IMAGE


def test_a_privileged_container_runs_a_gophernetes_container(podman, image):
    result = podman.run("run", "--net", "none", "/bin/sh", "-c", "echo ok")
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr


def test_memory_limit_inside_kills_the_inner_container_not_the_outer_one(podman, image):
    allocate = "x=$(head -c %d /dev/zero | tr '\\0' a); echo allocated"
    # 8 MB fits: the shell itself is no problem, so the 137 below is the limit at work
    fits = podman.run("run", "--net", "none", "--memory", "32m", "/bin/sh", "-c", allocate % 8_000_000)
    assert (fits.returncode, fits.stdout) == (0, "allocated\n"), fits.stderr
    too_much = podman.run("run", "--net", "none", "--memory", "32m", "/bin/sh", "-c", allocate % 100_000_000)
    assert (too_much.returncode, too_much.stdout) == (137, ""), too_much.stderr
    assert "out of memory (limit 32MiB)" in too_much.stderr


def test_an_unprivileged_container_is_told_to_use_privileged(podman, image):
    result = podman.run("run", "--net", "none", "/bin/sh", "-c", "echo ok", privileged=False)
    assert result.returncode == 125
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
    assert "CAP_SYS_ADMIN" in result.stderr and "--privileged" in result.stderr, result.stderr


def test_capabilities_without_privileged_still_meet_a_read_only_cgroup_filesystem(podman, image):
    # --cap-add ALL gives every capability but podman still mounts /sys/fs/cgroup read-only
    result = podman("run", "--rm", "--network", "none", "--cgroup-parent", podman.cgroup_parent,
                    "--cap-add", "ALL", image, "run", "--net", "none", "/bin/true")
    assert result.returncode == 125
    assert result.stderr.count("\n") == 1, result.stderr
    assert "read-only" in result.stderr and "--privileged" in result.stderr, result.stderr


def test_without_arguments_the_image_prints_the_usage(podman, image):
    result = podman("run", "--rm", "--network", "none", image)  # CMD ["--help"]
    assert result.returncode == 0, result.stderr
    assert "Usage: gophernetes" in result.stdout and " run " in result.stdout, result.stdout


def test_the_image_carries_the_runtime_and_no_build_tools(podman, image):
    script = ("for tool in pip pip3 gcc cc make gophernetes busybox nft ip; do command -v $tool; done; "
              "python3 -c 'import setuptools' 2>/dev/null && echo setuptools")
    result = podman("run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c", script)
    assert [Path(line).name for line in result.stdout.split()] == ["gophernetes", "busybox", "nft", "ip"], (
        result.stdout + result.stderr)
