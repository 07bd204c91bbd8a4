"""Pulling from a real registry (docker-registry on 127.0.0.1, images pushed by skopeo)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gophernetes.image.manifest import host_platform
from gophernetes.image.store import ImageStore
from tests.system.images.conftest import gophernetes, store_files


def store(root) -> ImageStore:
    return ImageStore(root / "lib" / "images")


def test_pull_prints_the_name_and_lists_the_image_like_docker(root, pushed, registry):
    result = gophernetes(root, "pull", pushed["base"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == pushed["base"]
    assert f"Status: Downloaded newer image for {pushed['base']}" in result.stderr

    listing = gophernetes(root, "images")
    header, row = listing.stdout.splitlines()
    assert header.split() == ["NAME", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    image = store(root).get(pushed["base"])
    assert row.split()[:3] == [f"{registry.address}/lab/base", "base", image.id[7:19]]


def test_pulled_layer_keeps_owner_mode_xattrs_times_and_hardlinks(root, pushed):
    assert gophernetes(root, "pull", pushed["base"]).returncode == 0
    (layer,) = store(root).get(pushed["base"]).layer_dirs
    tool = os.lstat(layer / "srv/tool")
    assert (tool.st_uid, tool.st_gid, stat.S_IMODE(tool.st_mode)) == (1000, 1001, 0o4755)
    assert tool.st_mtime == 1_234_567_890
    assert os.getxattr(layer / "srv/tool", "user.lab") == b"hello"
    assert os.lstat(layer / "srv/tool-link").st_ino == tool.st_ino
    srv = os.lstat(layer / "srv")
    assert (srv.st_uid, stat.S_IMODE(srv.st_mode), srv.st_mtime) == (1000, 0o750, 1_500_000_000)
    assert stat.S_IMODE(os.lstat(layer / "tmp").st_mode) == 0o1777
    assert os.readlink(layer / "bin/cat") == "/bin/busybox"  # absolute symlinks are kept, not followed


def test_pulled_image_runs_and_its_config_is_read(root, pushed):
    assert gophernetes(root, "pull", pushed["base"]).returncode == 0
    image = store(root).get(pushed["base"])
    assert image.config.entrypoint == ["/bin/sh", "-c"]
    assert image.config.cmd == ["/bin/sh", "-c", "echo hi"]
    assert image.config.env == ["PATH=/bin", "LAB=1"]
    assert (image.config.working_dir, image.config.user) == ("/srv", "1000:1001")
    ran = subprocess.run(["chroot", str(image.layer_dirs[0]), "/bin/sh", "-c", "cat /srv/tool"],
                         capture_output=True, text=True)
    assert ran.stdout == "#!/bin/sh\necho tool\n"


def test_docker_schema2_manifests_are_pulled_too(root, pushed):
    result = gophernetes(root, "pull", pushed["base-docker"])
    assert result.returncode == 0, result.stderr
    image = store(root).get(pushed["base-docker"])
    manifest = json.loads(store(root).read_blob(image.manifest_digest))
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert image.id == store(root).get(pushed["base-docker"]).id


def test_whiteouts_and_opaque_dirs_become_overlayfs_markers_and_stack_correctly(root, pushed, tmp_path):
    assert gophernetes(root, "pull", pushed["layered"]).returncode == 0, "pull failed"
    lower, middle, upper = store(root).get(pushed["layered"]).layer_dirs
    motd = os.lstat(middle / "etc/motd")
    assert stat.S_ISCHR(motd.st_mode) and motd.st_rdev == os.makedev(0, 0)
    assert os.getxattr(middle / "var/cache", "trusted.overlay.opaque") == b"y"
    assert not (middle / "etc/.wh.motd").exists() and not (middle / "var/cache/.wh..wh..opq").exists()

    merged = tmp_path / "merged"
    merged.mkdir()
    lowerdirs = f"lowerdir={upper}:{middle}:{lower}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", lowerdirs, str(merged)], check=True)
    try:
        assert not (merged / "etc/motd").exists()
        assert sorted(os.listdir(merged / "var/cache")) == ["c"]
        assert sorted(os.listdir(merged / "opt")) == ["keep", "new"]
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def test_the_host_platform_is_chosen_from_an_index_unless_another_is_asked(root, pushed):
    host_arch = host_platform().split("/")[1]
    for ref in (pushed["multi"], pushed["multi-docker"]):
        assert gophernetes(root, "pull", ref).returncode == 0
        assert (store(root).get(ref).layer_dirs[0] / "arch").read_text() == f"{host_arch}\n"

    assert gophernetes(root, "rmi", pushed["multi"]).returncode == 0
    result = gophernetes(root, "pull", "--platform", "linux/arm64", pushed["multi"])
    assert result.returncode == 0, result.stderr
    assert (store(root).get(pushed["multi"]).layer_dirs[0] / "arch").read_text() == "arm64\n"

    missing = gophernetes(root, "pull", "--platform", "linux/s390x", pushed["multi"])
    assert missing.returncode == 125
    assert "no image for platform linux/s390x (offered: linux/amd64, linux/arm64)" in missing.stderr


def test_a_second_pull_downloads_nothing(root, pushed, registry, proxy):
    through_proxy = pushed["layered"].replace(registry.address, proxy.address)
    assert gophernetes(root, "pull", through_proxy).returncode == 0
    assert len(proxy.blob_requests) == 4  # config + three layers
    proxy.blob_requests.clear()
    again = gophernetes(root, "pull", through_proxy)
    assert again.returncode == 0
    assert "Status: Image is up to date" in again.stderr
    assert proxy.blob_requests == []


def test_layers_are_shared_between_images_and_removed_with_the_last_user(root, pushed):
    assert gophernetes(root, "pull", pushed["layered"]).returncode == 0
    assert gophernetes(root, "pull", pushed["sibling"]).returncode == 0
    assert len(store_files(root)["layers"]) == 4  # the shared bottom layer is stored once

    removed = gophernetes(root, "rmi", pushed["layered"])
    assert removed.stdout.strip() == f"Untagged: {pushed['layered']}"
    assert len(store_files(root)["layers"]) == 2
    assert store(root).get(pushed["sibling"]).layer_dirs[0].is_dir()

    assert gophernetes(root, "rmi", pushed["sibling"]).returncode == 0
    assert store_files(root) == {"blobs": [], "layers": [], "tmp": []}
    assert gophernetes(root, "images").stdout.splitlines()[1:] == []


def test_images_json_lists_name_id_and_layers(root, pushed):
    assert gophernetes(root, "pull", pushed["layered"]).returncode == 0
    (entry,) = json.loads(gophernetes(root, "images", "--format", "json").stdout)
    assert entry["name"] == pushed["layered"]
    assert entry["id"] == store(root).get(pushed["layered"]).id
    assert len(entry["layers"]) == 3


def test_an_unknown_image_is_a_clear_not_found(root, registry):
    result = gophernetes(root, "pull", f"{registry.address}/lab/nothing-here:1.0")
    assert result.returncode == 125
    assert "lab/nothing-here:1.0" in result.stderr and "answered 404" in result.stderr
    assert "check the name and tag" in result.stderr


def test_a_stopped_registry_is_reported_with_its_address(root):
    from tests.system.images.conftest import free_port

    address = f"127.0.0.1:{free_port()}"
    result = gophernetes(root, "pull", f"{address}/x:1")
    assert result.returncode == 125
    assert f"cannot reach http://{address}/v2/" in result.stderr and "is it running?" in result.stderr


def test_rmi_of_an_unknown_image_says_how_to_pull_it(root):
    result = gophernetes(root, "rmi", "nosuch:1")
    assert result.returncode == 125
    assert result.stderr.strip() == ("gophernetes: image 'nosuch:1' not found; "
                                     "pull it with: gophernetes pull nosuch:1")


def test_pull_source_must_be_docker_or_local(root):
    result = gophernetes(root, "pull", "other", "busybox")
    assert result.returncode == 125
    assert "unknown source 'other': use 'docker' or 'local'" in result.stderr


def test_run_uses_the_pulled_image_and_its_config(root, pushed, cgroup_parent, leak_check):
    """The runtime's side of the contract: layers as the root, Entrypoint, Env, WorkingDir, User."""
    assert gophernetes(root, "pull", pushed["base"]).returncode == 0
    ran = gophernetes(root, "run", "--net", "none", pushed["base"], "echo $(id -u):$(id -g) $(pwd) $LAB",
                      env={"GOPHERNETES_CGROUP_PARENT": cgroup_parent})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "1000:1001 /srv 1"


