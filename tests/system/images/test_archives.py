"""`pull local PATH`: docker save archives, OCI layouts and oci-archives (made by skopeo)."""

from __future__ import annotations

import subprocess

import pytest

from gophernetes.image.manifest import host_platform
from gophernetes.image.store import ImageStore
from tests.system.images import oci
from tests.system.images.conftest import base_layer, gophernetes, store_files


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    path = tmp_path_factory.mktemp("archives") / "lab"
    images = oci.Layout(path)
    images.tag(images.image([base_layer(), [oci.file("etc/hostname", "lab\n")]]), "1.0")
    amd64 = images.image([[oci.file("arch", "amd64\n")]], arch="amd64")
    arm64 = images.image([[oci.file("arch", "arm64\n")]], arch="arm64")
    images.tag(images.multi_platform([amd64, arm64]), "multi")
    return path


def skopeo(source: str, destination: str) -> None:
    subprocess.run(["skopeo", "copy", "--quiet", source, destination], check=True, capture_output=True)


def test_a_docker_save_archive_is_imported_under_its_repo_tag(root, layout, tmp_path):
    archive = tmp_path / "saved.tar"
    skopeo(f"oci:{layout}:1.0", f"docker-archive:{archive}:lab/app:1.0")
    result = gophernetes(root, "pull", "local", str(archive))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lab/app:1.0"
    image = ImageStore(root / "lib/images").get("lab/app:1.0")
    assert [d.joinpath("etc/hostname").exists() for d in image.layer_dirs] == [False, True]
    assert image.config.cmd == ["sh"]


def test_an_oci_archive_is_imported_and_named_after_the_file_and_tag(root, layout, tmp_path):
    archive = tmp_path / "webapp.tar"
    skopeo(f"oci:{layout}:1.0", f"oci-archive:{archive}:1.0")
    result = gophernetes(root, "pull", "local", str(archive))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "webapp:1.0"
    assert gophernetes(root, "images").stdout.splitlines()[1].split()[:2] == ["webapp", "1.0"]


def test_an_oci_layout_directory_imports_every_tag_picking_the_host_platform(root, layout):
    result = gophernetes(root, "pull", "local", str(layout))
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == ["lab:1.0", "lab:multi"]
    arch = (ImageStore(root / "lib/images").get("lab:multi").layer_dirs[0] / "arch").read_text()
    assert arch == host_platform().split("/")[1] + "\n"


def test_name_option_names_an_untagged_import(root, layout, tmp_path):
    archive = tmp_path / "one.tar"
    skopeo(f"oci:{layout}:1.0", f"oci-archive:{archive}")  # no tag in the archive
    result = gophernetes(root, "pull", "local", "--name", "127.0.0.1:5000/lab/one:2", str(archive))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "127.0.0.1:5000/lab/one:2"


def test_a_corrupted_blob_in_a_layout_is_refused(root, layout, tmp_path):
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-a", str(layout), str(broken)], check=True)
    biggest = max((broken / "blobs/sha256").iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(biggest.read_bytes())
    data[100] ^= 0xFF
    biggest.write_bytes(bytes(data))
    result = gophernetes(root, "pull", "local", str(broken))
    assert result.returncode == 125
    assert f"blob sha256:{biggest.name} is corrupt" in result.stderr
    assert store_files(root) == {"blobs": [], "layers": [], "tmp": []}


def test_a_path_that_is_not_an_archive_is_a_clear_error(root, tmp_path):
    missing = gophernetes(root, "pull", "local", str(tmp_path / "nope.tar"))
    assert missing.returncode == 125
    assert f"no archive at {tmp_path / 'nope.tar'}" in missing.stderr
    junk = tmp_path / "junk.tar"
    junk.write_text("not a tar")
    result = gophernetes(root, "pull", "local", str(junk))
    assert result.returncode == 125
    assert "is neither a directory nor a tar archive" in result.stderr


@pytest.mark.parametrize("listed, kept", [(3, 2), (1, 2)])
def test_a_docker_save_whose_layers_and_diff_ids_disagree_is_refused(root, tmp_path, listed, kept):
    """More layers than diff_ids used to import silently with fewer layers; fewer too."""
    archive = tmp_path / "lying.tar"
    layers = [[oci.file(f"f{n}", str(n))] for n in range(listed)]
    diff_ids = [oci.sha256(oci.tar_bytes(entries)) for entries in layers][:kept]
    diff_ids += [oci.sha256(b"missing")] * (kept - len(diff_ids))
    oci.docker_save(archive, "lab/lying:1", layers, diff_ids=diff_ids)

    result = gophernetes(root, "pull", "local", str(archive))

    assert result.returncode == 125
    assert result.stderr.splitlines() == [f"gophernetes: {archive}: manifest.json lists {listed} layers for "
                                          f"lab/lying:1 but its config {kept} diff_ids; the archive is malformed"]
    assert store_files(root) == {"blobs": [], "layers": [], "tmp": []}


def test_a_docker_save_whose_config_working_dir_climbs_is_refused(root, tmp_path):
    archive = tmp_path / "climb.tar"
    oci.docker_save(archive, "lab/climb:1", [[oci.file("f", "x")]], working_dir="../../../tmp/escaped")
    result = gophernetes(root, "pull", "local", str(archive))
    assert result.returncode == 125
    assert result.stderr.splitlines() == ["gophernetes: lab/climb:1: the image config's WorkingDir "
                                          "'../../../tmp/escaped' climbs with '..'; refusing the image"]
    assert store_files(root) == {"blobs": [], "layers": [], "tmp": []}
