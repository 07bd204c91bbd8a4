"""The offline default image: busybox:latest, built from the host's /bin/busybox."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess

from gophernetes.image.busybox import default_image
from gophernetes.image.store import ImageStore
from tests.system.images.conftest import gophernetes


def test_default_image_is_built_once_and_runs_a_shell(tmp_path):
    store = ImageStore(tmp_path / "images")
    image = default_image(store)
    assert image.name == "busybox:latest"
    assert image.config.cmd == ["sh"]
    assert default_image(store).id == image.id  # the second call finds it
    (layer,) = image.layer_dirs
    ran = subprocess.run([shutil.which("chroot"), str(layer), "sh", "-c", "echo $((6*7)); ls /"],
                         capture_output=True, text=True, env={"PATH": "/bin"})
    assert ran.stdout.split() == ["42", "bin", "dev", "etc", "proc", "root", "sys", "tmp", "usr", "var"]
    assert stat.S_IMODE(os.stat(layer / "tmp").st_mode) == 0o1777
    assert (layer / "etc/passwd").read_text().splitlines()[0] == "root:x:0:0:root:/root:/bin/sh"
    assert "nobody:x:65534:" in (layer / "etc/group").read_text()


def test_build_busybox_writes_a_real_oci_image_with_right_digests(root):
    result = gophernetes(root, "image", "build-busybox", "--name", "lab/busybox:1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lab/busybox:1"
    store = ImageStore(root / "lib/images")
    image = store.get("lab/busybox:1")
    manifest = json.loads(store.read_blob(image.manifest_digest))
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["digest"] == image.id
    (layer,) = manifest["layers"]
    blob = store.blob_path(layer["digest"])
    assert subprocess.run(["sha256sum", str(blob)], capture_output=True, text=True).stdout.split()[0] \
        == layer["digest"][7:]
    listing = subprocess.run(["tar", "-tvf", str(blob)], capture_output=True, text=True).stdout
    assert "bin/sh -> busybox" in listing and "bin/busybox" in listing


def test_build_busybox_without_busybox_says_what_to_install(root, tmp_path):
    result = gophernetes(root, "image", "build-busybox", "--from", str(tmp_path / "none"))
    assert result.returncode == 125
    assert "install it with: apt-get install busybox-static" in result.stderr
