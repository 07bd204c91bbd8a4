"""The firewall as one nftables table, `ip gophernetes`, of our own.

    table ip gophernetes {
        set bridges     { type ifname }       # every gophernetes bridge in this namespace
        chain prerouting  { type nat hook prerouting priority dstnat;  fib daddr type local jump published }
        chain output      { type nat hook output priority -100;        fib daddr type local jump published }
        chain published   { tcp dport 8080 dnat to 10.77.0.2:80 comment "container:ID" ... }
        chain postrouting { type nat hook postrouting priority srcnat;
                            ip saddr 10.77.0.0/16 oifname != "gophernetes0" masquerade comment "network:bridge"
                            oifname "gophernetes0" ip saddr 127.0.0.0/8 masquerade comment "network:bridge"
                            oifname "gophernetes0" ip saddr 10.77.0.0/16 ct status dnat masquerade ... }
        chain forward     { type filter hook forward priority filter;
                            iifname "gophernetes0" oifname != "gophernetes0" oifname @bridges drop ... }
        chain input       { type filter hook input priority filter;     # CVE-2020-8558, see firewall.py
                            iifname != "lo" ip daddr 127.0.0.0/8 ct state != { established, related }
                            ct status & dnat == 0 drop comment "localnet" }
    }

    table bridge gophernetes {                # anti-spoofing, one chain per container port
        map ports         { type ifname : verdict; elements = { "gv1a2b3c4d5e0" : jump port-gv1a2b3c4d5e0 } }
        chain prerouting  { type filter hook prerouting priority filter; iifname vmap @ports }
        chain port-gv1a2b3c4d5e0 { ether saddr != 02:42:0a:4d:00:02 drop
                                   ip saddr != 10.77.0.2 drop
                                   arp saddr ip != 10.77.0.2 drop
                                   arp saddr ether != 02:42:0a:4d:00:02 drop
                                   ether type ip6 drop }
    }

The verdict map sends each frame straight to its port's chain (one lookup however many
containers), and a port is unplugged by name in one transaction, without listing rules.

`fib daddr type local` asks the routing table whether the destination is one of this
host's own addresses: only those packets are candidates for a published port. A table
of our own means `nft delete table ip gophernetes` removes all of it and nothing else;
rules are deleted one by one by their handle, found through their comment.

man 8 nft
"""

from __future__ import annotations

import json

from gophernetes.network import firewall
from gophernetes.network.definitions import Network
from gophernetes.network.ports import PortMapping

TABLE = "ip gophernetes"
BRIDGE_TABLE = "bridge gophernetes"  # anti-spoofing: sees frames as they enter a bridge port
BRIDGE_SKELETON = f"""
table {BRIDGE_TABLE} {{
    map ports {{ type ifname : verdict; }}
    chain prerouting {{ type filter hook prerouting priority filter; policy accept; iifname vmap @ports; }}
}}
"""

SKELETON = f"""
table {TABLE} {{
    set bridges {{ type ifname; }}
    chain prerouting {{ type nat hook prerouting priority dstnat; policy accept; fib daddr type local jump published; }}
    chain output {{ type nat hook output priority -100; policy accept; fib daddr type local jump published; }}
    chain published {{ }}
    chain postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}
    chain forward {{ type filter hook forward priority filter; policy accept; }}
    chain input {{ type filter hook input priority filter; policy accept;
        iifname != "lo" ip daddr 127.0.0.0/8 ct state != {{ established, related }} ct status & dnat == 0 drop
        comment "localnet"; }}
}}
"""