def test_rmi_is_refused_while_a_container_uses_the_image(root, pushed, cgroup_parent, leak_check):
    assert gophernetes(root, "pull", pushed["base"]).returncode == 0
    made = gophernetes(root, "run", "-d", "--net", "none", "--name", "keeper", pushed["base"], "sleep 60",
                       env={"GOPHERNETES_CGROUP_PARENT": cgroup_parent})
    assert made.returncode == 0, made.stderr
    try:
        refused = gophernetes(root, "rmi", pushed["base"])
        assert refused.returncode == 125
        assert "is used by container keeper; remove the container first: gophernetes rm keeper" \
            in refused.stderr
    finally:
        removed = gophernetes(root, "rm", "-f", "keeper", env={"GOPHERNETES_CGROUP_PARENT": cgroup_parent})
        assert removed.returncode == 0, removed.stderr
    assert gophernetes(root, "rmi", pushed["base"]).returncode == 0


def test_a_name_moved_by_a_new_pull_keeps_the_old_image_as_dangling_until_pruned(root, pushed, registry,
                                                                                 tmp_path):
    from tests.system.images import oci

    layout = oci.Layout(tmp_path / "layout")
    layout.tag(layout.image([[oci.file("version", "1")]]), "v")
    ref = registry.push(tmp_path / "layout", "v", "lab/moving")
    assert gophernetes(root, "pull", ref).returncode == 0
    old_id = store(root).get(ref).id
    layout.index.clear()
    layout.tag(layout.image([[oci.file("version", "2")]]), "v")
    registry.push(tmp_path / "layout", "v", "lab/moving")
    assert gophernetes(root, "pull", ref).returncode == 0

    rows = [line.split() for line in gophernetes(root, "images").stdout.splitlines()[1:]]
    new_row = [ref.rsplit(":", 1)[0], "v", store(root).get(ref).id[7:19]]
    assert sorted(row[:3] for row in rows) == sorted([new_row, ["<none>", "<none>", old_id[7:19]]])
    pruned = gophernetes(root, "image", "prune")
    assert pruned.stdout.strip() == f"Deleted: <none>@{old_id}"
    assert len(store_files(root)["layers"]) == 1


