"""Registry credentials: where `gophernetes login` keeps them and where docker keeps its own.

A registry that wants a user name and password answers 401 with a `WWW-Authenticate`
header. `Basic` means: send `Authorization: Basic base64(user:password)` on each request.
`Bearer realm=...,service=...,scope=...` (Docker Hub's way) means: ask the token server
at `realm` for a short-lived token for that scope, sending the credentials there if we
have any, then send `Authorization: Bearer TOKEN` to the registry.

Credentials are looked up in two files, first match wins:

1. `<state root>/lib/images/auth.json`, written by `gophernetes login` (mode 0600);
2. docker's `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), its
   `auths` section. Credential helpers (`credsStore`) are not supported.

Both use docker's format: `{"auths": {"REGISTRY": {"auth": base64("user:password")}}}`.
Docker Hub is stored under `https://index.docker.io/v1/`, as docker does.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from gophernetes.errors import GophernetesError
from gophernetes.image.reference import DOCKER_HUB

DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic_header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


def auth_key(registry: str) -> str:
    """The key a registry's credentials are stored under."""
    docker_hub = (DOCKER_HUB, "index.docker.io", "registry-1.docker.io")
    return DOCKER_HUB_AUTH_KEY if registry in docker_hub else registry


def docker_config_file() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def lookup(registry: str, own_file: Path) -> Credentials | None:
    """Credentials for `registry` from our own file, else from docker's, else None."""
    key = auth_key(registry)
    for path in (own_file, docker_config_file()):
        auths = _read_auths(path)
        for candidate in (key, f"https://{key}", f"http://{key}", key.removeprefix("https://")):
            entry = auths.get(candidate)
            if entry:
                return _decode(entry, path, candidate)
    return None


def save(registry: str, credentials: Credentials, own_file: Path) -> None:
    """Store credentials for `registry` in our own file, atomically and readable by root only."""
    auths = _read_auths(own_file)
    auths[auth_key(registry)] = {"auth": credentials.basic_header().removeprefix("Basic ")}
    own_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = own_file.with_name(own_file.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"auths": auths}, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, own_file)


def _read_auths(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise GophernetesError(f"cannot read credentials from {path}: {error}; "
                               "fix or remove the file") from None
    return dict(data.get("auths") or {})


def _decode(entry: dict, path: Path, key: str) -> Credentials | None:
    if entry.get("username") and entry.get("password"):
        return Credentials(entry["username"], entry["password"])
    if not entry.get("auth"):
        return None
    try:
        user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    except ValueError:
        raise GophernetesError(f"{path}: the 'auth' entry for {key} is not base64 of user:password") from None
    return Credentials(user, password)
