"""Images in containerd: pull, import, list, remove, and what `run` needs to know of one.

In containerd an *image* is a name pointing at a manifest (or an index of manifests, one
per platform) in its content store; `ctr images pull` fetches the blobs and unpacks the
layers into overlayfs snapshots, one per layer, each on its parent. Removing the name
is all `ctr images rm` does: containerd's garbage collector then deletes the blobs and
snapshots that nothing (no other image, no container) references any more.

So the verbs map onto ctr, with the native engine's rules where they differ:
- `pull` uses the credentials `gophernetes login` saved (image/auth.py), as the native
  engine's pull does;
- `rmi` refuses an image a container (in any state) was made from, with the native
  engine's message (containerd itself would let the name go and keep the layers);
- `image prune` has nothing to remove: a new pull *moves* a name in containerd rather
  than leaving a nameless ("dangling") image behind, and the collector already deleted
  unreferenced content.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gophernetes.engine import ImageInfo, Pulled
from gophernetes.engines.containerd.client import PULL_TIMEOUT, Ctr, ImageRecord
from gophernetes.errors import Conflict, GophernetesError, NotFound, PermissionDenied, UsageError
from gophernetes.paths import StateRoot


class ContainerdImages:
    """The images of one containerd namespace, seen as gophernetes shows images."""

    def __init__(self, ctr: Ctr, state: StateRoot, scratch: Path) -> None:
        self.ctr = ctr
        self.state = state
        self.scratch = scratch   # where the default image is built before its import

    def pull(self, reference: str, insecure: bool = False, platform: str | None = None) -> Pulled:
        """`ctr images pull`: the blobs into the content store, the layers unpacked into snapshots.

        Credentials saved by `gophernetes login` (or docker's) go to ctr as --user: ctr
        then answers the registry's Basic or Bearer challenge itself. They are visible
        in ctr's command line (/proc/PID/cmdline) while it runs; ctr 1.6 has no other way
        to take them without a terminal.
        """
        from gophernetes.image import auth
        from gophernetes.image.reference import is_local_registry, parse

        parsed = parse(reference)
        flags = ["--plain-http"] if insecure or is_local_registry(parsed.registry) else []
        flags += ["--platform", platform] if platform else []
        credentials = auth.lookup(parsed.registry, self.state.images / "auth.json")
        flags += ["--user", f"{credentials.username}:{credentials.password}"] if credentials else []
        try:
            self.ctr.run("images", "pull", *flags, full_reference(reference), timeout=PULL_TIMEOUT,
                         what=f"image {parsed.name}")
        except NotFound:
            raise NotFound(f"{parsed.name}: not found at {parsed.registry}; check the name and tag") from None
        except GophernetesError as error:
            if "401 Unauthorized" not in str(error):
                raise
            raise login_error(parsed.name, parsed.registry, refused=credentials is not None) from None
        return Pulled(parsed.name)

    def import_archive(self, path: str, name: str | None = None) -> list[str]:
        """`ctr images import`: a `docker save` tar or an OCI archive (a directory holding an
        OCI layout is tarred on the way). Returns the names that were added or changed."""
        source = Path(path)
        if not source.exists():
            raise NotFound(f"no such archive: {path}")
        before = {record.ref: record.digest for record in self.ctr.images()}
        base = import_base_name(source, name)
        flags = ["--base-name", base] if base else []
        if source.is_dir():
            with tar_stream(source) as stream:
                result = self.ctr.call("images", "import", *flags, "-", timeout=PULL_TIMEOUT, stdin=stream)
        else:
            result = self.ctr.call("images", "import", *flags, str(source), timeout=PULL_TIMEOUT)
        if result.returncode != 0:
            raise self.ctr.error(result.stderr, f"archive {path}")
        added = [record.ref for record in self.ctr.images() if before.get(record.ref) != record.digest]
        named = re.findall(r"^unpacking (\S+) \(sha256:", result.stdout, re.MULTILINE)
        return [short_name(ref) for ref in (added or named)]

    def all(self) -> list[ImageInfo]:
        """Each image containerd has in our namespace; ID = config digest, as docker's."""
        return [self.info(record) for record in self.ctr.images()]

    def remove(self, reference: str, users: dict[str, str]) -> list[str]:
        """`ctr images rm` of the names `reference` means, unless that removes an image a container uses.

        `users` maps a fully qualified reference to a container made from it (any state).
        As with docker and the native engine, one of several names of the same image (the
        same IMAGE ID) can always go: the image itself stays under the others.
        """
        refs = self.refs(reference)
        if not refs:
            raise NotFound(f"image {reference!r} not found; see gophernetes --engine containerd images")
        used = [ref for ref in refs if ref in users]
        if used and not self._other_names(refs):
            raise Conflict(f"image {short_name(used[0])} is used by container {users[used[0]]}; "
                           f"remove the container first: gophernetes rm {users[used[0]]}")
        self.ctr.run("images", "rm", *refs, what=f"image {reference}")
        return [short_name(ref) for ref in refs]

    def _other_names(self, refs: list[str]) -> list[str]:
        """Names other than `refs` for the image(s) `refs` name (the same config digest)."""
        records = self.ctr.images()
        ids = {self.info(record).id for record in records if record.ref in refs}
        return [record.ref for record in records if record.ref not in refs and self.info(record).id in ids]

    def push(self, source: str, destination: str | None = None, insecure: bool = False) -> tuple[str, str]:
        """`ctr images push REMOTE LOCAL`: containerd checks and uploads the blobs, the manifest last.

        Credentials go to ctr as --user, visible in its command line while it runs (as for pull).
        """
        from gophernetes.image import auth
        from gophernetes.image.reference import is_local_registry, parse

        remote = parse(destination or source)
        flags = ["--plain-http"] if insecure or is_local_registry(remote.registry) else []
        credentials = auth.lookup(remote.registry, self.state.images / "auth.json")
        flags += ["--user", f"{credentials.username}:{credentials.password}"] if credentials else []
        self.ctr.run("images", "push", *flags, full_reference(remote.name), full_reference(source),
                     timeout=PULL_TIMEOUT, what=f"image {source}")
        digests = [r.digest for r in self.ctr.images() if r.ref == full_reference(source)]
        return remote.name, digests[0] if digests else ""

    def save(self, images: list[str], output: str) -> None:
        """`ctr images export`: an OCI layout tar that also holds docker's manifest.json (both formats)."""
        if output == "-":
            raise UsageError("save to stdout is not supported with --engine containerd: give -o FILE")
        self.ctr.run("images", "export", output, *(full_reference(i) for i in images), timeout=PULL_TIMEOUT,
                     what=f"image {' '.join(images)}")

    def describe(self, reference: str) -> dict:
        """The manifest and config containerd keeps for the image (`ctr content get`)."""
        from gophernetes.image.describe import describe

        refs = self.refs(reference)
        record = next((r for r in self.ctr.images() if refs and r.ref == refs[0]), None)
        if record is None:
            raise NotFound(f"image {reference!r} not found; see gophernetes --engine containerd images")
        manifest, config = self.manifest_and_config(record)
        return describe(short_name(record.ref), record.digest, manifest, config)

    def refs(self, reference: str) -> list[str]:
        """The references `reference` means: a name, or (a prefix of) an IMAGE ID, as docker."""
        records = self.ctr.images()
        if re.fullmatch(r"(sha256:)?[0-9a-f]{4,64}", reference):
            wanted = reference.removeprefix("sha256:")
            by_id = [r.ref for r in records if self.info(r).id.removeprefix("sha256:").startswith(wanted)]
            if len(by_id) > 1:
                raise Conflict(f"image ID {reference} is named {', '.join(map(short_name, by_id))}: "
                               "remove them by name")
            if by_id:
                return by_id
        ref = full_reference(reference)
        return [ref] if ref in {record.ref for record in records} else []

    def info(self, record: ImageRecord) -> ImageInfo:
        """NAME, IMAGE ID (the config's digest), CREATED and SIZE (config + compressed layers)."""
        from gophernetes.image.manifest import parse_config

        manifest, config_blob = self.manifest_and_config(record)
        created = parse_config(config_blob, record.ref).created
        size = manifest.config.size + sum(layer.size for layer in manifest.layers)
        return ImageInfo(short_name(record.ref), manifest.config.digest, created, size, digest=record.digest)

    def manifest_and_config(self, record: ImageRecord) -> tuple[Any, bytes]:
        """The manifest for this host's platform (through an index if need be) and its config blob."""
        from gophernetes.image.manifest import Index, host_platform, parse_document, select_platform

        document = parse_document(self.ctr.content(record.digest), "", record.ref)
        if isinstance(document, Index):
            chosen = select_platform(document, host_platform(), record.ref)
            document = parse_document(self.ctr.content(chosen.digest), chosen.media_type, record.ref)
            if isinstance(document, Index):
                raise GophernetesError(f"{record.ref}: an index inside an index is not supported")
        return document, self.ctr.content(document.config.digest)

    def run_config(self, ref: str) -> dict:
        """Entrypoint, Cmd, Env, WorkingDir and User of an image containerd has."""
        from gophernetes.image.manifest import parse_config

        record = next((r for r in self.ctr.images() if r.ref == ref), None)
        if record is None:
            from gophernetes import settings
            from gophernetes.image.reference import pull_hint

            name = short_name(ref)
            raise NotFound(f"image {name!r} not found; " + pull_hint(name, "gophernetes --engine containerd pull",
                                                                     settings.lab_registry()))
        config = parse_config(self.manifest_and_config(record)[1], ref).image
        return {"entrypoint": config.entrypoint, "cmd": config.cmd, "env": config.env,
                "working_dir": config.working_dir, "user": config.user}

    def default_image(self) -> str:
        """busybox:latest for `run /bin/sh`, built the first time it is needed (see build_busybox)."""
        ref = full_reference("busybox")
        if not any(record.ref == ref for record in self.ctr.images()):
            self.build_busybox("busybox:latest")
        return ref

    def build_busybox(self, name: str, source: Path | None = None) -> str:
        """The native engine's one-layer busybox image (image/busybox.py), offline from the host's
        busybox, built in a scratch image store and imported into containerd as an OCI layout."""
        from gophernetes.image import busybox
        from gophernetes.image.reference import parse
        from gophernetes.image.store import ImageStore

        wanted = parse(name)
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch, prefix=".busybox-") as scratch:
            store = ImageStore(Path(scratch) / "store")
            image = busybox.build(store, wanted.name, source or busybox.HOST_BUSYBOX)
            layout = Path(scratch) / "layout"
            shutil.copytree(store.blobs, layout / "blobs" / "sha256", copy_function=os.link)
            manifest = store.read_blob(image.manifest_digest)
            write_oci_layout(layout, json.loads(manifest)["mediaType"], image.manifest_digest, len(manifest),
                             wanted.tag or "latest")
            self.import_archive(str(layout), f"{wanted.registry}/{wanted.repository}")
        return wanted.name


