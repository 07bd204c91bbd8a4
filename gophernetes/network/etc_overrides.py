"""--add-host and --dns: lines of the container's own /etc/hosts and /etc/resolv.conf.

A container gets /etc/hosts and /etc/resolv.conf from gophernetes (engine.default_etc_files,
then its network's). `--add-host NAME:IP` adds "IP NAME" to its /etc/hosts, `--dns IP`
replaces the name servers of its /etc/resolv.conf (the search and options lines stay),
as docker does. On a bridge network a container's /etc/hosts is normally the network's
shared file, bind-mounted so that containers started later appear in it; a container
with --add-host gets a file of its own instead (the network's lines as they were at its
start, then its own), because its extra names must not show up in its neighbours' files.
"""

from __future__ import annotations

import ipaddress

from gophernetes.errors import UsageError


def parse_add_host(text: str) -> tuple[str, str]:
    """"NAME:IP" (docker's form; "NAME=IP" too) -> (NAME, IP); IPv6 addresses keep their colons."""
    from gophernetes.network.hosts import check_names  # here: every run imports this module, --net none too


    separator = "=" if "=" in text else ":"
    name, _, address = text.partition(separator)
    address = address.strip("[]")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise UsageError(f"invalid --add-host {text!r}: use NAME:IP, e.g. db:10.0.0.5") from None
    if not name:
        raise UsageError(f"invalid --add-host {text!r}: use NAME:IP, e.g. db:10.0.0.5")
    check_names([name])
    return name, address


def check_dns(servers: list[str]) -> None:
    for server in servers:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise UsageError(f"invalid --dns {server!r}: give a name server's IP address") from None


def check(add_hosts: list[str], dns: list[str], net: str) -> None:
    """Refuse what cannot be done, before anything is made."""
    for text in add_hosts:
        parse_add_host(text)
    check_dns(dns)
    if net == "host" and (add_hosts or dns):
        raise UsageError("--add-host and --dns do not go with --net host: the container uses the host's /etc files")


def apply(files: dict[str, str], add_hosts: list[str], dns: list[str]) -> dict[str, str]:
    """The container's /etc files with the extra hosts lines appended and the name servers replaced."""
    files = dict(files)
    if add_hosts:
        extra = "".join(f"{address}\t{name}\n" for name, address in map(parse_add_host, add_hosts))
        files["/etc/hosts"] = files.get("/etc/hosts", "") + extra
    if dns:
        kept = [line for line in files.get("/etc/resolv.conf", "").splitlines(keepends=True)
                if line.split()[:1] in (["search"], ["domain"], ["options"])]
        files["/etc/resolv.conf"] = "".join(f"nameserver {server}\n" for server in dns) + "".join(kept)
    return files
