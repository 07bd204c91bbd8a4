#!/usr/bin/env python3
"""What does a bridge network cost `gophernetes run`, next to `--net none` and to podman's bridge?

Runs /bin/true in a container on a busybox root filesystem, with:

  gophernetes --net none     gophernetes run --net none   --rootfs ROOTFS /bin/true
  gophernetes --net bridge   gophernetes run --net bridge --rootfs ROOTFS /bin/true   (veth, lease, NAT)
  gophernetes -p 8080:80     the same with one published port                        (+ DNAT rules)
  podman --network none      podman run --rm --network none   IMAGE /bin/true
  podman --network bridge    podman run --rm --network NET IMAGE /bin/true   (a bridge network of the bench's
                             own: CNI or netavark, leases kept in the bench's folder)

Everything runs inside a network namespace made for the benchmark (this process enters it
first), so no tool touches the host's network. Podman reads only its own containers.conf,
storage.conf and registries.conf and keeps storage, run state, locks and network definitions
under the bench's temporary folder (common.podman_env): a podman user elsewhere on the machine
cannot make it wait. Shuffled rounds; each row's extra cost over `--net none` of the same tool
is the median of the per-round differences.

Run as root:  python3 bench/network.py [--rounds 20] [--no-podman] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    MARK,
    Sample,
    build_busybox_rootfs,
    gophernetes_command,
    gophernetes_env,
    inside_new_netns,
    interruptible,
    leftovers,
    markdown_table,
    measure,
    ms,
    podman_cleanup,
    podman_env,
    podman_import,
    podman_network,
    remove_cgroup_tree,
    shuffled_rounds,
    system_snapshot,
    unmount_under,
    write_section,
)

PODMAN_IMAGE = f"localhost/{MARK}-busybox:latest"


def variants(rootfs: Path, env: dict, podman: dict | None, parent: str) -> dict[str, tuple[list[str], dict, str]]:
    """name -> (argv, env, the name of the same tool's --net none row)."""
    def run(*options: str) -> list[str]:
        return gophernetes_command("run", *options, "--rootfs", str(rootfs), "/bin/true")
    chosen = {
        "gophernetes --net none": (run("--net", "none"), env, "gophernetes --net none"),
        "gophernetes --net bridge": (run("--net", "bridge"), env, "gophernetes --net none"),
        "gophernetes --net bridge -p 8080:80": (run("--net", "bridge", "-p", "8080:80"), env,
                                                "gophernetes --net none"),
    }
    if podman is not None:
        for mode in ("none", podman_network(podman, f"{MARK}-bridge")):
            label = "podman --network " + ("none" if mode == "none" else "bridge")
            chosen[label] = (["podman", "run", "--rm", "--network", mode, "--cgroup-parent", f"/{parent}/podman",
                              PODMAN_IMAGE, "/bin/true"], podman, "podman --network none")
    return chosen


def table(samples: dict[str, list[Sample]], chosen: dict) -> str:
    rows = []
    for name, runs in samples.items():
        base = samples[chosen[name][2]]
        extra = statistics.median(s.seconds - b.seconds for s, b in zip(runs, base, strict=True))
        rows.append([name, ms(statistics.median(s.seconds for s in runs)), f"{extra * 1000:+.1f}",
                     ms(statistics.median(s.cpu for s in runs)), f"{max(s.peak_kib for s in runs) / 1024:.1f}",
                     f"{statistics.mean(s.load for s in runs):.2f}"])
    return markdown_table(["variant", "median ms", "ms over its --net none", "CPU ms", "peak RSS MiB", "load"], rows)


def extra_ms(samples: dict[str, list[Sample]], chosen: dict, name: str) -> float:
    base = samples[chosen[name][2]]
    return 1000 * statistics.median(s.seconds - b.seconds for s, b in zip(samples[name], base, strict=True))


def summary(samples: dict[str, list[Sample]], chosen: dict) -> str:
    text = f"{extra_ms(samples, chosen, 'gophernetes --net bridge'):+.0f} ms"
    if "podman --network bridge" in samples:
        text += f" (podman's bridge {extra_ms(samples, chosen, 'podman --network bridge'):+.0f} ms)"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-podman", action="store_true")
    parser.add_argument("--markdown", help="also append the result section to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: containers and network namespaces need it")
    interruptible()
    seed = args.seed if args.seed is not None else random.randrange(1 << 16)
    parent = f"{MARK}-network"
    before, load_before = system_snapshot(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix=f"{MARK}-network-") as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        build_busybox_rootfs(rootfs)
        env = gophernetes_env(work / "state", parent)
        podman = None
        try:
            with inside_new_netns(MARK):
                try:
                    if not args.no_podman and shutil.which("podman"):
                        podman = podman_env(work / "podman")
                        podman_import(rootfs, PODMAN_IMAGE, podman)
                    chosen = variants(rootfs, env, podman, parent)
                    rng = random.Random(seed)
                    for order in shuffled_rounds(list(chosen), 1, rng):  # warm-up, unmeasured
                        for name in order:
                            measure(chosen[name][0], chosen[name][1])
                    samples: dict[str, list[Sample]] = {name: [] for name in chosen}
                    for order in shuffled_rounds(list(chosen), args.rounds, rng):
                        for name in order:
                            samples[name].append(measure(chosen[name][0], chosen[name][1]))
                finally:
                    if podman is not None:
                        podman_cleanup(podman)
        finally:
            unmount_under(work)
            remove_cgroup_tree(parent)
    ours, others = leftovers(before, system_snapshot())
    notes = (f"/bin/true, {args.rounds} shuffled rounds (seed {seed}) inside a network namespace of the "
             f"bench's own; podman in its own config/storage/network dirs. Load average "
             f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after. "
             f"Left behind: {', '.join(ours) if ours else 'nothing'}.")
    write_section(args.markdown, "Network: bridge vs `--net none` vs podman", f"{notes}\n\n{table(samples, chosen)}",
                  {"bridge network overhead over --net none": summary(samples, chosen)})
    if ours:
        sys.exit(1)


if __name__ == "__main__":
    main()