def login_error(name: str, registry: str, refused: bool) -> PermissionDenied:
    """The native engine's words for a registry that answered 401 (image/registry.py)."""
    if refused:
        return PermissionDenied(f"{name}: {registry} refused the saved credentials; "
                                f"run: gophernetes login {registry}")
    return PermissionDenied(f"{name}: {registry} requires a login; run: gophernetes login {registry}")


def write_oci_layout(layout: Path, media_type: str, digest: str, size: int, tag: str = "latest") -> None:
    """The two files that make a folder of blobs an OCI image layout naming one manifest as `tag`."""
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entry = {"mediaType": media_type, "digest": digest, "size": size,
             "annotations": {"org.opencontainers.image.ref.name": tag}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))


def full_reference(reference: str) -> str:
    """containerd wants references in full: busybox -> docker.io/library/busybox:latest."""
    from gophernetes.image.reference import parse

    parsed = parse(reference)
    text = f"{parsed.registry}/{parsed.repository}"
    if parsed.tag:
        text += f":{parsed.tag}"
    if parsed.digest:
        text += f"@{parsed.digest}"
    return text


def short_name(ref: str) -> str:
    """docker.io/library/busybox:latest -> busybox:latest (what `images` shows)."""
    from gophernetes.image.reference import parse

    try:
        return parse(ref).name
    except GophernetesError:
        return ref