def test_concurrent_pulls_of_the_same_image_all_succeed_and_store_it_once(root, pushed):
    environment = {**os.environ, "GOPHERNETES_ROOT": str(root)}
    pullers = [subprocess.Popen([sys.executable, "-m", "gophernetes", "pull", "-q", pushed["layered"]],
                                env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(3)]
    results = [(p.wait(60), *p.communicate()) for p in pullers]
    assert [(code, out.strip()) for code, out, _ in results] == [(0, pushed["layered"])] * 3, results
    assert len(gophernetes(root, "images").stdout.splitlines()) == 2
    assert len(store_files(root)["layers"]) == 3 and store_files(root)["tmp"] == []


def test_pull_by_digest_gets_exactly_that_manifest(root, pushed, tmp_path):
    assert gophernetes(tmp_path / "first", "pull", pushed["base"]).returncode == 0
    digest = store(tmp_path / "first").get(pushed["base"]).manifest_digest
    by_digest = pushed["base"].rsplit(":", 1)[0] + "@" + digest
    result = gophernetes(root, "pull", by_digest)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == by_digest
    assert store(root).get(by_digest).manifest_digest == digest
    row = gophernetes(root, "images").stdout.splitlines()[1].split()
    assert row[:2] == [pushed["base"].rsplit(":", 1)[0], "<none>"]


def loopback_alias() -> str | None:
    """A host name that /etc/hosts maps to 127.0.0.1 and that is not `localhost`."""
    for line in Path("/etc/hosts").read_text().splitlines():
        fields = line.split("#")[0].split()
        if fields and fields[0] == "127.0.0.1":
            aliases = [name for name in fields[1:] if not name.startswith("localhost")]
            if aliases:
                return aliases[0]
    return None


def test_a_registry_on_another_host_name_needs_insecure_for_plain_http(root, pushed, registry):
    alias = loopback_alias()
    if alias is None:
        pytest.skip("/etc/hosts has no other name for 127.0.0.1")
    ref = pushed["base"].replace("127.0.0.1", alias)
    refused = gophernetes(root, "pull", ref)
    assert refused.returncode == 125
    assert f"cannot reach https://{registry.address.replace('127.0.0.1', alias)}/v2/" in refused.stderr
    assert "for a registry without TLS use --insecure" in refused.stderr
    insecure = gophernetes(root, "pull", "--insecure", ref)
    assert insecure.returncode == 0, insecure.stderr
