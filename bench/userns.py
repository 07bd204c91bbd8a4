"""--userns auto: idmapped layers against a chowned copy of them, in time and disk.

    sudo python3 bench/userns.py [ROOTFS.tar ...]

For the busybox root filesystem and each root filesystem tar given (default: the CI's
Debian bookworm base, when present), prints the cost of making the layer appear owned
by the container's root both ways (what runtime/userns_root.py chooses between), then
`run --rootfs DIR /bin/true` end to end with --userns host, auto (idmapped) and auto (copy).
Everything lives under a temporary folder; the host's /etc/subuid is not read.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import build_busybox_rootfs  # noqa: E402

from gophernetes.linux import userns  # noqa: E402
from gophernetes.runtime.userns_root import copy_shifted  # noqa: E402

DEFAULT_TARS = [p for p in Path("/var/tmp/gophernetes-ci").glob("gophernetes-base-bookworm-*.tar")][:1]
BASE = 2_100_000_000
RUNS = 11


def disk_usage(path: Path) -> int:
    """Bytes of disk (allocated blocks) under `path`, hard links counted once, as du does."""
    seen, total = set(), 0
    for directory, _, files in os.walk(path):
        for name in [".", *files]:
            info = os.lstat(os.path.join(directory, name))
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def median_ms(action, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def idmapped(layer: Path, userns_fd: int) -> None:
    os.close(userns.idmapped_copy(layer, userns_fd))


def copy_time_ms(layer: Path, work: Path, runs: int) -> float:
    """Median time of the copy alone (its removal is not timed)."""
    times = []
    for _ in range(runs):
        target = work / "copy"
        start = time.perf_counter()
        copy_shifted(layer, target, BASE, BASE)
        times.append((time.perf_counter() - start) * 1000)
        shutil.rmtree(target)
    return statistics.median(times)


def end_to_end(rootfs: Path, work: Path, mode: str, layers: str = "idmap") -> float:
    env = dict(os.environ, GOPHERNETES_ROOT=str(work / "state"), PYTHONPATH=str(REPO),
               GOPHERNETES_SUBUID=str(work / "subid"), GOPHERNETES_SUBGID=str(work / "subid"),
               GOPHERNETES_USERNS_LAYERS=layers)
    command = [sys.executable, "-m", "gophernetes", "run", "--net", "none", "--userns", mode, "--rootfs",
               str(rootfs), "/bin/true"]
    subprocess.run(command, env=env, check=True)  # warm up
    return median_ms(lambda: subprocess.run(command, env=env, check=True), runs=RUNS)


def main() -> None:
    tars = [Path(a) for a in sys.argv[1:]] or DEFAULT_TARS
    with tempfile.TemporaryDirectory(prefix="gophernetes-bench-userns-") as temporary:
        work = Path(temporary)
        work.chmod(0o711)
        (work / "subid").write_text(f"containers:{BASE}:{16 * 65536}\n")
        layers = {"busybox": work / "busybox"}
        layers["busybox"].mkdir()
        build_busybox_rootfs(layers["busybox"])
        for tar in tars:
            target = work / tar.stem
            target.mkdir()
            subprocess.run(["tar", "-C", str(target), "--numeric-owner", "--xattrs", "-xf", str(tar)], check=True)
            layers[tar.stem[:30]] = target
        userns_fd = userns.new_user_namespace(BASE, BASE, 65536)
        print(f"new user namespace (fork a helper, write its maps): {median_ms(lambda: os.close(userns.new_user_namespace(BASE, BASE, 65536))):.2f} ms")  # noqa: E501
        print("| layer | files | size | idmapped: time, disk | chowned copy: time, disk |")
        print("|---|---|---|---|---|")
        for name, layer in layers.items():
            files = sum(len(f) + len(d) for _, d, f in os.walk(layer))
            size = disk_usage(layer)
            mapped = median_ms(lambda layer=layer: idmapped(layer, userns_fd))
            copy_runs = 3 if size > 20e6 else RUNS
            copy_time = copy_time_ms(layer, work, copy_runs)
            copy_shifted(layer, work / "measure", BASE, BASE)
            copy_disk = disk_usage(work / "measure")
            shutil.rmtree(work / "measure")
            print(f"| {name} | {files} | {size / 1e6:.1f} MB | {mapped:.3f} ms, 0 B | "
                  f"{copy_time:.0f} ms, {copy_disk / 1e6:.1f} MB |")
        os.close(userns_fd)
        print("\n`run --net none --rootfs DIR /bin/true`, median of", RUNS)
        print("| layer | --userns host | auto (idmapped) | auto (chowned copy) |")
        print("|---|---|---|---|")
        for name, layer in layers.items():
            host = end_to_end(layer, work, "host")
            auto = end_to_end(layer, work, "auto")
            copy = end_to_end(layer, work, "auto", "copy") if disk_usage(layer) < 200e6 else float("nan")
            print(f"| {name} | {host:.0f} ms | {auto:.0f} ms | {copy:.0f} ms |")


if __name__ == "__main__":
    main()
