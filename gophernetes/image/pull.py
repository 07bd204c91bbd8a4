"""Pull an image from a registry into the store, the way a student can follow it.

    1. parse the reference           busybox -> docker.io/library/busybox:latest
    2. GET the manifest by tag       maybe an index: pick this host's platform, GET that
    3. GET the config blob           Entrypoint, Cmd, ... and the layers' diff_ids
    4. GET each missing layer blob   in parallel; verify its digest; unpack it safely;
                                     verify the unpacked stream's diff_id
    5. write the name                only now does the image exist

Layers already in the store (same diff_id) are not downloaded again, so a second pull
of an image, or of an image that shares its base, costs a manifest and a config.
"""

from __future__ import annotations

from gophernetes.errors import GophernetesError
from gophernetes.image import auth, reference
from gophernetes.image.manifest import (
    Config,
    Descriptor,
    Index,
    Manifest,
    check_config_paths,
    host_platform,
    parse_config,
    parse_document,
    select_platform,
)
from gophernetes.image.progress import Progress
from gophernetes.image.registry import RegistryClient
from gophernetes.image.store import Image, ImageStore, StoreWriter

PARALLEL_DOWNLOADS = 4


def pull(store: ImageStore, ref_text: str, *, insecure: bool = False, platform: str | None = None,
         progress: Progress | None = None) -> tuple[Image, bool]:
    """Pull `ref_text` into `store`. Returns the image and whether anything was downloaded."""
    progress = progress or Progress(quiet=True)
    ref = reference.parse(ref_text)
    client = RegistryClient(ref, insecure=insecure, credentials=auth.lookup(ref.registry, store.auth_file))
    body, media_type, digest = client.manifest(ref.manifest_reference)
    document = parse_document(body, media_type, ref.name)
    small_blobs = {digest: body}
    index_digest = None
    if isinstance(document, Index):
        chosen = select_platform(document, platform or host_platform(), ref.name)
        index_digest = digest
        body, media_type, digest = client.manifest(chosen.digest)
        document = parse_document(body, chosen.media_type or media_type, f"{ref.name} ({chosen.platform})")
        if not isinstance(document, Manifest):
            raise GophernetesError(f"{ref.name}: an index inside an index is not supported")
        small_blobs[digest] = body
    manifest: Manifest = document
    if _already_stored(store, ref.name, digest):
        return store.get(ref.name), False  # a warm pull: nothing to download, nothing to write
    config_body = store.read_blob(manifest.config.digest) if store.has_blob(manifest.config.digest) \
        else client.blob_bytes(manifest.config)
    small_blobs[manifest.config.digest] = config_body
    config = parse_config(config_body, ref.name)
    check_image(manifest, config, ref.name)
    wanted = platform or host_platform()
    if config.architecture and config.architecture != wanted.split("/")[1]:
        progress.message(f"warning: {ref.name} is built for {config.os}/{config.architecture}, "
                         f"not {wanted}; its programs may not run here")

    with store.writing() as writer:
        for blob_digest, data in small_blobs.items():
            writer.put_blob(data, blob_digest)
        missing = missing_layers(store, manifest, config)
        progress.begin(ref.name, len(missing), sum(layer.size for layer, _ in missing))
        fetch_layers(client, writer, missing, progress)
        progress.end()
        extra = (index_digest,) if index_digest else ()
        writer.commit(ref.name, manifest, digest, config, extra)
    return store.get(ref.name), bool(missing)


def _already_stored(store: ImageStore, name: str, manifest_digest: str) -> bool:
    try:
        image = store.get(name)
    except GophernetesError:
        return False
    return image.manifest_digest == manifest_digest


def check_image(manifest: Manifest, config: Config, name: str) -> None:
    """Before any layer is fetched: blobs and diff_ids match one for one, and the config's
    paths cannot climb out of the container's root."""
    if len(manifest.layers) != len(config.diff_ids):
        raise GophernetesError(f"{name}: the manifest lists {len(manifest.layers)} layers but the config "
                               f"{len(config.diff_ids)} diff_ids; the image is malformed")
    check_config_paths(config.image, name)


def missing_layers(store: ImageStore, manifest: Manifest, config: Config) -> list[tuple[Descriptor, str]]:
    """(blob descriptor, diff_id) of each layer not yet unpacked in the store, once each."""
    wanted: dict[str, Descriptor] = {}
    for layer, diff_id in zip(manifest.layers, config.diff_ids, strict=True):
        if not store.has_layer(diff_id):
            wanted.setdefault(diff_id, layer)
    return [(layer, diff_id) for diff_id, layer in wanted.items()]


def fetch_layers(client: RegistryClient, writer: StoreWriter, missing: list[tuple[Descriptor, str]],
                 progress: Progress) -> None:
    """Download, verify and unpack layers, a few at a time; the first failure stops the rest."""
    if not missing:
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(PARALLEL_DOWNLOADS, len(missing))) as pool:
        futures = [pool.submit(fetch_layer, client, writer, layer, diff_id, progress)
                   for layer, diff_id in missing]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def fetch_layer(client: RegistryClient, writer: StoreWriter, layer: Descriptor, diff_id: str,
                progress: Progress) -> None:
    store = writer.store
    if store.has_blob(layer.digest):
        blob = store.blob_path(layer.digest)  # e.g. the layer dir was lost but the blob kept
    else:
        blob = writer.temp_path()
        client.download_blob(layer, blob, progress.advance)
    writer.add_layer(blob, layer.digest, diff_id)
    progress.layer_done(layer.digest, layer.size)
