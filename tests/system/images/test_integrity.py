"""Content that is not what its digest says is refused; a pull cut short leaves no image."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.system.images import oci
from tests.system.images.conftest import gophernetes, store_files


def push_unique(registry, tmp_path, name: str, size: int = 256 * 1024) -> tuple[str, dict]:
    """Push a one-layer image whose layer no other test shares; returns (ref, layer descriptor)."""
    layout = oci.Layout(tmp_path / "layout")
    manifest = layout.image([[oci.file("random", os.urandom(size))]])
    layout.tag(manifest, "1")
    ref = registry.push(tmp_path / "layout", "1", name)
    body = (tmp_path / "layout" / "blobs" / "sha256" / manifest["digest"][7:]).read_bytes()
    return ref, json.loads(body)["layers"][0]


def test_a_tampered_blob_is_refused_and_nothing_is_stored(root, registry, tmp_path):
    ref, layer = push_unique(registry, tmp_path, "lab/tampered")
    data = registry.blob_file(layer["digest"])
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0xFF
    data.write_bytes(bytes(content))

    result = gophernetes(root, "pull", ref)
    assert result.returncode == 125
    assert f"blob {layer['digest']} is corrupt: its content hashes to sha256:" in result.stderr
    assert gophernetes(root, "images").stdout.splitlines()[1:] == []
    assert store_files(root)["layers"] == [] and store_files(root)["tmp"] == []


def test_a_connection_dropped_mid_blob_is_retried_then_fails_cleanly(root, registry, proxy, tmp_path):
    ref, layer = push_unique(registry, tmp_path, "lab/dropped")
    proxy.mode = "drop"
    result = gophernetes(root, "pull", ref.replace(registry.address, proxy.address))
    assert result.returncode == 125
    assert f"download of {layer['digest']} failed after 4 attempts" in result.stderr
    assert "connection dropped after" in result.stderr
    assert proxy.blob_requests.count(f"/v2/lab/dropped/blobs/{layer['digest']}") == 4
    assert gophernetes(root, "images").stdout.splitlines()[1:] == []
    assert store_files(root) == {"blobs": [], "layers": [], "tmp": []}


def test_a_connection_dropped_once_is_retried_and_the_pull_succeeds(root, registry, proxy, tmp_path):
    ref, layer = push_unique(registry, tmp_path, "lab/flaky")
    proxy.mode = "drop-once"
    result = gophernetes(root, "pull", ref.replace(registry.address, proxy.address))
    assert result.returncode == 0, result.stderr
    assert proxy.blob_requests.count(f"/v2/lab/flaky/blobs/{layer['digest']}") == 2
    assert len(store_files(root)["layers"]) == 1 and store_files(root)["tmp"] == []


def test_a_pull_killed_midway_leaves_no_image_and_the_next_pull_cleans_up(root, registry, proxy, tmp_path):
    ref, layer = push_unique(registry, tmp_path, "lab/killed", size=4 << 20)
    proxy.mode = "stall"
    environment = {"GOPHERNETES_ROOT": str(root), "PATH": "/usr/bin:/bin"}
    puller = subprocess.Popen([sys.executable, "-m", "gophernetes", "pull", ref.replace(registry.address,
                               proxy.address)], env=environment, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        assert proxy.half_sent.wait(30), "the pull never reached the layer"
        deadline = time.monotonic() + 10
        while not any(p.stat().st_size for p in (root / "lib/images/tmp").rglob("blob-*")):
            assert time.monotonic() < deadline, "no partial download appeared in tmp/"
            time.sleep(0.02)
    finally:
        puller.send_signal(signal.SIGKILL)
        puller.wait(10)
    assert store_files(root)["tmp"] != []  # killed: a partial download is left over ...
    assert gophernetes(root, "images").stdout.splitlines()[1:] == []  # ... but no image

    assert gophernetes(root, "pull", ref).returncode == 0
    assert store_files(root)["tmp"] == []
    assert len(store_files(root)["layers"]) == 1
