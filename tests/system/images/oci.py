"""Build OCI image layouts and docker-save archives by hand, entry by entry, for the tests.

A layout is what skopeo reads as `oci:DIR:TAG`: an `oci-layout` file, `index.json`
naming the tagged manifests, and every blob under `blobs/sha256/<hex>`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

MTIME = 1_600_000_000


@dataclass
class Entry:
    name: str
    kind: bytes = tarfile.REGTYPE
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = MTIME
    target: str = ""
    xattrs: dict[str, str] = field(default_factory=dict)
    major: int = 0
    minor: int = 0


def file(name: str, data: bytes | str = b"", **kw) -> Entry:
    return Entry(name, tarfile.REGTYPE, data.encode() if isinstance(data, str) else data, **kw)


def directory(name: str, mode: int = 0o755, **kw) -> Entry:
    return Entry(name, tarfile.DIRTYPE, mode=mode, **kw)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, tarfile.SYMTYPE, mode=0o777, target=target)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, tarfile.LNKTYPE, target=target)


def device(name: str, major: int, minor: int) -> Entry:
    return Entry(name, tarfile.CHRTYPE, mode=0o666, major=major, minor=minor)


def whiteout(path: str) -> Entry:
    """The image spec's mark for "path was deleted in this layer"."""
    parent, _, base = path.rpartition("/")
    return file(f"{parent}/.wh.{base}" if parent else f".wh.{base}")


def opaque(path: str) -> Entry:
    """The image spec's mark for "nothing below shows through directory path"."""
    return file(f"{path}/.wh..wh..opq")


def tar_bytes(entries: list[Entry]) -> bytes:
    """An uncompressed tar of `entries`, in order (PAX, so xattrs and long names fit)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type, info.mode, info.uid, info.gid, info.mtime = e.kind, e.mode, e.uid, e.gid, e.mtime
            info.linkname, info.devmajor, info.devminor = e.target, e.major, e.minor
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in e.xattrs.items()}
            if e.kind == tarfile.REGTYPE:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_for(diff_ids: list[str], *, arch: str = "amd64", cmd: list[str] | None = None,
               env: list[str] | None = None, entrypoint: list[str] | None = None,
               working_dir: str = "", user: str = "") -> dict:
    run = {"Cmd": cmd or ["sh"], "Env": env or ["PATH=/bin"]}
    if entrypoint:
        run["Entrypoint"] = entrypoint
    if working_dir:
        run["WorkingDir"] = working_dir
    if user:
        run["User"] = user
    return {"created": "2024-01-02T03:04:05Z", "architecture": arch, "os": "linux", "config": run,
            "rootfs": {"type": "layers", "diff_ids": diff_ids}}


class Layout:
    """An OCI image layout directory under construction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.index: list[dict] = []

    def blob(self, data: bytes, media_type: str) -> dict:
        digest = sha256(data)
        (self.path / "blobs" / "sha256" / digest[7:]).write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def image(self, layers: list[list[Entry]], *, arch: str = "amd64", gzipped: bool = True,
              **config) -> dict:
        """Store layers, config and manifest; return the manifest's descriptor."""
        tars = [tar_bytes(entries) for entries in layers]
        layer_descs = [self.blob(gzip.compress(t, mtime=0) if gzipped else t,
                                 "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzipped else ""))
                       for t in tars]
        config_json = json.dumps(config_for([sha256(t) for t in tars], arch=arch, **config))
        config_desc = self.blob(config_json.encode(),
                                "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": config_desc, "layers": layer_descs}
        descriptor = self.blob(json.dumps(manifest).encode(), manifest["mediaType"])
        descriptor["platform"] = {"architecture": arch, "os": "linux"}
        return descriptor

    def multi_platform(self, manifests: list[dict]) -> dict:
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": manifests}
        return self.blob(json.dumps(index).encode(), index["mediaType"])

    def tag(self, descriptor: dict, tag: str) -> None:
        entry = {k: v for k, v in descriptor.items() if k != "platform"}
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.index.append(entry)
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": self.index}
        (self.path / "index.json").write_text(json.dumps(index))


def docker_save(path: Path, name: str, layers: list[list[Entry]], *, diff_ids: list[str] | None = None,
                **config_options) -> None:
    """Write a `docker save` style archive: manifest.json, <config>.json, <n>/layer.tar.

    `diff_ids` replaces the config's list (to make an archive that lies about its layers).
    """
    tars = [tar_bytes(entries) for entries in layers]
    listed = [sha256(t) for t in tars] if diff_ids is None else diff_ids
    config = json.dumps(config_for(listed, **config_options)).encode()
    manifest = [{"Config": f"{sha256(config)[7:]}.json", "RepoTags": [name],
                 "Layers": [f"{i}/layer.tar" for i in range(len(tars))]}]
    with tarfile.open(path, "w") as archive:
        def add(member: str, data: bytes) -> None:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        add("manifest.json", json.dumps(manifest).encode())
        add(manifest[0]["Config"], config)
        for i, data in enumerate(tars):
            add(f"{i}/layer.tar", data)