class Nftables:
    """Firewall backend on nftables."""

    name = "nft"

    def add_network(self, network: Network) -> None:
        tag, bridge = firewall.network_tag(network), network.bridge
        skeleton = SKELETON + BRIDGE_SKELETON if self._rules() is None else ""
        _nft_script(
            skeleton
            + f'add element {TABLE} bridges {{ "{bridge}" }}\n'
            f'add rule {TABLE} postrouting ip saddr {network.subnet} oifname != "{bridge}" masquerade'
            f' comment "{tag}"\n'
            f'add rule {TABLE} postrouting oifname "{bridge}" ip saddr 127.0.0.0/8 masquerade comment "{tag}"\n'
            f'add rule {TABLE} postrouting oifname "{bridge}" ip saddr {network.subnet} ct status dnat masquerade'
            f' comment "{tag}"\n'
            f'add rule {TABLE} forward iifname "{bridge}" oifname != "{bridge}" oifname @bridges drop'
            f' comment "{tag}"\n'
        )

    def remove_network(self, network: Network) -> None:
        rules = self._rules()
        if rules is None:
            return
        tag = firewall.network_tag(network)
        others = [rule for rule in rules if rule.get("comment", "").startswith("network:")
                  and rule.get("comment") != tag]
        if not others:  # the last network: the whole tables go, published ports included
            firewall.run(["nft", f"delete table {TABLE}"], check=False)
            firewall.run(["nft", f"delete table {BRIDGE_TABLE}"], check=False)
            return
        self._delete(rules, tag)
        # Not an error if the bridge was never in the set (the network was never used here).
        firewall.run(["nft", f'delete element {TABLE} bridges {{ "{network.bridge}" }}'], check=False)

    def plug(self, container_id: str, veth: str, mac: str, address: str, network: Network,
             ports: list[PortMapping]) -> None:
        """The port's anti-spoofing chain and the container's DNAT rules, in one transaction."""
        chain, tag = f"port-{veth}", firewall.container_tag(container_id)
        script = f"add chain {BRIDGE_TABLE} {chain}\n"
        script += "".join(f"add rule {BRIDGE_TABLE} {chain} {match} drop\n" for match in (
            f"ether saddr != {mac}", f"ip saddr != {address}", f"arp saddr ip != {address}",
            f"arp saddr ether != {mac}", "ether type ip6"))
        script += f'add element {BRIDGE_TABLE} ports {{ "{veth}" : jump {chain} }}\n'
        for port in ports:
            match = f"ip daddr {port.host_ip} " if port.host_ip else ""
            script += (f"add rule {TABLE} published {match}{port.proto} dport {port.host_port}"
                       f' dnat to {address}:{port.container_port} comment "{tag}"\n')
        if firewall.run(["nft", "-f", "-"], stdin=script, check=False).returncode != 0:
            # The bridge table is made with the first network; a table left by an older
            # gophernetes has none yet. Make it, and try once more (errors surface now).
            _nft_script(BRIDGE_SKELETON + script)

    def unplug(self, container_id: str, veth: str, published: bool) -> None:
        chain = f"port-{veth}"
        firewall.run(["nft", "-f", "-"], check=False, stdin=(  # not an error if it is gone already
            f'delete element {BRIDGE_TABLE} ports {{ "{veth}" }}\n'
            f"flush chain {BRIDGE_TABLE} {chain}\ndelete chain {BRIDGE_TABLE} {chain}\n"))
        rules = self._rules() if published else None
        if rules:
            self._delete(rules, firewall.container_tag(container_id))

    def _rules(self, table: str = TABLE) -> list[dict] | None:
        """Every rule of our table with its chain, handle and comment; None without a table."""
        result = firewall.run(["nft", "-j", "-a", f"list table {table}"], check=False)
        if result.returncode != 0:
            return None
        objects = json.loads(result.stdout)["nftables"]
        return [item["rule"] for item in objects if "rule" in item]

    def _delete(self, rules: list[dict], tag: str, table: str = TABLE) -> None:
        """Delete the rules whose comment is `tag`, by handle, in one transaction."""
        lines = [f"delete rule {table} {rule['chain']} handle {rule['handle']}\n"
                 for rule in rules if rule.get("comment") == tag]
        if lines:
            _nft_script("".join(lines))


def _nft_script(script: str) -> None:
    """Apply `script` with `nft -f -`: all of it in one transaction, or none of it."""
    firewall.run(["nft", "-f", "-"], stdin=script)
