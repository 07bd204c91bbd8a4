"""Which firewall backend a host gets: nftables where `nft` is installed, else iptables.

Both express the same rules (firewall.py says which); GOPHERNETES_FIREWALL=nft|iptables
chooses by hand, as the tests and bench/ports.py do to run both.
"""

from __future__ import annotations

import os
import shutil

from gophernetes.errors import GophernetesError
from gophernetes.network.firewall import Firewall


def preferred() -> str:
    """"nft" if the nft command exists, else "iptables"; GOPHERNETES_FIREWALL overrides."""
    chosen = os.environ.get("GOPHERNETES_FIREWALL", "")
    if chosen in ("nft", "iptables"):
        return chosen
    if chosen:
        raise GophernetesError(f"GOPHERNETES_FIREWALL={chosen!r}: expected 'nft' or 'iptables'")
    if shutil.which("nft"):
        return "nft"
    if shutil.which("iptables"):
        return "iptables"
    raise GophernetesError("neither nft nor iptables is installed: apt-get install nftables")


def installed() -> list[str]:
    """The backends whose command exists on this host."""
    return [name for name in ("nft", "iptables") if shutil.which(name)]


def backend(name: str = "") -> Firewall:
    """The firewall backend called `name` (default: the preferred one)."""
    name = name or preferred()
    if name == "nft":
        from gophernetes.network.nftables import Nftables

        return Nftables()
    from gophernetes.network.iptables import Iptables

    return Iptables()
