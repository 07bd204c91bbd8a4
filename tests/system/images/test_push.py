"""`gophernetes push`: to a real docker-registry (open, basic auth, bearer tokens), and back.

Each push is checked the way a user would: pull the reference into a fresh state root
and run it. The registry's own answers (HEAD 200, mount 201) show in what push prints.
"""

from __future__ import annotations

import json

import pytest
from support import stop_serving

from tests.system.images.conftest import PASSWORD, USER
from tests.system.images.conftest import gophernetes as cli


def build(root, name: str) -> None:
    made = cli(root, "image", "build-busybox", "--name", name)
    assert made.returncode == 0, made.stderr


def manifest_digest(root, name: str) -> str:
    images = json.loads(cli(root, "images", "--format", "json").stdout)
    return next(i["digest"] for i in images if i["name"] == name)


def test_push_then_pull_into_a_fresh_root_and_run(tmp_path, registry, gophernetes):
    pusher = tmp_path / "pusher"
    ref = f"{registry.address}/lab/pushed:1.0"
    build(pusher, ref)
    result = cli(pusher, "push", ref)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ref
    assert f"{ref}: pushing 2 layer(s)" in result.stderr  # the layer and the config
    assert f"Digest: {manifest_digest(pusher, ref)}" in result.stderr

    pulled = gophernetes("pull", ref)
    assert pulled.returncode == 0, pulled.stderr
    assert manifest_digest(gophernetes.state_root, ref) == manifest_digest(pusher, ref)
    ran = gophernetes("run", "--net", "none", ref, "cat", "/etc/passwd")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("root:x:0:0:")


def test_a_second_push_sends_no_blob_again(tmp_path, registry):
    ref = f"{registry.address}/lab/again:1"
    build(tmp_path, ref)
    assert cli(tmp_path, "push", ref).returncode == 0
    again = cli(tmp_path, "push", ref)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("already exists") == 2
    assert "done" not in again.stderr


def test_blobs_are_mounted_from_another_repository_of_the_registry(tmp_path, pushed, registry, gophernetes):
    source = pushed["layered"]
    assert cli(tmp_path, "pull", source).returncode == 0
    target = f"{registry.address}/lab/mounted:2"
    result = cli(tmp_path, "push", source, target)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == target
    assert result.stderr.count("mounted from lab/layered") == 4  # three layers and the config
    assert "pushing" in result.stderr and " done (" not in result.stderr  # no byte uploaded
    assert gophernetes("pull", target).returncode == 0
    assert manifest_digest(gophernetes.state_root, target) == manifest_digest(tmp_path, source)


def test_a_large_blob_goes_in_chunks(tmp_path, registry, gophernetes):
    ref = f"{registry.address}/lab/chunked:1"
    build(tmp_path, ref)
    result = cli(tmp_path, "push", ref, env={"GOPHERNETES_PUSH_CHUNK_SIZE": "65536"})
    assert result.returncode == 0, result.stderr
    assert gophernetes("pull", ref).returncode == 0
    ran = gophernetes("run", "--net", "none", ref, "echo", "chunks")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "chunks\n"


def test_push_to_basic_auth_needs_a_login(tmp_path, basic_registry):
    ref = f"{basic_registry.address}/lab/basic:1"
    build(tmp_path, ref)
    refused = cli(tmp_path, "push", ref)
    assert refused.returncode == 125
    assert refused.stderr.strip().count("\n") == 1  # the "pushing" line, then one error line
    assert f"requires a login; run: gophernetes login {basic_registry.address}" in refused.stderr
    login = cli(tmp_path, "login", basic_registry.address, "-u", USER, "--password-stdin", input=PASSWORD + "\n")
    assert login.returncode == 0, login.stderr
    pushed = cli(tmp_path, "push", ref)
    assert pushed.returncode == 0, pushed.stderr
    fresh = tmp_path / "fresh"
    assert cli(fresh, "login", basic_registry.address, "-u", USER, "-p", PASSWORD).returncode == 0
    assert cli(fresh, "pull", ref).returncode == 0
    assert manifest_digest(fresh, ref) == manifest_digest(tmp_path, ref)


