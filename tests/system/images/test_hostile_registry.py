"""Registries that lie, stall or never stop: every pull ends with one line and exit 125, leaves
nothing in images/tmp after the next command, and the store stays usable."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.system.images import oci
from tests.system.images.conftest import gophernetes, store_files

FAST = {"GOPHERNETES_REGISTRY_TIMEOUT": "2"}


def small_layer(text: str) -> tuple[bytes, str]:
    tar = oci.tar_bytes([oci.file("hello", text), oci.file("noise", os.urandom(64 << 10))])
    return gzip.compress(tar, mtime=0), oci.sha256(tar)


def refused(root, ref: str, **env: str) -> str:
    """Pull `ref`; it must fail with exit 125 and exactly one line on stderr, which is returned."""
    result = gophernetes(root, "pull", "-q", ref, env={**FAST, **env}, timeout=60)
    assert result.returncode == 125, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gophernetes: "), result.stderr
    return lines[0]


def assert_store_usable(root, tiny_registry) -> None:
    """The next command leaves images/tmp empty, and a good image still pulls."""
    assert gophernetes(root, "image", "prune").returncode == 0
    assert store_files(root)["tmp"] == []
    blob, diff_id = small_layer("good")
    ref, _ = tiny_registry.image("lab/good", "1", [blob], [diff_id])
    pulled = gophernetes(root, "pull", "-q", ref)
    assert pulled.returncode == 0, pulled.stderr
    assert store_files(root)["tmp"] == [] and len(store_files(root)["layers"]) == 1


def test_a_blob_longer_than_its_descriptor_is_refused_before_reading(root, tiny_registry):
    blob, diff_id = small_layer("x")
    ref, manifest = tiny_registry.image("lab/oversize", "1", [blob], [diff_id])
    digest = manifest["layers"][0]["digest"]
    tiny_registry.routes[f"/v2/lab/oversize/blobs/{digest}"] = tiny_registry.serve(blob + bytes(1 << 20))

    error = refused(root, ref)

    assert error == (f"gophernetes: blob {digest}: the registry {tiny_registry.address} announces "
                     f"{len(blob) + (1 << 20)} bytes, the manifest says {len(blob)}; refusing it")
    assert_store_usable(root, tiny_registry)


def test_an_endless_blob_is_cut_at_its_descriptors_size(root, tiny_registry):
    blob, diff_id = small_layer("x")
    ref, manifest = tiny_registry.image("lab/endless", "1", [blob], [diff_id])
    digest = manifest["layers"][0]["digest"]
    tiny_registry.routes[f"/v2/lab/endless/blobs/{digest}"] = tiny_registry.endless()

    error = refused(root, ref)

    assert error == (f"gophernetes: blob {digest}: the registry {tiny_registry.address} sends more than the "
                     f"{len(blob)} bytes the manifest says; refusing it")
    assert_store_usable(root, tiny_registry)


def test_a_blob_announced_larger_than_the_free_disk_is_not_fetched(root, tiny_registry):
    blob, diff_id = small_layer("x")
    root.mkdir(parents=True)
    huge = shutil.disk_usage(root).free + (1 << 40)  # "1 TiB", and always more than fits
    ref, manifest = tiny_registry.image("lab/huge", "1", [blob], [diff_id], sizes={0: huge})
    digest = manifest["layers"][0]["digest"]
    tiny_registry.routes[f"/v2/lab/huge/blobs/{digest}"] = tiny_registry.endless(length_header=huge)

    error = refused(root, ref)

    assert error.startswith(f"gophernetes: blob {digest}: the manifest from {tiny_registry.address} announces ")
    assert "free; refusing it" in error
    assert f"/v2/lab/huge/blobs/{digest}" not in tiny_registry.requests
    assert_store_usable(root, tiny_registry)


@pytest.mark.parametrize("interval, why", [(5, "sent nothing for 2 s while sending the manifest"),
                                            (0.25, "did not send the manifest within 2 s (it trickles)")])
def test_a_manifest_sent_a_byte_at_a_time_times_out_naming_the_registry(root, tiny_registry, interval, why):
    blob, diff_id = small_layer("x")
    ref, manifest = tiny_registry.image("lab/slow", "1", [blob], [diff_id])
    body = json.dumps(manifest).encode()
    tiny_registry.routes["/v2/lab/slow/manifests/1"] = tiny_registry.drip(body, interval)

    started = time.monotonic()
    error = refused(root, ref)

    assert error == f"gophernetes: {ref}: the registry {tiny_registry.address} {why}; giving up"
    assert time.monotonic() - started < 30
    assert_store_usable(root, tiny_registry)


def test_a_pull_that_takes_too_long_in_total_is_stopped(root, tiny_registry):
    blob, diff_id = small_layer("x")
    ref, manifest = tiny_registry.image("lab/drip", "1", [blob], [diff_id])
    digest = manifest["layers"][0]["digest"]
    tiny_registry.routes[f"/v2/lab/drip/blobs/{digest}"] = tiny_registry.drip(blob, 0.01)

    error = refused(root, ref, GOPHERNETES_PULL_TIMEOUT="2")

    assert error == (f"gophernetes: blob {digest}: the pull from {tiny_registry.address} took longer than 2 s "
                     "(GOPHERNETES_PULL_TIMEOUT); giving up")
    assert_store_usable(root, tiny_registry)


def test_a_token_of_the_wrong_type_is_one_line_naming_the_registry(root, tiny_registry):
    blob, diff_id = small_layer("x")
    ref, _ = tiny_registry.image("lab/token", "1", [blob], [diff_id])
    realm = f"http://{tiny_registry.address}/token"
    tiny_registry.routes["/v2/lab/token/manifests/1"] = tiny_registry.bearer(realm)
    tiny_registry.routes["/token"] = tiny_registry.serve(b'{"token": 12}', "application/json")

    error = refused(root, ref)

    assert error == (f"gophernetes: {ref}: the token server {realm} (for {tiny_registry.address}) sent a token "
                     "that is a number, not a string; refusing it")
    assert_store_usable(root, tiny_registry)


@pytest.mark.parametrize("change, why", [
    (lambda m: m.update(layers="abc"), "the manifest: 'layers' is a string, not an array; refusing it"),
    (lambda m: m["layers"][0].update(size="12"), "the manifest's layer 1: 'size' is a string, not a number"),
    (lambda m: m["config"].pop("digest"), "the manifest's config has no 'digest'; refusing it"),
    (lambda m: m["layers"].append(7), "the manifest's layer 2 is a number, not an object; refusing it"),
])
def test_a_manifest_field_of_the_wrong_type_is_one_clear_line(root, tiny_registry, change, why):
    blob, diff_id = small_layer("x")
    _, manifest = tiny_registry.image("lab/typed", "1", [blob], [diff_id])
    change(manifest)
    tiny_registry.serve_manifest("lab/typed", "1", json.dumps(manifest).encode())

    error = refused(root, f"{tiny_registry.address}/lab/typed:1")

    assert why in error
    assert_store_usable(root, tiny_registry)


def test_a_config_field_of_the_wrong_type_is_one_clear_line(root, tiny_registry):
    blob, diff_id = small_layer("x")
    config = oci.config_for([diff_id])
    config["config"]["Env"] = {"PATH": "/bin"}
    ref, _ = tiny_registry.image("lab/badconfig", "1", [blob], [diff_id], config=config)

    error = refused(root, ref)

    assert error == f"gophernetes: {ref}: the image config's config: 'Env' is an object, not an array; refusing it"
    assert_store_usable(root, tiny_registry)


@pytest.mark.parametrize("field, value", [("WorkingDir", "/srv/../../../etc"), ("Volumes", {"/data/../..": {}})])
def test_config_paths_that_climb_are_refused_before_any_layer_is_fetched(root, tiny_registry, field, value):
    blob, diff_id = small_layer("x")
    config = oci.config_for([diff_id])
    config["config"][field] = value
    ref, manifest = tiny_registry.image("lab/climb", "1", [blob], [diff_id], config=config)

    error = refused(root, ref)

    shown = value if isinstance(value, str) else next(iter(value))
    assert error == (f"gophernetes: {ref}: the image config's {field} {shown!r} climbs with '..'; "
                     "refusing the image")
    assert f"/v2/lab/climb/blobs/{manifest['layers'][0]['digest']}" not in tiny_registry.requests
    assert_store_usable(root, tiny_registry)


def test_a_pull_killed_mid_blob_leaves_tmp_that_image_prune_clears(root, tiny_registry):
    blob, diff_id = small_layer("x")
    ref, manifest = tiny_registry.image("lab/killed", "1", [blob], [diff_id])
    digest = manifest["layers"][0]["digest"]
    tiny_registry.routes[f"/v2/lab/killed/blobs/{digest}"] = tiny_registry.stall(blob)
    environment = {**os.environ, "GOPHERNETES_ROOT": str(root)}
    puller = subprocess.Popen([sys.executable, "-m", "gophernetes", "pull", "-q", ref], env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size for p in (root / "lib/images/tmp").rglob("blob-*")):
            assert time.monotonic() < deadline, "no partial download appeared in tmp/"
            time.sleep(0.02)
    finally:
        puller.send_signal(signal.SIGKILL)
        puller.wait(10)
    assert store_files(root)["tmp"] != []  # killed: its partial download is left over ...

    assert_store_usable(root, tiny_registry)  # ... until the next command, here `image prune`
