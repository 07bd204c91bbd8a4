"""The firewall as iptables chains of our own, for hosts without nftables.

    nat    PREROUTING  -m addrtype --dst-type LOCAL -j GOPHERNETES-PUBLISHED
    nat    OUTPUT      -m addrtype --dst-type LOCAL -j GOPHERNETES-PUBLISHED
    nat    GOPHERNETES-PUBLISHED    -p tcp --dport 8080 -j DNAT --to-destination 10.77.0.2:80
    nat    POSTROUTING -j GOPHERNETES-POSTROUTING
    nat    GOPHERNETES-POSTROUTING  -s 10.77.0.0/16 ! -o gophernetes0 -j MASQUERADE
                                    -s 127.0.0.0/8 -o gophernetes0 -j MASQUERADE
                                    -s 10.77.0.0/16 -o gophernetes0 -m conntrack --ctstate DNAT -j MASQUERADE
    filter INPUT       -j GOPHERNETES-INPUT     (first)
    filter GOPHERNETES-INPUT        -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
    filter FORWARD     -j GOPHERNETES-FORWARD   (first, so a DROP policy does not stop us)
    filter GOPHERNETES-FORWARD      -i gophernetes0 ! -o gophernetes0 -j GOPHERNETES-ISOLATE
                                    -o gophernetes0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
                                    -i gophernetes0 -j ACCEPT
                                    -d 10.77.0.2 -o gophernetes0 -p tcp --dport 80 -j ACCEPT
    filter GOPHERNETES-ISOLATE      -o gophernetes0 -j DROP      (one per network)

    ebtables filter INPUT, FORWARD  -j GOPHERNETES-SPOOF    (anti-spoofing, frames entering a bridge port)
    ebtables filter GOPHERNETES-SPOOF  -i gv1a2b3c4d5e0 -s ! 02:42:0a:4d:00:02 -j DROP
                                       -p IPv4 -i gv1a2b3c4d5e0 --ip-src ! 10.77.0.2 -j DROP
                                       -p ARP -i gv1a2b3c4d5e0 --arp-ip-src ! 10.77.0.2 -j DROP
                                       -p ARP -i gv1a2b3c4d5e0 --arp-mac-src ! 02:42:0a:4d:00:02 -j DROP
                                       -p IPv6 -i gv1a2b3c4d5e0 -j DROP

Isolation takes two steps, as docker's does: leaving bridge A for anything but A jumps
to GOPHERNETES-ISOLATE, which drops whatever is headed into any gophernetes bridge.
GOPHERNETES-INPUT is kube-proxy's answer to CVE-2020-8558 (see firewall.py).
ebtables has no comments: a port's anti-spoofing rules are found by its `-i VETH`.
Every iptables rule carries `-m comment --comment OWNER`; a rule is deleted by repeating it with
-D, exactly as `iptables-save` prints it.

Each `iptables` command reads the whole ruleset and writes it back, ~5-20 ms apiece, so
a change is never made rule by rule: one `iptables-save` to see what is there, then one
`iptables-restore --noflush` applying every -A/-D/-I line in one transaction (all or
nothing). Publishing 8 ports costs the same two commands as publishing one. Careful:
with --noflush, naming an existing chain (`:CHAIN - [0:0]`) still empties it, so a
chain is declared only when it is missing.

man 8 iptables, man 8 iptables-restore, man 8 iptables-extensions (addrtype, comment,
conntrack, DNAT, MASQUERADE)
"""

from __future__ import annotations

import shlex

from gophernetes.network import firewall
from gophernetes.network.definitions import Network
from gophernetes.network.ports import PortMapping

PUBLISHED, POSTROUTING = "GOPHERNETES-PUBLISHED", "GOPHERNETES-POSTROUTING"
INPUT, FORWARD, ISOLATE = "GOPHERNETES-INPUT", "GOPHERNETES-FORWARD", "GOPHERNETES-ISOLATE"
SPOOF = "GOPHERNETES-SPOOF"  # ebtables, filter table
# (table, our chain, built-in chain, match before the jump, insert first?)
JUMPS = [
    ("nat", PUBLISHED, "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL"], False),
    ("nat", PUBLISHED, "OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL"], False),
    ("nat", POSTROUTING, "POSTROUTING", [], False),
    ("filter", INPUT, "INPUT", [], True),
    ("filter", FORWARD, "FORWARD", [], True),
]
OUR_CHAINS = [("nat", PUBLISHED), ("nat", POSTROUTING), ("filter", INPUT), ("filter", FORWARD), ("filter", ISOLATE)]
# Nothing for 127.0.0.0/8 may come in but on lo, save the answers of connections we made
# or DNATed (kube-proxy's rule against CVE-2020-8558; see firewall.py).
LOCALNET = ["-d", "127.0.0.0/8", "!", "-i", "lo", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT",
            "-m", "comment", "--comment", "localnet", "-j", "DROP"]