def import_base_name(source: Path, name: str | None) -> str | None:
    """What `ctr images import --base-name` needs to name the images of an archive.

    An OCI archive often names its images by tag only ("latest"); ctr then needs the
    repository, else it invents "import-DATE". We choose as the native engine does: the
    --name given, else the archive's file or folder name. A `docker save` archive
    carries full names (RepoTags) and needs none.
    """
    if name:
        return full_reference(name).rsplit(":", 1)[0]
    if not is_oci_layout(source):
        return None
    return full_reference(source.name.split(".")[0].lower() or "image").rsplit(":", 1)[0]


def is_oci_layout(source: Path) -> bool:
    """A folder or tar archive with an `oci-layout` file at its top."""
    import tarfile

    if source.is_dir():
        return (source / "oci-layout").exists()
    with contextlib.suppress(tarfile.TarError, OSError), tarfile.open(source) as archive:
        return any(member.lstrip("./") == "oci-layout" for member in archive.getnames())
    return False


@contextlib.contextmanager
def tar_stream(directory: Path) -> Iterator:
    """`tar -C DIRECTORY -c .` as a stream to read from: an OCI layout as an archive."""
    process = subprocess.Popen(["tar", "-C", str(directory), "-c", "."], stdout=subprocess.PIPE)
    stream = process.stdout
    assert stream is not None, "stdout=PIPE gives the process a pipe to read"
    try:
        yield stream
    finally:
        stream.close()
        process.wait()
