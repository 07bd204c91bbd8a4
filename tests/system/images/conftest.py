"""Fixtures: real registries (Debian's docker-registry) on 127.0.0.1, skopeo to push, the CLI.

One storage directory is served by three registry processes: an open one (the tests
push to it with skopeo), one behind HTTP basic auth (htpasswd, bcrypt) and one behind
bearer tokens signed by a small token issuer running in this test process, the way
Docker Hub's auth.docker.io works. All three are started once per session and stopped
at its end, also when tests fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from support import serve_on_loopback, skip_without_tools, stop_serving

from tests.system.images import oci

USER, PASSWORD = "alice", "wonderland"
TOKEN_SERVICE, TOKEN_ISSUER = "gophernetes-test", "gophernetes-test-issuer"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def pytest_collection_modifyitems(items):
    skip_without_tools(items, Path(__file__).parent, ("docker-registry", "skopeo", "htpasswd", "openssl"),
                       ".ci/packages/images.txt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gophernetes(root: Path, *args: str, input: str | None = None, env: dict | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m gophernetes ARGS` with its state under `root`, as a user would."""
    environment = {**os.environ, "GOPHERNETES_ROOT": str(root), **(env or {})}
    environment.setdefault("DOCKER_CONFIG", str(root / "no-docker-config"))
    return subprocess.run([sys.executable, "-m", "gophernetes", *args], capture_output=True, text=True,
                          input=input, env=environment, timeout=timeout, cwd=Path(__file__).parents[3])


@dataclass
class Registry:
    """A running docker-registry: where it listens and where it keeps its blobs."""

    address: str   # 127.0.0.1:PORT
    storage: Path
    process: subprocess.Popen

    def push(self, layout: Path, tag: str, name: str, *, all_platforms: bool = False,
             docker_format: bool = False) -> str:
        """skopeo copy oci:LAYOUT:TAG docker://ADDRESS/NAME:TAG; returns the reference."""
        ref = f"{self.address}/{name}:{tag}"
        command = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
        if all_platforms:
            command.append("--all")
        if docker_format:
            command += ["--format", "v2s2"]
        subprocess.run([*command, f"oci:{layout}:{tag}", f"docker://{ref}"], check=True,
                       capture_output=True, timeout=120)
        return ref

    def blob_file(self, digest: str) -> Path:
        """Where the registry keeps a blob on disk (for tampering with it)."""
        hex_digest = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"


