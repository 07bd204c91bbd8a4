"""A corpus of hostile layers: each is refused naming the entry, and nothing escapes or stays."""

from __future__ import annotations

import json
import os
import tarfile

import pytest

from tests.system.images import oci
from tests.system.images.conftest import base_layer, gophernetes, store_files


def hostile_cases(outside: str) -> dict[str, tuple[list[oci.Entry], str, str]]:
    """case -> (layer entries, the entry the error must name, why it is refused)."""
    climb = "../" * 12
    relative_outside = climb + outside.lstrip("/")
    symlink_then_write = [oci.directory("sub"), oci.symlink("sub/link", ".."),
                          oci.directory("sub/link/etc"), oci.file("sub/link/etc/evil", "pwned")]
    hardlinked_symlink = [oci.symlink("link", outside), oci.hardlink("alias", "link"),
                          oci.file("alias/written", "pwned")]
    return {
        "path-traversal": ([oci.file(f"{relative_outside}/traversal", "pwned")],
                           f"{relative_outside}/traversal", "climbs out of the layer with '..'"),
        "absolute-path": ([oci.file(f"{outside}/absolute", "pwned")],
                          f"{outside}/absolute", "is an absolute path"),
        "absolute-symlink-write-through": (
            [oci.symlink("escape", outside), oci.file("escape/written", "pwned")],
            "escape/written", "would be written through the symlink 'escape'"),
        "relative-symlink-out": ([oci.symlink("up", climb.rstrip("/"))], "up", "points out of the layer"),
        "hardlink-escape": ([oci.hardlink("victim", f"{relative_outside}/victim")], "victim",
                            "outside the layer"),
        "absolute-hardlink": ([oci.hardlink("victim", f"{outside}/victim")], "victim", "outside the layer"),
        "symlink-then-write-through": (symlink_then_write, "sub/link/etc",
                                       "would be written through the symlink 'sub/link'"),
        "hardlink-to-symlink-write-through": (hardlinked_symlink, "alias/written",
                                              "would be written through the symlink 'alias'"),
        "huge-file-name": ([oci.file("a" * 300, "x")], "a" * 60, "longer than 255 bytes"),
        "huge-path": ([oci.file("d/" * 2100 + "f", "x")], "d/" * 30, "longer than 4096 bytes"),
    }


CASES = sorted(hostile_cases("/x"))


@pytest.mark.parametrize("case", CASES)
def test_hostile_archive_is_refused_naming_the_entry_and_leaves_nothing(case, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("original")
    entries, entry, why = hostile_cases(str(outside))[case]
    archive = tmp_path / "hostile.tar"
    # a good layer first: it must not survive the refusal of the second either
    oci.docker_save(archive, "hostile:latest", [[oci.file("good", "fine")], entries])

    result = gophernetes(root, "pull", "local", str(archive))

    assert result.returncode == 125, result.stderr
    error = result.stderr.splitlines()[-1]
    assert error.startswith("gophernetes: refusing layer sha256:")
    assert f"entry '{entry}" in error and why in error
    assert result.stderr.count("gophernetes:") == 1
    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_text() == "original" and os.stat(outside / "victim").st_nlink == 1
    assert store_files(root) == {"blobs": [], "layers": [], "tmp": []}
    assert gophernetes(root, "images").stdout.splitlines()[1:] == []


def test_hostile_layer_from_a_registry_is_refused_too(root, registry, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(layout.image([[oci.symlink("etc", str(outside)), oci.file("etc/cron", "pwned")]]), "evil")
    ref = registry.push(tmp_path / "layout", "evil", "lab/evil")

    result = gophernetes(root, "pull", ref)

    assert result.returncode == 125
    assert "entry 'etc/cron' would be written through the symlink 'etc'" in result.stderr
    assert os.listdir(outside) == []
    assert store_files(root) == {"blobs": [], "layers": [], "tmp": []}


def test_overlayfs_style_whiteouts_and_fifos_are_accepted(root, tmp_path):
    archive = tmp_path / "ok.tar"
    fifo = oci.Entry("run/fifo", kind=b"6", mode=0o600)
    oci.docker_save(archive, "fine:1", [[oci.directory("run"), fifo, oci.device("gone", 0, 0)]])
    result = gophernetes(root, "pull", "local", str(archive))
    assert result.returncode == 0, result.stderr
    (layer,) = [p for p in (root / "lib/images/layers").iterdir() if p.name != "l"]
    assert os.stat(layer / "diff/gone").st_rdev == os.makedev(0, 0)


def test_a_pax_header_over_1_mib_is_refused_without_reading_it_into_memory(root, tmp_path):
    archive = tmp_path / "huge-header.tar"
    oci.docker_save(archive, "huge:1", [[oci.file("f", "x", xattrs={"user.big": "y" * (2 << 20)})]])
    result = gophernetes(root, "pull", "local", str(archive))
    assert result.returncode == 125
    assert result.stderr.splitlines()[-1].endswith("a tar header of more than 1048576 bytes")
    assert store_files(root) == {"blobs": [], "layers": [], "tmp": []}


def debootstrap_like_layer() -> list[oci.Entry]:
    """What debootstrap leaves in a Debian base layer's /dev, over a small userland."""
    block = oci.Entry("dev/sda", kind=tarfile.BLKTYPE, mode=0o660, major=8, minor=0)
    return [*base_layer(), oci.file("etc/debian_version", "12.8\n"), oci.directory("dev"),
            oci.device("dev/console", 5, 1), oci.device("dev/null", 1, 3), oci.device("dev/ptmx", 5, 2),
            oci.device("dev/tty", 5, 0), block, oci.file("dev/mem", "a file, then a device"),
            oci.device("dev/mem", 1, 1)]


def test_device_nodes_of_a_debootstrap_layer_are_skipped_and_the_image_runs(root, tmp_path, cgroup_parent,
                                                                           leak_check):
    archive = tmp_path / "debian.tar"
    oci.docker_save(archive, "lab/debian:bookworm", [debootstrap_like_layer()])

    imported = gophernetes(root, "pull", "local", str(archive))

    assert imported.returncode == 0, imported.stderr
    (layer,) = [p for p in (root / "lib/images/layers").iterdir() if p.name != "l"]
    assert sorted(os.listdir(layer / "diff/dev")) == []  # not created; the earlier file dev/mem is gone too
    assert json.loads((layer / "layer.json").read_text())["skipped"] == [
        "dev/console (c 5,1)", "dev/null (c 1,3)", "dev/ptmx (c 5,2)", "dev/tty (c 5,0)", "dev/sda (b 8,0)",
        "dev/mem (c 1,1)"]
    ran = gophernetes(root, "run", "--net", "none", "lab/debian:bookworm", "sh", "-c",
                      "cat /etc/debian_version; test -c /dev/null && echo null; test -e /dev/sda || echo no-sda",
                      env={"GOPHERNETES_CGROUP_PARENT": cgroup_parent})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["12.8", "null", "no-sda"]
