"""Image references: what `busybox`, `alpine:3.19` or `127.0.0.1:5000/app@sha256:...` mean.

A reference names a repository on a registry and, optionally, a tag or a digest:

    [REGISTRY[:PORT]/]REPOSITORY[:TAG][@sha256:HEX]

Docker's defaults fill in what is missing: no registry means Docker Hub (`docker.io`),
a one-word repository on Docker Hub lives under `library/` (the "official images"), and
no tag and no digest means `:latest`. The first path component is a registry only if it
looks like a host name: it contains a `.` or a `:`, or is `localhost`.

A tag is a movable label; a digest pins the exact manifest bytes, so `name@sha256:...`
always pulls the same image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gophernetes.errors import UsageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"  # where docker.io's distribution API really lives
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Reference:
    """A parsed, fully qualified reference: registry, repository, tag and/or digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The short, normalized name an image is stored and listed under.

        Docker Hub's prefixes are dropped as docker does: `docker.io/library/busybox:latest`
        is `busybox:latest`, `docker.io/grafana/loki:2.9` is `grafana/loki:2.9`.
        """
        return self.repository_name + (f":{self.tag}" if self.tag else "") + (
            f"@{self.digest}" if self.digest else "")

    @property
    def repository_name(self) -> str:
        """The repository as a user writes it: `busybox`, `127.0.0.1:5000/alpine`."""
        if self.registry == DOCKER_HUB:
            return self.repository.removeprefix("library/")
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host:port that serves the distribution API for this registry."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def manifest_reference(self) -> str:
        """What goes after /manifests/ in the API: the digest if pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG


def parse(text: str) -> Reference:
    """Parse `text` into a Reference, applying docker's defaults.

    >>> parse("busybox").name
    'busybox:latest'
    >>> parse("127.0.0.1:5000/team/app:1.0").repository
    'team/app'
    """
    original = text
    text = text.strip()
    if not text:
        raise UsageError("empty image reference; give a name such as busybox or alpine:3.19")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise UsageError(f"invalid digest in {original!r}: expected sha256: and 64 hex digits")
    registry = DOCKER_HUB
    first, _, rest = text.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, text = first, rest
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    tag = None
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > last_slash:
        text, tag = text[:colon], text[colon + 1:]
        if not _TAG.match(tag):
            raise UsageError(f"invalid tag {tag!r} in {original!r}")
    if registry == DOCKER_HUB and "/" not in text:
        text = f"library/{text}"
    if not _REPOSITORY.match(text):
        raise UsageError(f"invalid image name {original!r}: use lowercase letters, digits and . _ - /")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry=registry, repository=text, tag=tag, digest=digest)


def is_local_registry(registry: str) -> bool:
    """True for registries on this host, which docker (and we) reach over plain HTTP."""
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry.split("]")[0][1:]
    return host in ("localhost", "::1") or host.startswith("127.")


def pull_hint(ref: str, command: str = "gophernetes pull", lab_registry: str | None = None) -> str:
    """How to get the missing image `ref`: "pull it with: COMMAND REF".

    With a lab registry (an offline classroom's, the configuration's `lab_registry`), a
    Docker Hub name is offered from there first, as it is named there, then as written:
    `busybox` -> "COMMAND --insecure 127.0.0.1:5000/busybox:latest (the lab registry), or
    COMMAND busybox:latest". A name with a registry of its own keeps the plain hint, and
    pull's defaults do not change.
    """
    try:
        parsed = parse(ref)
    except UsageError:
        return f"pull it with: {command} {ref}"
    if not lab_registry or parsed.registry != DOCKER_HUB:
        return f"pull it with: {command} {ref}"
    local = Reference(lab_registry, parsed.repository.removeprefix("library/"), parsed.tag, parsed.digest)
    return f"pull it with: {command} --insecure {local.name} (the lab registry), or {command} {parsed.name}"