Script = dict[str, list[list[str]]]  # table -> iptables-restore lines, as words


class Iptables:
    """Firewall backend on iptables (whichever of iptables-nft or iptables-legacy is installed)."""

    name = "iptables"

    def add_network(self, network: Network) -> None:
        saved = _save()
        script: Script = {"nat": [], "filter": []}
        for table, chain in OUR_CHAINS:
            if f":{chain} " not in saved[table]:
                script[table].append([f":{chain}", "-", "[0:0]"])
        for table, chain, builtin, match, first in JUMPS:
            if _rule_line(builtin, [*match, "-j", chain]) not in saved[table]:
                script[table].append(["-I", builtin, "1", *match, "-j", chain] if first
                                     else ["-A", builtin, *match, "-j", chain])
        if _rule_line(INPUT, LOCALNET) not in saved["filter"]:
            script["filter"].append(["-A", INPUT, *LOCALNET])
        bridge, comment = network.bridge, ["-m", "comment", "--comment", firewall.network_tag(network)]
        script["nat"] += [
            ["-A", POSTROUTING, "-s", network.subnet, "!", "-o", bridge, "-j", "MASQUERADE", *comment],
            ["-A", POSTROUTING, "-s", "127.0.0.0/8", "-o", bridge, "-j", "MASQUERADE", *comment],
            ["-A", POSTROUTING, "-s", network.subnet, "-o", bridge, "-m", "conntrack", "--ctstate", "DNAT",
             "-j", "MASQUERADE", *comment],
        ]
        script["filter"] += [
            ["-A", FORWARD, "-i", bridge, "!", "-o", bridge, "-j", ISOLATE, *comment],
            ["-A", FORWARD, "-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT",
             *comment],
            ["-A", FORWARD, "-i", bridge, "-j", "ACCEPT", *comment],
            ["-A", ISOLATE, "-o", bridge, "-j", "DROP", *comment],
        ]
        _restore(script)
        _ensure_spoof_chain()

    def remove_network(self, network: Network) -> None:
        saved = _save()
        if f":{POSTROUTING} " not in saved["nat"]:
            return  # our chains are not there: nothing of ours to remove
        tag = firewall.network_tag(network)
        _restore(_deletions(saved, tag))
        if not [rule for rule in _tagged(_save()["nat"], prefix="network:")]:
            self._remove_chains()

    def plug(self, container_id: str, veth: str, mac: str, address: str, network: Network,
             ports: list[PortMapping]) -> None:
        """Anti-spoofing rules (ebtables) for the port, then the container's DNAT rules (iptables)."""
        _ensure_spoof_chain()
        rules = [["-i", veth, "-s", "!", mac], ["-p", "IPv4", "-i", veth, "--ip-src", "!", address],
                 ["-p", "ARP", "-i", veth, "--arp-ip-src", "!", address],
                 ["-p", "ARP", "-i", veth, "--arp-mac-src", "!", mac], ["-p", "IPv6", "-i", veth]]
        _ebtables_restore([["-A", SPOOF, *rule, "-j", "DROP"] for rule in rules])
        comment = ["-m", "comment", "--comment", firewall.container_tag(container_id)]
        script: Script = {"nat": [], "filter": []}
        for port in ports:
            match = ["-d", port.host_ip] if port.host_ip else []
            script["nat"].append(["-A", PUBLISHED, *match, "-p", port.proto, "--dport", str(port.host_port),
                                  "-j", "DNAT", "--to-destination", f"{address}:{port.container_port}", *comment])
            script["filter"].append(["-A", FORWARD, "-d", address, "-o", network.bridge, "-p", port.proto,
                                     "--dport", str(port.container_port), "-j", "ACCEPT", *comment])
        _restore(script)

    def unplug(self, container_id: str, veth: str, published: bool) -> None:
        saved = firewall.run(["ebtables-save"], check=False).stdout.splitlines()
        _ebtables_restore([["-D", *words[1:]] for words in map(str.split, saved)
                           if words[:2] == ["-A", SPOOF] and f"-i {veth} " in " ".join(words) + " "])
        if published:
            _restore(_deletions(_save(), firewall.container_tag(container_id)))

    def _remove_chains(self) -> None:
        for builtin in ("INPUT", "FORWARD"):
            firewall.run(["ebtables", "--concurrent", "-D", builtin, "-j", SPOOF], check=False)
        firewall.run(["ebtables", "--concurrent", "-X", SPOOF], check=False)
        for table, chain, builtin, match, _first in JUMPS:
            _iptables(table, ["-D", builtin, *match, "-j", chain], check=False)
        for table, chain in OUR_CHAINS:
            _iptables(table, ["-F", chain], check=False)
            _iptables(table, ["-X", chain], check=False)


