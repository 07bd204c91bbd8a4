"""The image store on disk: blobs by digest, unpacked layers by diff_id, names in an index.

    images/
      .lock                 flock'ed by every command that changes the store
      index.json            name -> image record (manifest, config, layers), replaced atomically
      auth.json             credentials saved by `gophernetes login` (0600)
      blobs/sha256/<hex>    manifests, configs and layer blobs, named by their sha256
      layers/<hex>/diff/    an unpacked layer, named by its diff_id; overlayfs lowerdir
      layers/<hex>/layer.json  its diff_id, blob digest, uncompressed size, short link,
                               and the device nodes its tar held that were not created
      layers/l/<short>      a short link -> ../<hex>/diff (docker's overlay2 does the same)
      tmp/write-*/          work in progress; renamed into place only when complete

Everything under blobs/ and layers/ is *content-addressed*: its name is the hash of
its content, so two images that share a layer share one directory, and a second pull
of the same image downloads nothing. Only index.json maps human names to content.

A change is made in tmp/ and published by rename(2), which is atomic: a reader sees
the old state or the new one, never half of a layer. An image's name is written to
index.json last, after all its layers are in place, so a pull that fails or is killed
leaves no image behind; whatever it left in tmp/, or layers no name uses, is collected
by the next command that changes the store (pull, rmi, image prune, ...). Each command
holds a flock on its own tmp/write-* folder while it works, so "stale" is exact: a
folder nobody holds a lock on belongs to a command that died.

The short links exist for overlayfs: a container's root is mounted with every layer
in one option string, which must fit in a page (4096 bytes). `layers/<64 hex>/diff`
costs 70 bytes a layer (57 layers fit); `l/<12 hex>`, given relative to layers/l, 13
(over 250 fit). The link is named by the diff_id's first 12 hex digits (docker's short
ID), longer only if another layer already took that name; layer.json records it.

When a pull moves a name to a newer image, the old image stays as `<none>` (docker's
"dangling" image): containers made from it still stack its layers. `rmi` refuses an
image a container uses; `gophernetes image prune` removes dangling images no one uses.

Readers (get, list) take no lock; writers hold an exclusive flock on .lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from gophernetes.errors import Conflict, GophernetesError, NotFound
from gophernetes.image import reference
from gophernetes.image.manifest import Config, ImageConfig, Manifest, parse_config

DEFAULT_IMAGE = "busybox:latest"
DANGLING = "<none>"  # the name of an image whose name moved to a newer image
LINKS = "l"  # layers/l/<short id> -> ../<hex>/diff
SHORT_LINK = 12  # hex digits of a short link's name, as docker's short IDs


@dataclass(frozen=True)
class Image:
    """An image in the store, ready for the runtime to mount."""

    name: str               # normalized reference: busybox:latest, 127.0.0.1:5000/alpine:3.19
    id: str                 # sha256:<config digest>, as docker's IMAGE ID
    manifest_digest: str
    layer_dirs: list[Path]  # bottom layer first, as short links; mount as lowerdir=reversed(layer_dirs)
    config: ImageConfig
    created: str            # from the image config, RFC 3339
    size: int               # bytes of all layers uncompressed


class ImageStore:
    """The image store rooted at `root` (StateRoot.images). Directories appear on first write."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs" / "sha256"
        self.layers = self.root / "layers"
        self.tmp = self.root / "tmp"
        self.index_file = self.root / "index.json"
        self.auth_file = self.root / "auth.json"
        self.lock_file = self.root / ".lock"

    # --- reading ------------------------------------------------------------------------

    def get(self, ref: str) -> Image:
        """The image named `ref` (any reference form) or with that IMAGE ID (prefix)."""
        records = self._read_index()
        for name in [ref, *_candidate_names(ref)]:
            if name in records:
                return self._image(name, records[name])
        by_id = _match_id(ref, records)
        if by_id:
            return self._image(by_id, records[by_id])
        from gophernetes import settings

        raise NotFound(f"image '{ref}' not found; "
                       + reference.pull_hint(ref, lab_registry=settings.lab_registry()))

    def images(self) -> list[Image]:
        """Every named image, sorted by name."""
        records = self._read_index()
        return [self._image(name, records[name]) for name in sorted(records)]

    def blob_owners(self) -> dict[str, list[str]]:
        """Every image name -> the digests of its blobs (manifest, config, layers): where a push
        may mount a blob from."""
        return {name: list(record.get("blobs", [])) for name, record in self._read_index().items()}

    def blob_path(self, digest: str) -> Path:
        return self.blobs / _hex(digest)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def read_blob(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def layer_dir(self, diff_id: str) -> Path:
        """Where the layer with this diff_id is unpacked."""
        return self.layers / _hex(diff_id) / "diff"

    def layer_link(self, diff_id: str) -> Path:
        """The layer's short link (layers/l/<short> -> ../<hex>/diff), the overlayfs lowerdir.

        A layer stored before short links existed has none: then its own directory.
        """
        value = _hex(diff_id)
        link = self.layers / LINKS / value[:SHORT_LINK]
        try:
            if os.readlink(link) == f"../{value}/diff":
                return link
        except OSError:
            pass
        try:  # a longer name: another layer had this one first
            name = json.loads((self.layers / value / "layer.json").read_text()).get("link")
        except (OSError, ValueError):
            name = None
        return self.layers / name if name else self.layer_dir(diff_id)

    def has_layer(self, diff_id: str) -> bool:
        return (self.layers / _hex(diff_id) / "layer.json").exists()

    def _image(self, name: str, record: dict) -> Image:
        try:
            config = parse_config(self.read_blob(record["config"]), name)
        except FileNotFoundError:
            raise GophernetesError(f"image {name} is damaged: its config blob is missing; remove it "
                                   f"(gophernetes rmi {name}) and pull it again") from None
        layer_dirs = [self.layer_link(diff_id) for diff_id in record["layers"]]
        for directory in layer_dirs:
            if not directory.is_dir():
                raise GophernetesError(f"image {name} is damaged: layer {directory.parent.name[:12]} is "
                                       f"missing; remove it (gophernetes rmi {name}) and pull it again")
        return Image(name=name, id=record["config"], manifest_digest=record["manifest"],
                     layer_dirs=layer_dirs, config=config.image, created=record.get("created", ""),
                     size=int(record.get("size", 0)))

    def _read_index(self) -> dict[str, dict]:
        try:
            return json.loads(self.index_file.read_text()).get("images", {})
        except FileNotFoundError:
            return {}
        except ValueError as error:
            raise GophernetesError(f"the image index {self.index_file} is damaged ({error}); "
                                   "remove it and pull your images again") from None

    # --- writing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[StoreWriter]:
        """Lock the store for a change; on failure, collect whatever the change left behind."""
        for directory in (self.blobs, self.layers / LINKS, self.tmp):
            directory.mkdir(parents=True, exist_ok=True)
        with open(self.lock_file, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._collect_garbage()  # leftovers of a pull that was killed
            work = Path(tempfile.mkdtemp(prefix="write-", dir=self.tmp))
            held = os.open(work, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            fcntl.flock(held, fcntl.LOCK_EX)  # "this folder is in use": released when we exit, or die
            try:
                yield StoreWriter(self, work)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                self._collect_garbage()
                raise
            finally:
                os.close(held)
            shutil.rmtree(work, ignore_errors=True)

    def remove(self, ref: str, in_use: Mapping[str, str] | None = None) -> list[str]:
        """Forget the image named `ref` (or every name of an IMAGE ID); collect unused content.

        `in_use` maps layer directories to the container that stacks them: an image whose
        layers a container uses is not removed (its files would vanish under the
        container). Returns the names removed. Layers still used by another image stay.
        """
        with self.writing() as writer:
            records = self._read_index()
            image = self.get(ref)
            names = [image.name] if image.name in (ref, *_candidate_names(ref)) else \
                [name for name, record in records.items() if record["config"] == image.id]
            others = [n for n, r in records.items() if n not in names and r["config"] == image.id]
            if not others:
                _refuse_if_in_use(image, in_use or {})
            for name in names:
                del records[name]
            writer.save_index(records)
            self._collect_garbage()  # the blobs and layers no name uses any more
        return names

    def prune(self, in_use: Mapping[str, str] | None = None) -> list[str]:
        """Remove the dangling images (<none>: replaced by a newer pull) no container uses,
        and what killed commands left in tmp/."""
        removed = []
        used_dirs = _real_paths(in_use or {})
        for image in self.images():
            used = any(os.path.realpath(d) in used_dirs for d in image.layer_dirs)
            if image.name.startswith(DANGLING) and not used:
                removed += self.remove(image.name, in_use)
        with self.writing():
            pass  # taking the lock collects the garbage
        return removed

    def _collect_garbage(self) -> None:
        """Remove stale tmp/ leftovers and every blob, layer and link no image record uses."""
        for entry in self.tmp.iterdir():
            if not _held(entry):
                _remove(entry)
        records = self._read_index()
        used_blobs = {_hex(d) for record in records.values() for d in record.get("blobs", [])}
        used_layers = {_hex(d) for record in records.values() for d in record["layers"]}
        for blob in self.blobs.iterdir():
            if blob.name not in used_blobs:
                _remove(blob)
        for layer in self.layers.iterdir():
            if layer.name not in used_layers and layer.name != LINKS:
                _remove(layer)
        for link in (self.layers / LINKS).iterdir():
            if not link.exists():  # its layer is gone (or a pull died before publishing it)
                link.unlink()


class StoreWriter:
    """What a pull, an import or a build may do while it holds the store's lock."""

    def __init__(self, store: ImageStore, work: Path) -> None:
        self.store = store
        self.work = work

    def temp_path(self, prefix: str = "blob-") -> Path:
        fd, name = tempfile.mkstemp(prefix=prefix, dir=self.work)
        os.close(fd)
        return Path(name)

    def put_blob(self, data: bytes, digest: str) -> None:
        """Store a small blob (manifest, config) after checking that it hashes to `digest`."""
        got = "sha256:" + hashlib.sha256(data).hexdigest()
        if got != digest:
            raise GophernetesError(f"blob {digest} is corrupt: its content hashes to {got}; refusing it")
        if self.store.has_blob(digest):
            return
        path = self.temp_path()
        path.write_bytes(data)
        os.replace(path, self.store.blob_path(digest))

    def add_layer(self, blob: Path, blob_digest: str, diff_id: str) -> None:
        """Unpack a verified layer blob, check its diff_id, and publish blob and layer.

        `blob` is a file in the work dir (it is moved into blobs/) or already in blobs/.
        """
        if self.store.has_layer(diff_id):
            return
        from gophernetes.image import layers  # tarfile & co.: only a pull that unpacks pays for them

        staging = Path(tempfile.mkdtemp(prefix="layer-", dir=self.work))
        staging.chmod(0o755)  # so the lowerdir path can be walked by any uid
        (staging / "diff").mkdir()
        result = layers.unpack_file(blob, staging / "diff", label=blob_digest)
        if result.diff_id != diff_id:
            raise GophernetesError(f"layer {blob_digest} unpacks to {result.diff_id}, but the image config "
                                   f"says {diff_id}; refusing the image")
        link = self._make_link(diff_id)
        (staging / "layer.json").write_text(json.dumps(
            {"diff_id": diff_id, "blob": blob_digest, "size": result.size, "link": f"{LINKS}/{link}",
             "skipped": result.skipped_devices}))
        if blob.parent != self.store.blobs:
            os.replace(blob, self.store.blob_path(blob_digest))
        os.rename(staging, self.store.layers / _hex(diff_id))

    def _make_link(self, diff_id: str) -> str:
        """Make layers/l/<short> -> ../<hex>/diff; returns <short>. Dangles until the layer is published."""
        value = _hex(diff_id)
        target = f"../{value}/diff"
        for length in (SHORT_LINK, 16, 24, 32, 64):
            link = self.store.layers / LINKS / value[:length]
            try:
                os.symlink(target, link)
                return link.name
            except FileExistsError:
                if os.readlink(link) == target:
                    return link.name
        raise GophernetesError(f"cannot make a short link for layer {diff_id}")  # 64 digits are unique

    def commit(self, name: str, manifest: Manifest, manifest_digest: str, config: Config,
               extra_blobs: tuple[str, ...] = ()) -> None:
        """Give the image a name: the last step, once every blob and layer is in place."""
        missing = [d for d in config.diff_ids if not self.store.has_layer(d)]
        if missing:
            raise GophernetesError(f"{name}: layer {missing[0]} was not unpacked; the pull is incomplete")
        size = sum(json.loads((self.store.layers / _hex(d) / "layer.json").read_text())["size"]
                   for d in dict.fromkeys(config.diff_ids))
        blobs = [manifest_digest, manifest.config.digest, *extra_blobs,
                 *(layer.digest for layer in manifest.layers)]
        records = self.store._read_index()
        _keep_replaced_image(records, name, manifest.config.digest)
        records[name] = {"manifest": manifest_digest, "config": manifest.config.digest,
                         "layers": config.diff_ids, "blobs": blobs, "size": size, "created": config.created}
        self.save_index(records)

    def save_index(self, records: dict[str, dict]) -> None:
        """Replace index.json atomically: write a temporary file, fsync it, rename it over."""
        path = self.temp_path("index-")
        with open(path, "w") as out:
            json.dump({"version": 1, "images": records}, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(path, self.store.index_file)
        directory = os.open(self.store.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _keep_replaced_image(records: dict[str, dict], name: str, new_id: str) -> None:
    """When `name` moves to another image, keep the old one as a dangling `<none>` image.

    Containers made from the old image still stack its layers, so they must not be
    collected as garbage; `gophernetes image prune` removes dangling images no one uses.
    """
    old = records.get(name)
    if not old or old["config"] == new_id:
        return
    if any(r["config"] == old["config"] for n, r in records.items() if n != name):
        return  # the old image keeps another name
    records[f"{DANGLING}@{old['config']}"] = old


def _refuse_if_in_use(image: Image, in_use: Mapping[str, str]) -> None:
    used = _real_paths(in_use)
    for directory in image.layer_dirs:
        container = used.get(os.path.realpath(directory))
        if container:
            raise Conflict(f"image {image.name} is used by container {container}; "
                           f"remove the container first: gophernetes rm {container}")


def _hex(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise GophernetesError(f"unsupported or malformed digest {digest!r}; expected sha256:<64 hex digits>")
    return value


def _candidate_names(ref: str) -> list[str]:
    try:
        return [reference.parse(ref).name]
    except GophernetesError:
        return []


def _match_id(ref: str, records: dict[str, dict]) -> str | None:
    """The name of the image whose IMAGE ID starts with `ref` (at least 4 hex digits)."""
    prefix = ref.removeprefix("sha256:")
    if len(prefix) < 4 or not all(c in "0123456789abcdef" for c in prefix):
        return None
    matches = {name: r["config"] for name, r in records.items() if r["config"][7:].startswith(prefix)}
    if len(set(matches.values())) > 1:
        raise Conflict(f"image ID {ref!r} is ambiguous; give more digits")
    return min(matches) if matches else None


def _real_paths(in_use: Mapping[str, str]) -> dict[str, str]:
    """Layer paths as the kernel sees them: a container may name a layer by its short link
    or (made before short links) by its folder."""
    return {os.path.realpath(path): container for path, container in in_use.items()}


def _held(entry: Path) -> bool:
    """Whether a live command holds its flock on this tmp/ folder (a dead one holds nothing)."""
    try:
        fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False  # a plain file, or already gone: not a work folder
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
