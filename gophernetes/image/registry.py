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
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from gophernetes.errors import GophernetesError, NotFound, PermissionDenied
from gophernetes.image.auth import Credentials
from gophernetes.image.manifest import ACCEPT, Descriptor
from gophernetes.image.reference import Reference, is_local_registry

ATTEMPTS = 4
BACKOFF_SECONDS = (0.2, 0.5, 1.0)
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
MAX_MANIFEST_BYTES = 4 << 20
CHUNK = 1 << 20
USER_AGENT = "gophernetes/0.1"


class TransientError(GophernetesError):
    """A failure worth retrying: the connection dropped, the server was busy."""


class RegistryClient:
    """Talks to one repository on one registry, remembering the auth header it earned."""

    def __init__(self, ref: Reference, *, insecure: bool = False,
                 credentials: Credentials | None = None, timeout: float = 60.0) -> None:
        self.ref = ref
        self.credentials = credentials
        self.timeout = timeout
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
            body = response.read(MAX_MANIFEST_BYTES + 1)
            media_type = response.headers.get("Content-Type", "")
            announced = response.headers.get("Docker-Content-Digest", "")
        if len(body) > MAX_MANIFEST_BYTES:
            raise GophernetesError(f"{what}: manifest larger than {MAX_MANIFEST_BYTES} bytes; refusing it")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        expected = reference if reference.startswith("sha256:") else announced
        if expected.startswith("sha256:") and expected != digest:
            raise GophernetesError(f"{what}: manifest digest mismatch: expected {expected}, got {digest}; "
                                   "the registry sent corrupted or tampered content")
        return body, media_type, digest

    def blob_bytes(self, descriptor: Descriptor, limit: int = MAX_MANIFEST_BYTES) -> bytes:
        """Fetch a small blob (a config, a child manifest) into memory, verified."""
        with self._get(self.repo_url + "blobs/" + descriptor.digest, what=descriptor.digest) as response:
            body = response.read(limit + 1)
        if len(body) > limit:
            raise GophernetesError(f"blob {descriptor.digest} is larger than {limit} bytes; refusing it")
        verify_digest(hashlib.sha256(body), descriptor.digest, len(body), descriptor.size)
        return body

    def download_blob(self, descriptor: Descriptor, dest: Path,
                      on_bytes: Callable[[int], None] = lambda n: None) -> None:
        """Stream a blob into `dest`, hashing as it arrives; retry if the body is cut short."""
        for attempt in range(ATTEMPTS):
            received = 0
            try:
                hasher = hashlib.sha256()
                url = self.repo_url + "blobs/" + descriptor.digest
                with self._get(url, what=descriptor.digest) as response, open(dest, "wb") as out:
                    while chunk := response.read1(CHUNK):
                        hasher.update(chunk)
                        out.write(chunk)
                        received += len(chunk)
                        on_bytes(len(chunk))
                        if descriptor.size and received > descriptor.size:
                            raise GophernetesError(f"blob {descriptor.digest}: the registry sends more "
                                                   f"than the {descriptor.size} bytes the manifest says")
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

    # --- HTTP with auth and retries ---------------------------------------------------

    def _get(self, url: str, *, accept: str | None = None, what: str) -> http.client.HTTPResponse:
        tried_auth = False
        attempt = 0
        while True:
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            if accept:
                request.add_header("Accept", accept)
            if self._authorization:
                # unredirected: a blob redirect to a CDN must not carry our credentials
                request.add_unredirected_header("Authorization", self._authorization)
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
        query = {"scope": params.get("scope") or f"repository:{self.ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        url = params["realm"] + ("&" if "?" in params["realm"] else "?") + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        if self.credentials:
            request.add_unredirected_header("Authorization", self.credentials.basic_header())
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                answer = json.loads(response.read(1 << 20))
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                login = "the stored credentials were refused" if self.credentials else "no credentials"
                raise PermissionDenied(f"{what}: the token server {params['realm']} refused access "
                                       f"({login}); run: gophernetes login {self.ref.registry}") from None
            raise GophernetesError(f"{what}: token server {params['realm']} answered "
                                   f"HTTP {error.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise GophernetesError(f"{what}: cannot get a token from {params['realm']}: {error}") from None
        token = answer.get("token") or answer.get("access_token")
        if not token:
            raise GophernetesError(f"{what}: the token server {params['realm']} sent no token")
        return token

    def _http_error(self, error: urllib.error.HTTPError, what: str) -> GophernetesError:
        detail = _registry_error_detail(error)
        where = f"{what}: {self.ref.registry} answered {error.code}{detail}"
        if error.code == 401:
            return PermissionDenied(f"{where}; check your credentials: gophernetes login {self.ref.registry}")
        if error.code == 403:
            return PermissionDenied(f"{where}; your account may not pull this repository")
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
    if not errors:
        return ""
    first = errors[0]
    return f" ({first.get('code', '?')}: {first.get('message', '')})"
