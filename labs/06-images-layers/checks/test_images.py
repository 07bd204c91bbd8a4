"""Lab 06 checks: files under /srv/lab06 that match the registry's digests, an overlay, the store.

The registry is $REGISTRY (default 127.0.0.1:5000), as in the README.
"""

import hashlib
import json
import os
import stat
import tarfile
import urllib.request
from pathlib import Path

import labkit

LAB = Path("/srv/lab06")
REGISTRY = os.environ.get("REGISTRY", "127.0.0.1:5000")
ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def registry_digest() -> str:
    """What the registry calls busybox:latest (Docker-Content-Digest of the manifest)."""
    request = urllib.request.Request(f"http://{REGISTRY}/v2/busybox/manifests/latest", method="HEAD",
                                     headers={"Accept": ACCEPT})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return response.headers["Docker-Content-Digest"]


def manifest() -> dict:
    path = LAB / "manifest.json"
    assert path.exists(), f"no {path}"
    return json.loads(path.read_text())


def test_step_1_the_manifest_of_busybox_latest(host):
    """/srv/lab06/manifest.json is busybox:latest's image manifest, byte for byte (its digest is the registry's).

    Hint: the registry speaks HTTP: GET /v2/NAME/manifests/TAG, with an Accept header
    naming the manifest media types you understand; save the body as it comes.
    """
    document = manifest()
    assert "config" in document and document.get("layers"), "manifest.json is not an image manifest"
    assert sha256_of(LAB / "manifest.json") == registry_digest(), \
        "manifest.json's sha256 differs from the registry's digest for busybox:latest"


def test_step_2_the_config_and_first_layer_blobs(host):
    """config.json and layer.tar.gz hash to the digests the manifest names.

    Hint: blobs are fetched by digest: GET /v2/NAME/blobs/DIGEST; jq pulls the digests
    out of the manifest.
    """
    document = manifest()
    for name, digest in (("config.json", document["config"]["digest"]),
                         ("layer.tar.gz", document["layers"][0]["digest"])):
        assert (LAB / name).exists(), f"no {LAB / name}"
        assert sha256_of(LAB / name) == digest, f"{name} does not hash to {digest}"


def test_step_3_the_layer_unpacked_into_rootfs(host):
    """/srv/lab06/rootfs holds every entry of the layer tarball.

    Hint: a layer is a (gzipped) tar; unpack it into the rootfs folder.
    """
    layer = LAB / "layer.tar.gz"
    assert layer.exists(), f"no {layer}"
    with tarfile.open(layer) as archive:
        names = [member.name.lstrip("./") for member in archive.getmembers() if member.name.strip("./")]
    missing = [name for name in names if not os.path.lexists(LAB / "rootfs" / name)]
    assert not missing, f"rootfs lacks {len(missing)} entries of the layer, e.g. {missing[:3]}"


def test_step_4_an_overlay_with_a_whiteout_for_bin_ls(host):
    """An overlay on /srv/lab06/merged over rootfs: bin/ls deleted (a 0:0 whiteout in upper), rootfs untouched.

    Hint: overlayfs takes lowerdir, upperdir and workdir options; then delete bin/ls
    and write a file through the merged folder, and look in upper.
    """
    mount = labkit.mounted_at(str(LAB / "merged"))
    assert mount is not None and mount.fstype == "overlay", f"no overlay is mounted on {LAB / 'merged'}"
    assert f"lowerdir={LAB / 'rootfs'}" in mount.super_options, "the overlay's lowerdir is not /srv/lab06/rootfs"
    whiteout = LAB / "upper" / "bin" / "ls"
    assert whiteout.exists() or whiteout.is_symlink(), f"no {whiteout}: delete bin/ls through merged"
    info = whiteout.lstat()
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == 0, f"{whiteout} is not a 0:0 whiteout"
    assert not os.path.lexists(LAB / "merged" / "bin" / "ls"), "bin/ls is still visible in merged"
    assert os.path.lexists(LAB / "rootfs" / "bin" / "ls"), "rootfs/bin/ls is gone: delete through merged only"
    assert (LAB / "upper" / "hello").is_file(), "no new file hello written through merged"


def test_step_5_gophernetes_pulled_the_same_image(host):
    """gophernetes has $REGISTRY/busybox:latest with the manifest's digest and the config's ID, blobs in its store.

    Hint: `gophernetes pull --help` (the lab's registry speaks plain HTTP), then
    `gophernetes images`.
    """
    listed = labkit.gophernetes("images", "--format", "json")
    images = [i for i in json.loads(listed.stdout or "[]") if i.get("repository") == f"{REGISTRY}/busybox"]
    assert images, f"gophernetes has no image {REGISTRY}/busybox"
    digest = registry_digest()
    assert images[0]["digest"] == digest, f"the pulled image's digest is {images[0]['digest']}, not {digest}"
    document = manifest()
    assert images[0]["id"] == document["config"]["digest"], "the pulled image's ID is not its config's digest"
    from gophernetes.paths import StateRoot

    blobs = StateRoot.from_option().images / "blobs" / "sha256"
    for wanted in (digest, document["config"]["digest"], document["layers"][0]["digest"]):
        assert (blobs / wanted.removeprefix("sha256:")).exists(), f"{wanted} is not in the store ({blobs})"
