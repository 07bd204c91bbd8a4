"""The configuration file: defaults an administrator sets once for every command.

    /etc/gophernetes/config.toml (or the file GOPHERNETES_CONFIG names):
        engine = "containerd"                           # like --engine
        address = "/run/containerd/containerd.sock"     # like --address
        root = "/srv/gophernetes"                       # like --root
        lab_registry = "127.0.0.1:5000"                 # the classroom's registry

The first three are the global options' defaults (the command line and the environment
win over the file). `lab_registry` changes no default: it only makes the "image not
found" hint name the lab's registry too, for an offline classroom where a bare name
(`busybox`, Docker Hub's) cannot be pulled. roles/labs writes it in the lab VM.
"""

from __future__ import annotations

import os

from gophernetes.errors import GophernetesError

CONFIG_FILE = "/etc/gophernetes/config.toml"
SETTINGS = ("engine", "address", "root", "lab_registry")


def config_path() -> str:
    return os.environ.get("GOPHERNETES_CONFIG", CONFIG_FILE)


def read() -> dict:
    """Every setting of the configuration file ({} without one); an unreadable file or an
    unknown setting is one clear error."""
    path = config_path()
    if not os.path.exists(path):
        return {}
    import tomllib

    try:
        with open(path, "rb") as file:
            config = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise GophernetesError(f"cannot read the configuration {path}: {error}") from error
    unknown = set(config) - set(SETTINGS)
    if unknown:
        raise GophernetesError(f"unknown setting {sorted(unknown)[0]!r} in {path}: "
                               f"use {', '.join(SETTINGS[:-1])} or {SETTINGS[-1]}")
    return config


def lab_registry() -> str | None:
    """The lab's registry (host:port) if the configuration names one. Only asked when a hint
    is written: a configuration that cannot be read was already reported at start."""
    try:
        value = read().get("lab_registry")
    except GophernetesError:
        return None
    return (value.strip().rstrip("/") or None) if isinstance(value, str) else None
