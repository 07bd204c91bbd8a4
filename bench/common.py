"""What the benchmarks share: a busybox root filesystem, an OCI archive of it, a containerd,
an isolated podman, network namespaces, one way to measure a run, paired ratios, tables,
and the check that nothing was left behind."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import os
import random
import secrets
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# In every name a bench makes (temp folders, cgroup parents, network namespaces, containers,
# containerd's namespace): "gnbench-" and 6 random hex digits, new for each bench process, so the
# leftover check tells this run's debris from anybody else's.
MARK = f"gnbench-{secrets.token_hex(3)}"


def build_busybox_rootfs(root: Path) -> None:
    """The default image's files (the host's static busybox, /etc/passwd, ...) as a directory."""
    from gophernetes.image.busybox import make_rootfs

    make_rootfs(root)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(folder: Path) -> bytes:
    """An uncompressed tar of `folder`'s contents (paths relative to it), as a layer."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as layer:
        for path in sorted(folder.rglob("*")):
            layer.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def tar_with_file(name: str, data: bytes) -> bytes:
    """An uncompressed tar holding one file: a small extra layer."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as layer:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        layer.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def oci_archive(layers: list[bytes], archive: Path, name: str = "docker.io/bench/busybox:latest") -> Path:
    """An oci-archive (for `ctr images import`, `gophernetes pull local`) of an image whose
    layers are the uncompressed tars `layers`, bottom first."""
    config = json.dumps({"architecture": "amd64" if os.uname().machine == "x86_64" else "arm64", "os": "linux",
                         "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [_digest(layer) for layer in layers]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _digest(layer),
                    "size": len(layer)} for layer in layers]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _digest(manifest),
        "size": len(manifest), "annotations": {"io.containerd.image.name": name,
                                               "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}}]}
                       ).encode()
    blobs = {_digest(blob): blob for blob in (*layers, config, manifest)}
    with tarfile.open(archive, "w") as tar:
        for member, data in [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'), ("index.json", index),
                             *[(f"blobs/sha256/{digest[7:]}", blob) for digest, blob in blobs.items()]]:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def oci_archive_from_rootfs(rootfs: Path, work: Path, name: str = "docker.io/bench/busybox:latest") -> Path:
    """A one-layer oci-archive of `rootfs`, for `ctr images import`."""
    return oci_archive([tar_of(rootfs)], work / "busybox-oci.tar", name)


CONTAINERD_CONFIG = """version = 2
root = "{state}/root"
state = "{state}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{state}/containerd.sock"
[ttrpc]
  address = "{state}/containerd.sock.ttrpc"
