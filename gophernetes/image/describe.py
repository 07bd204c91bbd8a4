"""What `image inspect` and `image history` show: an image's config, layers and history.

The config blob says what the image runs and, in `history`, how it was made: one entry
per Containerfile step, `empty_layer: true` for the steps that changed only the config
(ENV, CMD, ...). The other entries match the manifest's layers one for one, bottom first:

    history (config)                        layers (manifest)      rootfs.diff_ids (config)
    FROM ... / ADD rootfs.tar  ------------ sha256:1a2b (gzip)  -- sha256:9f8e (plain tar)
    ENV PATH=...               (empty)
    RUN apk add curl  --------------------- sha256:3c4d         -- sha256:7a6b
    CMD ["sh"]                 (empty)
"""

from __future__ import annotations

import json

from gophernetes.errors import GophernetesError
from gophernetes.image.manifest import Manifest, json_object


def describe(name: str, manifest_digest: str, manifest: Manifest, config_body: bytes) -> dict:
    """docker image inspect's fields for one image."""
    config = json_object(config_body, name, "image config")
    return {
        "Id": manifest.config.digest,
        "RepoTags": [name] if not name.startswith("<none>") else [],
        "Digest": manifest_digest,
        "Created": config.get("created", ""),
        "Architecture": config.get("architecture", ""),
        "Os": config.get("os", ""),
        "Config": config.get("config") or {},
        "RootFS": {"Type": "layers", "Layers": list((config.get("rootfs") or {}).get("diff_ids") or [])},
        "Layers": [{"Digest": layer.digest, "Size": layer.size, "MediaType": layer.media_type}
                   for layer in manifest.layers],
        "Size": sum(layer.size for layer in manifest.layers),
        "History": history(config, manifest, name),
    }


def history(config: dict, manifest: Manifest, name: str = "image") -> list[dict]:
    """The config's history, each step with the layer it made (or none), newest first as docker shows it."""
    entries = config.get("history") or []
    if not isinstance(entries, list):
        raise GophernetesError(f"{name}: the image config's history is not a list")
    layers = iter(manifest.layers)
    rows = []
    for entry in entries:
        entry = entry if isinstance(entry, dict) else {}
        layer = None if entry.get("empty_layer") else next(layers, None)
        rows.append({"Created": str(entry.get("created", "")), "CreatedBy": str(entry.get("created_by", "")),
                     "Comment": str(entry.get("comment", "")),
                     "Layer": layer.digest if layer else "", "Size": layer.size if layer else 0})
    for layer in layers:  # images without history (or with too little of it)
        rows.append({"Created": "", "CreatedBy": "", "Comment": "", "Layer": layer.digest, "Size": layer.size})
    return list(reversed(rows))


def as_json(found: list[dict]) -> str:
    return json.dumps(found, indent=2)
