"""`gophernetes port`: a container's published ports, read back from what it was given.

The native engine keeps the `-p` values as typed ("8080:80", "127.0.0.1:53:53/udp"),
the containerd engine keeps its lease's mappings ("8080->80/tcp"); both become
network.ports.PortMapping here, and `port` prints them as docker does:
"80/tcp -> 0.0.0.0:8080".
"""

from __future__ import annotations

from gophernetes.errors import NotFound, UsageError
from gophernetes.network.ports import PortMapping, parse


def read_mapping(text: str) -> PortMapping:
    """A mapping in either form: "[IP:]HOST:CONTAINER[/proto]" or "[IP:]HOST->CONTAINER/proto"."""
    if "->" not in text:
        return parse(text)
    host, _, container = text.partition("->")
    port, _, proto = container.partition("/")
    host_ip, _, host_port = host.rpartition(":")
    return PortMapping(int(host_port), int(port), proto or "tcp", host_ip)


def describe(mapping: PortMapping) -> str:
    """docker port's line: "80/tcp -> 0.0.0.0:8080"."""
    return f"{mapping.container_port}/{mapping.proto} -> {mapping.host_ip or '0.0.0.0'}:{mapping.host_port}"


def select(ports: list[str], wanted: str | None) -> list[PortMapping]:
    """The mappings of `ports`, only those of container port `wanted` ("80" or "80/udp") if given."""
    mappings = [read_mapping(text) for text in ports]
    if wanted is None:
        return mappings
    port, _, proto = wanted.partition("/")
    if not port.isdigit() or proto not in ("", "tcp", "udp"):
        raise UsageError(f"invalid port {wanted!r}: use PORT or PORT/tcp or PORT/udp")
    chosen = [m for m in mappings if m.container_port == int(port) and m.proto == (proto or "tcp")]
    if not chosen:
        raise NotFound(f"no public port '{port}/{proto or 'tcp'}' published")
    return chosen
