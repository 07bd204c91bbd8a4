#!/usr/bin/env python3
"""How fast does `gophernetes exec` run a command in a running container, next to `runc exec`?

One detached `sleep` container each (gophernetes `run -d --net none`, `runc run -d` on the
same busybox root filesystem), then shuffled rounds of `exec ID /bin/true`; the ratio is the
median of the per-round ratios to runc, with min and max.

Run as root:  python3 bench/exec.py [--rounds 20] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
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
    gophernetes_remove_all,
    interruptible,
    leftovers,
    markdown_table,
    measure,
    ms,
    paired_ratios,
    remove_cgroup_tree,
    shuffled_rounds,
    system_snapshot,
    unmount_under,
    write_section,
)


def runc_bundle(folder: Path, rootfs: Path, cgroup: str) -> Path:
    """An OCI bundle (`runc spec`) whose process sleeps, no terminal, in `cgroup`."""
    folder.mkdir(parents=True)
    subprocess.run(["runc", "spec", "--bundle", str(folder)], check=True)
    config = json.loads((folder / "config.json").read_text())
    config["process"].update(terminal=False, args=["sleep", "100000"])
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["linux"]["cgroupsPath"] = cgroup
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--markdown", help="also append the result section to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: containers need it")
    interruptible()
    seed = args.seed if args.seed is not None else random.randrange(1 << 16)
    parent = f"{MARK}-exec"
    before, load_before = system_snapshot(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix=f"{MARK}-exec-") as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        build_busybox_rootfs(rootfs)
        env = gophernetes_env(work / "state", parent)
        runc = ["runc", "--root", str(work / "runc-state")]
        runc_id = f"{MARK}-exec"
        try:
            container = subprocess.run(
                gophernetes_command("run", "-d", "--net", "none", "--rootfs", str(rootfs), "sleep", "100000"),
                env=env, capture_output=True, text=True, check=True).stdout.strip()
            subprocess.run([*runc, "run", "-d", "-b", str(runc_bundle(work / "bundle", rootfs, f"/{parent}/runc")),
                            runc_id], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            commands = {"runc exec": [*runc, "exec", runc_id, "/bin/true"],
                        "gophernetes exec": gophernetes_command("exec", container, "/bin/true")}
            rng = random.Random(seed)
            for name in commands:  # warm-up
                measure(commands[name], env)
            samples: dict[str, list[Sample]] = {name: [] for name in commands}
            for order in shuffled_rounds(list(commands), args.rounds, rng):
                for name in order:
                    samples[name].append(measure(commands[name], env))
        finally:
            gophernetes_remove_all(env)
            subprocess.run([*runc, "delete", "-f", runc_id], capture_output=True)
            unmount_under(work)
            remove_cgroup_tree(parent)
    ours, others = leftovers(before, system_snapshot())
    ratios = paired_ratios({name: [s.seconds for s in runs] for name, runs in samples.items()}, "runc exec")
    rows = [[name, ms(statistics.median(s.seconds for s in runs)), f"{ratios[name].median:.2f}",
             f"{ratios[name].low:.2f}–{ratios[name].high:.2f}", ms(statistics.median(s.cpu for s in runs)),
             f"{statistics.mean(s.load for s in runs):.2f}"] for name, runs in samples.items()]
    notes = (f"`exec ID /bin/true` into a running `sleep`, {args.rounds} shuffled rounds (seed {seed}). Load "
             f"average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after. "
             f"Left behind: {', '.join(ours) if ours else 'nothing'}.")
    body = markdown_table(["tool", "median ms", "× runc exec", "min–max", "CPU ms", "load"], rows)
    write_section(args.markdown, "exec", f"{notes}\n\n{body}",
                  {"exec": f"{ratios['gophernetes exec'].median:.2f}× runc exec"})
    if ours:
        sys.exit(1)


if __name__ == "__main__":
    main()
