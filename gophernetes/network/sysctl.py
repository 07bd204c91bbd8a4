"""The per-namespace switches a bridge network needs, set through /proc/sys/net.

Files under /proc/sys/net act on the network namespace of the process that opens them,
so these writes change the caller's namespace only (the host's, or a test's), never
another one.

- net.ipv4.ip_forward=1: route packets between interfaces. Without it the host drops
  whatever a container sends to the outside world through its gateway.
- net.ipv4.conf.BRIDGE.route_localnet=1: let packets whose source is 127.0.0.0/8 leave
  through BRIDGE. A connection from the host itself to 127.0.0.1:HOST_PORT is DNATed to
  the container in the OUTPUT chain, but keeps its source 127.0.0.1; the kernel treats
  such a packet on a non-loopback interface as a "martian" and drops it unless this is
  set. The firewall then masquerades it to the bridge's address so the container can
  answer (see firewall.py).

man 7 ip (ip_forward), Documentation/networking/ip-sysctl.rst (route_localnet)
"""

from __future__ import annotations

from pathlib import Path

PROC_SYS_NET = Path("/proc/sys/net")


def enable_forwarding() -> None:
    """sysctl -w net.ipv4.ip_forward=1 (in the caller's network namespace)."""
    _write(PROC_SYS_NET / "ipv4/ip_forward", "1")


def enable_route_localnet(ifname: str) -> None:
    """sysctl -w net.ipv4.conf.IFNAME.route_localnet=1 (in the caller's network namespace)."""
    _write(PROC_SYS_NET / "ipv4/conf" / ifname / "route_localnet", "1")


def _write(path: Path, value: str) -> None:
    if path.read_text().strip() != value:
        path.write_text(value + "\n")
