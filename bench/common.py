"""What the benchmarks share: a busybox root filesystem, an OCI archive of it, a containerd."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path


def build_busybox_rootfs(root: Path) -> None:
    """The default image's files (the host's static busybox, /etc/passwd, ...) as a directory."""
    from gophernetes.image.busybox import make_rootfs

    make_rootfs(root)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_archive_from_rootfs(rootfs: Path, work: Path, name: str = "docker.io/bench/busybox:latest") -> Path:
    """A one-layer oci-archive of `rootfs`, for `ctr images import`."""
    layer_buffer = io.BytesIO()
    with tarfile.open(fileobj=layer_buffer, mode="w") as layer:
        for path in sorted(rootfs.rglob("*")):
            layer.add(path, arcname=str(path.relative_to(rootfs)), recursive=False)
    layer_bytes = layer_buffer.getvalue()
    config = json.dumps({"architecture": "amd64" if os.uname().machine == "x86_64" else "arm64", "os": "linux",
                         "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [_digest(layer_bytes)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _digest(layer_bytes),
                    "size": len(layer_bytes)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _digest(manifest),
        "size": len(manifest), "annotations": {"io.containerd.image.name": name,
                                               "org.opencontainers.image.ref.name": "latest"}}]}).encode()
    archive = work / "busybox-oci.tar"
    with tarfile.open(archive, "w") as tar:
        for member, data in [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'), ("index.json", index),
                             *[(f"blobs/sha256/{_digest(d)[7:]}", d) for d in (layer_bytes, config, manifest)]]:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


CONTAINERD_CONFIG = """version = 2
root = "{state}/root"
state = "{state}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{state}/containerd.sock"
[ttrpc]
  address = "{state}/containerd.sock.ttrpc"
"""


@dataclass
class Containerd:
    ctr: list[str]      # the ctr command with address and namespace
    image: str


@contextlib.contextmanager
def containerd_running(state: Path, archive: Path, name: str = "docker.io/bench/busybox:latest"):
    """A containerd of our own (config, state and socket under `state`), with `archive` imported.

    Yields None when containerd is not installed. Stopped and its mounts removed afterwards.
    """
    if not shutil.which("containerd"):
        yield None
        return
    state.mkdir(parents=True)
    config = state / "config.toml"
    config.write_text(CONTAINERD_CONFIG.format(state=state))
    log = open(state / "containerd.log", "w")
    daemon = subprocess.Popen(["containerd", "--config", str(config)], stdout=log, stderr=log)
    ctr = ["ctr", "--address", str(state / "containerd.sock"), "--namespace", "bench"]
    try:
        for _ in range(100):
            if subprocess.run([*ctr, "version"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run([*ctr, "images", "import", str(archive)], check=True, capture_output=True)
        yield Containerd(ctr, name)
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
        log.close()
        with open("/proc/self/mountinfo") as mounts:
            for line in reversed(mounts.read().splitlines()):
                if str(state) in line.split()[4]:
                    subprocess.run(["umount", "-l", line.split()[4]], check=False)
