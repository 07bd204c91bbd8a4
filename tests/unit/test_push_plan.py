"""The pure parts of a push: which blobs, in what order, mounted from where, in which chunks."""

from __future__ import annotations

import pytest

from gophernetes.errors import UsageError
from gophernetes.image.manifest import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Descriptor, Manifest
from gophernetes.image.push import blobs_to_push, chunk_ranges, mount_sources
from gophernetes.image.reference import parse


def digest(char: str) -> str:
    return "sha256:" + char * 64


def layer(char: str, size: int = 10) -> Descriptor:
    return Descriptor(OCI_LAYER_GZIP, digest(char), size)


def test_layers_go_bottom_first_each_once_and_the_config_last():
    manifest = Manifest(OCI_MANIFEST, Descriptor(OCI_CONFIG, digest("c"), 5),
                        [layer("a"), layer("b"), layer("a"), layer("d")])
    assert [b.digest for b in blobs_to_push(manifest)] == [digest("a"), digest("b"), digest("d"), digest("c")]


def test_mounts_come_from_other_repositories_of_the_same_registry_only():
    owners = {
        "127.0.0.1:5000/lab/base:1": [digest("a"), digest("b")],
        "127.0.0.1:5000/lab/other:2": [digest("b")],
        "127.0.0.1:5000/lab/app:old": [digest("a")],     # the target repository itself: HEAD covers it
        "127.0.0.1:6000/lab/base:1": [digest("a")],      # another registry: cannot mount across
        "busybox:latest": [digest("a")],                 # Docker Hub
        "<none>@sha256:" + "e" * 64: [digest("a")],      # a dangling image's name is no reference
    }
    sources = mount_sources(owners, parse("127.0.0.1:5000/lab/app:1"))
    assert sources == {digest("a"): ["lab/base"], digest("b"): ["lab/base", "lab/other"]}


@pytest.mark.parametrize("size, chunk, ranges", [
    (10, 4, [(0, 3), (4, 7), (8, 9)]),
    (8, 4, [(0, 3), (4, 7)]),
    (3, 4, [(0, 2)]),
    (0, 4, []),
])
def test_chunks_cover_the_blob_with_inclusive_content_ranges(size, chunk, ranges):
    assert chunk_ranges(size, chunk) == ranges


def test_a_chunk_size_of_zero_is_refused():
    with pytest.raises(UsageError):
        chunk_ranges(10, 0)
