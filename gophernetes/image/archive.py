"""`gophernetes pull local PATH`: import images from files instead of a registry.

Three layouts are understood, all holding the same blobs a registry would serve:

- an **OCI image layout**, a directory with `oci-layout`, `index.json` and
  `blobs/sha256/<hex>`: index.json is an image index whose entries are tagged with the
  annotation `org.opencontainers.image.ref.name` (skopeo's `oci:DIR:TAG`, umoci);
- an **oci-archive**: the same layout inside a tar file (`podman save --format oci-archive`);
- a **docker save** archive: a tar with `manifest.json`, a list of
  `{"Config": FILE, "RepoTags": [...], "Layers": [FILE, ...]}`, the config and layer
  tars stored under any file names (recent docker uses an OCI layout's blob paths).

Every blob is checked against its digest as it is copied in, exactly as in a pull;
docker save archives carry no layer digests, so there the config's diff_ids are the
check. Layers are unpacked by the same safe unpacker, so a hostile archive is refused.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from gophernetes.errors import GophernetesError, NotFound, UsageError
from gophernetes.image import reference
from gophernetes.image.busybox import manifest_json
from gophernetes.image.manifest import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    Index,
    Manifest,
    check_config_paths,
    field_of,
    host_platform,
    parse_config,
    parse_document,
    select_platform,
)
from gophernetes.image.progress import Progress
from gophernetes.image.pull import check_image
from gophernetes.image.store import Image, ImageStore, StoreWriter

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
CHUNK = 1 << 20


class _Source:
    """Files of an archive, whether a directory or a tar, read by their relative names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if not path.is_dir():
            try:
                self._tar = tarfile.open(path)
            except (tarfile.TarError, OSError) as error:
                raise UsageError(f"{path} is neither a directory nor a tar archive: {error}") from None
            self._members = {posixpath.normpath(m.name): m for m in self._tar.getmembers() if m.isreg()}

    def exists(self, name: str) -> bool:
        if self._tar is None:
            return (self.path / name).is_file()
        return posixpath.normpath(name) in self._members

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self._tar is None:
            target = (self.path / name).resolve()
            if not target.is_relative_to(self.path.resolve()) or not target.is_file():
                raise GophernetesError(f"{self.path}: {name!r} is missing or outside the layout")
            with open(target, "rb") as stream:
                yield stream
            return
        member = self._members.get(posixpath.normpath(name))
        if member is None:
            raise GophernetesError(f"{self.path}: the archive has no file {name!r}")
        extracted = self._tar.extractfile(member)
        assert extracted is not None, "_members holds regular files only; extractfile gives None for other kinds"
        yield extracted

    def read(self, name: str, limit: int = 16 << 20) -> bytes:
        with self.open(name) as stream:
            data = stream.read(limit + 1)
        if len(data) > limit:
            raise GophernetesError(f"{self.path}: {name!r} is too large for a JSON document")
        return data

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()


def import_archive(store: ImageStore, path: Path, *, name: str | None = None, platform: str | None = None,
                   progress: Progress | None = None) -> list[Image]:
    """Import every image of the archive or layout at `path`; returns them."""
    progress = progress or Progress(quiet=True)
    if not path.exists():
        raise NotFound(f"no archive at {path}; give the path of a docker save tar, "
                       "an OCI layout or an oci-archive")
    source = _Source(path)
    try:
        if source.exists("oci-layout") and source.exists("index.json"):
            names = _import_oci_layout(store, source, name, platform or host_platform(), progress)
        elif source.exists("manifest.json"):
            names = _import_docker_save(store, source, name, progress)
        else:
            raise UsageError(f"{path} is not a docker save archive (no manifest.json) nor an OCI layout "
                             "(no oci-layout and index.json)")
    finally:
        source.close()
    return [store.get(n) for n in names]


def _import_docker_save(store: ImageStore, source: _Source, name: str | None,
                        progress: Progress) -> list[str]:
    entries = _json(source.read("manifest.json"), source, "manifest.json")
    if not isinstance(entries, list) or not entries:
        raise GophernetesError(f"{source.path}: manifest.json lists no image")
    for number, entry in enumerate(entries, 1):
        where = f"{source.path}: manifest.json's image {number}"
        if not isinstance(entry, dict):
            raise GophernetesError(f"{where} is not a JSON object; the archive is malformed")
        field_of(entry, "Config", str, where, required=True)
        for key in ("RepoTags", "Layers"):
            if not all(isinstance(item, str) for item in field_of(entry, key, list, where, default=[])):
                raise GophernetesError(f"{where}: {key!r} holds something else than strings; "
                                       "the archive is malformed")
        entry["Layers"] = entry.get("Layers") or []
    imported: list[str] = []
    with store.writing() as writer:
        for entry in entries:
            tags = [name] if name else list(entry.get("RepoTags") or [])
            if not tags:
                raise UsageError(f"{source.path}: an image in the archive has no name; give one with --name")
            config_body = source.read(entry["Config"])
            config_digest = "sha256:" + hashlib.sha256(config_body).hexdigest()
            config = parse_config(config_body, tags[0])
            if len(entry["Layers"]) != len(config.diff_ids):  # zip() would drop the extra ones silently
                raise GophernetesError(f"{source.path}: manifest.json lists {len(entry['Layers'])} layers for "
                                       f"{tags[0]} but its config {len(config.diff_ids)} diff_ids; the archive "
                                       "is malformed")
            check_config_paths(config.image, tags[0])
            progress.begin(tags[0], len(config.diff_ids), verb="importing")
            layers = [_copy_layer(writer, source, layer, diff_id, progress)
                      for layer, diff_id in zip(entry["Layers"], config.diff_ids, strict=True)]
            manifest = Manifest(OCI_MANIFEST, Descriptor(OCI_CONFIG, config_digest, len(config_body)), layers)
            manifest_body = manifest_json(manifest)
            manifest_digest = "sha256:" + hashlib.sha256(manifest_body).hexdigest()
            writer.put_blob(config_body, config_digest)
            writer.put_blob(manifest_body, manifest_digest)
            for tag in tags:
                ref_name = reference.parse(tag).name
                writer.commit(ref_name, manifest, manifest_digest, config)
                imported.append(ref_name)
    return imported


