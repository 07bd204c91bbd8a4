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

Every field is checked for its JSON type before it is used (a registry or an archive
may send anything): a wrong type is refused in one line naming the document and the
field, never a Python TypeError. Like docker, `Entrypoint` and `Cmd` may be a string.
Paths in the config that the runtime turns into paths inside the container's root
(`WorkingDir`, `Volumes`) may not climb with `..`: see check_config_paths.
"""

from __future__ import annotations

import json
import os
import re
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
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
              bool: "a boolean", type(None): "null"}
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
    def from_json(cls, data: object, where: str) -> Descriptor:
        """A descriptor object; `where` names it in errors ("lab/app:1: the manifest's layer 2")."""
        if not isinstance(data, dict):
            raise GophernetesError(f"{where} is {json_type(data)}, not an object; refusing it")
        digest = field_of(data, "digest", str, where, required=True)
        if not DIGEST.fullmatch(digest):
            raise GophernetesError(f"{where}: unsupported or malformed digest {digest[:80]!r}; "
                                   "expected sha256:<64 hex digits>")
        size = field_of(data, "size", int, where, required=True)
        if size < 0:
            raise GophernetesError(f"{where}: the size {size} is negative; refusing it")
        plat = field_of(data, "platform", dict, where, default={})
        platform_text = ""
        if plat:
            parts = [field_of(plat, key, str, f"{where}'s platform", default="")
                     for key in ("os", "architecture", "variant")]
            platform_text = "/".join(parts[:2] + parts[2:] * bool(parts[2]))
        annotations = field_of(data, "annotations", dict, where, default={})
        for key, value in annotations.items():
            if not isinstance(value, str):
                raise GophernetesError(f"{where}: annotation {key[:80]!r} is {json_type(value)}, not a string")
        return cls(field_of(data, "mediaType", str, where, default=""), digest, size, platform_text,
                   annotations)


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
    volumes: list[str] = field(default_factory=list)


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
    data = json_object(body, where, "manifest")
    kind = field_of(data, "mediaType", str, f"{where}: the manifest", default="") or \
        media_type.split(";")[0].strip()
    if not kind:  # OCI allows omitting mediaType: tell index from manifest by shape
        kind = OCI_INDEX if "manifests" in data else OCI_MANIFEST
    if kind in INDEX_TYPES:
        entries = field_of(data, "manifests", list, f"{where}: the index", default=[])
        return Index(kind, [Descriptor.from_json(d, f"{where}: the index's entry {n + 1}")
                            for n, d in enumerate(entries)])
    if kind in MANIFEST_TYPES:
        entries = field_of(data, "layers", list, f"{where}: the manifest", default=[])
        layers = [Descriptor.from_json(d, f"{where}: the manifest's layer {n + 1}") for n, d in enumerate(entries)]
        for layer in layers:
            if layer.media_type not in LAYER_TYPES:
                raise GophernetesError(
                    f"{where}: unsupported layer media type {layer.media_type!r} ({layer.digest})")
        config = field_of(data, "config", dict, f"{where}: the manifest", required=True)
        return Manifest(kind, Descriptor.from_json(config, f"{where}: the manifest's config"), layers)
    if kind in DOCKER_SCHEMA1 or data.get("schemaVersion") == 1:
        raise GophernetesError(f"{where}: Docker schema 1 manifests are not supported; "
                               "push the image again with a current client")
    raise GophernetesError(f"{where}: unsupported manifest media type {kind!r}")


def parse_config(body: bytes, where: str) -> Config:
    """Parse an image config blob."""
    data = json_object(body, where, "image config")
    here = f"{where}: the image config"
    run = field_of(data, "config", dict, here, default={})
    here_run = f"{here}'s config"
    image = ImageConfig(
        entrypoint=_strings(run, "Entrypoint", here_run, one_string=True),
        cmd=_strings(run, "Cmd", here_run, one_string=True),
        env=_strings(run, "Env", here_run),
        working_dir=field_of(run, "WorkingDir", str, here_run, default=""),
        user=field_of(run, "User", str, here_run, default=""),
        volumes=list(field_of(run, "Volumes", dict, here_run, default={})),
    )
    rootfs = field_of(data, "rootfs", dict, here, default={})
    diff_ids = _strings(rootfs, "diff_ids", f"{here}'s rootfs")
    for diff_id in diff_ids:
        if not DIGEST.fullmatch(diff_id):
            raise GophernetesError(f"{here}: malformed diff_id {diff_id[:80]!r}; expected sha256:<64 hex digits>")
    return Config(image, diff_ids, field_of(data, "created", str, here, default=""),
                  field_of(data, "architecture", str, here, default=""), field_of(data, "os", str, here, default=""))


def check_config_paths(image: ImageConfig, where: str) -> None:
    """Refuse config paths with `..`: the runtime makes them inside the container's root.

    `WorkingDir: "/../../etc"` would otherwise be created relative to the root folder on
    the host before the container even starts; a path that cannot climb cannot escape.
    """
    for label, path in [("WorkingDir", image.working_dir)] + [("Volumes", v) for v in image.volumes]:
        if ".." in path.split("/"):
            raise GophernetesError(f"{where}: the image config's {label} {path[:200]!r} climbs with '..'; "
                                   "refusing the image")
        if "\0" in path:
            raise GophernetesError(f"{where}: the image config's {label} contains a NUL byte; refusing the image")


def json_object(body: bytes, where: str, kind: str) -> dict:
    """Parse a JSON document that must be an object."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise GophernetesError(f"{where}: the {kind} is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise GophernetesError(f"{where}: the {kind} is {json_type(data)}, not a JSON object; refusing it")
    return data


def field_of(data: dict, key: str, kind: type, where: str, *, required: bool = False, default=None):
    """data[key] if it has the JSON type `kind`; `default` if absent or null; else one clear error."""
    value = data.get(key)
    if value is None:
        if required:
            raise GophernetesError(f"{where} has no {key!r}; refusing it")
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise GophernetesError(f"{where}: {key!r} is {json_type(value)}, not {JSON_TYPES[kind]}; refusing it")
    return value


def _strings(data: dict, key: str, where: str, *, one_string: bool = False) -> list[str]:
    """A list of strings (or, as docker's strslice allows for Cmd and Entrypoint, one string)."""
    value = data.get(key)
    if one_string and isinstance(value, str):
        return [value]
    values = field_of(data, key, list, where, default=[])
    for item in values:
        if not isinstance(item, str):
            raise GophernetesError(f"{where}: {key!r} holds {json_type(item)}, not only strings; refusing it")
    return list(values)


def json_type(value: object) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


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
