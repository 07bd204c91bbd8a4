"""`gophernetes save`: images from the store into one tar file, to carry to a host offline.

Two formats, the two that `gophernetes load` (archive.py), docker, podman and skopeo read:

- **docker-archive** (`docker save`): `manifest.json` lists each image as
  `{"Config": FILE, "RepoTags": [NAME:TAG, ...], "Layers": [FILE, ...]}`. The layers are
  *uncompressed* tars, as docker writes them, so each is named by its diff_id:

      manifest.json
      blobs/sha256/<config digest>      the config, byte for byte
      blobs/sha256/<diff_id>            each layer, decompressed

- **oci-archive** (`podman save --format oci-archive`, skopeo's `oci-archive:`): an OCI
  image layout in a tar; every blob exactly as it is in the store (compressed layers
  stay compressed), so the manifest's digests, and the image's digest, do not change:

      oci-layout                        {"imageLayoutVersion": "1.0.0"}
      index.json                        one entry per image, its name in the annotations
                                        org.opencontainers.image.ref.name (lab/app:1.0) and
                                        io.containerd.image.name (docker.io/lab/app:1.0)
      blobs/sha256/<digest>             manifests, configs and layers

A blob two images share is written once. The archive is written to a temporary file
next to FILE and renamed over it when complete: a save that fails leaves nothing
behind (nor a half archive under the name). `-` writes to standard output.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import IO

from gophernetes.errors import GophernetesError, UsageError
from gophernetes.image import reference
from gophernetes.image.manifest import OCI_INDEX, Manifest, parse_document
from gophernetes.image.store import DANGLING, Image, ImageStore

FORMATS = ("docker-archive", "oci-archive")
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
CHUNK = 1 << 20


def save(store: ImageStore, names: list[str], output: str, format: str = "docker-archive") -> None:
    """Write the images named `names` to `output` (a path, or `-` for stdout) in `format`."""
    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r}: use docker-archive or oci-archive")
    if not names:
        raise UsageError("name at least one image to save")
    images = [store.get(name) for name in names]  # all found before anything is written
    if output == "-":
        if sys.stdout.isatty():
            raise UsageError("refusing to write a tar archive to a terminal: give -o FILE or redirect the output")
        with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _write(store, images, tar, format)
        return
    target = Path(output)
    if target.is_dir():
        raise UsageError(f"{output} is a directory: give the path of the archive file to write")
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _write(store, images, tar, format)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def _write(store: ImageStore, images: list[Image], tar: tarfile.TarFile, format: str) -> None:
    written: set[str] = set()
    for directory in ("blobs", "blobs/sha256"):
        info = tarfile.TarInfo(directory)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
        tar.addfile(info)
    if format == "oci-archive":
        _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        entries = [_oci_image(store, image, tar, written) for image in images]
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        _add_bytes(tar, "index.json", json.dumps(index, separators=(",", ":")).encode())
    else:
        entries = [_docker_image(store, image, tar, written) for image in images]
        _add_bytes(tar, "manifest.json", json.dumps(entries, separators=(",", ":")).encode())


def _manifest(store: ImageStore, image: Image) -> tuple[bytes, Manifest]:
    body = store.read_blob(image.manifest_digest)
    document = parse_document(body, "", image.name)
    if not isinstance(document, Manifest):
        raise GophernetesError(f"{image.name}: its stored manifest is an index; cannot save it")
    return body, document


def _oci_image(store: ImageStore, image: Image, tar: tarfile.TarFile, written: set[str]) -> dict:
    """Add the image's blobs as they are; return its entry for index.json."""
    body, manifest = _manifest(store, image)
    for descriptor in [manifest.config, *manifest.layers]:
        if descriptor.digest not in written:
            _add_file(tar, _blob_name(descriptor.digest), store.blob_path(descriptor.digest), descriptor.digest)
            written.add(descriptor.digest)
    if image.manifest_digest not in written:
        _add_bytes(tar, _blob_name(image.manifest_digest), body)
        written.add(image.manifest_digest)
    entry: dict = {"mediaType": manifest.media_type, "digest": image.manifest_digest, "size": len(body)}
    if not image.name.startswith(DANGLING):
        ref = reference.parse(image.name)
        full = f"{ref.registry}/{ref.repository}" + (f":{ref.tag}" if ref.tag else "")
        entry["annotations"] = {REF_NAME: image.name, CONTAINERD_NAME: full}
    return entry


def _docker_image(store: ImageStore, image: Image, tar: tarfile.TarFile, written: set[str]) -> dict:
    """Add the config and the uncompressed layers; return the image's manifest.json entry."""
    _, manifest = _manifest(store, image)
    config_body = store.read_blob(manifest.config.digest)
    if manifest.config.digest not in written:
        _add_bytes(tar, _blob_name(manifest.config.digest), config_body)
        written.add(manifest.config.digest)
    diff_ids = json.loads(config_body).get("rootfs", {}).get("diff_ids", [])
    if len(diff_ids) != len(manifest.layers):
        raise GophernetesError(f"{image.name}: its manifest and config disagree on the layers; "
                               "the image is damaged")
    layers = []
    for layer, diff_id in zip(manifest.layers, diff_ids, strict=True):
        if diff_id not in written:
            _add_uncompressed(tar, _blob_name(diff_id), store.blob_path(layer.digest), diff_id)
            written.add(diff_id)
        layers.append(_blob_name(diff_id))
    tags = [] if image.name.startswith(DANGLING) or "@" in image.name else [image.name]  # docker wants NAME:TAG
    return {"Config": _blob_name(manifest.config.digest), "RepoTags": tags, "Layers": layers}


def _add_uncompressed(tar: tarfile.TarFile, name: str, blob: Path, diff_id: str) -> None:
    """A layer as docker saves it: decompressed (gzip), checked against its diff_id."""
    with open(blob, "rb") as head:
        gzipped = head.read(2) == b"\x1f\x8b"
    if not gzipped:
        _add_file(tar, name, blob, diff_id)
        return
    with tempfile.TemporaryFile() as plain:
        hasher = hashlib.sha256()
        with gzip.open(blob, "rb") as stream:
            while chunk := stream.read(CHUNK):
                hasher.update(chunk)
                plain.write(chunk)
        if "sha256:" + hasher.hexdigest() != diff_id:
            raise GophernetesError(f"layer {diff_id[:19]} in the store does not decompress to its diff_id; "
                                   "the image is damaged: pull it again")
        size = plain.tell()
        plain.seek(0)
        tar.addfile(_info(name, size), plain)


def _add_file(tar: tarfile.TarFile, name: str, path: Path, digest: str) -> None:
    try:
        with open(path, "rb") as data:
            tar.addfile(_info(name, os.fstat(data.fileno()).st_size), data)
    except FileNotFoundError:
        raise GophernetesError(f"blob {digest} is missing from the store; pull the image again") from None


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    stream: IO[bytes] = io.BytesIO(data)
    tar.addfile(_info(name, len(data)), stream)


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    return info


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")
