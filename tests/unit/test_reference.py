"""Image references with docker's defaults: Docker Hub, library/, :latest."""

from __future__ import annotations

import pytest

from gophernetes.errors import UsageError
from gophernetes.image.reference import parse

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, registry, repository, tag, digest, name", [
    ("busybox", "docker.io", "library/busybox", "latest", None, "busybox:latest"),
    ("docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", None, "busybox:1.36"),
    ("index.docker.io/grafana/loki:2.9", "docker.io", "grafana/loki", "2.9", None, "grafana/loki:2.9"),
    ("127.0.0.1:5000/team/app:1.0", "127.0.0.1:5000", "team/app", "1.0", None, "127.0.0.1:5000/team/app:1.0"),
    ("localhost/app", "localhost", "app", "latest", None, "localhost/app:latest"),
    ("registry.example/app", "registry.example", "app", "latest", None, "registry.example/app:latest"),
    (f"alpine@{DIGEST}", "docker.io", "library/alpine", None, DIGEST, f"alpine@{DIGEST}"),
    ("team/app:v1", "docker.io", "team/app", "v1", None, "team/app:v1"),
])
def test_references_get_dockers_defaults(text, registry, repository, tag, digest, name):
    ref = parse(text)
    got = (ref.registry, ref.repository, ref.tag, ref.digest, ref.name)
    assert got == (registry, repository, tag, digest, name)


def test_docker_hub_is_reached_at_its_api_host():
    assert parse("busybox").api_host == "registry-1.docker.io"
    assert parse("127.0.0.1:5000/x").api_host == "127.0.0.1:5000"


@pytest.mark.parametrize("text", ["", "UPPER/case", "app:bad tag", "app@sha256:short", "a//b"])
def test_malformed_references_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse(text)
