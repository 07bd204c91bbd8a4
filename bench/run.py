#!/usr/bin/env python3
"""How fast does `gophernetes run` start a container, next to the tools it is measured against?

Runs /bin/true in a container on the same busybox root filesystem, many times, with:

  unshare   unshare --fork --pid --mount --uts --ipc --net --mount-proc chroot ROOTFS /bin/true
  crun      crun run (in a private mount namespace without the hybrid cgroup2 mount: MACHINE.md)
  runc      runc run
  ctr       ctr run --rm, on an image imported into a containerd started for the benchmark
  python floor  bench/python_floor.py ROOTFS with Debian's python3: the least a Python program
            can do for the same container (no CLI, no options, no state), the floor under gophernetes;
            and the same after `import click`: the floor for any CLI built on click
  gophernetes  gophernetes run --net none --rootfs ROOTFS /bin/true, with the interpreter that
            has it installed, and with Debian's /usr/bin/python3 (the lab VM's) when it has click

The runs are interleaved round-robin so that noise hits every tool alike; the table shows
medians, the ratio to runc, and the peak resident memory of the tool's process tree.
Run as root:  python3 bench/run.py [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

from common import build_busybox_rootfs, containerd_running, oci_archive_from_rootfs  # noqa: E402


def timed(argv: list[str]) -> tuple[float, int]:
    """Run argv once under GNU time; return (seconds, peak RSS in KiB of its largest process).

    GNU time, a small C program, does the fork: a fork from this Python process would
    count Python's own pages in the child's peak RSS until its exec.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        status = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv]).returncode
        elapsed = time.perf_counter() - start
        if status != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {status}")
        return elapsed, int(report.read().split()[-1])


def runc_bundle(work: Path, rootfs: Path) -> Path:
    """An OCI bundle (config.json from `runc spec`) running /bin/true, no terminal."""
    bundle = work / "bundle"
    bundle.mkdir()
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    config["root"] = {"path": str(rootfs), "readonly": True}
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def crun_samples(bundle: Path, runs: int) -> list[tuple[float, int]]:
    """crun refuses hybrid cgroups unless /sys/fs/cgroup/unified is gone: time it in a mount
    namespace of its own where that mount is removed (this process re-executed there)."""
    script = (f"import sys, json; sys.path.insert(0, {str(REPO / 'bench')!r}); "
              f"from run import timed; import subprocess; "
              f"subprocess.run(['umount', '/sys/fs/cgroup/unified'], stderr=subprocess.DEVNULL); "
              f"print(json.dumps([timed(['crun', 'run', '-b', {str(bundle)!r}, f'bench-crun-{{i}}']) "
              f"for i in range({runs})]))")
    out = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", script],
                         capture_output=True, text=True, check=True).stdout
    return [tuple(x) for x in json.loads(out)]


def tools(work: Path, rootfs: Path, containerd) -> dict[str, list[str] | None]:
    state = work / "gophernetes-state"
    bundle = runc_bundle(work, rootfs)
    commands: dict[str, list[str] | None] = {
        "unshare": ["unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "--mount-proc",
                    "chroot", str(rootfs), "/bin/true"],
        "runc": ["runc", "--root", str(work / "runc"), "run", "-b", str(bundle), "bench-runc"],
        "gophernetes": [shutil.which("gophernetes") or sys.executable, *([] if shutil.which("gophernetes") else
                        ["-m", "gophernetes"]), "--root", str(state), "run", "--net", "none", "--rootfs",
                        str(rootfs), "/bin/true"],
    }
    commands["python floor (no CLI)"] = ["/usr/bin/python3", str(REPO / "bench" / "python_floor.py"), str(rootfs)]
    if subprocess.run(["/usr/bin/python3", "-c", "import click"], capture_output=True).returncode == 0:
        commands["python floor + import click"] = ["/usr/bin/python3", str(REPO / "bench" / "python_floor.py"),
                                                   "--import-click", str(rootfs)]
        commands["gophernetes (Debian python3)"] = ["env", f"PYTHONPATH={REPO}", "/usr/bin/python3", "-m",
                                                    "gophernetes", "--root", str(state), "run", "--net", "none",
                                                    "--rootfs", str(rootfs), "/bin/true"]
    if containerd:
        commands["ctr run --rm"] = [*containerd.ctr, "run", "--rm", "--net-host=false", containerd.image,
                                    "bench-ctr", "/bin/true"]
    return commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/run.py makes real containers: run it as root")
    if not os.path.exists("/usr/bin/time"):
        sys.exit("bench/run.py needs GNU time (apt-get install time)")
    with tempfile.TemporaryDirectory(prefix="gophernetes-bench-") as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        build_busybox_rootfs(rootfs)
        with containerd_running(work / "containerd", oci_archive_from_rootfs(rootfs, work)) as containerd:
            commands = tools(work, rootfs, containerd)
            results: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "gophernetes")], check=True)
            for argv in commands.values():
                timed(argv)  # warm up caches (page cache, pyc files, containerd's snapshot)
            for _ in range(args.runs):
                for name, argv in commands.items():
                    results[name].append(timed(argv))
            if shutil.which("crun"):
                results["crun"] = crun_samples(make_crun_bundle(work, rootfs), args.runs)
    report(results, args.runs)


def make_crun_bundle(work: Path, rootfs: Path) -> Path:
    crun_work = work / "crun"
    crun_work.mkdir()
    return runc_bundle(crun_work, rootfs)


def report(results: dict[str, list[tuple[float, int]]], runs: int) -> None:
    runc = statistics.median(t for t, _ in results["runc"])
    ctr = statistics.median(t for t, _ in results.get("ctr run --rm", [(float("nan"), 0)]))
    print(f"`run /bin/true`, {runs} runs each, interleaved; medians (ms), ratio to runc and to ctr, peak RSS")
    print(f"{'tool':32} {'median':>9} {'min':>8} {'x runc':>7} {'x ctr':>7} {'peak RSS':>10}")
    for name, samples in sorted(results.items(), key=lambda item: statistics.median(t for t, _ in item[1])):
        times = [t for t, _ in samples]
        median = statistics.median(times)
        print(f"{name:32} {median * 1000:8.1f}  {min(times) * 1000:7.1f} {median / runc:7.2f} {median / ctr:7.2f} "
              f"{max(m for _, m in samples) / 1024:8.1f}MiB")


if __name__ == "__main__":
    main()
