"""Push an image from the store to a registry: a pull's steps backwards, the name last.

    1. read the image's manifest, config and layer blobs from the store (they are kept
       exactly as they were pulled or made, so their digests still hold)
    2. for each blob, layers first and the config last:
         HEAD  /v2/<repo>/blobs/<digest>          200: the registry has it here, skip it
         POST  /v2/<repo>/blobs/uploads/?mount=<digest>&from=<other repo>
                                                  201: the registry linked the blob from another
                                                  repository it has (no bytes sent); 202: it cannot,
                                                  and the answer is an upload session instead
         POST  /v2/<repo>/blobs/uploads/          202 + Location: an upload session
         PUT   <location>?digest=<digest>         the whole blob in one request (monolithic), or
         PATCH <location>  Content-Range: a-b     one chunk at a time (each answer gives the next
                                                  Location), then PUT <location>?digest= to close it
       The registry hashes what it received and refuses it if it is not `digest`.
    3. PUT   /v2/<repo>/manifests/<tag>           only now does the tag exist: a push that fails
                                                  halfway leaves blobs but no half-made image.

The candidates for a mount are the other repositories of the same registry that the
store has images from (an image pulled from 127.0.0.1:5000/lab/base offers its blobs to
a push to 127.0.0.1:5000/lab/app). Authentication is the pull's (registry.py): basic
credentials from `gophernetes login`, or a bearer token whose scope the registry names
in its challenge (`repository:lab/app:pull,push`, plus `repository:lab/base:pull` for a
mount).

Blobs larger than the chunk size (GOPHERNETES_PUSH_CHUNK_SIZE, default 16 MiB) go in
chunks, so a registry or a proxy with a request size limit still takes them.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gophernetes.errors import GophernetesError, NotFound, UsageError
from gophernetes.image import auth, reference
from gophernetes.image.manifest import Descriptor, Manifest, parse_document
from gophernetes.image.progress import Progress
from gophernetes.image.reference import Reference
from gophernetes.image.registry import RegistryClient
from gophernetes.image.store import ImageStore

CHUNK_SIZE = 16 << 20


@dataclass(frozen=True)
class Pushed:
    """What a push did: the reference written, the manifest digest, and how each blob went."""

    name: str
    digest: str
    uploaded: int = 0
    existed: int = 0
    mounted: int = 0


def push(store: ImageStore, source: str, destination: str | None = None, *, insecure: bool = False,
         progress: Progress | None = None) -> Pushed:
    """Push the stored image `source` to `destination` (default: its own name); manifest last."""
    progress = progress or Progress(quiet=True)
    image = store.get(source)
    ref = reference.parse(destination or image.name)
    if ref.digest:
        raise UsageError(f"{ref.name}: push to a tag, not a digest (the registry computes the digest)")
    body = store.read_blob(image.manifest_digest)
    document = parse_document(body, "", image.name)
    if not isinstance(document, Manifest):
        raise GophernetesError(f"{image.name}: its stored manifest is an index; push one platform's image")
    client = RegistryClient(ref, insecure=insecure, credentials=auth.lookup(ref.registry, store.auth_file))
    mounts = mount_sources(store.blob_owners(), ref)
    blobs = blobs_to_push(document)
    progress.begin(ref.name, len(blobs), sum(b.size for b in blobs), verb="pushing")
    counts = {"uploaded": 0, "existed": 0, "mounted": 0}
    for blob in blobs:
        outcome = push_blob(client, store.blob_path(blob.digest), blob, mounts.get(blob.digest, []),
                            progress)
        counts[outcome] += 1
    progress.end()
    put_manifest(client, ref, body, document.media_type)
    return Pushed(ref.name, image.manifest_digest, **counts)


def blobs_to_push(manifest: Manifest) -> list[Descriptor]:
    """The layer blobs bottom first, each once, then the config: what must exist before the manifest."""
    seen: dict[str, Descriptor] = {}
    for layer in manifest.layers:
        seen.setdefault(layer.digest, layer)
    seen.setdefault(manifest.config.digest, manifest.config)
    return list(seen.values())


def mount_sources(owners: Mapping[str, Iterable[str]], target: Reference) -> dict[str, list[str]]:
    """Blob digest -> repositories of the target's registry (not the target's own) known to hold it.

    `owners` maps each stored image's name to the digests of its blobs.
    """
    sources: dict[str, list[str]] = {}
    for name, digests in sorted(owners.items()):
        try:
            ref = reference.parse(name)
        except GophernetesError:
            continue  # "<none>@..." and other names that are no references
        if ref.registry != target.registry or ref.repository == target.repository:
            continue
        for digest in digests:
            repositories = sources.setdefault(digest, [])
            if ref.repository not in repositories:
                repositories.append(ref.repository)
    return sources


def chunk_ranges(size: int, chunk: int) -> list[tuple[int, int]]:
    """The (first, last) byte offsets of each PATCH, as Content-Range wants them (inclusive)."""
    if chunk <= 0:
        raise UsageError("the chunk size must be greater than 0")
    return [(start, min(start + chunk, size) - 1) for start in range(0, size, chunk)]


def push_blob(client: RegistryClient, path: Path, blob: Descriptor, candidates: list[str],
              progress: Progress) -> str:
    """Make sure the registry has `blob`; returns "existed", "mounted" or "uploaded"."""
    if blob_exists(client, blob.digest):
        progress.message(f"{client.ref.name}: blob {blob.digest[7:19]} already exists")
        return "existed"
    location = None
    if candidates:  # one try: a registry that cannot mount opens an upload session instead
        location = start_upload(client, mount=blob.digest, source=candidates[0])
        if location is None:
            progress.message(f"{client.ref.name}: blob {blob.digest[7:19]} mounted from {candidates[0]}")
            return "mounted"
    if not path.is_file():
        raise GophernetesError(f"blob {blob.digest} is missing from the store; pull or build the image again")
    upload(client, location or start_upload(client) or "", path, blob, progress)
    progress.layer_done(blob.digest, blob.size)
    return "uploaded"


def blob_exists(client: RegistryClient, digest: str) -> bool:
    try:
        client.send("HEAD", client.repo_url + "blobs/" + digest, what=f"blob {digest[:19]}").close()
        return True
    except NotFound:
        return False


def start_upload(client: RegistryClient, mount: str | None = None, source: str | None = None) -> str | None:
    """POST an upload session (or a mount); returns its Location, or None when the mount worked."""
    query = "?" + urllib.parse.urlencode({"mount": mount, "from": source}) if mount else ""
    what = f"blob {mount[:19]}" if mount else f"an upload to {client.ref.repository_name}"
    with client.send("POST", client.repo_url + "blobs/uploads/" + query, what=what,
                     headers={"Content-Length": "0"}, body=b"") as response:
        status = response.status
        location = response.headers.get("Location")
    if mount and status == 201:
        return None
    if status != 202 or not location:
        raise GophernetesError(f"{what}: {client.ref.registry} answered {status} without an upload "
                               "location; it does not accept pushes")
    return urllib.parse.urljoin(client.root_url, location)


def upload(client: RegistryClient, location: str, path: Path, blob: Descriptor, progress: Progress) -> None:
    """Send the blob's bytes to the session at `location`, in one PUT or in PATCHed chunks."""
    chunk = chunk_size()
    what = f"blob {blob.digest[:19]}"
    with open(path, "rb") as data:
        if blob.size > chunk:
            for first, last in chunk_ranges(blob.size, chunk):
                data.seek(first)
                piece = data.read(last - first + 1)
                headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(piece)),
                           "Content-Range": f"{first}-{last}"}
                with client.send("PATCH", location, what=what, body=piece, headers=headers) as response:
                    location = urllib.parse.urljoin(client.root_url, response.headers.get("Location") or location)
                progress.advance(len(piece))
            body: bytes | None = b""
            length = 0
        else:
            body, length = None, blob.size
        target = location + ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": blob.digest})
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        with client.send("PUT", target, what=what, body=data if body is None else body,
                         headers=headers) as response:
            status = response.status
        if body is None:
            progress.advance(blob.size)
    if status != 201:
        raise GophernetesError(f"{what}: {client.ref.registry} answered {status} to the upload, not 201 Created")


def put_manifest(client: RegistryClient, ref: Reference, body: bytes, media_type: str) -> None:
    """PUT the manifest under the tag: the push's last step, after every blob it names."""
    tag = ref.tag or reference.DEFAULT_TAG
    with client.send("PUT", client.repo_url + "manifests/" + tag, what=f"manifest of {ref.name}", body=body,
                     headers={"Content-Type": media_type, "Content-Length": str(len(body))}) as response:
        announced = response.headers.get("Docker-Content-Digest", "")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if announced.startswith("sha256:") and announced != digest:
        raise GophernetesError(f"{ref.name}: the registry stored the manifest as {announced}, not {digest}")


def chunk_size() -> int:
    text = os.environ.get("GOPHERNETES_PUSH_CHUNK_SIZE")
    if not text:
        return CHUNK_SIZE
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise UsageError(f"GOPHERNETES_PUSH_CHUNK_SIZE={text!r}: give a number of bytes greater than 0")
    return value