"""


@dataclass
class Containerd:
    ctr: list[str]      # the ctr command with address and namespace
    image: str
    pid: int            # the daemon's


@contextlib.contextmanager
def containerd_running(state: Path, archive: Path | None, name: str = "docker.io/bench/busybox:latest",
                       extra_config: str = ""):
    """A containerd of our own (config, state and socket under `state`), with `archive`
    imported (if any), its namespace named MARK; its containers' cgroups are the caller's.

    Yields None when containerd is not installed. Stopped and its mounts removed afterwards.
    """
    if not shutil.which("containerd"):
        yield None
        return
    state.mkdir(parents=True)
    config = state / "config.toml"
    config.write_text(CONTAINERD_CONFIG.format(state=state) + extra_config)
    log = open(state / "containerd.log", "w")
    daemon = subprocess.Popen(["containerd", "--config", str(config)], stdout=log, stderr=log)
    ctr = ["ctr", "--address", str(state / "containerd.sock"), "--namespace", MARK]
    try:
        for _ in range(100):
            if subprocess.run([*ctr, "version"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        if archive:
            subprocess.run([*ctr, "images", "import", str(archive)], check=True, capture_output=True)
        yield Containerd(ctr, name, daemon.pid)
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
        log.close()
        with open("/proc/self/mountinfo") as mounts:
            for line in reversed(mounts.read().splitlines()):
                if str(state) in line.split()[4]:
                    subprocess.run(["umount", "-l", line.split()[4]], check=False)


# --- Measuring: one sample, shuffled rounds, paired ratios -------------------------------

@dataclass
class Sample:
    seconds: float    # wall clock, fork to reap
    cpu: float        # user + sys of the whole process tree the command waited for
    peak_kib: int     # peak RSS of the largest process of that tree
    load: float       # 1-minute load average just before the run


def measure(argv: list[str], env: dict | None = None, ok: tuple[int, ...] = (0,)) -> Sample:
    """Run `argv` once; its wall time, CPU time and peak RSS.

    GNU time, a small C program, does the fork: a fork (or vfork) from this Python process
    would count Python's own pages in the child's peak RSS until its exec. The CPU time is
    what os.wait4 returns for GNU time: the kernel adds every descendant that was waited
    for into it. Daemons a command hands work to (containerd and its shim, podman's conmon)
    are not descendants it waits for, so their CPU is not in it.
    """
    with tempfile.NamedTemporaryFile("r") as report, tempfile.TemporaryFile("w+") as errors:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        process = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv], env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in ok:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}: {errors.read().strip()[-500:]}")
        peak = report.read().split()
        return Sample(elapsed, usage.ru_utime + usage.ru_stime, int(peak[-1]) if peak else 0, load)


def shuffled_rounds(names: list[str], rounds: int, rng: random.Random):
    """`rounds` orders of `names`, each a fresh shuffle: every tool runs once per round, and
    no tool always runs after the same neighbour (caches, CPU frequency, a busy moment)."""
    for _ in range(rounds):
        order = list(names)
        rng.shuffle(order)
        yield order


@dataclass
class Ratio:
    median: float
    low: float
    high: float


def paired_ratios(times: dict[str, list[float]], base: str) -> dict[str, Ratio]:
    """Per tool, the ratio of its time to `base`'s time *in the same round*, summarised as
    median, min and max. A busy moment slows both runs of a round, so the ratio of a pair
    is steadier on a loaded machine than the ratio of two medians."""
    ratios = {}
    for name, values in times.items():
        pairs = [value / reference for value, reference in zip(values, times[base], strict=True)]
        ratios[name] = Ratio(statistics.median(pairs), min(pairs), max(pairs))
    return ratios


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """A GitHub markdown table, its columns padded so it also reads in a terminal."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def write_section(path: str | None, title: str, body: str, summary: dict[str, str] | None = None) -> None:
    """Print a result section; with `path`, also append it there and its one-line figures
    (`summary`: measure -> figure) to PATH.summary.jsonl, for bench/all.py's targets table."""
    text = f"### {title}\n\n{body}\n"
    print(text)
    if path:
        with open(path, "a") as out:
            out.write(text + "\n")
        with open(f"{path}.summary.jsonl", "a") as out:
            for measure_name, figure in (summary or {}).items():
                out.write(json.dumps([measure_name, figure]) + "\n")


# --- Leaving nothing behind ----------------------------------------------------------------

def interruptible() -> None:
    """SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C does, so every `finally` of a
    bench runs (containers removed, daemons stopped, namespaces deleted) when it is killed."""
    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)


def system_snapshot() -> set[str]:
    """What a bench could leave behind: cgroups (3 levels deep in every hierarchy, and the
    ones hidden in the tmpfs under the hybrid host's /sys/fs/cgroup/unified mount, where a
    runtime that saw no cgroup2 there wrote them), mount points and named network namespaces."""
    found: set[str] = set()
    root = Path("/sys/fs/cgroup")
    for top, dirs, _ in os.walk(root):
        depth = len(Path(top).relative_to(root).parts)
        if depth > 3:
            dirs.clear()
            continue
        found.update(f"cgroup {top}/{name}" for name in dirs)
    if os.path.ismount(root / "unified") and os.path.ismount(root):
        hidden = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 "umount /sys/fs/cgroup/unified && find /sys/fs/cgroup/unified -mindepth 1 "
                                 "-maxdepth 3 -type d"], capture_output=True, text=True).stdout.split()
        found.update(f"hidden cgroup {path}" for path in hidden)
    with open("/proc/self/mountinfo") as mounts:
        found.update(f"mount {line.split()[4]}" for line in mounts)
    if os.path.isdir("/run/netns"):
        found.update(f"netns {name}" for name in os.listdir("/run/netns"))
    return found


