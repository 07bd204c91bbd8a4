"""IP address management: which container holds which address, kept as lease files.

One file per container, `<networks>/leases/<container id>.json`, lists its endpoints:
for each network it is on, the address it leased, the name of its interface inside
(eth0, eth1, ...), the name of the host end of its veth pair, and its published ports.
That is everything needed to undo the container's networking later, even when the
process that set it up was killed (`release_container`).

An address is taken by writing the lease file while holding the networks lock (see
store.py), after reading every other lease: two containers can never get one address,
and a lease survives a crash until someone releases it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gophernetes.errors import Conflict, UsageError
from gophernetes.network import store
from gophernetes.network.definitions import Network
from gophernetes.network.ports import PortMapping

_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Endpoint:
    """A container's place on one network."""

    network: str
    address: str  # without prefix length: "10.77.0.2"
    ifname: str  # inside the container: eth0, eth1, ...
    veth: str  # the host end of the veth pair, on the bridge
    bridge: str  # the bridge it is plugged into, kept in case the network is deleted meanwhile
    firewall: str = ""  # the backend that holds its rules, once plugged
    mac: str = ""  # the MAC of its end inside (veth.mac_for), the only one it may send from
    ports: list[PortMapping] = field(default_factory=list)


@dataclass
class Lease:
    """Everything one container holds: its names and its endpoints."""

    container_id: str
    hostname: str = ""
    aliases: list[str] = field(default_factory=list)
    pid: int = 0  # the process whose network namespace was plugged, once known
    endpoints: list[Endpoint] = field(default_factory=list)

    def names(self) -> list[str]:
        """The names other containers know this one by (for their /etc/hosts)."""
        names = [self.hostname, *self.aliases, self.container_id[:12]]
        return list(dict.fromkeys(name for name in names if name))

    def endpoint(self, network: str) -> Endpoint | None:
        return next((ep for ep in self.endpoints if ep.network == network), None)


def leases_dir(networks_dir: Path) -> Path:
    return networks_dir / "leases"


def check_container_id(container_id: str) -> None:
    if not _CONTAINER_ID.match(container_id):
        raise UsageError(f"invalid container id {container_id!r}: letters, digits, '_', '.', '-' (64 at most)")


def load(networks_dir: Path, container_id: str) -> Lease | None:
    data = store.read_json(leases_dir(networks_dir) / f"{container_id}.json")
    return _from_dict(data) if data is not None else None


def save(networks_dir: Path, lease: Lease) -> None:
    store.write_json(leases_dir(networks_dir) / f"{lease.container_id}.json", asdict(lease))


def drop(networks_dir: Path, container_id: str) -> None:
    store.remove(leases_dir(networks_dir) / f"{container_id}.json")


def all_leases(networks_dir: Path) -> list[Lease]:
    found = (store.read_json(path) for path in sorted(leases_dir(networks_dir).glob("*.json")))
    return [_from_dict(data) for data in found if data is not None]


def on_network(networks_dir: Path, network: str) -> list[Lease]:
    """The leases of every container on `network`."""
    return [lease for lease in all_leases(networks_dir) if lease.endpoint(network)]


def next_free_address(network: Network, leases: list[Lease]) -> str:
    """The lowest address of the subnet that is neither the gateway nor leased."""
    taken = {network.gateway}
    taken.update(ep.address for lease in leases for ep in lease.endpoints if ep.network == network.name)
    for host in ipaddress.IPv4Network(network.subnet).hosts():
        if str(host) not in taken:
            return str(host)
    raise Conflict(f"network {network.name!r} ({network.subnet}) has no free address left")


def veth_name(container_id: str, index: int) -> str:
    """The host end of a container's index-th veth: `gv` + 10 hex digits + index (<= 15 chars)."""
    digest = hashlib.sha256(container_id.encode()).hexdigest()[:10]
    return f"gv{digest}{index}"


def _from_dict(data: dict) -> Lease:
    endpoints = []
    for ep in data.get("endpoints", []):
        ports = [PortMapping(**port) for port in ep.get("ports", [])]
        endpoints.append(Endpoint(**{**ep, "ports": ports}))
    return Lease(**{**data, "endpoints": endpoints})
