"""/etc/hosts and /etc/resolv.conf for a container, written as text for the runtime to install.

Without a DNS server of its own, a container learns names the old way: /etc/hosts lists
localhost, the container's own names and address, and the other containers of its
networks by name. gophernetes also keeps each container's hosts file current under the
state root (`networks/hosts/ID`), rewritten whenever a neighbour comes or goes; a runtime
that bind-mounts that file on /etc/hosts gives every container the names of neighbours
that started after it, too. /etc/resolv.conf points at the
host's upstream name servers. A resolver listening on 127.0.0.x on the host (systemd-
resolved's 127.0.0.53, dnsmasq) cannot be used: inside the container's network
namespace 127.0.0.53 is the container's own loopback, where nobody listens.

man 5 hosts, man 5 resolv.conf
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from gophernetes.errors import UsageError

# Where the host's real upstream servers are listed when /etc/resolv.conf names a local stub.
RESOLV_CONF_CANDIDATES = [Path("/etc/resolv.conf"), Path("/run/systemd/resolve/resolv.conf")]


_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62})$")


def check_names(names: list[str]) -> None:
    """Refuse a hostname or alias that would break /etc/hosts (spaces, newlines, '#')."""
    for name in names:
        if name and not _HOSTNAME.match(name):
            raise UsageError(f"invalid host name {name!r}: letters, digits, '_', '.', '-' (63 at most)")


def hosts_file(address: str, own_names: list[str], neighbours: list[tuple[str, list[str]]]) -> str:
    """The text of /etc/hosts: localhost, this container, then every neighbour (address, names)."""
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        f"{address}\t{' '.join(own_names)}",
    ]
    lines += [f"{neighbour}\t{' '.join(names)}" for neighbour, names in neighbours if names]
    return "\n".join(lines) + "\n"


def write_in_place(path: Path, text: str) -> None:
    """Replace the content of `path` but keep its inode, unless it already holds `text`.

    Unlike the rest of the state (write a new file, rename it over the old one), a file
    bind-mounted into a container must be rewritten in place: the mount holds the inode,
    and a rename would leave the container looking at the old, unlinked file forever.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        handle.seek(0)
        if handle.read() == text:
            return
        handle.seek(0)
        handle.truncate()
        handle.write(text)


def resolv_conf(candidates: list[Path] = RESOLV_CONF_CANDIDATES) -> str:
    """The text of /etc/resolv.conf: the first host file with a non-loopback name server."""
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        servers, others = _parse(text)
        if servers:
            return "".join(f"nameserver {server}\n" for server in servers) + "".join(others)
    return ("# the host has no upstream name server that a container can reach\n"
            "# (only a 127.x resolver, which is the container's own loopback inside it)\n")


def _parse(text: str) -> tuple[list[str], list[str]]:
    """Usable name servers, and the search/options lines, of a resolv.conf."""
    servers, others = [], []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver" and _reachable(words[1]):
            servers.append(words[1])
        elif words and words[0] in ("search", "domain", "options"):
            others.append(line.strip() + "\n")
    return servers, others


def _reachable(server: str) -> bool:
    try:
        return not ipaddress.ip_address(server.split("%")[0]).is_loopback
    except ValueError:
        return False
