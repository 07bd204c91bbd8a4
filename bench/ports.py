#!/usr/bin/env python3
"""What does each published port cost `run`, with the iptables and the nft firewall backends?

  run --net bridge -p 8000:80 [-p 8001:81 ...] --rootfs ROOTFS /bin/true   with 1, 10, 50 ports

Each backend (GOPHERNETES_FIREWALL=iptables or nft) gets a network namespace and a state root
of its own; within one, the port counts run in shuffled rounds. "ms per port" is the slope
between the smallest and the largest count; the target is a flat cost.

Run as root:  python3 bench/ports.py [--rounds 5] [--ports 1,10,50] [--markdown FILE]
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
    remove_cgroup_tree,
    shuffled_rounds,
    system_snapshot,
    unmount_under,
    write_section,
)


def publish(count: int) -> list[str]:
    return [option for port in range(count) for option in ("-p", f"{8000 + port}:{80 + port}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ports", default="1,10,50")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--markdown", help="also append the result section to this file")
    args = parser.parse_args()
    counts = [int(count) for count in args.ports.split(",")]
    if os.geteuid() != 0:
        sys.exit("run as root: containers and network namespaces need it")
    interruptible()
    seed = args.seed if args.seed is not None else random.randrange(1 << 16)
    rng = random.Random(seed)
    before, load_before = system_snapshot(), os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"{MARK}-ports-") as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        build_busybox_rootfs(rootfs)
        try:
            for backend in [name for name in ("iptables", "nft") if shutil.which(name)]:
                parent = f"{MARK}-ports-{backend}"
                env = gophernetes_env(work / backend, parent, GOPHERNETES_FIREWALL=backend)
                commands = {count: gophernetes_command("run", "--net", "bridge", *publish(count), "--rootfs",
                                                       str(rootfs), "/bin/true") for count in counts}
                samples: dict[int, list[Sample]] = {count: [] for count in counts}
                try:
                    with inside_new_netns(f"{MARK}-{backend}"):
                        measure(commands[counts[0]], env)  # warm-up: the bridge and its base rules
                        for order in shuffled_rounds(counts, args.rounds, rng):
                            for count in order:
                                samples[count].append(measure(commands[count], env))
                finally:
                    remove_cgroup_tree(parent)
                medians = {count: statistics.median(s.seconds for s in runs) for count, runs in samples.items()}
                slope = (medians[counts[-1]] - medians[counts[0]]) / max(1, counts[-1] - counts[0])
                for count, runs in samples.items():
                    rows.append([backend, count, ms(medians[count]), ms(statistics.median(s.cpu for s in runs)),
                                 f"{slope * 1000:+.1f}" if count == counts[-1] else "",
                                 f"{statistics.mean(s.load for s in runs):.2f}"])
        finally:
            unmount_under(work)
    ours, others = leftovers(before, system_snapshot())
    notes = (f"`run --net bridge -p ... /bin/true`, {args.rounds} shuffled rounds (seed {seed}) per backend, each "
             f"in a network namespace of its own. Load average {load_before[0]:.2f} before, "
             f"{os.getloadavg()[0]:.2f} after. Left behind: {', '.join(ours) if ours else 'nothing'}.")
    body = markdown_table(["backend", "ports", "run ms", "CPU ms", "ms per extra port", "load"], rows)
    summary = {f"published ports, {row[0]} backend": f"{row[4]} ms per port ({counts[0]} → {counts[-1]} ports)"
               for row in rows if row[4]}
    write_section(args.markdown, "Published ports", f"{notes}\n\n{body}", summary)
    if ours:
        sys.exit(1)


if __name__ == "__main__":
    main()