def leftovers(before: set[str], after: set[str], marks: tuple[str, ...] = (MARK,)) -> tuple[list[str], int]:
    """What appeared between two snapshots: (ours: named with one of `marks`, a count of the
    rest — other users of the machine make cgroups and mounts of their own meanwhile)."""
    new = sorted(after - before)
    ours = [item for item in new if any(mark in item for mark in marks)]
    return ours, len(new) - len(ours)


def remove_cgroup_tree(name: str) -> None:
    """rmdir every cgroup named `name` (a top-level parent) and everything below it, deepest
    first, in every hierarchy; a cgroup with processes left in it stays (and is reported)."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        top = hierarchy / name
        if not top.is_dir():
            continue
        for path in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                path.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def unmount_under(folder: Path) -> None:
    """Lazily unmount every mount point below `folder`, deepest first."""
    with open("/proc/self/mountinfo") as mounts:
        points = [line.split()[4] for line in mounts]
    for point in sorted((p for p in points if p.startswith(str(folder))), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


# --- Network namespaces ----------------------------------------------------------------------

CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd: int, nstype: int) -> None:
    """Move this (single-threaded) process into the namespace `fd` refers to.

    setns(2) with a network namespace changes where new sockets and children live; with a
    mount namespace it also resets the root and working directory to that namespace's
    root. The kernel refuses a mount-namespace switch in a multithreaded process.
    """
    if _libc.setns(fd, nstype) != 0:
        raise OSError(ctypes.get_errno(), f"setns: {os.strerror(ctypes.get_errno())}")


@contextlib.contextmanager
def inside_new_netns(name: str):
    """`ip netns add NAME` with loopback up; this process (and every child) lives inside it
    until the block ends, when the namespace is deleted — with whatever bridges, veths and
    firewall rules the tools made in it."""
    subprocess.run(["ip", "netns", "add", name], check=True)
    back = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
        setns(fd, CLONE_NEWNET)
        os.close(fd)
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        setns(back, CLONE_NEWNET)
        os.close(back)
        subprocess.run(["ip", "netns", "delete", name], check=False)


# --- Podman, isolated ------------------------------------------------------------------------

PODMAN_CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{state}/events.log"
tmp_dir = "{state}/tmp"
static_dir = "{state}/storage/libpod"
volume_path = "{state}/storage/volumes"
[network]
network_config_dir = "{state}/networks"
"""
PODMAN_STORAGE_CONF = """[storage]
driver = "overlay"
graphroot = "{state}/storage"
runroot = "{state}/run"
"""


