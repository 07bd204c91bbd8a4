#!/usr/bin/env python3
"""What does a bridge network cost `gophernetes run`, next to `--net none` and to podman's bridge?

Runs /bin/true in a container on a busybox root filesystem, many times, with:

  gophernetes-none     gophernetes run --net none   --rootfs ROOTFS /bin/true
  gophernetes-bridge   gophernetes run --net bridge --rootfs ROOTFS /bin/true   (veth, lease, NAT rules)
  gophernetes-publish  the same with -p 8080:80                                (+ DNAT rules)
  podman-none          podman run --rm --network none   IMAGE /bin/true
  podman-bridge        podman run --rm --network bridge IMAGE /bin/true       (netavark)

Everything runs inside a network namespace made for the benchmark (this process enters it
first), so neither tool touches the host's network; state, storage and cgroups live under
a temporary folder and are removed afterwards. Podman uses the configs of
shared/recipes/podman (runc, cgroupfs, lowered ulimits), copied into that folder. The runs
are interleaved round-robin so that noise hits every variant alike.

Run as root:  python3 bench/network.py [--runs 20] [--no-podman]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gophernetes.image.busybox import make_rootfs  # noqa: E402

CLONE_NEWNET = 0x40000000
PODMAN_IMAGE = "localhost/gophernetes-bench-busybox:latest"
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{state}/tmp"
"""
STORAGE_CONF = """[storage]
driver = "overlay"
graphroot = "{state}/storage"
runroot = "{state}/run"
"""


def timed(argv: list[str], env: dict) -> float:
    """Seconds that `argv` took; raises if it failed."""
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
    return elapsed


def enter_new_netns(name: str) -> int:
    """`ip netns add NAME`, then move this process into it; returns a handle on where we were."""
    subprocess.run(["ip", "netns", "add", name], check=True)
    back = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    return back


def leave_netns(back: int, name: str) -> None:
    ctypes.CDLL(None, use_errno=True).setns(back, CLONE_NEWNET)
    os.close(back)
    subprocess.run(["ip", "netns", "delete", name], check=False)


def podman_env(work: Path) -> dict:
    state = work / "podman"
    state.mkdir()
    (state / "containers.conf").write_text(CONTAINERS_CONF.format(state=state))
    (state / "storage.conf").write_text(STORAGE_CONF.format(state=state))
    return {**os.environ, "CONTAINERS_CONF": str(state / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(state / "storage.conf")}


def podman_import(rootfs: Path, env: dict) -> None:
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["podman", "import", "-", PODMAN_IMAGE], stdin=tar.stdout, env=env, check=True,
                   capture_output=True)
    tar.wait()


def variants(rootfs: Path, gophernetes_env: dict, podman: dict | None) -> dict[str, tuple[list[str], dict]]:
    run = [sys.executable, "-m", "gophernetes", "run", "--rootfs", str(rootfs)]
    chosen = {
        "gophernetes-none": ([*run[:4], "--net", "none", *run[4:], "/bin/true"], gophernetes_env),
        "gophernetes-bridge": ([*run[:4], "--net", "bridge", *run[4:], "/bin/true"], gophernetes_env),
        "gophernetes-publish": ([*run[:4], "--net", "bridge", "-p", "8080:80", *run[4:], "/bin/true"],
                                gophernetes_env),
    }
    if podman is not None:
        for mode in ("none", "bridge"):
            chosen[f"podman-{mode}"] = (["podman", "run", "--rm", "--network", mode, PODMAN_IMAGE, "/bin/true"],
                                        podman)
    return chosen


def cleanup_mounts(under: Path) -> None:
    with open("/proc/self/mountinfo") as mounts:
        for line in reversed(mounts.read().splitlines()):
            if line.split()[4].startswith(str(under)):
                subprocess.run(["umount", "-l", line.split()[4]], check=False)


def report(samples: dict[str, list[float]]) -> None:
    base = statistics.median(samples["gophernetes-none"])
    print(f"{'variant':22} {'median':>9} {'p90':>9} {'vs none':>9}")
    for name, times in samples.items():
        ordered = sorted(times)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        median = statistics.median(times)
        print(f"{name:22} {median * 1000:8.1f}ms {p90 * 1000:8.1f}ms {median - base:+8.3f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-podman", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: containers and network namespaces need it")

    netns = f"gnt-bench-{os.getpid()}"
    cgroup_parent = f"gophernetes-bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="gophernetes-bench-network-") as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        make_rootfs(rootfs)
        gophernetes_env = {**os.environ, "GOPHERNETES_ROOT": str(work / "state"),
                           "GOPHERNETES_CGROUP_PARENT": cgroup_parent, "PYTHONPATH": str(REPO)}
        back = enter_new_netns(netns)
        podman = None
        try:
            if not args.no_podman and shutil.which("podman"):
                podman = podman_env(work)
                podman_import(rootfs, podman)
            chosen = variants(rootfs, gophernetes_env, podman)
            for argv, env in chosen.values():  # warm caches once, unmeasured
                timed(argv, env)
            samples: dict[str, list[float]] = {name: [] for name in chosen}
            for _ in range(args.runs):
                for name, (argv, env) in chosen.items():
                    samples[name].append(timed(argv, env))
            print(f"{args.runs} runs each, /bin/true, inside network namespace {netns}")
            report(samples)
        finally:
            if podman is not None:
                subprocess.run(["podman", "rm", "-af"], env=podman, capture_output=True)
                subprocess.run(["podman", "rmi", "-af"], env=podman, capture_output=True)
            leave_netns(back, netns)
            cleanup_mounts(work)
            for path in sorted(Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}"), reverse=True):
                subprocess.run(["rmdir", str(path)], check=False)


if __name__ == "__main__":
    main()
