"""image inspect/history: the config's history paired with the manifest's layers."""

from __future__ import annotations

import json

from gophernetes.image.describe import describe, history
from gophernetes.image.manifest import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Descriptor, Manifest


def digest(char: str) -> str:
    return "sha256:" + char * 64


MANIFEST = Manifest(OCI_MANIFEST, Descriptor(OCI_CONFIG, digest("c"), 100),
                    [Descriptor(OCI_LAYER_GZIP, digest("a"), 1000), Descriptor(OCI_LAYER_GZIP, digest("b"), 20)])


def test_empty_steps_get_no_layer_and_the_newest_step_comes_first():
    config = {"history": [{"created_by": "ADD rootfs.tar /"}, {"created_by": "ENV A=1", "empty_layer": True},
                          {"created_by": "RUN make"}, {"created_by": "CMD [\"sh\"]", "empty_layer": True}]}
    rows = history(config, MANIFEST)
    assert [(r["CreatedBy"], r["Layer"], r["Size"]) for r in rows] == [
        ('CMD ["sh"]', "", 0), ("RUN make", digest("b"), 20), ("ENV A=1", "", 0),
        ("ADD rootfs.tar /", digest("a"), 1000)]


def test_layers_without_history_still_show():
    rows = history({}, MANIFEST)
    assert [(r["CreatedBy"], r["Layer"]) for r in rows] == [("", digest("b")), ("", digest("a"))]


def test_describe_has_dockers_fields():
    config = {"created": "2026-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": [digest("d"), digest("e")]}}
    found = describe("lab/app:1", digest("f"), MANIFEST, json.dumps(config).encode())
    assert (found["Id"], found["RepoTags"], found["Digest"], found["Size"]) == (digest("c"), ["lab/app:1"],
                                                                                 digest("f"), 1020)
    assert found["RootFS"]["Layers"] == [digest("d"), digest("e")]
    assert found["Config"] == {"Cmd": ["sh"]}
    assert describe("<none>@x", digest("f"), MANIFEST, b"{}")["RepoTags"] == []
