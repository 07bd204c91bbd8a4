#!/usr/bin/env python3
"""What does one more container cost when many share its network? (/etc/hosts refresh)

Every container on a bridge network finds the others by name in its /etc/hosts; when one
starts or stops, gophernetes rewrites those files. This bench fills the default bridge
network with detached `sleep` containers, and at each count in --counts times 5 foreground
`run --net bridge /bin/true` (median) and the last detached start. A cost that grows with the
count is the refresh; the target is a `run` within 10% of the 5-container time at 400.

Inside a network namespace and under a temporary folder of the bench's own.
Run as root:  python3 bench/hosts.py [--counts 5,400] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    MARK,
    build_busybox_rootfs,
    gophernetes_command,
    gophernetes_env,
    gophernetes_remove_all,
    inside_new_netns,
    interruptible,
    leftovers,
    markdown_table,
    measure,
    ms,
    remove_cgroup_tree,
    system_snapshot,
    unmount_under,
    write_section,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="5,400", help="comma-separated container counts, ascending")
    parser.add_argument("--markdown", help="also append the result section to this file")
    args = parser.parse_args()
    counts = [int(count) for count in args.counts.split(",")]
    if os.geteuid() != 0:
        sys.exit("run as root: containers and network namespaces need it")
    interruptible()
    parent = f"{MARK}-hosts"
    before, load_before = system_snapshot(), os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"{MARK}-hosts-") as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        build_busybox_rootfs(rootfs)
        env = gophernetes_env(work / "state", parent)
        detached = gophernetes_command("run", "-d", "--net", "bridge", "--rootfs", str(rootfs), "sleep", "100000")
        foreground = gophernetes_command("run", "--net", "bridge", "--rootfs", str(rootfs), "/bin/true")
        try:
            with inside_new_netns(MARK):
                try:
                    running = 0
                    measure(foreground, env)  # warm-up: the bridge, page cache, .pyc
                    for count in counts:
                        last = None
                        while running < count:
                            last = measure(detached, env)
                            running += 1
                        runs = [measure(foreground, env) for _ in range(5)]
                        rows.append([count, ms(statistics.median(s.seconds for s in runs)),
                                     ms(statistics.median(s.cpu for s in runs)),
                                     ms(last.seconds) if last else "",
                                     f"{statistics.mean(s.load for s in runs):.2f}"])
                finally:
                    gophernetes_remove_all(env)
        finally:
            unmount_under(work)
            remove_cgroup_tree(parent)
    ours, others = leftovers(before, system_snapshot())
    base = float(rows[0][1])
    for row in rows:
        row.insert(2, f"{float(row[1]) / base:.2f}")
    notes = (f"`run --net bridge /bin/true` (median of 5) with N detached containers on the same network; "
             f"`run -d` = the start that brought the count to N. Load average {load_before[0]:.2f} before, "
             f"{os.getloadavg()[0]:.2f} after. Left behind: {', '.join(ours) if ours else 'nothing'}.")
    body = markdown_table(["containers on the network", "run ms", f"× at {counts[0]}", "CPU ms", "last run -d ms",
                           "load"], rows)
    summary = {f"`run` with {counts[-1]} containers on the network":
               f"{rows[-1][2]}× the {counts[0]}-container time ({float(rows[-1][1]) - base:+.0f} ms)"}
    write_section(args.markdown, "/etc/hosts refresh: `run` on a crowded network", f"{notes}\n\n{body}", summary)
    if ours:
        sys.exit(1)


if __name__ == "__main__":
    main()