def _copy_layer(writer: StoreWriter, source: _Source, member: str, diff_id: str,
                progress: Progress) -> Descriptor:
    """Copy one docker-save layer into the store, hashing it to learn its blob digest."""
    blob = writer.temp_path()
    hasher = hashlib.sha256()
    with source.open(member) as stream, open(blob, "wb") as out:
        while chunk := stream.read(CHUNK):
            hasher.update(chunk)
            out.write(chunk)
    digest = "sha256:" + hasher.hexdigest()
    with open(blob, "rb") as head:
        gzipped = head.read(2) == b"\x1f\x8b"
    size = blob.stat().st_size
    descriptor = Descriptor(OCI_LAYER_GZIP if gzipped else OCI_LAYER, digest, size)
    if writer.store.has_layer(diff_id):
        blob.unlink()
        return descriptor
    if writer.store.has_blob(digest):
        blob.unlink()
        blob = writer.store.blob_path(digest)
    writer.add_layer(blob, digest, diff_id)
    progress.layer_done(digest, size)
    return descriptor


def _import_oci_layout(store: ImageStore, source: _Source, name: str | None, platform: str,
                       progress: Progress) -> list[str]:
    top = parse_document(source.read("index.json"), "", f"{source.path}/index.json")
    if not isinstance(top, Index):
        raise GophernetesError(f"{source.path}/index.json is not an image index")
    if name and len(top.manifests) > 1:
        raise UsageError(f"{source.path} holds {len(top.manifests)} images; --name needs exactly one")
    imported: list[str] = []
    with store.writing() as writer:
        for entry in top.manifests:
            image_name = reference.parse(name or _layout_name(entry, source.path)).name
            _import_oci_image(writer, source, entry, image_name, platform, progress)
            imported.append(image_name)
    return imported


def _layout_name(entry: Descriptor, path: Path) -> str:
    """An index entry's image name: a full reference annotation, or DIRNAME:TAG."""
    full = entry.annotations.get(CONTAINERD_NAME)
    tag = entry.annotations.get(REF_NAME)
    if full:
        return full
    if tag and ("/" in tag or ":" in tag):
        return tag
    if tag:
        stem = path.name.split(".")[0].lower() or "image"
        return f"{stem}:{tag}"
    raise UsageError(f"{path}: image {entry.digest[:19]} has no name ({REF_NAME}); give one with --name")


def _import_oci_image(writer: StoreWriter, source: _Source, entry: Descriptor, name: str, platform: str,
                      progress: Progress) -> None:
    extra: tuple[str, ...] = ()
    body = _blob(writer, source, entry)
    document = parse_document(body, entry.media_type, name)
    digest = entry.digest
    if isinstance(document, Index):
        extra = (entry.digest,)
        chosen = select_platform(document, platform, name)
        body = _blob(writer, source, chosen)
        document = parse_document(body, chosen.media_type, name)
        digest = chosen.digest
        if not isinstance(document, Manifest):
            raise GophernetesError(f"{name}: an index inside an index is not supported")
    config_body = _blob(writer, source, document.config)
    config = parse_config(config_body, name)
    check_image(document, config, name)
    progress.begin(name, len(document.layers), sum(layer.size for layer in document.layers), verb="importing")
    for layer, diff_id in zip(document.layers, config.diff_ids, strict=True):
        if writer.store.has_layer(diff_id):
            continue
        if not writer.store.has_blob(layer.digest):
            _copy_blob(writer, source, layer)
        writer.add_layer(writer.store.blob_path(layer.digest), layer.digest, diff_id)
        progress.layer_done(layer.digest, layer.size)
    writer.commit(name, document, digest, config, extra)


def _blob(writer: StoreWriter, source: _Source, descriptor: Descriptor) -> bytes:
    """A small blob (index, manifest, config), verified and kept in the store."""
    data = source.read(_blob_name(descriptor))
    writer.put_blob(data, descriptor.digest)
    return data


def _copy_blob(writer: StoreWriter, source: _Source, descriptor: Descriptor) -> None:
    """Copy a layer blob into blobs/, refusing it if it does not hash to its digest."""
    temporary = writer.temp_path()
    hasher = hashlib.sha256()
    with source.open(_blob_name(descriptor)) as stream, open(temporary, "wb") as out:
        while chunk := stream.read(CHUNK):
            hasher.update(chunk)
            out.write(chunk)
    got = "sha256:" + hasher.hexdigest()
    if got != descriptor.digest:
        raise GophernetesError(f"blob {descriptor.digest} is corrupt: its content hashes to {got}; "
                               "refusing it")
    temporary.replace(writer.store.blob_path(descriptor.digest))


def _blob_name(descriptor: Descriptor) -> str:
    algorithm, _, value = descriptor.digest.partition(":")
    if algorithm != "sha256" or len(value) != 64:
        raise GophernetesError(f"unsupported digest {descriptor.digest!r}")
    return f"blobs/sha256/{value}"


def _json(data: bytes, source: _Source, name: str):
    try:
        return json.loads(data)
    except ValueError as error:
        raise GophernetesError(f"{source.path}: {name} is not valid JSON ({error})") from None
