#!/usr/bin/env python3
"""N detached containers: how long to start them, list them, remove them, and what their
supervisors cost in memory — gophernetes next to podman (conmon) and containerd (shims).

  gophernetes --net none    N x `run -d --net none --rootfs ROOTFS sleep 100000`, then `ps`,
                            then `rm -f` of all N in one call
  gophernetes bridge        the same on the default bridge network
  podman                    N x `podman run -d --network none IMAGE sleep 100000`, `podman ps`,
                            `podman rm -f -t 0` of all N in one call (SIGKILL at once, as rm -f does)
  containerd                N x `ctr run -d IMAGE ID sleep 100000` (memory only)

Memory is the proportional set size (PSS, /proc/PID/smaps_rollup) summed over the processes
that stay behind per container: gophernetes' supervisors (the parent of each container's
PID 1), podman's conmon, containerd's shims. The containers' own `sleep` is not counted.
Everything runs inside a network namespace and under a temporary folder of the bench's own.

Run as root:  python3 bench/detached.py [--n 50] [--markdown FILE]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    MARK,
    build_busybox_rootfs,
    containerd_running,
    gophernetes_command,
    gophernetes_env,
    gophernetes_remove_all,
    inside_new_netns,
    interruptible,
    leftovers,
    markdown_table,
    measure,
    ms,
    oci_archive_from_rootfs,
    podman_cleanup,
    podman_env,
    podman_import,
    processes_matching,
    pss_kib,
    remove_cgroup_tree,
    supervisors,
    system_snapshot,
    unmount_under,
    wait_for_exit,
    write_section,
)

PODMAN_IMAGE = f"localhost/{MARK}-busybox:latest"
SLEEP = ["sleep", "100000"]


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def gophernetes_row(label: str, n: int, rootfs: Path, env: dict, network: str) -> list:
    starts = [measure(gophernetes_command("run", "-d", "--net", network, "--rootfs", str(rootfs), *SLEEP), env)
              for _ in range(n)]
    listing = subprocess.run(gophernetes_command("ps", "--format", "json"), env=env, capture_output=True,
                             text=True, check=True).stdout
    containers = json.loads(listing)
    if len(containers) != n:
        raise RuntimeError(f"{label}: ps shows {len(containers)} containers, not {n}")
    pids = supervisors(containers)
    pss = sum(pss_kib(pid) for pid in pids)
    ps = [measure(gophernetes_command("ps"), env) for _ in range(5)]
    remove = measure(gophernetes_command("rm", "-f", *[c["id"] for c in containers]), env)
    if wait_for_exit(pids):
        raise RuntimeError(f"{label}: supervisors still running 60 s after rm -f")
    return [label, ms(statistics.median(s.seconds for s in starts)), ms(statistics.median(s.seconds for s in ps)),
            f"{remove.seconds:.2f}", mib(pss), mib(pss / n), f"{statistics.mean(s.load for s in starts):.2f}"]


def podman_row(n: int, env: dict, parent: str) -> list:
    run = ["podman", "run", "-d", "--network", "none", "--cgroup-parent", f"/{parent}/podman", PODMAN_IMAGE, *SLEEP]
    starts = [measure(run, env) for _ in range(n)]
    conmons = processes_matching("conmon", str(Path(env["CONTAINERS_STORAGE_CONF"]).parent))
    if len(conmons) != n:
        raise RuntimeError(f"podman: found {len(conmons)} conmon processes, not {n}")
    pss = sum(pss_kib(pid) for pid in conmons)
    ps = [measure(["podman", "ps"], env) for _ in range(5)]
    ids = subprocess.run(["podman", "ps", "-q"], env=env, capture_output=True, text=True, check=True).stdout.split()
    remove = measure(["podman", "rm", "-f", "-t", "0", *ids], env)
    return ["podman (conmon), --network none", ms(statistics.median(s.seconds for s in starts)),
            ms(statistics.median(s.seconds for s in ps)), f"{remove.seconds:.2f}", mib(pss), mib(pss / n),
            f"{statistics.mean(s.load for s in starts):.2f}"]


def containerd_row(n: int, containerd, parent: str) -> list:
    starts = [measure([*containerd.ctr, "run", "-d", "--cgroup", f"/{parent}/ctr-{i}", containerd.image,
                       f"{MARK}-{i}", *SLEEP]) for i in range(n)]
    shims = processes_matching("containerd-shim", f"-namespace {MARK}")
    pss = sum(pss_kib(pid) for pid in shims)
    ps = [measure([*containerd.ctr, "task", "ls"]) for _ in range(5)]
    start = time.perf_counter()
    for i in range(n):
        subprocess.run([*containerd.ctr, "task", "kill", "-s", "KILL", f"{MARK}-{i}"], capture_output=True)
    for i in range(n):
        for _ in range(50):
            if subprocess.run([*containerd.ctr, "task", "delete", f"{MARK}-{i}"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run([*containerd.ctr, "containers", "delete", f"{MARK}-{i}"], capture_output=True)
    remove = time.perf_counter() - start
    return [f"containerd ({len(shims)} shims), ctr run -d", ms(statistics.median(s.seconds for s in starts)),
            f"{ms(statistics.median(s.seconds for s in ps))} (task ls)", f"{remove:.2f} (kill+delete, {2 * n} calls)",
            mib(pss), mib(pss / n), f"{statistics.mean(s.load for s in starts):.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--no-podman", action="store_true")
    parser.add_argument("--markdown", help="also append the result section to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: containers and network namespaces need it")
    interruptible()
    parent = f"{MARK}-detached"
    before, load_before = system_snapshot(), os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"{MARK}-detached-") as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        build_busybox_rootfs(rootfs)
        env = gophernetes_env(work / "state", parent)
        podman = None
        try:
            with inside_new_netns(MARK):
                try:
                    rows.append(gophernetes_row("gophernetes, --net none", args.n, rootfs, env, "none"))
                    rows.append(gophernetes_row("gophernetes, bridge", args.n, rootfs, env, "bridge"))
                    if not args.no_podman and shutil.which("podman"):
                        podman = podman_env(work / "podman")
                        podman_import(rootfs, PODMAN_IMAGE, podman)
                        rows.append(podman_row(args.n, podman, parent))
                    with containerd_running(work / "containerd", oci_archive_from_rootfs(rootfs, work)) as containerd:
                        if containerd:
                            rows.append(containerd_row(args.n, containerd, parent))
                finally:
                    gophernetes_remove_all(env)
                    if podman is not None:
                        podman_cleanup(podman)
        finally:
            unmount_under(work)
            remove_cgroup_tree(parent)
    ours, others = leftovers(before, system_snapshot())
    notes = (f"N = {args.n} detached `sleep` containers per row, started one after the other, inside a network "
             f"namespace of the bench's own. Start = median of the N `run -d`; ps = median of 5 with N running; "
             f"rm = one call removing all N; memory = PSS of what stays behind per container. Load average "
             f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after. "
             f"Left behind: {', '.join(ours) if ours else 'nothing'}.")
    body = markdown_table(["who", "start ms", "ps ms", "rm -f all s", f"PSS MiB for {args.n}", "PSS MiB each",
                           "load"], rows)
    none, bridge = rows[0], rows[1]
    podman = next((row for row in rows if row[0].startswith("podman")), None)
    shims = next((row for row in rows if row[0].startswith("containerd")), None)
    summary = {
        "supervisor per detached container (PSS)": f"{none[5]} / {bridge[5]} MiB (--net none / bridge)"
        + (f"; conmon {podman[5]}" if podman else "") + (f"; containerd shim {shims[5]}" if shims else ""),
        f"`rm -f` {args.n} containers (one call)": f"{none[3]} s" + (f" (podman {podman[3]} s)" if podman else ""),
        f"`ps` with {args.n} containers": f"{none[2]} ms" + (f" (podman ps {podman[2]} ms)" if podman else ""),
    }
    write_section(args.markdown, f"{args.n} detached containers", f"{notes}\n\n{body}", summary)
    if ours:
        sys.exit(1)


if __name__ == "__main__":
    main()
