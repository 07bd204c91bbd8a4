"""Network definitions: a name, a subnet, a gateway address and the bridge that carries it.

A definition is only a promise, one JSON file per network under the state root. The
bridge it names is made in the kernel when the first container plugs in and removed
when the last one leaves (see bridge.py), as docker does for its user-defined networks.

`bridge` is the default network, created on first use with subnet 10.77.0.0/16 (or
GOPHERNETES_DEFAULT_SUBNET); deleting it resets it (bridge and rules go, and it is made
anew on next use). Not docker's 172.17/16 nor podman's 10.88/16, so gophernetes,
docker and podman can live on one lab VM without fighting over a route.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from gophernetes.errors import Conflict, NotFound, UsageError
from gophernetes.network import store

DEFAULT_NETWORK = "bridge"
DEFAULT_BRIDGE = "gophernetes0"
DEFAULT_SUBNET = "10.77.0.0/16"
# Where `network create NAME` without --subnet looks for a free /16.
AUTO_SUBNETS = [f"10.{second}.0.0/16" for second in range(78, 128)]
RESERVED_NAMES = {"none", "host", "container"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
IFNAMSIZ = 15  # the kernel's limit on an interface name, without the trailing NUL


@dataclass(frozen=True)
class Network:
    """One network: its addresses and the name of its bridge."""

    name: str
    subnet: str
    gateway: str
    bridge: str
    created: float = 0.0

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    @property
    def gateway_cidr(self) -> str:
        """The gateway as the bridge carries it: "10.77.0.1/16"."""
        return f"{self.gateway}/{self.prefixlen}"


def path_of(networks_dir: Path, name: str) -> Path:
    return networks_dir / f"{name}.json"


def load(networks_dir: Path, name: str) -> Network:
    """The network called `name`; the default network is made on first use."""
    data = store.read_json(path_of(networks_dir, name))
    if data is not None:
        return Network(**data)
    if name == DEFAULT_NETWORK:
        return _create_default(networks_dir)
    raise NotFound(f"network {name!r} not found; see 'gophernetes network ls'")


def all_networks(networks_dir: Path) -> list[Network]:
    """Every defined network, the default one included, sorted by name."""
    load(networks_dir, DEFAULT_NETWORK)
    found = [store.read_json(path) for path in sorted(networks_dir.glob("*.json"))]
    return [Network(**data) for data in found if data is not None]


def create(networks_dir: Path, name: str, subnet: str | None) -> Network:
    """Define network `name` on `subnet` (or the first free /16); the caller holds the lock."""
    check_name(name)
    if path_of(networks_dir, name).exists() or name == DEFAULT_NETWORK:
        raise Conflict(f"network {name!r} already exists")
    existing = [net for net in all_networks(networks_dir)]
    chosen = parse_subnet(subnet) if subnet else _first_free(existing)
    _refuse_overlap(chosen, existing)
    return _save(networks_dir, name, chosen, bridge_name(name))


def delete(networks_dir: Path, name: str) -> None:
    """Forget network `name`; the caller has checked that no container uses it."""
    load(networks_dir, name)
    store.remove(path_of(networks_dir, name))


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise UsageError(f"invalid network name {name!r}: use letters, digits, '_', '.', '-' (at most 63)")
    if name in RESERVED_NAMES:
        raise UsageError(f"network name {name!r} is reserved (--net {name} means something else)")


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    """`text` as an IPv4 network with room for a gateway and containers (a /30 at least)."""
    try:
        subnet = ipaddress.IPv4Network(text, strict=True)
    except ValueError as error:
        raise UsageError(f"invalid subnet {text!r}: {error} (expected e.g. 10.90.0.0/24)") from None
    if subnet.prefixlen > 30:
        raise UsageError(f"subnet {text} is too small: a /30 or larger leaves room for a gateway")
    if subnet.is_loopback or subnet.is_multicast or subnet.is_link_local:
        raise UsageError(f"subnet {text} is loopback, multicast or link-local: pick a private range")
    return subnet


def bridge_name(name: str) -> str:
    """`gn-NAME` when it fits the kernel's 15 characters, else `gn-` and a hash of the name."""
    candidate = f"gn-{name}"
    if len(candidate) <= IFNAMSIZ and re.match(r"^[A-Za-z0-9_.-]+$", name):
        return candidate
    return "gn-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def _create_default(networks_dir: Path) -> Network:
    text = os.environ.get("GOPHERNETES_DEFAULT_SUBNET") or DEFAULT_SUBNET
    return _save(networks_dir, DEFAULT_NETWORK, parse_subnet(text), DEFAULT_BRIDGE)


def _save(networks_dir: Path, name: str, subnet: ipaddress.IPv4Network, bridge: str) -> Network:
    gateway = str(next(iter(subnet.hosts())))  # hosts() is a list for a /31 or /32, an iterator otherwise
    network = Network(name=name, subnet=str(subnet), gateway=gateway, bridge=bridge, created=time.time())
    store.write_json(path_of(networks_dir, name), asdict(network))
    return network


def _first_free(existing: list[Network]) -> ipaddress.IPv4Network:
    taken = [ipaddress.ip_network(net.subnet) for net in existing]
    for text in AUTO_SUBNETS:
        candidate = ipaddress.IPv4Network(text)
        if not any(candidate.overlaps(other) for other in taken):
            return candidate
    raise Conflict("no free subnet left in 10.78.0.0-10.127.255.255: pass --subnet")


def _refuse_overlap(subnet: ipaddress.IPv4Network, existing: list[Network]) -> None:
    for net in existing:
        if subnet.overlaps(ipaddress.ip_network(net.subnet)):
            raise Conflict(f"subnet {subnet} overlaps network {net.name!r} ({net.subnet}); choose another")
