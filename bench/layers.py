#!/usr/bin/env python3
"""How many layers can an image have before `run` cannot mount it?

Generates oci-archives whose first layer is the busybox root filesystem and whose other
layers each add one small file, for every count in --layers (default 50, 100, 130); each is
pulled with `gophernetes pull local` and run (`run --net none IMAGE /bin/true`). The table
says which start, with the first line of the error of those that do not; a bisection then
finds the most layers that still start (docker manages ~125; the target is >= 128).

Under a temporary state root and cgroup parent of the bench's own.
Run as root:  python3 bench/layers.py [--layers 50,100,130] [--no-bisect] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    MARK,
    build_busybox_rootfs,
    gophernetes_command,
    gophernetes_env,
    interruptible,
    leftovers,
    markdown_table,
    measure,
    ms,
    oci_archive,
    remove_cgroup_tree,
    system_snapshot,
    tar_of,
    tar_with_file,
    unmount_under,
    write_section,
)


def try_layers(count: int, base: bytes, work: Path, env: dict) -> tuple[bool, str, str]:
    """Pull and run an image of `count` layers: (started, run time or "", error line or "")."""
    name = f"localhost/{MARK}-layers:{count}"
    archive = oci_archive([base, *[tar_with_file(f"layer-{i}", str(i).encode()) for i in range(1, count)]],
                          work / f"layers-{count}.tar", name)
    try:
        pulled = subprocess.run(gophernetes_command("pull", "local", str(archive), "--name", name), env=env,
                                capture_output=True, text=True)
        if pulled.returncode != 0:
            return False, "", "pull: " + (pulled.stderr.strip().splitlines() or ["?"])[-1]
        try:
            sample = measure(gophernetes_command("run", "--net", "none", name, "/bin/true"), env)
            return True, ms(sample.seconds), ""
        except RuntimeError as error:
            message = str(error).split(": ", 1)[-1].splitlines()[-1].replace(str(work), "$TMP")
            return False, "", message if len(message) < 100 else f"{message[:60]} … {message[-35:]}"
    finally:
        archive.unlink()
        subprocess.run(gophernetes_command("rmi", name), env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="50,100,130")
    parser.add_argument("--no-bisect", action="store_true")
    parser.add_argument("--markdown", help="also append the result section to this file")
    args = parser.parse_args()
    counts = sorted(int(count) for count in args.layers.split(","))
    if os.geteuid() != 0:
        sys.exit("run as root: containers need it")
    interruptible()
    parent = f"{MARK}-layers"
    before, load_before = system_snapshot(), os.getloadavg()
    rows, most, figure = [], "", "?"
    with tempfile.TemporaryDirectory(prefix=f"{MARK}-layers-") as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        build_busybox_rootfs(rootfs)
        base = tar_of(rootfs)
        env = gophernetes_env(work / "state", parent)
        try:
            results = {count: try_layers(count, base, work, env) for count in counts}
            rows = [[count, "yes" if ok else "no", took, error] for count, (ok, took, error) in results.items()]
            good = [count for count, (ok, _, _) in results.items() if ok]
            bad = [count for count, (ok, _, _) in results.items() if not ok]
            if not args.no_bisect and bad:
                low, high = (max(good) if good else 1), min(bad)  # low starts, high does not
                while high - low > 1:
                    middle = (low + high) // 2
                    if try_layers(middle, base, work, env)[0]:
                        low = middle
                    else:
                        high = middle
                most, figure = f" The most layers that start: **{low}**.", str(low)
            elif good and bad:
                figure = f"≥ {max(good)}, < {min(bad)}"
            elif good:
                most, figure = f" Every count tried starts (up to {max(good)}).", f"≥ {max(good)}"
        finally:
            unmount_under(work)
            remove_cgroup_tree(parent)
    ours, others = leftovers(before, system_snapshot())
    notes = (f"Images of busybox + N-1 one-file layers, `pull local` then `run --net none IMAGE /bin/true`, "
             f"state root $TMP/state ({len(str(work / 'state'))} characters: the overlay option string grows "
             f"with it).{most} "
             f"Load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after. "
             f"Left behind: {', '.join(ours) if ours else 'nothing'}.")
    write_section(args.markdown, "Layers per image",
                  f"{notes}\n\n{markdown_table(['layers', 'starts', 'run ms', 'error'], rows)}",
                  {"layers per image": figure})
    if ours:
        sys.exit(1)


if __name__ == "__main__":
    main()
