"""`gophernetes info`: the engines this host offers, and the facts that shape containers here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from gophernetes.errors import GophernetesError


@click.command()
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def info(obj, output: str) -> None:
    """Show the engines (and their versions), the cgroup mode, the firewall backend and the state root.

    \b
    Examples:
      gophernetes info
      GOPHERNETES_CONTAINERD_ADDRESS=/tmp/c/containerd.sock gophernetes info --format json
    """
    facts = {
        "engines": {"native": native_engine(), "containerd": containerd_engine(obj.root)},
        "default engine": obj.engine_name,
        "cgroups": cgroup_mode(),
        "firewall": firewall_backend(),
        "state root": {"lib": str(obj.root.lib), "run": str(obj.root.run)},
    }
    if output == "json":
        click.echo(json.dumps(facts, indent=2))
        return
    click.echo(text(facts))


def native_engine() -> dict:
    from gophernetes import __version__

    return {"available": True, "version": f"gophernetes {__version__}"}


def containerd_engine(root) -> dict:
    """containerd's own info(), or why it is not there."""
    from gophernetes.engines.containerd import ContainerdEngine

    engine = ContainerdEngine(root)
    try:
        return {"available": True, **engine.info()}
    except GophernetesError as error:
        return {"available": False, "socket": engine.ctr.address, "error": str(error)}


def cgroup_mode() -> str:
    """v2 (unified), hybrid (v1 controllers plus an empty cgroup2 at unified/) or v1."""
    from gophernetes.linux.cgroups import detect_version

    if detect_version() == 2:
        return "v2"
    return "hybrid" if Path("/sys/fs/cgroup/unified/cgroup.controllers").exists() else "v1"


def firewall_backend() -> str:
    from gophernetes.network.backends import preferred

    try:
        return preferred()
    except GophernetesError as error:
        # nft and iptables live in /usr/sbin, outside a user's PATH: not seeing them as
        # non-root says nothing about the host.
        return SUDO_TO_SEE if os.geteuid() != 0 else f"none ({error})"


SUDO_TO_SEE = "run with sudo to see"


def text(facts: dict) -> str:
    native, containerd = facts["engines"]["native"], facts["engines"]["containerd"]
    if containerd["available"]:
        containerd_line = (f"containerd {containerd['version']}, runtime {containerd['runtime']}, "
                           f"namespace {containerd['namespace']}, socket {containerd['socket']}")
    elif os.geteuid() != 0:
        containerd_line = f"{SUDO_TO_SEE} (its socket {containerd['socket']} is root's)"
    else:
        containerd_line = f"not reachable at {containerd['socket']}"
    return "\n".join([
        "Engines:",
        f"  native:      {native['version']}",
        f"  containerd:  {containerd_line}",
        f"Default engine: {facts['default engine']}",
        f"Cgroups:        {facts['cgroups']}",
        f"Firewall:       {facts['firewall']}",
        f"State root:     {facts['state root']['lib']} and {facts['state root']['run']}",
    ])
