"""Published ports: parsing `-p [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]`.

Publishing a port asks the host's firewall to rewrite the destination of packets sent
to HOST_PORT on the host into CONTAINER address:CONTAINER_PORT (DNAT, see firewall.py).
This module only turns the user's text into a PortMapping, or refuses it in one line.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from gophernetes.errors import UsageError

PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True)
class PortMapping:
    """Host port (optionally on one host address) -> container port, for one protocol."""

    host_port: int
    container_port: int
    proto: str = "tcp"
    host_ip: str = ""  # empty: every address of the host

    def __str__(self) -> str:
        host = f"{self.host_ip}:" if self.host_ip else ""
        return f"{host}{self.host_port}->{self.container_port}/{self.proto}"

    def clashes_with(self, other: PortMapping) -> bool:
        """True when both would claim the same packets (same port and protocol, overlapping address)."""
        same_port = (self.host_port, self.proto) == (other.host_port, other.proto)
        return same_port and (not self.host_ip or not other.host_ip or self.host_ip == other.host_ip)


def parse(spec: str) -> PortMapping:
    """One `-p` value as a PortMapping, or a UsageError naming what is wrong."""
    text, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in PROTOCOLS:
        raise UsageError(f"invalid port spec {spec!r}: protocol must be tcp or udp")
    parts = text.rsplit(":", 2)
    if len(parts) == 2:
        host_ip, host_port, container_port = "", parts[0], parts[1]
    elif len(parts) == 3:
        host_ip, host_port, container_port = parts
        _check_ip(spec, host_ip)
    else:
        raise UsageError(f"invalid port spec {spec!r}: expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/udp]")
    return PortMapping(_port(spec, host_port), _port(spec, container_port), proto, host_ip)


def parse_all(specs: list[str]) -> list[PortMapping]:
    """Every `-p` value; refuses two that claim the same host port."""
    mappings = [parse(spec) for spec in specs]
    for i, mapping in enumerate(mappings):
        for other in mappings[i + 1:]:
            if mapping.clashes_with(other):
                raise UsageError(f"port {mapping.host_port}/{mapping.proto} is published twice")
    return mappings


def _port(spec: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise UsageError(f"invalid port spec {spec!r}: {text!r} is not a port number (1-65535)")
    return int(text)


def _check_ip(spec: str, text: str) -> None:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        raise UsageError(f"invalid port spec {spec!r}: {text!r} is not an IPv4 address") from None