def _ensure_spoof_chain() -> None:
    """The ebtables chain GOPHERNETES-SPOOF (policy RETURN), jumped to from INPUT and FORWARD."""
    saved = firewall.run(["ebtables-save"], check=False).stdout.splitlines()
    lines = [] if f":{SPOOF} RETURN" in saved else [[f":{SPOOF}", "RETURN"]]
    lines += [["-A", builtin, "-j", SPOOF] for builtin in ("INPUT", "FORWARD")
              if f"-A {builtin} -j {SPOOF}" not in saved]
    _ebtables_restore(lines)


def _ebtables_restore(lines: list[list[str]]) -> None:
    """Apply ebtables lines (filter table) in one `ebtables-restore --noflush`."""
    if lines:
        firewall.run(["ebtables-restore", "--noflush"], stdin="*filter\n" + "".join(" ".join(words) + "\n"
                                                                                for words in lines))


def _iptables(table: str, arguments: list[str], check: bool = True):
    """iptables -w (wait for the xtables lock) -t TABLE ARGUMENTS."""
    return firewall.run(["iptables", "-w", "-t", table, *arguments], check=check)


def _save() -> dict[str, list[str]]:
    """`iptables-save` of the nat and filter tables: table -> its lines ("-A CHAIN ...", ":CHAIN ...")."""
    tables: dict[str, list[str]] = {"nat": [], "filter": []}
    current = None
    for line in firewall.run(["iptables-save"], check=False).stdout.splitlines():
        if line.startswith("*"):
            current = tables.get(line[1:])
        elif current is not None and not line.startswith("#"):
            current.append(line if not line.startswith(":") else line.split()[0] + " ")
    return {table: lines for table, lines in tables.items()}


def _restore(script: Script) -> None:
    """Apply every line of `script` in one `iptables-restore --noflush` (one transaction)."""
    text = "".join(f"*{table}\n" + "".join(" ".join(_quoted(rule)) + "\n" for rule in rules) + "COMMIT\n"
                   for table, rules in script.items() if rules)
    if text:
        firewall.run(["iptables-restore", "-w", "--noflush"], stdin=text)


def _quoted(words: list[str]) -> list[str]:
    return [f'"{word}"' if " " in word else word for word in words]


def _rule_line(chain: str, rule: list[str]) -> str:
    """A rule as iptables-save prints it, to find it among the saved lines."""
    return " ".join(["-A", chain, *rule])


def _tagged(lines: list[str], tag: str = "", prefix: str = "") -> list[list[str]]:
    """The saved rules (as words) whose comment is `tag` or starts with `prefix`."""
    found = []
    for line in lines:
        words = shlex.split(line)
        if words[:1] != ["-A"] or "--comment" not in words:
            continue
        comment = words[words.index("--comment") + 1]
        if comment == tag or (prefix and comment.startswith(prefix)):
            found.append(words)
    return found


def _deletions(saved: dict[str, list[str]], tag: str) -> Script:
    """-D lines for every rule of ours whose comment is `tag`."""
    ours = {chain for _table, chain in OUR_CHAINS}
    return {table: [["-D", *words[1:]] for words in _tagged(lines, tag=tag) if words[1] in ours]
            for table, lines in saved.items()}
