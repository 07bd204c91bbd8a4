#!/usr/bin/env python3
"""Peak memory and throughput of pulling one big layer: `gophernetes pull` vs `ctr images pull`.

The image has one gzipped layer holding a single file of --mib MiB (default 1024; half of
each 128 KiB block random, half zeros, so it compresses about 2:1 as real layers do). A tiny
read-only registry (the GET/HEAD side of the distribution API, enough for a pull) serves it
from a temporary folder on 127.0.0.1. Each tool pulls it into an empty store (a new
GOPHERNETES_ROOT; a new namespace of a containerd started for the bench, with isolated
content) and unpacks it:

  peak RSS    the largest resident set of the tool's process tree (GNU time); for ctr also the
              containerd daemon's VmHWM (containerd writes and unpacks what ctr fetches)
  MiB/s       uncompressed MiB of the layer per second of wall time

Run as root:  python3 bench/pull_rss.py [--mib 1024] [--runs 1] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    MARK,
    Sample,
    containerd_running,
    gophernetes_command,
    gophernetes_env,
    interruptible,
    leftovers,
    markdown_table,
    measure,
    remove_cgroup_tree,
    system_snapshot,
    unmount_under,
    write_section,
)

BLOCK = 128 * 1024


class Blocks:
    """A file-like source of `size` bytes: one block (half random, half zeros) over and over."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = os.urandom(BLOCK // 2) + bytes(BLOCK // 2)

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return (self.block * (n // BLOCK + 1))[:n]


class Hashing:
    """A write-only file that hashes what passes through it on the way to `out`."""

    def __init__(self, out) -> None:
        self.out, self.hash, self.size = out, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.out.write(data) if self.out else len(data)


def make_image(folder: Path, mib: int) -> dict[str, Path]:
    """Blobs of a one-layer image in `folder`; returns {"manifest": path, "sha256:...": path}."""
    layer_path = folder / "layer.tar.gz"
    with open(layer_path, "wb") as raw:
        compressed = Hashing(raw)
        with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=1, mtime=0) as gz:
            uncompressed = Hashing(gz)
            with tarfile.open(fileobj=uncompressed, mode="w|") as tar:
                info = tarfile.TarInfo("big.bin")
                info.size = mib * 1024 * 1024
                tar.addfile(info, Blocks(info.size))
    layer_digest = "sha256:" + compressed.hash.hexdigest()
    config = json.dumps({"architecture": "amd64" if os.uname().machine == "x86_64" else "arm64", "os": "linux",
                         "config": {"Cmd": ["/big.bin"]}, "rootfs": {"type": "layers", "diff_ids": [
                             "sha256:" + uncompressed.hash.hexdigest()]}}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    (folder / "config.json").write_bytes(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": config_digest, "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": layer_digest, "size": compressed.size}]}).encode()
    (folder / "manifest.json").write_bytes(manifest)
    return {"manifest": folder / "manifest.json", layer_digest: layer_path, config_digest: folder / "config.json"}


def serve(folder: Path, port_file: Path) -> None:
    """The registry: GET/HEAD /v2/, /v2/NAME/manifests/TAG, /v2/NAME/blobs/DIGEST (sendfile)."""
    manifest = (folder / "manifest.json").read_bytes()
    blobs = json.loads((folder / "blobs.json").read_text())

    class Registry(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def reply(self, body_path: str | None, data: bytes = b"", kind: str = "application/octet-stream",
                  digest: str = "") -> None:
            size = os.path.getsize(body_path) if body_path else len(data)
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(size))
            if digest:
                self.send_header("Docker-Content-Digest", digest)
            self.end_headers()
            if self.command == "HEAD":
                return
            if body_path is None:
                self.wfile.write(data)
                return
            self.wfile.flush()
            with open(body_path, "rb") as blob:
                offset = 0
                while offset < size:
                    offset += os.sendfile(self.connection.fileno(), blob.fileno(), offset, size - offset)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts == ["v2"]:
                self.reply(None, b"{}", "application/json")
            elif len(parts) >= 4 and parts[-2] == "manifests":
                self.reply(None, manifest, "application/vnd.oci.image.manifest.v1+json",
                           "sha256:" + hashlib.sha256(manifest).hexdigest())
            elif len(parts) >= 4 and parts[-2] == "blobs" and parts[-1] in blobs:
                self.reply(blobs[parts[-1]], digest=parts[-1])
            else:
                self.send_error(404)

        do_HEAD = do_GET  # noqa: N815

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--markdown", help="also append the result section to this file")
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), Path(args.serve[1]))
        return
    if os.geteuid() != 0:
        sys.exit("run as root: unpacking layers needs it")
    interruptible()
    parent = f"{MARK}-pull"
    before, load_before = system_snapshot(), os.getloadavg()
    samples: dict[str, list[Sample]] = {}
    daemon_peak = 0
    with tempfile.TemporaryDirectory(prefix=f"{MARK}-pull-") as tmp:
        work = Path(tmp)
        image = work / "image"
        image.mkdir()
        blobs = make_image(image, args.mib)
        (image / "blobs.json").write_text(json.dumps({k: str(v) for k, v in blobs.items() if k != "manifest"}))
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(image), str(work / "port")])
        try:
            while not (work / "port").exists() or not (work / "port").read_text():
                if server.poll() is not None:
                    sys.exit("the bench registry did not start")
                subprocess.run(["sleep", "0.05"])
            ref = f"127.0.0.1:{(work / 'port').read_text()}/bench/big:latest"
            isolated = '[plugins."io.containerd.metadata.v1.bolt"]\n  content_sharing_policy = "isolated"\n'
            with containerd_running(work / "containerd", None, extra_config=isolated) as containerd:
                tools = {"gophernetes pull": lambda run: (gophernetes_command("pull", "-q", ref),
                                                          gophernetes_env(work / f"state-{run}", parent))}
                if containerd:
                    address = containerd.ctr[:-1]  # without the namespace
                    tools["ctr images pull"] = lambda run: ([*address, f"{MARK}-{run}", "images", "pull",
                                                             "--plain-http", ref], None)
                samples = {name: [] for name in tools}
                for run in range(args.runs):
                    for name in random.sample(list(tools), len(tools)):
                        argv, env = tools[name](run)
                        samples[name].append(measure(argv, env))
                        shutil.rmtree(work / f"state-{run}", ignore_errors=True)
                if containerd:
                    daemon_peak = vm_hwm_kib(containerd.pid)
        finally:
            server.terminate()
            server.wait()
            unmount_under(work)
            remove_cgroup_tree(parent)
    ours, others = leftovers(before, system_snapshot())
    rows = []
    for name, runs in samples.items():
        seconds = statistics.median(s.seconds for s in runs)
        extra = f" (+ containerd {daemon_peak / 1024:.0f} MiB)" if name.startswith("ctr") and daemon_peak else ""
        rows.append([name, f"{seconds:.2f}", f"{args.mib / seconds:.0f}",
                     f"{max(s.peak_kib for s in runs) / 1024:.0f}{extra}",
                     f"{statistics.median(s.cpu for s in runs):.2f}",
                     f"{statistics.mean(s.load for s in runs):.2f}"])
    notes = (f"One gzipped layer of {args.mib} MiB uncompressed from a registry on 127.0.0.1, into an empty store, "
             f"{args.runs} run(s) each. Load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after. "
             f"Left behind: {', '.join(ours) if ours else 'nothing'}.")
    body = markdown_table(["tool", "s", "MiB/s", "peak RSS MiB", "CPU s", "load"], rows)
    figures = {row[0]: row for row in rows}
    mine = figures.get("gophernetes pull")
    ctr = f" (ctr {figures['ctr images pull'][2]} MiB/s)" if "ctr images pull" in figures else ""
    summary = {f"pull peak RSS ({args.mib} MiB layer)": f"{mine[3]} MiB, {mine[2]} MiB/s{ctr}"} if mine else {}
    write_section(args.markdown, f"Pull: one {args.mib} MiB layer", f"{notes}\n\n{body}", summary)
    if ours:
        sys.exit(1)


if __name__ == "__main__":
    main()
