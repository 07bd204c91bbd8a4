"""The default image, made offline from the host's busybox: a real one-layer OCI image.

busybox is one static binary that behaves as `sh`, `ls`, `cat`, ... depending on the
name it is called by (argv[0]). So a whole small userland is that binary plus one
symlink per applet. Debian's busybox-static package puts it at /bin/busybox.

We write the layer tar ourselves, then go through the same steps as a pull: the layer
is unpacked by layers.py (as any layer would be), and a config and a manifest are
stored with their digests, so `busybox:latest` is an image like any other:

    /bin/busybox, /bin/<applet> -> busybox    the userland
    /etc/passwd, /etc/group                   root and nobody
    /dev /proc /sys /root /tmp (1777)         empty mount points and homes
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from gophernetes.errors import GophernetesError, NotFound
from gophernetes.image.manifest import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    host_platform,
    parse_config,
)
from gophernetes.image.store import DEFAULT_IMAGE, Image, ImageStore

HOST_BUSYBOX = Path("/bin/busybox")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"
DIRECTORIES = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "proc": 0o555, "root": 0o700,
               "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "var": 0o755}


def build(store: ImageStore, name: str = "busybox:latest", source: Path = HOST_BUSYBOX) -> Image:
    """Build the busybox image from `source` and store it under `name`."""
    if not source.is_file():
        raise NotFound(f"no busybox binary at {source}; install it with: apt-get install busybox-static")
    mtime = int(source.stat().st_mtime)
    applets = _applets(source)
    with store.writing() as writer:
        layer = writer.temp_path("busybox-")
        _write_layer(layer, source, applets, mtime)
        layer_digest = "sha256:" + sha256_file(layer)
        layer_size = layer.stat().st_size
        writer.add_layer(layer, layer_digest, layer_digest)  # uncompressed: diff_id == digest
        config_body = _config(layer_digest, mtime, source)
        config_digest = "sha256:" + hashlib.sha256(config_body).hexdigest()
        manifest = Manifest(OCI_MANIFEST, Descriptor(OCI_CONFIG, config_digest, len(config_body)),
                            [Descriptor(OCI_LAYER, layer_digest, layer_size)])
        manifest_body = manifest_json(manifest)
        manifest_digest = "sha256:" + hashlib.sha256(manifest_body).hexdigest()
        writer.put_blob(config_body, config_digest)
        writer.put_blob(manifest_body, manifest_digest)
        writer.commit(name, manifest, manifest_digest, parse_config(config_body, name))
    return store.get(name)


def make_rootfs(directory: Path, source: Path = HOST_BUSYBOX) -> None:
    """The same files as the image's layer, as a plain directory (for `run --rootfs`, tests, benchmarks)."""
    if not source.is_file():
        raise NotFound(f"no busybox binary at {source}; install it with: apt-get install busybox-static")
    for name, mode in DIRECTORIES.items():
        (directory / name).mkdir(parents=True, exist_ok=True)
        (directory / name).chmod(mode)
    shutil.copy2(source, directory / "bin" / "busybox")
    for applet in _applets(source):
        if applet != "busybox":
            (directory / "bin" / applet).symlink_to("busybox")
    (directory / "etc" / "passwd").write_text(PASSWD)
    (directory / "etc" / "group").write_text(GROUP)


def _applets(source: Path) -> list[str]:
    """The applet names this busybox offers (`busybox --list`)."""
    try:
        listed = subprocess.run([str(source), "--list"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise GophernetesError(f"cannot list the applets of {source}: {error}; is it busybox?") from None
    names = {line.strip() for line in listed.splitlines() if line.strip() and "/" not in line}
    return sorted(names - {"busybox"})


def _write_layer(path: Path, source: Path, applets: list[str], mtime: int) -> None:
    def entry(name: str, kind: bytes, mode: int, **fields) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, mtime, 0, 0
        for key, value in fields.items():
            setattr(info, key, value)
        return info

    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for directory, mode in DIRECTORIES.items():
            tar.addfile(entry(directory, tarfile.DIRTYPE, mode))
        with open(source, "rb") as binary:
            tar.addfile(entry("bin/busybox", tarfile.REGTYPE, 0o755, size=source.stat().st_size), binary)
        for applet in applets:
            tar.addfile(entry(f"bin/{applet}", tarfile.SYMTYPE, 0o777, linkname="busybox"))
        for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
            data = text.encode()
            tar.addfile(entry(name, tarfile.REGTYPE, 0o644, size=len(data)), io.BytesIO(data))


def _config(layer_digest: str, mtime: int, source: Path) -> bytes:
    created = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    os_name, _, arch = host_platform().partition("/")
    config = {
        "created": created,
        "architecture": arch.split("/")[0],
        "os": os_name,
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": created, "created_by": f"gophernetes image build-busybox from {source}"}],
    }
    return json.dumps(config, separators=(",", ":")).encode()


def manifest_json(manifest: Manifest) -> bytes:
    def descriptor(d: Descriptor) -> dict:
        return {"mediaType": d.media_type, "digest": d.digest, "size": d.size}
    return json.dumps({"schemaVersion": 2, "mediaType": manifest.media_type,
                       "config": descriptor(manifest.config),
                       "layers": [descriptor(d) for d in manifest.layers]}, separators=(",", ":")).encode()


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as data:
        while chunk := data.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def default_image(store: ImageStore) -> Image:
    """busybox:latest, built from the host's /bin/busybox the first time it is needed: a
    fresh, offline machine runs a container at once."""
    try:
        return store.get(DEFAULT_IMAGE)
    except NotFound:
        return build(store, DEFAULT_IMAGE)