def start_registry(workdir: Path, storage: Path, auth_yaml: str = "") -> Registry:
    port = free_port()
    config = workdir / f"registry-{port}.yml"
    config.write_text(f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: gophernetes-tests
{auth_yaml}""")
    log = open(workdir / f"registry-{port}.log", "w")
    process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {(workdir / f'registry-{port}.log').read_text()}")
        try:
            NO_PROXY.open(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            break
        except urllib.error.HTTPError:
            break  # 401: up, and asking for credentials
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError("docker-registry did not start within 15 s")
    return Registry(f"127.0.0.1:{port}", storage, process)


@pytest.fixture(scope="session")
def registry_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("registry")


@pytest.fixture(scope="session")
def registry(registry_dir):
    """The open registry the tests push to."""
    started = start_registry(registry_dir, registry_dir / "storage")
    yield started
    started.process.terminate()
    started.process.wait(10)


@pytest.fixture(scope="session")
def basic_registry(registry, registry_dir):
    """The same content behind HTTP basic auth (htpasswd with bcrypt)."""
    htpasswd = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True,
                              text=True)
    (registry_dir / "htpasswd").write_text(htpasswd.stdout)
    started = start_registry(registry_dir, registry.storage, f"""auth:
  htpasswd:
    realm: gophernetes-tests
    path: {registry_dir / "htpasswd"}
""")
    yield started
    started.process.terminate()
    started.process.wait(10)


class TokenIssuer:
    """A token server like auth.docker.io: checks basic credentials, signs RS256 JWTs.

    The registry trusts tokens signed by the key whose certificate is its
    `rootcertbundle`; the JWT header's `kid` is that key's libtrust fingerprint.
    """

    def __init__(self, workdir: Path) -> None:
        self.key = workdir / "token.key"
        self.cert = workdir / "token.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-days", "2", "-subj", "/CN=gophernetes-test-token"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "rsa", "-in", str(self.key), "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
        self.kid = ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))
        self.requests: list[dict] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                issuer.handle(self)

            def log_message(self, *args):
                pass

        self.server = serve_on_loopback(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        from urllib.parse import parse_qs, urlparse

        query = parse_qs(urlparse(request.path).query)
        supplied = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.requests.append({"scope": query.get("scope", [""])[0], "service": query.get("service", [""])[0],
                              "authorized": supplied == expected})
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":", 2) if scope.count(":") >= 2 else ("", "", "")
            # like Docker Hub: anyone may pull public/*, the rest needs the user's password
            if kind == "repository" and (supplied == expected or name.startswith("public/")):
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        if supplied != expected and not access:
            request.send_response(401)
            request.end_headers()
            return
        body = json.dumps({"token": self.sign({"access": access})}).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def sign(self, claims: dict) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        claims = {"iss": TOKEN_ISSUER, "sub": USER, "aud": TOKEN_SERVICE, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": os.urandom(8).hex(), **claims}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), check=True, capture_output=True).stdout
        return f"{signing_input}.{_b64url(signature)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture(scope="session")
def token_issuer(registry_dir):
    issuer = TokenIssuer(registry_dir)
    yield issuer
    stop_serving(issuer.server)


@pytest.fixture(scope="session")
def token_registry(registry, registry_dir, token_issuer):
    """The same content behind bearer tokens from `token_issuer`."""
    started = start_registry(registry_dir, registry.storage, f"""auth:
  token:
    realm: {token_issuer.url}
    service: {TOKEN_SERVICE}
    issuer: {TOKEN_ISSUER}
    rootcertbundle: {token_issuer.cert}
""")
    yield started
    started.process.terminate()
    started.process.wait(10)


@pytest.fixture
def root(tmp_path) -> Path:
    """A fresh gophernetes state root for one test."""
    return tmp_path / "state"


def store_files(root: Path) -> dict[str, list[str]]:
    """What the image store holds on disk: names of blobs, layers and tmp entries.

    The short links in layers/l are not listed, but a link that does not lead to a stored
    layer, or a layer without exactly one link, shows up as "l/NAME (...)" among the layers.
    """
    images = root / "lib" / "images"
    files = {part: sorted(p.name for p in (images / sub).iterdir()) if (images / sub).is_dir() else []
             for part, sub in (("blobs", "blobs/sha256"), ("layers", "layers"), ("tmp", "tmp"))}
    links = images / "layers" / "l"
    if "l" in files["layers"]:
        files["layers"].remove("l")
        targets = [os.readlink(link) for link in links.iterdir()]
        files["layers"] += [f"l/{link.name} (leads nowhere)" for link in links.iterdir() if not link.exists()]
        files["layers"] += [f"l/? ({layer} has {targets.count(f'../{layer}/diff')} links)"
                            for layer in files["layers"][:] if targets.count(f"../{layer}/diff") != 1
                            and not layer.startswith("l/")]
    return files


# --- images the tests push ------------------------------------------------------------------

BUSYBOX = Path("/bin/busybox")


def base_layer() -> list[oci.Entry]:
    """A small runnable userland plus files whose metadata must survive the trip."""
    return [
        oci.directory("bin"),
        oci.file("bin/busybox", BUSYBOX.read_bytes(), mode=0o755),
        oci.symlink("bin/sh", "busybox"),
        oci.symlink("bin/cat", "/bin/busybox"),
        oci.directory("etc"),
        oci.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        oci.directory("srv", mode=0o750, uid=1000, gid=1000, mtime=1_500_000_000),
        oci.file("srv/tool", "#!/bin/sh\necho tool\n", mode=0o4755, uid=1000, gid=1001, mtime=1_234_567_890,
                 xattrs={"user.lab": "hello"}),
        oci.hardlink("srv/tool-link", "srv/tool"),
        oci.directory("tmp", mode=0o1777),
    ]


@pytest.fixture(scope="session")
def pushed(registry, tmp_path_factory) -> dict[str, str]:
    """Push the test images once; returns label -> reference."""
    layout = tmp_path_factory.mktemp("layout")
    images = oci.Layout(layout)
    refs: dict[str, str] = {}

    base = images.image([base_layer()], cmd=["/bin/sh", "-c", "echo hi"], env=["PATH=/bin", "LAB=1"],
                        working_dir="/srv", user="1000:1001", entrypoint=["/bin/sh", "-c"])
    images.tag(base, "base")
    refs["base"] = registry.push(layout, "base", "lab/base")
    refs["public"] = registry.push(layout, "base", "public/base")
    refs["base-docker"] = registry.push(layout, "base", "lab/base-docker", docker_format=True)

    lower = [oci.directory("etc"), oci.file("etc/motd", "hello\n"), oci.directory("var"),
             oci.directory("var/cache"), oci.file("var/cache/a", "a"), oci.file("var/cache/b", "b"),
             oci.directory("opt"), oci.file("opt/keep", "keep")]
    middle = [oci.directory("etc"), oci.whiteout("etc/motd"), oci.directory("var/cache"),
              oci.opaque("var/cache"), oci.file("var/cache/c", "c")]
    layered = images.image([lower, middle, [oci.directory("opt"), oci.file("opt/new", "new")]])
    images.tag(layered, "layered")
    refs["layered"] = registry.push(layout, "layered", "lab/layered")
    sibling = images.image([lower, [oci.file("sibling", "only in the sibling")]])
    images.tag(sibling, "sibling")
    refs["sibling"] = registry.push(layout, "sibling", "lab/sibling")

    amd64 = images.image([[oci.file("arch", "amd64\n")]], arch="amd64")
    arm64 = images.image([[oci.file("arch", "arm64\n")]], arch="arm64")
    images.tag(images.multi_platform([amd64, arm64]), "multi")
    refs["multi"] = registry.push(layout, "multi", "lab/multi", all_platforms=True)
    refs["multi-docker"] = registry.push(layout, "multi", "lab/multi-docker", all_platforms=True,
                                         docker_format=True)
    return refs


class RegistryProxy:
    """An HTTP proxy in front of the open registry that counts blob requests and can
    misbehave on them: "drop" sends half of a blob and closes the connection, "stall"
    sends half and then hangs until the test is over."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.blob_requests: list[str] = []
        self.half_sent = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                proxy.handle(self)

            def log_message(self, *args):
                pass

        self.server = serve_on_loopback(Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        forwarded = urllib.request.Request(f"http://{self.upstream}{request.path}", headers=headers)
        try:
            response = NO_PROXY.open(forwarded, timeout=30)
        except urllib.error.HTTPError as error:
            response = error
        body = response.read()
        is_blob = "/blobs/" in request.path
        if is_blob:
            self.blob_requests.append(request.path)
        request.send_response(response.status if hasattr(response, "status") else response.code)
        for key, value in response.headers.items():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if is_blob and self.mode == "drop-once" and len(body) > 1000:
            self.mode = "pass"
            request.wfile.write(body[: len(body) // 2])
            request.close_connection = True
            return
        if is_blob and self.mode != "pass" and len(body) > 1000:
            request.wfile.write(body[: len(body) // 2])
            request.wfile.flush()
            self.half_sent.set()
            if self.mode == "stall":
                self.release.wait(60)
            request.close_connection = True
            return
        request.wfile.write(body)

    def stop(self) -> None:
        self.release.set()
        stop_serving(self.server)


@pytest.fixture
def proxy(registry):
    started = RegistryProxy(registry.address)
    yield started
    started.stop()


class TinyRegistry:
    """A registry written for one test, speaking just enough of the distribution API for a
    pull, that serves what the test gives it -- and can lie: a blob longer than its
    descriptor, a blob that never ends, a manifest sent one byte at a time, a token of
    the wrong type. Routes map a request path to a handler (see `serve`, `drip`, `endless`).
    """

    def __init__(self) -> None:
        self.routes: dict[str, object] = {}
        self.stop = threading.Event()
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                registry.requests.append(self.path)
                route = registry.routes.get(self.path.split("?")[0])
                try:
                    if route is None:
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = serve_on_loopback(Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def serve(body: bytes, content_type: str = "application/octet-stream", headers: dict | None = None):
        def handle(request: BaseHTTPRequestHandler) -> None:
            request.send_response(200)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                request.send_header(key, value)
            request.end_headers()
            request.wfile.write(body)
        return handle

    def drip(self, body: bytes, interval: float, content_type: str = "application/json"):
        """Send the headers, then one byte of `body` every `interval` seconds."""
        def handle(request: BaseHTTPRequestHandler) -> None:
            request.send_response(200)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            for byte in body:
                if self.stop.wait(interval):
                    return
                request.wfile.write(bytes([byte]))
                request.wfile.flush()
        return handle

    def endless(self, length_header: int | None = None):
        """A blob of zeros that never ends (optionally announcing a Content-Length)."""
        def handle(request: BaseHTTPRequestHandler) -> None:
            request.send_response(200)
            request.send_header("Content-Type", "application/octet-stream")
            if length_header is not None:
                request.send_header("Content-Length", str(length_header))
            else:
                request.send_header("Connection", "close")
            request.end_headers()
            zeros = bytes(1 << 16)
            while not self.stop.is_set():
                request.wfile.write(zeros)
            request.close_connection = True
        return handle

    def stall(self, body: bytes):
        """Send the first half of `body`, then nothing until the test ends."""
        def handle(request: BaseHTTPRequestHandler) -> None:
            request.send_response(200)
            request.send_header("Content-Type", "application/octet-stream")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body[: len(body) // 2])
            request.wfile.flush()
            self.stop.wait(60)
            request.close_connection = True
        return handle

    @staticmethod
    def bearer(realm: str):
        """Answer 401 asking for a bearer token from `realm`, as Docker Hub does."""
        def handle(request: BaseHTTPRequestHandler) -> None:
            if request.headers.get("Authorization", "").startswith("Bearer "):
                request.send_response(403)
            else:
                request.send_response(401)
                request.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="tiny"')
            request.send_header("Content-Length", "0")
            request.end_headers()
        return handle

    def image(self, name: str, tag: str, layers: list[bytes], diff_ids: list[str], *,
              config: dict | None = None, sizes: dict[int, int] | None = None) -> tuple[str, dict]:
        """Serve a one-platform image: layer blobs (as given) and a config naming `diff_ids`.

        `sizes` overrides what the manifest announces for layer N. Returns (reference, manifest).
        """
        config_body = json.dumps(config or oci.config_for(diff_ids)).encode()
        layer_descs = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": oci.sha256(blob),
                        "size": (sizes or {}).get(index, len(blob))} for index, blob in enumerate(layers)]
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": oci.sha256(config_body), "size": len(config_body)},
                    "layers": layer_descs}
        self.serve_manifest(name, tag, json.dumps(manifest).encode())
        self.routes[f"/v2/{name}/blobs/{oci.sha256(config_body)}"] = self.serve(config_body)
        for blob in layers:
            self.routes[f"/v2/{name}/blobs/{oci.sha256(blob)}"] = self.serve(blob)
        return f"{self.address}/{name}:{tag}", manifest

    def serve_manifest(self, name: str, tag: str, body: bytes) -> None:
        handler = self.serve(body, "application/vnd.oci.image.manifest.v1+json",
                             {"Docker-Content-Digest": oci.sha256(body)})
        self.routes[f"/v2/{name}/manifests/{tag}"] = handler
        self.routes[f"/v2/{name}/manifests/{oci.sha256(body)}"] = handler

    def close(self) -> None:
        self.stop.set()
        stop_serving(self.server)


@pytest.fixture
def tiny_registry():
    started = TinyRegistry()
    yield started
    started.close()
