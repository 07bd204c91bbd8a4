"""What a registry or an archive sends is checked field by field: a wrong JSON type is one
clear error, never a Python TypeError; config paths that climb with `..` are refused."""

from __future__ import annotations

import json

import pytest

from gophernetes.errors import GophernetesError
from gophernetes.image.manifest import (
    ImageConfig,
    Index,
    Manifest,
    check_config_paths,
    parse_config,
    parse_document,
)

DIGEST = "sha256:" + "ab" * 32
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def manifest(**changes) -> dict:
    document = {"schemaVersion": 2, "mediaType": MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 2},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DIGEST,
                            "size": 10}]}
    document.update(changes)
    return document


def parse(document) -> Manifest | Index:
    return parse_document(json.dumps(document).encode(), "", "lab/app:1")


def test_a_well_formed_manifest_is_read():
    parsed = parse(manifest())
    assert isinstance(parsed, Manifest) and parsed.layers[0].size == 10 and parsed.config.digest == DIGEST


@pytest.mark.parametrize("document, message", [
    ([1, 2], "lab/app:1: the manifest is an array, not a JSON object; refusing it"),
    (manifest(layers={"a": 1}), "lab/app:1: the manifest: 'layers' is an object, not an array; refusing it"),
    (manifest(layers=["x"]), "lab/app:1: the manifest's layer 1 is a string, not an object; refusing it"),
    (manifest(config=None), "lab/app:1: the manifest has no 'config'; refusing it"),
    (manifest(config={"digest": DIGEST, "size": True}),
     "lab/app:1: the manifest's config: 'size' is a boolean, not a number; refusing it"),
    (manifest(config={"digest": DIGEST, "size": -1}), "lab/app:1: the manifest's config: the size -1 is negative"),
    (manifest(config={"digest": "sha256:../../etc", "size": 1}),
     "lab/app:1: the manifest's config: unsupported or malformed digest 'sha256:../../etc'"),
    (manifest(mediaType=5), "lab/app:1: the manifest: 'mediaType' is a number, not a string; refusing it"),
    ({"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{"digest": DIGEST, "size": 1,
                                                                             "platform": "linux"}]},
     "lab/app:1: the index's entry 1: 'platform' is a string, not an object; refusing it"),
])
def test_a_field_of_the_wrong_type_is_one_clear_error(document, message):
    with pytest.raises(GophernetesError) as error:
        parse(document)
    assert str(error.value).startswith(message)


def config(**run) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "config": run,
                       "rootfs": {"type": "layers", "diff_ids": [DIGEST]}}).encode()


def test_cmd_and_entrypoint_may_be_one_string_as_docker_allows():
    parsed = parse_config(config(Cmd="echo hi", Entrypoint=["/bin/sh", "-c"], Volumes={"/data": {}}), "x")
    assert parsed.image.cmd == ["echo hi"] and parsed.image.entrypoint == ["/bin/sh", "-c"]
    assert parsed.image.volumes == ["/data"] and parsed.diff_ids == [DIGEST]


@pytest.mark.parametrize("body, message", [
    (config(Env="PATH=/bin"), "x: the image config's config: 'Env' is a string, not an array; refusing it"),
    (config(Cmd=["ls", 3]), "x: the image config's config: 'Cmd' holds a number, not only strings"),
    (config(WorkingDir=["/"]), "x: the image config's config: 'WorkingDir' is an array, not a string"),
    (json.dumps({"rootfs": {"diff_ids": ["sha256:x"]}}).encode(), "x: the image config: malformed diff_id"),
    (json.dumps({"rootfs": []}).encode(), "x: the image config: 'rootfs' is an array, not an object"),
    (b"[]", "x: the image config is an array, not a JSON object; refusing it"),
    (b"{", "x: the image config is not valid JSON"),
])
def test_a_config_field_of_the_wrong_type_is_one_clear_error(body, message):
    with pytest.raises(GophernetesError) as error:
        parse_config(body, "x")
    assert str(error.value).startswith(message)


@pytest.mark.parametrize("image", [ImageConfig(working_dir="/srv/../../etc"), ImageConfig(working_dir=".."),
                                   ImageConfig(volumes=["/data", "/var/../../x"])])
def test_config_paths_that_climb_are_refused(image):
    with pytest.raises(GophernetesError, match="climbs with '..'; refusing the image"):
        check_config_paths(image, "lab/app:1")


def test_config_paths_with_dots_in_names_are_fine():
    check_config_paths(ImageConfig(working_dir="/srv/..app/x..", volumes=["/data/.../v"]), "lab/app:1")
