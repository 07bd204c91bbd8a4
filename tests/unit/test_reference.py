"""Image references with docker's defaults: Docker Hub, library/, :latest."""

from __future__ import annotations

import pytest

from gophernetes import settings
from gophernetes.errors import UsageError
from gophernetes.image.reference import parse, pull_hint

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


# ---------------------------------------------------------------- the not-found hint


@pytest.mark.parametrize("ref, lab, hint", [
    ("busybox", None, "pull it with: gophernetes pull busybox"),
    ("busybox", "127.0.0.1:5000", "pull it with: gophernetes pull --insecure 127.0.0.1:5000/busybox:latest "
                                  "(the lab registry), or gophernetes pull busybox:latest"),
    ("grafana/loki:2.9", "lab.example:5000",
     "pull it with: gophernetes pull --insecure lab.example:5000/grafana/loki:2.9 (the lab registry), "
     "or gophernetes pull grafana/loki:2.9"),
    (f"docker.io/library/alpine@{DIGEST}", "127.0.0.1:5000",
     f"pull it with: gophernetes pull --insecure 127.0.0.1:5000/alpine@{DIGEST} (the lab registry), "
     f"or gophernetes pull alpine@{DIGEST}"),
    ("127.0.0.1:5000/lab10/hello:1", "127.0.0.1:5000", "pull it with: gophernetes pull 127.0.0.1:5000/lab10/hello:1"),
    ("registry.example/app", "127.0.0.1:5000", "pull it with: gophernetes pull registry.example/app"),
    ("Not A Name", "127.0.0.1:5000", "pull it with: gophernetes pull Not A Name"),
])
def test_the_pull_hint_names_the_lab_registry_only_for_docker_hub_names(ref, lab, hint):
    assert pull_hint(ref, lab_registry=lab) == hint


def test_the_pull_hint_keeps_the_engines_command():
    assert pull_hint("busybox", "gophernetes --engine containerd pull", "127.0.0.1:5000") == (
        "pull it with: gophernetes --engine containerd pull --insecure 127.0.0.1:5000/busybox:latest (the lab "
        "registry), or gophernetes --engine containerd pull busybox:latest")


@pytest.mark.parametrize("text, found", [
    ('lab_registry = "127.0.0.1:5000"\n', "127.0.0.1:5000"),
    ('lab_registry = " lab.example:5000/ "\nengine = "native"\n', "lab.example:5000"),
    ('lab_registry = ""\n', None),
    ("lab_registry = 5000\n", None),
    ('engine = "native"\n', None),
    ("colour = 1\n", None),   # an unknown setting: reported at start, not by the hint
    ("lab_registry = \n", None),  # not TOML
])
def test_the_lab_registry_setting_is_read_from_the_configuration(tmp_path, monkeypatch, text, found):
    config = tmp_path / "config.toml"
    config.write_text(text)
    monkeypatch.setenv("GOPHERNETES_CONFIG", str(config))
    assert settings.lab_registry() == found


def test_no_configuration_file_means_no_lab_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("GOPHERNETES_CONFIG", str(tmp_path / "none.toml"))
    assert settings.lab_registry() is None
