#!/usr/bin/env python3
"""Cold and warm pulls of the same images from a local registry: gophernetes vs skopeo vs ctr.

    python3 bench/pull.py [--runs N]

Starts, under one temporary directory, Debian's docker-registry on 127.0.0.1 and a
containerd of its own (content sharing "isolated", so a new namespace really starts
cold), pushes two images with skopeo, then times each tool N times:

- cold: an empty store each time (a new GOPHERNETES_ROOT, a new skopeo OCI dir, a new
  containerd namespace); the whole image is downloaded, verified and (except skopeo,
  which does not unpack) unpacked;
- warm: the same pull again into the now full store.

Prints medians and each tool's ratio to `ctr image pull` (the target: <= 1.0).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

from common import CONTAINERD_CONFIG  # bench/ is this script's folder, first on sys.path

REPO = Path(__file__).resolve().parents[1]
SOURCES = {  # image -> host directories that become its layers (bottom first)
    "small": ["/bin/busybox"],
    "medium": ["/bin/busybox", "/usr/lib/python3.11", "/usr/share/zoneinfo"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for tool in ("docker-registry", "skopeo", "containerd", "ctr"):
        if not shutil.which(tool):
            sys.exit(f"bench/pull.py needs {tool} (see .ci/packages/images.txt)")
    with tempfile.TemporaryDirectory(prefix="gophernetes-bench-") as tmp:
        work = Path(tmp)
        registry = start_registry(work)
        containerd = start_containerd(work)
        try:
            refs = {name: push(work, registry, name, paths) for name, paths in SOURCES.items()}
            rows = []
            for name, ref in refs.items():
                for tool, cold, warm in measure(work, ref, args.runs):
                    rows.append((name, tool, cold, warm))
            print_table(rows, args.runs)
        finally:
            for process in (containerd, registry[1]):
                process.terminate()
                process.wait(10)


# --- what is measured ---------------------------------------------------------------------

def measure(work: Path, ref: str, runs: int) -> list[tuple[str, list[float], list[float]]]:
    """(tool, cold times, warm times) for each tool. The tools take turns within each run,
    so a busy machine slows them all alike."""
    tools = {}
    python = sys.executable
    tools["gophernetes (python3 of PATH)"] = lambda root, python=python: [
        python, "-m", "gophernetes", "--root", str(root), "pull", "-q", ref]
    debian = "/usr/bin/python3"
    if Path(debian).exists() and os.path.realpath(debian) != os.path.realpath(sys.executable):
        tools["gophernetes (/usr/bin/python3)"] = lambda root: [
            debian, "-m", "gophernetes", "--root", str(root), "pull", "-q", ref]
    tools["skopeo copy (no unpack)"] = lambda directory: [
        "skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"oci:{directory}:bench"]
    socket_path = str(work / "containerd/containerd.sock")
    tools["ctr images pull"] = lambda namespace: [
        "ctr", "--address", socket_path, "--namespace", "bench" + namespace.name.replace("_", "x"),
        "images", "pull", "--plain-http", ref]

    times = {tool: ([], []) for tool in tools}
    for _ in range(runs):
        for tool, command in tools.items():
            target = Path(tempfile.mkdtemp(prefix="t", dir=work))  # an empty store: cold
            times[tool][0].append(timed(command(target)))
            times[tool][1].append(timed(command(target)))    # the same store again: warm
    return [(tool, cold, warm) for tool, (cold, warm) in times.items()]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr}")
    return elapsed


def print_table(rows, runs: int) -> None:
    """Medians (and the best run, which a busy machine disturbs least), and ratios to ctr."""
    ctr = {name: (statistics.median(c), statistics.median(w))
           for name, tool, c, w in rows if tool.startswith("ctr")}
    header = ("image", "tool", "cold ms", "(best)", "warm ms", "(best)", "cold/ctr", "warm/ctr")
    lines = [header]
    for name, tool, cold, warm in rows:
        c, w = statistics.median(cold), statistics.median(warm)
        lines.append((name, tool, f"{c * 1000:.0f}", f"{min(cold) * 1000:.0f}", f"{w * 1000:.0f}",
                      f"{min(warm) * 1000:.0f}", f"{c / ctr[name][0]:.2f}", f"{w / ctr[name][1]:.2f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    load = os.getloadavg()[0]
    print(f"medians of {runs} runs, load average {load:.1f} on {os.cpu_count()} CPUs; sizes: "
          + ", ".join(f"{k}={v}" for k, v in image_sizes.items()))
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


# --- the services and the images ----------------------------------------------------------

image_sizes: dict[str, str] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(work: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    config = work / "registry.yml"
    config.write_text(f"""version: 0.1
log: {{level: error, accesslog: {{disabled: true}}}}
storage: {{filesystem: {{rootdirectory: {work}/registry}}}}
http: {{addr: "127.0.0.1:{port}", secret: bench}}
""")
    process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    wait_for(lambda: urllib.request.build_opener(urllib.request.ProxyHandler({}))
             .open(f"http://127.0.0.1:{port}/v2/", timeout=1).close(), "docker-registry")
    return f"127.0.0.1:{port}", process


def start_containerd(work: Path) -> subprocess.Popen:
    state = work / "containerd"
    state.mkdir()
    config = state / "config.toml"
    config.write_text(CONTAINERD_CONFIG.format(state=state) +
                      '[plugins."io.containerd.metadata.v1.bolt"]\n  content_sharing_policy = "isolated"\n')
    log = open(state / "containerd.log", "w")
    process = subprocess.Popen(["containerd", "--config", str(config)], stdout=log, stderr=log)
    wait_for(lambda: subprocess.run(["ctr", "--address", f"{state}/containerd.sock", "version"],
                                    check=True, capture_output=True), "containerd")
    return process


def wait_for(probe, what: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            probe()
            return
        except Exception:  # noqa: BLE001 - any failure means "not up yet"
            if time.monotonic() > deadline:
                sys.exit(f"{what} did not start")
            time.sleep(0.05)


def push(work: Path, registry: tuple[str, subprocess.Popen], name: str, paths: list[str]) -> str:
    """Write an OCI layout with one gzipped layer per host path, push it with skopeo."""
    layout = work / f"layout-{name}"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def blob(data: bytes, media_type: str) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    layers, diff_ids, total = [], [], 0
    for path in paths:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(path, arcname=path.lstrip("/"))
        raw = buffer.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        layers.append(blob(gzip.compress(raw, compresslevel=6, mtime=0),
                           "application/vnd.oci.image.layer.v1.tar+gzip"))
        total += layers[-1]["size"]
    config = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                              "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode(),
                  "application/vnd.oci.image.config.v1+json")
    manifest = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "config": config, "layers": layers}).encode(),
                    "application/vnd.oci.image.manifest.v1+json")
    manifest["annotations"] = {"org.opencontainers.image.ref.name": "bench"}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest]}))
    ref = f"{registry[0]}/bench/{name}:1"
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:bench", f"docker://{ref}"],
                   check=True)
    image_sizes[name] = f"{len(paths)} layer(s) {total / 1e6:.1f}MB gz"
    return ref


if __name__ == "__main__":
    main()