def podman_env(state: Path) -> dict:
    """An environment in which podman reads only configs under `state` and keeps its images,
    containers, locks and network definitions there (network_config_dir replaces
    /etc/containers/networks and /etc/cni/net.d): another podman user's networks cannot make
    it wait (bench rows once stalled ~20 s on a shared one). Use podman_network for a bridge."""
    state.mkdir(parents=True)
    for folder in ("tmp", "networks"):
        (state / folder).mkdir()
    (state / "containers.conf").write_text(PODMAN_CONTAINERS_CONF.format(state=state))
    (state / "storage.conf").write_text(PODMAN_STORAGE_CONF.format(state=state))
    (state / "registries.conf").write_text('unqualified-search-registries = []\n')
    return {**os.environ, "CONTAINERS_CONF": str(state / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(state / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(state / "registries.conf"), "XDG_RUNTIME_DIR": str(state / "run")}


def podman_network(env: dict, name: str) -> str:
    """`podman network create NAME` in the isolated config dir, its IP leases kept there too.

    With the CNI backend (Debian 12's podman 4.3 without netavark) the host-local IPAM plugin
    keeps leases and a lock under /var/lib/cni/networks/NAME, shared by every podman on the
    host; the bench points that `dataDir` into its own folder. netavark keeps no such files.
    """
    subprocess.run(["podman", "network", "create", name], env=env, check=True, capture_output=True)
    conflist = Path(env["CONTAINERS_CONF"]).parent / "networks" / f"{name}.conflist"
    if conflist.exists():
        config = json.loads(conflist.read_text())
        for plugin in config["plugins"]:
            if plugin.get("ipam", {}).get("type") == "host-local":
                plugin["ipam"]["dataDir"] = str(conflist.parent / "ipam")
        conflist.write_text(json.dumps(config, indent=1))
    return name


def podman_import(rootfs: Path, image: str, env: dict) -> None:
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["podman", "import", "-", image], stdin=tar.stdout, env=env, check=True, capture_output=True)
    tar.wait()


def podman_cleanup(env: dict) -> None:
    subprocess.run(["podman", "rm", "-af", "-t", "0"], env=env, capture_output=True)
    subprocess.run(["podman", "rmi", "-af"], env=env, capture_output=True)
    subprocess.run(["podman", "system", "reset", "-f"], env=env, capture_output=True)


# --- Memory of a process -----------------------------------------------------------------------

def pss_kib(pid: int) -> int:
    """Proportional set size: the process's private pages plus its share of pages mapped by
    several processes (a page shared by 10 counts 1/10 in each) — so summing PSS over the
    supervisors of N containers gives the memory they really cost together."""
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def processes_matching(*needles: str) -> list[int]:
    """PIDs whose command line contains every one of `needles`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if all(needle in cmdline for needle in needles):
                    found.append(int(entry))
    return found


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def wait_for_exit(pids: list[int], timeout: float = 60) -> list[int]:
    """Wait until every process in `pids` has exited (not our children: a pidfd per process,
    readable once it is gone); returns those still alive after `timeout` seconds."""
    deadline, alive = time.monotonic() + timeout, []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                alive.append(pid)
        finally:
            os.close(fd)
    return alive


def supervisors(containers: list[dict]) -> list[int]:
    """The gophernetes supervisors of `containers` (`ps --format json` entries): each running
    container's PID 1 is its supervisor's child."""
    found = []
    for container in containers:
        with contextlib.suppress(OSError, TypeError, ValueError):
            found.append(parent_pid(container["pid"]))
    return found


def gophernetes_remove_all(env: dict) -> list[int]:
    """`rm -f` every container of the state root in `env`, then wait for their supervisors:
    they may still write (hosts files, logs) under the state root after rm returns, and the
    bench removes that folder next. Returns the supervisors still alive after 60 s."""
    listing = subprocess.run(gophernetes_command("ps", "-a", "--format", "json"), env=env, capture_output=True,
                             text=True).stdout or "[]"
    containers = json.loads(listing)
    if not containers:
        return []
    pids = supervisors(containers)
    subprocess.run(gophernetes_command("rm", "-f", *[c["id"] for c in containers]), env=env, capture_output=True)
    return wait_for_exit(pids)


def gophernetes_command(*args: str, root: Path | None = None) -> list[str]:
    """The project's own CLI, as an installed package runs it: this repository's code (on
    PYTHONPATH, see gophernetes_env) under this interpreter — never whatever `gophernetes`
    is first on PATH (a pyenv shim costs ~150 ms)."""
    return [sys.executable, "-m", "gophernetes", *(["--root", str(root)] if root else []), *args]


def gophernetes_env(root: Path, cgroup_parent: str, **extra: str) -> dict:
    """GOPHERNETES_ROOT and GOPHERNETES_CGROUP_PARENT of the bench's own; this repository
    first on sys.path; .pyc files written as usual (an installed package has them)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "GOPHERNETES_ROOT": str(root), "GOPHERNETES_CGROUP_PARENT": cgroup_parent,
            "PYTHONPATH": str(REPO), **extra}
