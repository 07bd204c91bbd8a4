"""Published ports: parsing `-p [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]`.

Publishing a port asks the host's firewall to rewrite the destination of packets sent
to HOST_PORT on the host into CONTAINER address:CONTAINER_PORT (DNAT, see firewall.py).
This module only turns the user's text into a PortMapping, or refuses it in one line.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass

from gophernetes.errors import Conflict, UsageError

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


def check_free_on_host(mapping: PortMapping) -> None:
    """Refuse a host port that a program of this host already listens on.

    DNAT would silently steal that program's traffic. Binding a socket to the port for a
    moment is the simplest question to ask the kernel (SO_REUSEADDR so that connections
    still in TIME_WAIT do not count); docker's userland proxy learns it the same way. It
    asks the caller's network namespace, the one the rules will go into.

    man 7 socket (SO_REUSEADDR), man 2 bind
    """
    kind = socket.SOCK_STREAM if mapping.proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((mapping.host_ip or "0.0.0.0", mapping.host_port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise Conflict(f"port {mapping.host_port}/{mapping.proto} is already in use on the host "
                               "by another program") from None
            if error.errno == errno.EADDRNOTAVAIL:
                raise UsageError(f"cannot publish on {mapping.host_ip}: not an address of this host") from None
            raise