def test_push_with_bearer_tokens_asks_for_push_scope(tmp_path, token_registry, token_issuer):
    ref = f"{token_registry.address}/lab/token:1"
    build(tmp_path, ref)
    refused = cli(tmp_path, "push", ref)
    assert refused.returncode == 125
    assert "refused access (no credentials)" in refused.stderr
    assert cli(tmp_path, "login", token_registry.address, "-u", USER, "-p", PASSWORD).returncode == 0
    token_issuer.requests.clear()
    result = cli(tmp_path, "push", ref)
    assert result.returncode == 0, result.stderr
    # the registry's challenge lists the actions in no fixed order (a Go map): compare them as a set
    asked = [(r["scope"].rpartition(":")[0], set(r["scope"].rpartition(":")[2].split(",")), r["service"],
              r["authorized"]) for r in token_issuer.requests]
    assert ("repository:lab/token", {"pull", "push"}, "gophernetes-test", True) in asked, token_issuer.requests


def test_a_registry_that_takes_no_push_gives_one_line(tmp_path, tiny_registry):
    ref = f"{tiny_registry.address}/lab/nope:1"
    build(tmp_path, ref)
    result = cli(tmp_path, "push", ref)
    assert result.returncode == 125
    errors = [line for line in result.stderr.splitlines() if line.startswith("gophernetes:")]
    assert len(errors) == 1 and "answered 501" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_registry_that_is_not_there_gives_one_line(tmp_path):
    from tests.system.images.conftest import free_port

    ref = f"127.0.0.1:{free_port()}/lab/nowhere:1"
    build(tmp_path, ref)
    result = cli(tmp_path, "push", ref, env={"GOPHERNETES_REGISTRY_TIMEOUT": "2"})
    assert result.returncode == 125
    assert result.stderr.strip().splitlines()[-1].startswith("gophernetes: cannot reach http://127.0.0.1:")
    assert "is it running?" in result.stderr


def test_push_of_an_unknown_image_is_refused(tmp_path):
    result = cli(tmp_path, "push", "127.0.0.1:5999/lab/none:1")
    assert result.returncode == 125
    assert "not found" in result.stderr


class LyingRegistry:
    """A registry that takes a push up to a point, then misbehaves: `mode` says how.

    "hang": never answers the blob upload; "digest": takes everything but stores the
    manifest under another digest than the one we sent; "no-location": opens no upload.
    """

    def __init__(self, mode: str) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler

        from support import serve_on_loopback

        self.mode = mode
        self.release = threading.Event()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self, code: int, headers: dict | None = None) -> None:
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self):
                self.answer(404)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if registry.mode == "no-location":
                    self.answer(202)
                else:
                    self.answer(202, {"Location": "/v2/upload/1"})

            def do_PUT(self):
                length = int(self.headers.get("Content-Length") or 0)
                if registry.mode == "hang" and "/manifests/" not in self.path:
                    registry.release.wait(30)
                    self.close_connection = True
                    return
                self.rfile.read(length)
                digest = "sha256:" + "0" * 64 if "/manifests/" in self.path else ""
                self.answer(201, {"Docker-Content-Digest": digest} if digest else {})

            def log_message(self, *args):
                pass

        self.server = serve_on_loopback(Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        stop_serving(self.server)


@pytest.mark.parametrize("mode, message", [
    ("hang", "did not answer PUT /v2/upload/1 within 1 s, 4 times; giving up"),
    ("digest", "the registry stored the manifest as sha256:0000"),
    ("no-location", "answered 202 without an upload location"),
])
def test_a_misbehaving_registry_gives_one_line(tmp_path, mode, message):
    lying = LyingRegistry(mode)
    try:
        ref = f"{lying.address}/lab/lies:1"
        build(tmp_path, ref)
        result = cli(tmp_path, "push", ref, env={"GOPHERNETES_REGISTRY_TIMEOUT": "1"}, timeout=60)
    finally:
        lying.close()
    assert result.returncode == 125
    errors = [line for line in result.stderr.splitlines() if line.startswith("gophernetes:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
