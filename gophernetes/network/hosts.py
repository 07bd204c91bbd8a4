"""/etc/hosts and /etc/resolv.conf for a container: one shared hosts file per network.

Without a DNS server of its own, a container learns names the old way: /etc/hosts lists
localhost and every container of its network by address and names, its own line among
them. gophernetes keeps ONE such file per network under the state root
(`networks/hosts/NETWORK`) and the runtime bind-mounts it READ-ONLY on each container's
/etc/hosts, so every container sees neighbours that started after it, too.

Why one shared file and not one per container (docker's and podman's way, writable):
with a file per container, every start and stop must rewrite every neighbour's file
(400 containers: 400 files of 400 lines, for each start), and a container can grow its
own file without bound (one grew it to 1.5 GB, and the next update read it all). Docker
escapes both because it writes a container's file once and leaves names to its DNS
server; without one, a shared file makes a start cost one appended line and a stop one
rewrite of a file we alone write, whatever the number of containers and whatever a
container tries. The price: /etc/hosts is read-only inside (`echo >> /etc/hosts` fails
with EROFS, where docker's own copy would take it), and a container hot-plugged into a
second network (`attach`) is listed in that network's file but keeps seeing only the
names of the network it started on.

/etc/resolv.conf points at the host's upstream name servers. A resolver listening on
127.0.0.x on the host (systemd-resolved's 127.0.0.53, dnsmasq) cannot be used: inside
the container's network namespace 127.0.0.53 is the container's own loopback.

man 5 hosts, man 5 resolv.conf
"""

from __future__ import annotations

import ipaddress
import os
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


HEADER = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def line(address: str, names: list[str]) -> str:
    """One container's line: "10.77.0.2\tweb 1a2b3c4d5e6f\n"."""
    return f"{address}\t{' '.join(names)}\n"


def without(text: str, address: str) -> str:
    """`text` (a hosts file) without the line(s) of `address`."""
    return "".join(entry for entry in text.splitlines(keepends=True) if entry.split("\t", 1)[0] != address)


def add(path: Path, address: str, names: list[str]) -> None:
    """Append a container's line to the network's hosts file, made with its header if new.

    O_APPEND makes the kernel put the line at the end in one write: a container reading
    its /etc/hosts meanwhile sees the file with or without it, never half a line moved.
    The cost is one line, however many containers the file already lists.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        entry = line(address, names).encode()
        os.write(fd, entry if os.fstat(fd).st_size else HEADER.encode() + entry)
    finally:
        os.close(fd)


def remove(path: Path, address: str) -> None:
    """Take the line of `address` out of the network's hosts file; delete the file once nobody is left.

    The file is rewritten in place (same inode): every running container has it
    bind-mounted, and the mount holds the inode, so a new file renamed over it would never
    be seen. Writing the new text over the old and then cutting the tail (ftruncate)
    leaves no moment where the file is empty. Only gophernetes writes it (containers see
    it read-only), so its size is bounded by the number of containers.
    """
    _rewrite(path, lambda text: without(text, address), delete_if_empty=True)


def rename(path: Path, address: str, names: list[str]) -> None:
    """Give the line of `address` the names `names` (`rename`: the neighbours learn the new
    name at once); the file is rewritten in place, as `remove` does, for the same reason."""
    def renamed(text: str) -> str:
        return "".join(line(address, names) if entry.split("\t", 1)[0] == address else entry
                       for entry in text.splitlines(keepends=True))
    _rewrite(path, renamed)


def _rewrite(path: Path, change, delete_if_empty: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        text = os.read(fd, os.fstat(fd).st_size).decode()
        kept = change(text)
        if delete_if_empty and kept.strip() == HEADER.strip():
            os.unlink(path)
        elif kept != text:
            data = kept.encode()
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def read(path: Path) -> str:
    """The network's hosts file as text (its header alone if nobody is on the network yet)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return HEADER


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
