"""Registries that want credentials: HTTP basic auth, and bearer tokens as Docker Hub does."""

from __future__ import annotations

import base64
import json
import stat

from tests.system.images.conftest import PASSWORD, USER, gophernetes


def test_basic_auth_registry_asks_for_a_login_first(root, pushed, registry, basic_registry):
    ref = pushed["base"].replace(registry.address, basic_registry.address)
    result = gophernetes(root, "pull", ref)
    assert result.returncode == 125
    assert f"requires a login; run: gophernetes login {basic_registry.address}" in result.stderr


def test_login_with_a_wrong_password_is_refused_and_nothing_saved(root, basic_registry):
    result = gophernetes(root, "login", basic_registry.address, "-u", USER, "--password-stdin",
                         input="wrong\n")
    assert result.returncode == 125
    assert "answered 401" in result.stderr
    assert not (root / "lib/images/auth.json").exists()


def test_login_then_pull_from_a_basic_auth_registry(root, pushed, registry, basic_registry):
    login = gophernetes(root, "login", basic_registry.address, "-u", USER, "--password-stdin",
                        input=PASSWORD + "\n")
    assert login.returncode == 0, login.stderr
    assert login.stdout.strip() == "Login Succeeded"
    saved = root / "lib/images/auth.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    ref = pushed["base"].replace(registry.address, basic_registry.address)
    result = gophernetes(root, "pull", ref)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ref


def test_credentials_are_read_from_the_docker_config(root, pushed, registry, basic_registry, tmp_path):
    docker_config = tmp_path / "docker"
    docker_config.mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config = {"auths": {basic_registry.address: {"auth": auth}}}
    (docker_config / "config.json").write_text(json.dumps(config))
    ref = pushed["base"].replace(registry.address, basic_registry.address)
    result = gophernetes(root, "pull", ref, env={"DOCKER_CONFIG": str(docker_config)})
    assert result.returncode == 0, result.stderr


def test_token_registry_without_credentials_is_refused_by_the_token_server(root, pushed, registry,
                                                                           token_registry, token_issuer):
    ref = pushed["layered"].replace(registry.address, token_registry.address)
    result = gophernetes(root, "pull", ref)
    assert result.returncode == 125
    assert f"the token server {token_issuer.url} refused access (no credentials)" in result.stderr
    assert f"gophernetes login {token_registry.address}" in result.stderr


def test_login_then_pull_with_bearer_tokens(root, pushed, registry, token_registry, token_issuer):
    login = gophernetes(root, "login", token_registry.address, "-u", USER, "-p", PASSWORD)
    assert login.returncode == 0, login.stderr
    token_issuer.requests.clear()
    ref = pushed["layered"].replace(registry.address, token_registry.address)
    result = gophernetes(root, "pull", ref)
    assert result.returncode == 0, result.stderr
    assert {"scope": "repository:lab/layered:pull", "service": "gophernetes-test", "authorized": True} \
        in token_issuer.requests
    assert len(gophernetes(root, "images").stdout.splitlines()) == 2


def test_an_anonymous_bearer_token_is_enough_for_a_public_repository(root, pushed, registry, token_registry,
                                                                      token_issuer):
    token_issuer.requests.clear()
    ref = pushed["public"].replace(registry.address, token_registry.address)
    result = gophernetes(root, "pull", ref)
    assert result.returncode == 0, result.stderr
    assert {"scope": "repository:public/base:pull", "service": "gophernetes-test", "authorized": False} \
        in token_issuer.requests
