"""The firewall as iptables chains of our own, for hosts without nftables.

    nat    PREROUTING  -m addrtype --dst-type LOCAL -j GOPHERNETES-PUBLISHED
    nat    OUTPUT      -m addrtype --dst-type LOCAL -j GOPHERNETES-PUBLISHED
    nat    GOPHERNETES-PUBLISHED    -p tcp --dport 8080 -j DNAT --to-destination 10.77.0.2:80
    nat    POSTROUTING -j GOPHERNETES-POSTROUTING
    nat    GOPHERNETES-POSTROUTING  -s 10.77.0.0/16 ! -o gophernetes0 -j MASQUERADE
                                    -s 127.0.0.0/8 -o gophernetes0 -j MASQUERADE
                                    -s 10.77.0.0/16 -o gophernetes0 -m conntrack --ctstate DNAT -j MASQUERADE
    filter FORWARD     -j GOPHERNETES-FORWARD   (first, so a DROP policy does not stop us)
    filter GOPHERNETES-FORWARD      -i gophernetes0 ! -o gophernetes0 -j GOPHERNETES-ISOLATE
                                    -o gophernetes0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
                                    -i gophernetes0 -j ACCEPT
                                    -d 10.77.0.2 -o gophernetes0 -p tcp --dport 80 -j ACCEPT
    filter GOPHERNETES-ISOLATE      -o gophernetes0 -j DROP      (one per network)

Isolation takes two steps, as docker's does: leaving bridge A for anything but A jumps
to GOPHERNETES-ISOLATE, which drops whatever is headed into any gophernetes bridge.
Every rule carries `-m comment --comment OWNER`; a rule is deleted by repeating it with
-D, exactly as `iptables -S` prints it.

man 8 iptables, man 8 iptables-extensions (addrtype, comment, conntrack, DNAT, MASQUERADE)
"""

from __future__ import annotations

import shlex

from gophernetes.network import firewall
from gophernetes.network.definitions import Network
from gophernetes.network.ports import PortMapping

PUBLISHED, POSTROUTING = "GOPHERNETES-PUBLISHED", "GOPHERNETES-POSTROUTING"
FORWARD, ISOLATE = "GOPHERNETES-FORWARD", "GOPHERNETES-ISOLATE"
# (table, our chain, built-in chain, match before the jump, insert first?)
JUMPS = [
    ("nat", PUBLISHED, "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL"], False),
    ("nat", PUBLISHED, "OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL"], False),
    ("nat", POSTROUTING, "POSTROUTING", [], False),
    ("filter", FORWARD, "FORWARD", [], True),
]
OUR_CHAINS = [("nat", PUBLISHED), ("nat", POSTROUTING), ("filter", FORWARD), ("filter", ISOLATE)]


class Iptables:
    """Firewall backend on iptables (whichever of iptables-nft or iptables-legacy is installed)."""

    name = "iptables"

    def add_network(self, network: Network) -> None:
        self._ensure_chains()
        bridge, comment = network.bridge, ["-m", "comment", "--comment", firewall.network_tag(network)]
        _append("nat", POSTROUTING, ["-s", network.subnet, "!", "-o", bridge, "-j", "MASQUERADE", *comment])
        _append("nat", POSTROUTING, ["-s", "127.0.0.0/8", "-o", bridge, "-j", "MASQUERADE", *comment])
        _append("nat", POSTROUTING, ["-s", network.subnet, "-o", bridge, "-m", "conntrack", "--ctstate", "DNAT",
                                     "-j", "MASQUERADE", *comment])
        _append("filter", FORWARD, ["-i", bridge, "!", "-o", bridge, "-j", ISOLATE, *comment])
        _append("filter", FORWARD, ["-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
                                    "-j", "ACCEPT", *comment])
        _append("filter", FORWARD, ["-i", bridge, "-j", "ACCEPT", *comment])
        _append("filter", ISOLATE, ["-o", bridge, "-j", "DROP", *comment])

    def remove_network(self, network: Network) -> None:
        if _iptables("nat", ["-S", POSTROUTING], check=False).returncode != 0:
            return  # our chains are not there: nothing of ours to remove
        tag = firewall.network_tag(network)
        for table, chain in OUR_CHAINS:
            _delete_tagged(table, chain, tag)
        if not _tagged_rules("nat", POSTROUTING, prefix="network:"):
            self._remove_chains()

    def publish(self, container_id: str, address: str, network: Network, ports: list[PortMapping]) -> None:
        comment = ["-m", "comment", "--comment", firewall.container_tag(container_id)]
        for port in ports:
            match = ["-d", port.host_ip] if port.host_ip else []
            _append("nat", PUBLISHED, [*match, "-p", port.proto, "--dport", str(port.host_port), "-j", "DNAT",
                                       "--to-destination", f"{address}:{port.container_port}", *comment])
            _append("filter", FORWARD, ["-d", address, "-o", network.bridge, "-p", port.proto,
                                        "--dport", str(port.container_port), "-j", "ACCEPT", *comment])

    def unpublish(self, container_id: str) -> None:
        tag = firewall.container_tag(container_id)
        _delete_tagged("nat", PUBLISHED, tag)
        _delete_tagged("filter", FORWARD, tag)

    def _ensure_chains(self) -> None:
        for table, chain in OUR_CHAINS:
            _iptables(table, ["-N", chain], check=False)  # "already exists" is fine
        for table, chain, builtin, match, first in JUMPS:
            rule = [*match, "-j", chain]
            if _iptables(table, ["-C", builtin, *rule], check=False).returncode != 0:
                _iptables(table, ["-I", builtin, "1", *rule] if first else ["-A", builtin, *rule])

    def _remove_chains(self) -> None:
        for table, chain, builtin, match, _first in JUMPS:
            _iptables(table, ["-D", builtin, *match, "-j", chain], check=False)
        for table, chain in OUR_CHAINS:
            _iptables(table, ["-F", chain], check=False)
            _iptables(table, ["-X", chain], check=False)


def _iptables(table: str, arguments: list[str], check: bool = True):
    """iptables -w (wait for the xtables lock) -t TABLE ARGUMENTS."""
    return firewall.run(["iptables", "-w", "-t", table, *arguments], check=check)


def _append(table: str, chain: str, rule: list[str]) -> None:
    _iptables(table, ["-A", chain, *rule])


def _tagged_rules(table: str, chain: str, tag: str = "", prefix: str = "") -> list[list[str]]:
    """The rules of `chain` (as `iptables -S` words) whose comment is `tag` or starts with `prefix`."""
    result = _iptables(table, ["-S", chain], check=False)
    found = []
    for line in result.stdout.splitlines():
        words = shlex.split(line)
        if words[:1] != ["-A"] or "--comment" not in words:
            continue
        comment = words[words.index("--comment") + 1]
        if comment == tag or (prefix and comment.startswith(prefix)):
            found.append(words)
    return found


def _delete_tagged(table: str, chain: str, tag: str) -> None:
    for words in _tagged_rules(table, chain, tag=tag):
        _iptables(table, ["-D", *words[1:]], check=False)
