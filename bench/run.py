#!/usr/bin/env python3
"""How fast does `gophernetes run` start a container, next to the tools it is measured against?

Runs /bin/true in a container on the same busybox root filesystem, with:

  unshare      unshare --fork --pid --mount --uts --ipc --net --mount-proc chroot ROOTFS /bin/true
  crun         crun run, in a mount namespace of the bench's own where /sys/fs/cgroup/unified is
               a private empty tmpfs (crun refuses the hybrid layout: MACHINE.md); whatever crun
               writes there vanishes with that namespace
  runc         runc run
  ctr          ctr run --rm, on an image imported into a containerd started for the benchmark
  podman       podman run --rm --network none, in its own config, storage and network dirs
  python floor bench/python_floor.py ROOTFS: the least a Python program can do for the same
               container (no CLI, no options, no state), alone and after `import click`
  gophernetes  `python -m gophernetes run --net none --rootfs ROOTFS /bin/true`: this repository's
               code under this interpreter (never the `gophernetes` first on PATH: a pyenv shim
               costs ~150 ms); also under Debian's /usr/bin/python3 (the lab VM's) when it has click,
               and with `--security-opt seccomp=unconfined` (the pair shows what the filter costs)

Every round runs every tool once, in a new random order (seeded; the seed is printed). The
table shows, per tool, the median wall time, the median of the per-round ratios to runc with
their min and max (paired: a busy moment slows both runs of a round), the median CPU time of
the process tree, peak RSS and the mean 1-minute load average during its runs.

.pyc files: measured *with* them, as an installed package has them. The bench does not
precompile; one unmeasured warm-up round (for every tool alike) writes the ones that are
missing, as a user's first run would. The notes say how many it wrote.

Everything (runc/crun state, containerd, podman storage, gophernetes' root) lives under one
temporary folder; cgroups under a parent of the bench's own; a check compares cgroups (also the
ones hidden under the unified mount), mounts and network namespaces before and after.
Run as root:  python3 bench/run.py [--rounds 30] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    CLONE_NEWNS,
    MARK,
    REPO,
    Sample,
    build_busybox_rootfs,
    containerd_running,
    gophernetes_command,
    gophernetes_env,
    interruptible,
    leftovers,
    markdown_table,
    measure,
    ms,
    oci_archive_from_rootfs,
    paired_ratios,
    podman_cleanup,
    podman_env,
    podman_import,
    remove_cgroup_tree,
    setns,
    shuffled_rounds,
    system_snapshot,
    unmount_under,
    write_section,
)

PODMAN_IMAGE = f"localhost/{MARK}-busybox:latest"


def runc_bundle(folder: Path, rootfs: Path, cgroup: str) -> Path:
    """An OCI bundle (config.json from `runc spec`) running /bin/true, no terminal, in `cgroup`."""
    folder.mkdir(parents=True)
    subprocess.run(["runc", "spec", "--bundle", str(folder)], check=True)
    config = json.loads((folder / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["linux"]["cgroupsPath"] = cgroup
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@contextlib.contextmanager
def crun_mount_namespace():
    """A mount namespace in which crun sees no hybrid cgroup layout; yields an fd on it
    (None where there is nothing to hide: pure cgroup v2 or pure v1).

    A holder process (`unshare --mount --propagation private`) keeps the namespace alive;
    in it /sys/fs/cgroup/unified is replaced by an empty private tmpfs, so the cgroup
    folders crun makes there die with the holder instead of piling up, hidden, in the
    host's tmpfs under the cgroup2 mount.
    """
    if not (os.path.ismount("/sys/fs/cgroup/unified") and os.path.ismount("/sys/fs/cgroup")):
        yield None
        return
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f"umount /sys/fs/cgroup/unified && mount -t tmpfs {MARK}-unified /sys/fs/cgroup/unified "
         "&& echo ready && exec sleep 100000"], stdout=subprocess.PIPE, text=True)
    try:
        if holder.stdout.readline().strip() != "ready":
            raise RuntimeError("could not prepare crun's mount namespace")
        fd = os.open(f"/proc/{holder.pid}/ns/mnt", os.O_RDONLY)
        try:
            yield fd
        finally:
            os.close(fd)
    finally:
        holder.kill()
        holder.wait()


def measure_in(mount_ns: int | None, argv: list[str], env: dict | None = None) -> Sample:
    """measure(argv) with the child started inside the mount namespace `mount_ns`: this
    process steps in for the fork and straight back out."""
    if mount_ns is None:
        return measure(argv, env)
    own, cwd = os.open("/proc/self/ns/mnt", os.O_RDONLY), os.getcwd()
    try:
        setns(mount_ns, CLONE_NEWNS)
        return measure(argv, env)
    finally:
        setns(own, CLONE_NEWNS)
        os.close(own)
        os.chdir(cwd)


def missing_pyc() -> tuple[int, int]:
    """(modules of this repository with no .pyc for this interpreter, modules)."""
    tag = sys.implementation.cache_tag
    sources = list((REPO / "gophernetes").rglob("*.py"))
    missing = [s for s in sources if not (s.parent / "__pycache__" / f"{s.stem}.{tag}.pyc").exists()]
    return len(missing), len(sources)


def tools(work: Path, rootfs: Path, parent: str, containerd, podman: dict | None, crun_ns) -> dict:
    """name -> (argv, env, mount namespace fd or None)."""
    state = work / "gophernetes-state"
    env = gophernetes_env(state, parent)
    floor = [sys.executable, str(REPO / "bench" / "python_floor.py")]
    chosen: dict[str, tuple[list[str], dict | None, int | None]] = {
        "unshare": (["unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "--mount-proc",
                     "chroot", str(rootfs), "/bin/true"], None, None),
        "runc": (["runc", "--root", str(work / "runc-state"), "run", "-b",
                  str(runc_bundle(work / "runc", rootfs, f"/{parent}/runc")), f"{MARK}-runc"], None, None),
        "python floor": ([*floor, str(rootfs)], None, None),
        "python floor + import click": ([*floor, "--import-click", str(rootfs)], None, None),
        "gophernetes run": (gophernetes_command("run", "--net", "none", "--rootfs", str(rootfs), "/bin/true"),
                            env, None),
        # the same without docker's seccomp profile: the pair shows what the filter costs
        "gophernetes run, seccomp=unconfined": (
            gophernetes_command("run", "--net", "none", "--security-opt", "seccomp=unconfined", "--rootfs",
                                str(rootfs), "/bin/true"), env, None),
    }
    if shutil.which("crun"):
        chosen["crun"] = (["crun", "--root", str(work / "crun-state"), "run", "-b",
                           str(runc_bundle(work / "crun", rootfs, f"/{parent}/crun")), f"{MARK}-crun"], None, crun_ns)
    if containerd:
        chosen["ctr run --rm"] = ([*containerd.ctr, "run", "--rm", "--cgroup", f"/{parent}/ctr", containerd.image,
                                   f"{MARK}-ctr", "/bin/true"], None, None)
    if podman:
        chosen["podman run --rm --network none"] = (
            ["podman", "run", "--rm", "--network", "none", "--cgroup-parent", f"/{parent}/podman", PODMAN_IMAGE,
             "/bin/true"], podman, None)
    if subprocess.run(["/usr/bin/python3", "-c", "import click"], capture_output=True).returncode == 0:
        debian = ["/usr/bin/python3", *gophernetes_command("run", "--net", "none", "--rootfs", str(rootfs),
                                                          "/bin/true")[1:]]
        chosen["gophernetes run (Debian python3)"] = (debian, env, None)
        chosen["python floor + import click (Debian python3)"] = (
            ["/usr/bin/python3", *floor[1:], "--import-click", str(rootfs)], None, None)
    return chosen


def table(samples: dict[str, list[Sample]]) -> str:
    ratios = paired_ratios({name: [s.seconds for s in runs] for name, runs in samples.items()}, "runc")
    rows = []
    for name, runs in sorted(samples.items(), key=lambda item: ratios[item[0]].median):
        ratio = ratios[name]
        rows.append([name, ms(statistics.median(s.seconds for s in runs)), f"{ratio.median:.2f}",
                     f"{ratio.low:.2f}–{ratio.high:.2f}", ms(statistics.median(s.cpu for s in runs)),
                     f"{max(s.peak_kib for s in runs) / 1024:.1f}", f"{statistics.mean(s.load for s in runs):.2f}"])
    return markdown_table(["tool", "median ms", "× runc", "× runc min–max", "CPU ms", "peak RSS MiB", "load"], rows)


def summary(samples: dict[str, list[Sample]]) -> str:
    """The gophernetes row as one line: × runc, and how far above the floor + click."""
    ratios = paired_ratios({name: [s.seconds for s in runs] for name, runs in samples.items()}, "runc")
    median = {name: statistics.median(s.seconds for s in runs) for name, runs in samples.items()}
    return (f"{ratios['gophernetes run'].median:.2f}× runc ({ms(median['gophernetes run'])} ms; "
            f"floor + click {ms(median['python floor + import click'])} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-podman", action="store_true")
    parser.add_argument("--markdown", help="also append the result section to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/run.py makes real containers: run it as root")
    if not os.path.exists("/usr/bin/time"):
        sys.exit("bench/run.py needs GNU time (apt-get install time)")
    interruptible()
    seed = args.seed if args.seed is not None else random.randrange(1 << 16)
    parent = f"{MARK}-run"
    before = system_snapshot()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix=f"{MARK}-run-") as tmp:
        work = Path(tmp)
        podman = None
        try:
            rootfs = work / "rootfs"
            build_busybox_rootfs(rootfs)
            if not args.no_podman and shutil.which("podman"):
                podman = podman_env(work / "podman")
                podman_import(rootfs, PODMAN_IMAGE, podman)
            with containerd_running(work / "containerd", oci_archive_from_rootfs(rootfs, work)) as containerd, \
                    crun_mount_namespace() as crun_ns:
                chosen = tools(work, rootfs, parent, containerd, podman, crun_ns)
                pyc_missing, modules = missing_pyc()
                rng = random.Random(seed)
                for order in shuffled_rounds(list(chosen), 1, rng):  # warm-up: page cache, missing .pyc
                    for name in order:
                        measure_in(chosen[name][2], chosen[name][0], chosen[name][1])
                pyc_written = pyc_missing - missing_pyc()[0]
                samples: dict[str, list[Sample]] = {name: [] for name in chosen}
                for order in shuffled_rounds(list(chosen), args.rounds, rng):
                    for name in order:
                        argv, env, mount_ns = chosen[name]
                        samples[name].append(measure_in(mount_ns, argv, env))
        finally:
            if podman:
                podman_cleanup(podman)
            unmount_under(work)
            remove_cgroup_tree(parent)
    ours, others = leftovers(before, system_snapshot())
    load_after = os.getloadavg()
    notes = (f"`run /bin/true`, {args.rounds} shuffled rounds (seed {seed}), {os.cpu_count()} CPUs; "
             f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after. "
             f"Interpreter {sys.executable} ({sys.version.split()[0]}); .pyc files present for the modules a run "
             f"imports ({pyc_written} of {modules} written by the warm-up round). CPU = user+sys of the process tree "
             f"(daemons — containerd's shim, conmon — not counted). "
             f"Left behind: {', '.join(ours) if ours else 'nothing'}"
             f"{f' ({others} new items of other users of the machine ignored)' if others else ''}.")
    write_section(args.markdown, "Start: `run --net none /bin/true`", f"{notes}\n\n{table(samples)}",
                  {"`run --net none /bin/true`": summary(samples)})
    if ours:
        sys.exit(1)


if __name__ == "__main__":
    main()
