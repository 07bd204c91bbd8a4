"""The firewall rules of a bridge network: NAT out, DNAT in, and isolation between networks.

Three things happen to a container's packets in netfilter, the kernel's packet filter:

- Masquerade (source NAT, POSTROUTING): a packet from 10.77.0.2 leaving the host through
  any interface but the bridge gets the outgoing interface's address as its source, so
  the answer comes back to the host, which undoes the rewrite (conntrack remembers each
  connection) and forwards it to the container.
- DNAT for published ports (PREROUTING and OUTPUT): a packet for HOST_PORT on one of the
  host's own addresses gets the container's address and port as destination. PREROUTING
  sees packets that arrive from elsewhere; OUTPUT sees those the host sends itself, e.g.
  `curl 127.0.0.1:8080` on the host (which also needs route_localnet, see sysctl.py, and a
  masquerade of 127.0.0.0/8 towards the bridge so the container can answer). A container
  calling a published port through the host's address is DNATed back into its own
  bridge: that connection is masqueraded too ("hairpin NAT"), or the answer would come
  straight from the other container's address and be ignored.
- Isolation (FORWARD): a packet coming in from one gophernetes bridge and leaving through
  another is dropped, so two networks cannot talk unless a container is attached to both.
- The host's loopback stays the host's (INPUT; CVE-2020-8558): route_localnet, which the
  OUTPUT DNAT needs, also lets the kernel accept packets for 127.0.0.0/8 that arrive on
  the bridge. A container that routes 127.0.0.1 to its gateway (or sends a crafted
  frame to the host's MAC) would then reach every host service bound to 127.0.0.1,
  published or not. So, as kube-proxy does, anything for 127.0.0.0/8 that did not come
  in on `lo` is dropped, unless it belongs to a connection the host itself made or DNATed
  (conntrack: ESTABLISHED, RELATED, DNAT): the answers of `curl 127.0.0.1:8080` pass.
- Anti-spoofing (the bridge's own hooks, before any IP routing): a frame that enters a
  bridge port from a container must carry that container's MAC (fixed by us, see
  veth.mac_for), its IPv4 packets the container's address, its ARP packets both; IPv6
  is dropped (gophernetes networks are IPv4 only). Without this a container can take a
  neighbour's address or poison the ARP caches of the bridge (a "careful CNI" does the
  same with its spoofcheck). These hooks are nftables' `bridge` family or ebtables; they
  need no br_netfilter (built in here, and not what filters bridge frames).

Two backends express the same rules (backends.py chooses): nftables (`nft`, preferred when installed) in its
own table `ip gophernetes`, and iptables in its own chains GOPHERNETES-*. Neither ever
flushes a table or chain it did not create. Every rule carries a comment naming its
owner ("network:NAME" or "container:ID"); removing a network or a container deletes
exactly the rules with its comment.
"""

from __future__ import annotations

import subprocess
from typing import Protocol

from gophernetes.errors import GophernetesError
from gophernetes.network.definitions import Network
from gophernetes.network.ports import PortMapping


class Firewall(Protocol):
    """What a firewall backend does for gophernetes; see nftables.py and iptables.py."""

    name: str

    def add_network(self, network: Network) -> None:
        """Masquerade the network's subnet, isolate its bridge from the other networks."""

    def remove_network(self, network: Network) -> None:
        """Delete the network's rules; delete the table/chains once no network remains."""

    def plug(self, container_id: str, veth: str, mac: str, address: str, network: Network,
             ports: list[PortMapping]) -> None:
        """Guard bridge port `veth` (only `mac` and `address` may send from it); DNAT each host port to `address`."""

    def unplug(self, container_id: str, veth: str, published: bool) -> None:
        """Delete the port's guard and (if `published`) the container's DNAT rules; nothing if gone."""


def network_tag(network: Network) -> str:
    return f"network:{network.name}"


def container_tag(container_id: str) -> str:
    return f"container:{container_id}"


def run(command: list[str], stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a firewall command; a failure becomes one line naming the command and its error."""
    try:
        result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    except FileNotFoundError:
        package = {"nft": "nftables", "ebtables-save": "ebtables", "ebtables-restore": "ebtables"}.get(command[0])
        raise GophernetesError(f"{command[0]} is not installed: apt-get install {package or 'iptables'}") from None
    if check and result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["failed"])[0]
        raise GophernetesError(f"{' '.join(command[:4])}: {detail}")
    return result
