"""Images of many layers mount: docker's overlay2 handles ~125 layers; so do we, and more."""

from __future__ import annotations

import os

from gophernetes.image.store import ImageStore
from tests.system.images import oci
from tests.system.images.conftest import base_layer, gophernetes

LAYERS = 130


def test_an_image_of_130_layers_runs_with_files_of_its_bottom_and_top_layers(root, tmp_path, cgroup_parent,
                                                                            leak_check):
    archive = tmp_path / "tall.tar"
    layers = [[*base_layer(), oci.file("bottom", "from the bottom layer\n")]]
    layers += [[oci.file(f"layer-{n}", f"{n}\n")] for n in range(1, LAYERS - 1)]
    layers += [[oci.file("top", "from the top layer\n")]]
    oci.docker_save(archive, "lab/tall:1", layers)
    imported = gophernetes(root, "pull", "local", "-q", str(archive))
    assert imported.returncode == 0, imported.stderr

    image = ImageStore(root / "lib/images").get("lab/tall:1")
    assert len(image.layer_dirs) == LAYERS
    assert all(os.readlink(d).endswith("/diff") and d.parent.name == "l" for d in image.layer_dirs)

    ran = gophernetes(root, "run", "--net", "none", "lab/tall:1", "sh", "-c",
                      "cat /bottom /layer-64 /top; head -1 /proc/mounts",
                      env={"GOPHERNETES_CGROUP_PARENT": cgroup_parent})
    assert ran.returncode == 0, ran.stderr
    *files, mount = ran.stdout.splitlines()
    assert files == ["from the bottom layer", "64", "from the top layer"]
    assert mount.startswith("overlay / overlay ")  # stacked by overlayfs, not copied
    lower = mount.split("lowerdir=")[1].split(",")[0].split(":")
    assert len(lower) == LAYERS and all(len(name) == 12 for name in lower)
