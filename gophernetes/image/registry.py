"""A client for the distribution API v2, the HTTP protocol every image registry speaks.

A pull needs only two kinds of GET under `/v2/<repository>/`:

    GET /v2/<repo>/manifests/<tag or digest>   Accept: the manifest types we understand
    GET /v2/<repo>/blobs/<digest>              a config or a layer, by its sha256

Everything a registry serves is checked against a sha256 digest before it is used: a
blob against the digest that names it, a manifest against the digest we asked for (or
the `Docker-Content-Digest` the registry announces). A mismatch means corruption or
tampering, and the pull stops.

Authentication is lazy, as docker does it: send the request, and if the registry
answers 401, read its `WWW-Authenticate` challenge (see auth.py), get the header it
wants, and send the request again. Transient failures (connection reset, timeouts,
HTTP 429/5xx, a body cut short) are retried a few times with a growing pause.

Registries on 127.0.0.0/8 or localhost, and any registry with `insecure=True`, are
spoken to over plain HTTP; all others over HTTPS.

A registry may also be slow, broken or hostile, so nothing it does is unbounded:

- connecting and every read give up after GOPHERNETES_REGISTRY_TIMEOUT seconds (30)
  of silence, and a JSON document (manifest, index, config, token) must arrive whole
  within that time too: a server sending one byte every few seconds is cut off;
- a blob may not be longer than its descriptor says (a Content-Length that disagrees
  is refused before reading, and the stream is cut at size + 1 bytes), it must fit on
  the disk before it is fetched, and it is hashed as it streams in;
- a whole pull ends after GOPHERNETES_PULL_TIMEOUT seconds (3600).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from gophernetes.errors import GophernetesError, NotFound, PermissionDenied
from gophernetes.image.auth import Credentials
from gophernetes.image.manifest import ACCEPT, Descriptor, json_object, json_type
from gophernetes.image.progress import human_size
from gophernetes.image.reference import Reference, is_local_registry

ATTEMPTS = 4
BACKOFF_SECONDS = (0.2, 0.5, 1.0)
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
MAX_MANIFEST_BYTES = 4 << 20
CHUNK = 1 << 20
USER_AGENT = "gophernetes/0.1"
TIMEOUT_SECONDS = 30.0    # of silence on a connection, and for a whole JSON document
PULL_TIMEOUT_SECONDS = 3600.0
MAX_TOKEN_BYTES = 1 << 20


class TransientError(GophernetesError):
    """A failure worth retrying: the connection dropped, the server was busy."""


class RegistryClient:
    """Talks to one repository on one registry, remembering the auth header it earned."""

    def __init__(self, ref: Reference, *, insecure: bool = False,
                 credentials: Credentials | None = None, timeout: float | None = None) -> None:
        self.ref = ref
        self.credentials = credentials
        self.timeout = timeout or _seconds("GOPHERNETES_REGISTRY_TIMEOUT", TIMEOUT_SECONDS)
        self.pull_timeout = _seconds("GOPHERNETES_PULL_TIMEOUT", PULL_TIMEOUT_SECONDS)
        self.deadline = time.monotonic() + self.pull_timeout
        scheme = "http" if insecure or is_local_registry(ref.registry) else "https"
        self.root_url = f"{scheme}://{ref.api_host}/v2/"
        self.repo_url = f"{self.root_url}{ref.repository}/"
        self._authorization: str | None = None
        handlers: list = [urllib.request.ProxyHandler({})] if is_local_registry(ref.registry) else []
        self._opener = urllib.request.build_opener(*handlers)

    # --- the API --------------------------------------------------------------------

    def ping(self) -> None:
        """GET /v2/: succeeds when the registry accepts our credentials (used by login)."""
        self._get(self.root_url, what=f"registry {self.ref.registry}").close()

    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        """Fetch the manifest or index named by a tag or digest.

        Returns (body, media type, digest of body). The digest is checked against
        `reference` when it is a digest, else against the Docker-Content-Digest header.
        """
        what = f"{self.ref.repository_name}:{reference}" if ":" not in reference else \
            f"{self.ref.repository_name}@{reference}"
        with self._get(self.repo_url + "manifests/" + reference, accept=ACCEPT, what=what) as response:
            body = self._read_document(response, MAX_MANIFEST_BYTES, what, "the manifest")
            media_type = response.headers.get("Content-Type", "")
            announced = response.headers.get("Docker-Content-Digest", "")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        expected = reference if reference.startswith("sha256:") else announced
        if expected.startswith("sha256:") and expected != digest:
            raise GophernetesError(f"{what}: manifest digest mismatch: expected {expected}, got {digest}; "
                                   "the registry sent corrupted or tampered content")
        return body, media_type, digest

    def blob_bytes(self, descriptor: Descriptor, limit: int = MAX_MANIFEST_BYTES) -> bytes:
        """Fetch a small blob (a config, a child manifest) into memory, verified."""
        with self._get(self.repo_url + "blobs/" + descriptor.digest, what=descriptor.digest) as response:
            body = self._read_document(response, limit, f"blob {descriptor.digest}", "the blob")
        verify_digest(hashlib.sha256(body), descriptor.digest, len(body), descriptor.size)
        return body

    def download_blob(self, descriptor: Descriptor, dest: Path,
                      on_bytes: Callable[[int], None] = lambda n: None) -> None:
        """Stream a blob into `dest`, hashing as it arrives; retry if the body is cut short.

        Never more than the descriptor's size is accepted, and not at all if it cannot fit.
        """
        self._check_room(descriptor, dest.parent)
        for attempt in range(ATTEMPTS):
            received = 0
            try:
                hasher = hashlib.sha256()
                url = self.repo_url + "blobs/" + descriptor.digest
                with self._get(url, what=descriptor.digest) as response, open(dest, "wb") as out:
                    self._check_length(response, descriptor)
                    while chunk := response.read1(CHUNK):
                        hasher.update(chunk)
                        out.write(chunk)
                        received += len(chunk)
                        on_bytes(len(chunk))
                        if received > descriptor.size:
                            raise GophernetesError(f"blob {descriptor.digest}: the registry {self.ref.registry} "
                                                   f"sends more than the {descriptor.size} bytes the manifest "
                                                   "says; refusing it")
                        self._check_deadline(f"blob {descriptor.digest}")
                if descriptor.size and received < descriptor.size:
                    raise TransientError(f"blob {descriptor.digest}: connection dropped after "
                                         f"{received} of {descriptor.size} bytes")
                verify_digest(hasher, descriptor.digest, received, descriptor.size)
                return
            except (TransientError, http.client.HTTPException, ConnectionError, TimeoutError) as error:
                on_bytes(-received)
                if attempt + 1 == ATTEMPTS:
                    raise GophernetesError(f"download of {descriptor.digest} failed after {ATTEMPTS} "
                                           f"attempts: {error}") from None
                time.sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)])

    # --- bounds ------------------------------------------------------------------------

    def _read_document(self, response: http.client.HTTPResponse, limit: int, what: str, kind: str) -> bytes:
        """Read a whole small body (at most `limit` bytes) within `timeout` seconds."""
        ends = min(time.monotonic() + self.timeout, self.deadline)
        body = bytearray()
        try:
            while chunk := response.read1(CHUNK):
                body += chunk
                if len(body) > limit:
                    raise GophernetesError(f"{what}: {kind} from {self.ref.registry} is larger than {limit} "
                                           "bytes; refusing it")
                if time.monotonic() > ends:
                    raise GophernetesError(f"{what}: the registry {self.ref.registry} did not send {kind} "
                                           f"within {self.timeout:g} s (it trickles); giving up")
        except (TimeoutError, OSError, http.client.HTTPException) as error:
            raise self._broken(what, kind, error) from None
        return bytes(body)

    def _broken(self, what: str, kind: str, error: Exception) -> GophernetesError:
        if isinstance(error, TimeoutError):
            return GophernetesError(f"{what}: the registry {self.ref.registry} sent nothing for "
                                    f"{self.timeout:g} s while sending {kind}; giving up")
        return GophernetesError(f"{what}: the connection to {self.ref.registry} broke while it sent {kind}: "
                                f"{error}")

    def _check_deadline(self, what: str) -> None:
        if time.monotonic() > self.deadline:
            raise GophernetesError(f"{what}: the pull from {self.ref.registry} took longer than "
                                   f"{self.pull_timeout:g} s (GOPHERNETES_PULL_TIMEOUT); giving up")

    def _check_length(self, response: http.client.HTTPResponse, descriptor: Descriptor) -> None:
        """A Content-Length other than the descriptor's size is a lie, or another blob: refuse it now."""
        length = response.headers.get("Content-Length")
        if length is not None and length.strip() != str(descriptor.size):
            raise GophernetesError(f"blob {descriptor.digest}: the registry {self.ref.registry} announces "
                                   f"{length.strip()} bytes, the manifest says {descriptor.size}; refusing it")

    def _check_room(self, descriptor: Descriptor, directory: Path) -> None:
        """Refuse a blob larger than the free space, before fetching a byte of it."""
        stats = os.statvfs(directory)
        free = stats.f_bavail * stats.f_frsize
        if descriptor.size > free:
            raise GophernetesError(f"blob {descriptor.digest}: the manifest from {self.ref.registry} announces "
                                   f"{human_size(descriptor.size)}, but {directory} has only {human_size(free)} "
                                   "free; refusing it")

    # --- HTTP with auth and retries ---------------------------------------------------

    def _get(self, url: str, *, accept: str | None = None, what: str) -> http.client.HTTPResponse:
        return self.send("GET", url, accept=accept, what=what)

    def send(self, method: str, url: str, *, what: str, accept: str | None = None,
             body: bytes | BinaryIO | None = None, headers: dict[str, str] | None = None
             ) -> http.client.HTTPResponse:
        """One request with auth and retries; a non-2xx answer raises (HTTPError kept as NotFound etc.).

        A file `body` is rewound before each attempt (a 401 or a retry sends it again);
        its Content-Length must be in `headers`.
        """
        tried_auth = False
        attempt = 0
        while True:
            if hasattr(body, "seek"):
                body.seek(0)  # type: ignore[union-attr]
            request = urllib.request.Request(url, data=body, method=method,
                                             headers={"User-Agent": USER_AGENT, **(headers or {})})
            if accept:
                request.add_header("Accept", accept)
            if self._authorization:
                # unredirected: a blob redirect to a CDN must not carry our credentials
                request.add_unredirected_header("Authorization", self._authorization)
            self._check_deadline(what)
            try:
                return self._opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as error:
                if error.code == 401 and not tried_auth:
                    tried_auth = True
                    challenge = error.headers.get("WWW-Authenticate", "")
                    error.close()
                    self._authorization = self._authenticate(challenge, what)
                    continue
                if error.code in TRANSIENT_STATUS and attempt + 1 < ATTEMPTS:
                    error.close()
                    attempt = self._pause(attempt)
                    continue
                raise self._http_error(error, what) from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
                reason = getattr(error, "reason", error)
                if attempt + 1 < ATTEMPTS and not isinstance(reason, ssl.SSLError):  # TLS won't heal
                    attempt = self._pause(attempt)
                    continue
                hint = "; is it running?" if isinstance(reason, ConnectionRefusedError) else ""
                if isinstance(reason, ssl.SSLError):
                    hint = "; for a registry without TLS use --insecure"
                if isinstance(reason, TimeoutError):  # connected, then silence: not "cannot reach"
                    raise GophernetesError(f"{what}: {self.ref.registry} did not answer {method} {_path(url)} "
                                           f"within {self.timeout:g} s, {ATTEMPTS} times; giving up") from None
                raise GophernetesError(f"cannot reach {self.root_url}: {reason}{hint}") from None

    @staticmethod
    def _pause(attempt: int) -> int:
        time.sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)])
        return attempt + 1

    def _authenticate(self, challenge: str, what: str) -> str:
        """Turn a 401's WWW-Authenticate challenge into an Authorization header value."""
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if not self.credentials:
                raise PermissionDenied(f"{what}: {self.ref.registry} requires a login; "
                                       f"run: gophernetes login {self.ref.registry}")
            return self.credentials.basic_header()
        if scheme == "bearer" and params.get("realm"):
            return "Bearer " + self._fetch_token(params, what)
        raise PermissionDenied(f"{what}: {self.ref.registry} asks for unsupported authentication "
                               f"{challenge!r}")

    def _fetch_token(self, params: dict[str, str], what: str) -> str:
        """Ask the token server (the challenge's realm) for a pull token for this repository."""
        # a push (or a blob mount) may need several scopes: the challenge separates them by spaces
        scopes = (params.get("scope") or f"repository:{self.ref.repository}:pull").split()
        query: list[tuple[str, str]] = [("scope", scope) for scope in scopes]
        if params.get("service"):
            query.append(("service", params["service"]))
        url = params["realm"] + ("&" if "?" in params["realm"] else "?") + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        if self.credentials:
            request.add_unredirected_header("Authorization", self.credentials.basic_header())
        where = f"the token server {params['realm']} (for {self.ref.registry})"
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = self._read_document(response, MAX_TOKEN_BYTES, what, "a token")
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                login = "the stored credentials were refused" if self.credentials else "no credentials"
                raise PermissionDenied(f"{what}: the token server {params['realm']} refused access "
                                       f"({login}); run: gophernetes login {self.ref.registry}") from None
            raise GophernetesError(f"{what}: token server {params['realm']} answered "
                                   f"HTTP {error.code}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise GophernetesError(f"{what}: cannot get a token from {params['realm']}: {error}") from None
        answer = json_object(body, f"{what}: {where}", "answer")
        token = answer.get("token") or answer.get("access_token")
        if not token:
            raise GophernetesError(f"{what}: {where} sent no token")
        if not isinstance(token, str):
            raise GophernetesError(f"{what}: {where} sent a token that is {json_type(token)}, "
                                   "not a string; refusing it")
        return token

    def _http_error(self, error: urllib.error.HTTPError, what: str) -> GophernetesError:
        detail = _registry_error_detail(error)
        where = f"{what}: {self.ref.registry} answered {error.code}{detail}"
        if error.code == 401:
            return PermissionDenied(f"{where}; check your credentials: gophernetes login {self.ref.registry}")
        if error.code == 403:
            return PermissionDenied(f"{where}; your account may not use this repository")
        if error.code == 404:
            return NotFound(f"{where}; check the name and tag")
        if error.code in (406, 415):
            return GophernetesError(f"{where}; the registry offers no manifest type gophernetes understands")
        return GophernetesError(where)


def verify_digest(hasher, expected: str, got_size: int, expected_size: int) -> None:
    """Refuse content whose sha256 is not the digest that names it."""
    got = "sha256:" + hasher.hexdigest()
    if not expected.startswith("sha256:"):
        raise GophernetesError(f"unsupported digest algorithm in {expected!r}: only sha256 is supported")
    if got != expected:
        raise GophernetesError(f"blob {expected} is corrupt: its content hashes to {got} "
                               f"({got_size} bytes); refusing it")
    if expected_size and got_size != expected_size:
        raise GophernetesError(f"blob {expected} has {got_size} bytes, the manifest says {expected_size}")


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="https://auth.docker.io/token",service="registry.docker.io"` ->
    ("bearer", {"realm": ..., "service": ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def _registry_error_detail(error: urllib.error.HTTPError) -> str:
    """The registry's own error code and message, e.g. ` (MANIFEST_UNKNOWN: manifest unknown)`."""
    try:
        errors = json.loads(error.read(1 << 16) or b"{}").get("errors") or []
    except (ValueError, OSError, AttributeError):
        return ""
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return ""
    first = errors[0]
    return f" ({str(first.get('code', '?'))[:100]}: {str(first.get('message', ''))[:300]})"


def _path(url: str) -> str:
    """The path of a URL without its query (an upload's state token says nothing to a user)."""
    return urllib.parse.urlsplit(url).path


def _seconds(variable: str, default: float) -> float:
    """A timeout from the environment (seconds), or the default."""
    text = os.environ.get(variable)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not value > 0:
        raise GophernetesError(f"{variable}={text!r}: give a number of seconds greater than 0")
    return value
