"""The JSON documents of an image: index, manifest, config — and how to read them.

Every document is fetched by digest and named by a *media type*. Two families exist:
Docker's schema 2 (`application/vnd.docker.distribution.manifest.v2+json`) and the OCI
image spec that grew out of it (`application/vnd.oci.image.manifest.v1+json`). Their
fields are the same; only the type strings differ.

- An **index** (Docker calls it a *manifest list*) points at one manifest per platform;
  a puller picks the one that matches its OS and CPU architecture.
- A **manifest** points at one config blob and an ordered list of layer blobs, bottom
  layer first. Each pointer is a *descriptor*: media type, digest, size.
- The **config** holds what to run (Entrypoint, Cmd, Env, WorkingDir, User) and
  `rootfs.diff_ids`: the sha256 of each layer *uncompressed*. A layer blob's digest
  changes when it is recompressed; its diff_id does not, which is why unpacked layers
  are stored by diff_id.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from gophernetes.errors import GophernetesError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
# What we send in `Accept:`; a registry answers with one of these or with 404.
ACCEPT = ", ".join(MANIFEST_TYPES + INDEX_TYPES)
LAYER_TYPES = (
    OCI_LAYER, OCI_LAYER_GZIP, "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.docker.image.rootfs.diff.tar",
)


@dataclass(frozen=True)
class Descriptor:
    """A pointer to a blob: what it is, its sha256 digest and its size in bytes."""

    media_type: str
    digest: str
    size: int
    platform: str = ""  # "linux/amd64" etc., in an index only
    annotations: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: dict) -> Descriptor:
        plat = data.get("platform") or {}
        platform_text = ""
        if plat:
            platform_text = f"{plat.get('os', '')}/{plat.get('architecture', '')}"
            if plat.get("variant"):
                platform_text += f"/{plat['variant']}"
        return cls(data.get("mediaType", ""), data["digest"], int(data.get("size", 0)), platform_text,
                   data.get("annotations") or {})


@dataclass(frozen=True)
class Manifest:
    """One platform's image: its config blob and its layer blobs, bottom first."""

    media_type: str
    config: Descriptor
    layers: list[Descriptor]


@dataclass(frozen=True)
class Index:
    """A list of manifests, one per platform (an OCI index or a Docker manifest list)."""

    media_type: str
    manifests: list[Descriptor]


@dataclass(frozen=True)
class ImageConfig:
    """What a container of this image runs, from the config's `config` object."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""


@dataclass(frozen=True)
class Config:
    """The parts of an image config blob that the store needs."""

    image: ImageConfig
    diff_ids: list[str]
    created: str
    architecture: str
    os: str


def parse_document(body: bytes, media_type: str, where: str) -> Manifest | Index:
    """Parse a manifest or an index. `media_type` is the Content-Type the registry sent
    (or a descriptor's); the document's own `mediaType` field wins when present."""
    try:
        data = json.loads(body)
    except ValueError as error:
        raise GophernetesError(f"{where}: the manifest is not valid JSON ({error})") from None
    kind = data.get("mediaType") or media_type.split(";")[0].strip()
    if not kind:  # OCI allows omitting mediaType: tell index from manifest by shape
        kind = OCI_INDEX if "manifests" in data else OCI_MANIFEST
    if kind in INDEX_TYPES:
        return Index(kind, [Descriptor.from_json(d) for d in data.get("manifests", [])])
    if kind in MANIFEST_TYPES:
        layers = [Descriptor.from_json(d) for d in data.get("layers", [])]
        for layer in layers:
            if layer.media_type not in LAYER_TYPES:
                raise GophernetesError(
                    f"{where}: unsupported layer media type {layer.media_type!r} ({layer.digest})")
        return Manifest(kind, Descriptor.from_json(data["config"]), layers)
    if kind in DOCKER_SCHEMA1 or data.get("schemaVersion") == 1:
        raise GophernetesError(f"{where}: Docker schema 1 manifests are not supported; "
                               "push the image again with a current client")
    raise GophernetesError(f"{where}: unsupported manifest media type {kind!r}")


def parse_config(body: bytes, where: str) -> Config:
    """Parse an image config blob."""
    try:
        data = json.loads(body)
    except ValueError as error:
        raise GophernetesError(f"{where}: the image config is not valid JSON ({error})") from None
    run = data.get("config") or {}
    image = ImageConfig(
        entrypoint=list(run.get("Entrypoint") or []),
        cmd=list(run.get("Cmd") or []),
        env=list(run.get("Env") or []),
        working_dir=run.get("WorkingDir") or "",
        user=run.get("User") or "",
    )
    diff_ids = list((data.get("rootfs") or {}).get("diff_ids") or [])
    return Config(image, diff_ids, data.get("created") or "", data.get("architecture", ""),
                  data.get("os", ""))


def host_platform() -> str:
    """This machine as an OCI platform: `linux/amd64` on x86_64, `linux/arm64` on aarch64."""
    machine = os.uname().machine.lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "armv7l": "arm/v7", "armv6l": "arm/v6", "i686": "386", "i386": "386"}.get(machine, machine)
    return f"linux/{arch}"


def select_platform(index: Index, wanted: str, where: str) -> Descriptor:
    """Pick the manifest for `wanted` ("os/arch[/variant]") from an index.

    A variant is matched only when asked for, so `linux/arm64` accepts `linux/arm64/v8`.
    """
    want = wanted.split("/")
    for descriptor in index.manifests:
        have = descriptor.platform.split("/")
        if have[:2] == want[:2] and (len(want) < 3 or have[2:3] == want[2:3]):
            return descriptor
    offered = ", ".join(d.platform or "?" for d in index.manifests) or "none"
    raise GophernetesError(f"{where}: no image for platform {wanted} (offered: {offered}); "
                           "choose one with --platform")
