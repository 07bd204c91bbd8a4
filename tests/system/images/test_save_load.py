"""`save` and `load`: images to a tar file and back, in both formats; skopeo reads what we write."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile

import pytest

from tests.system.images.conftest import gophernetes as cli


def images_json(root) -> dict[str, dict]:
    return {i["name"]: i for i in json.loads(cli(root, "images", "--format", "json").stdout)}


@pytest.fixture
def source(tmp_path, pushed):
    """A state root holding busybox (one uncompressed layer) and lab/layered (three gzipped layers)."""
    root = tmp_path / "source"
    assert cli(root, "image", "build-busybox", "--name", "lab/app:1.0").returncode == 0
    assert cli(root, "pull", pushed["layered"]).returncode == 0
    return root


@pytest.mark.parametrize("archive_format", ["docker-archive", "oci-archive"])
def test_save_then_load_in_a_fresh_root_and_run(source, pushed, tmp_path, gophernetes, archive_format):
    archive = tmp_path / "images.tar"
    saved = cli(source, "save", "--format", archive_format, "-o", str(archive), "lab/app:1.0", pushed["layered"])
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout == ""
    loaded = gophernetes("load", "-i", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    assert sorted(loaded.stdout.splitlines()) == sorted(
        [f"Loaded image: {pushed['layered']}", "Loaded image: lab/app:1.0"])
    before, after = images_json(source), images_json(gophernetes.state_root)
    for name in ("lab/app:1.0", pushed["layered"]):
        assert after[name]["id"] == before[name]["id"]  # the same config, byte for byte
        if archive_format == "oci-archive":
            assert after[name]["digest"] == before[name]["digest"]  # the same manifest too
    ran = gophernetes("run", "--net", "none", "lab/app:1.0", "cat", "/etc/passwd")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("root:x:0:0:")
    layers = gophernetes.state_root / "lib/images/layers"  # lab/layered's opaque directory survived the trip
    assert sorted(p.name for p in layers.glob("*/diff/var/cache/*")) == ["a", "b", "c"]
    opaque = [p for p in layers.glob("*/diff/var/cache") if (p / "c").exists()]
    assert [os.getxattr(p, "trusted.overlay.opaque") for p in opaque] == [b"y"]


def test_a_docker_archive_holds_uncompressed_layers_named_by_diff_id(source, pushed, tmp_path):
    archive = tmp_path / "layered.tar"
    assert cli(source, "save", "-o", str(archive), pushed["layered"]).returncode == 0
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        config = json.load(tar.extractfile(manifest[0]["Config"]))
        assert manifest[0]["RepoTags"] == [pushed["layered"]]
        assert manifest[0]["Layers"] == [f"blobs/sha256/{d[7:]}" for d in config["rootfs"]["diff_ids"]]
        first = tar.extractfile(manifest[0]["Layers"][0]).read(2)
    assert first != b"\x1f\x8b"


@pytest.mark.parametrize("archive_format", ["docker-archive", "oci-archive"])
def test_skopeo_reads_our_archive(source, tmp_path, archive_format):
    archive = tmp_path / "app.tar"
    assert cli(source, "save", "--format", archive_format, "-o", str(archive), "lab/app:1.0").returncode == 0
    inspected = subprocess.run(["skopeo", "inspect", f"{archive_format}:{archive}"], capture_output=True,
                               text=True, timeout=60)
    assert inspected.returncode == 0, inspected.stderr
    data = json.loads(inspected.stdout)
    assert len(data["Layers"]) == 1
    assert data["Architecture"] and data["Os"] == "linux"
    copied = tmp_path / "copied"
    copy = subprocess.run(["skopeo", "copy", "--quiet", f"{archive_format}:{archive}", f"oci:{copied}:app"],
                          capture_output=True, text=True, timeout=60)
    assert copy.returncode == 0, copy.stderr  # skopeo checks every blob against its digest on the way


def test_load_reads_standard_input(source, tmp_path):
    archive = tmp_path / "app.tar"
    assert cli(source, "save", "--format", "oci-archive", "-o", str(archive), "lab/app:1.0").returncode == 0
    fresh = tmp_path / "fresh"
    loaded = subprocess.run(f"python3 -m gophernetes load < {archive}", shell=True, capture_output=True, text=True,
                            env={**__import__("os").environ, "GOPHERNETES_ROOT": str(fresh)}, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout == "Loaded image: lab/app:1.0\n"


def test_save_to_stdout_pipes_into_load(source, tmp_path):
    fresh = tmp_path / "fresh"
    piped = subprocess.run(f"python3 -m gophernetes --root {source} save lab/app:1.0 | "
                           f"python3 -m gophernetes --root {fresh} load", shell=True, capture_output=True,
                           text=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "Loaded image: lab/app:1.0\n"


def test_save_of_an_unknown_image_writes_nothing(source, tmp_path):
    archive = tmp_path / "out.tar"
    result = cli(source, "save", "-o", str(archive), "lab/app:1.0", "lab/missing:9")
    assert result.returncode == 125
    assert result.stderr.strip() == ("gophernetes: image 'lab/missing:9' not found; pull it with: "
                                     "gophernetes pull lab/missing:9")
    assert list(tmp_path.glob("*.tar")) == [] and list(tmp_path.glob(".out.tar*")) == []


def test_load_of_a_damaged_archive_is_refused_in_one_line(source, tmp_path):
    archive = tmp_path / "app.tar"
    assert cli(source, "save", "-o", str(archive), "lab/app:1.0").returncode == 0
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as tar, tarfile.open(damaged, "w") as out:
        for member in tar.getmembers():
            data = tar.extractfile(member).read() if member.isreg() else None
            if data and member.size > 100_000:  # the layer: flip one byte
                data = data[:50_000] + bytes([data[50_000] ^ 1]) + data[50_001:]
            out.addfile(member, __import__("io").BytesIO(data) if data is not None else None)
    fresh = tmp_path / "fresh"
    result = cli(fresh, "load", "-i", str(damaged))
    assert result.returncode == 125
    errors = [line for line in result.stderr.splitlines() if line.startswith("gophernetes:")]
    assert len(errors) == 1 and "but the image config says" in errors[0], result.stderr
    assert cli(fresh, "images", "-q").stdout == ""
