"""`gophernetes network create|delete|ls|inspect`, `attach` and `detach`: parse, call, print."""

from __future__ import annotations

import json

import click

from gophernetes import network as net
from gophernetes.cli.completion import complete_containers, complete_networks

COLUMNS = ("NAME", "DRIVER", "SUBNET", "GATEWAY", "BRIDGE", "FIREWALL", "CONTAINERS")


@click.group("network")
def network() -> None:
    """Manage bridge networks: each is a Linux bridge with its own subnet and NAT.

    \b
    Examples:
      gophernetes network create backend --subnet 10.90.0.0/24
      gophernetes run --net backend busybox ping -c1 10.90.0.1
      gophernetes network ls
    """


@network.command("create")
@click.argument("name")
@click.option("--subnet", metavar="CIDR", help="IPv4 subnet, e.g. 10.90.0.0/24 (default: a free 10.x.0.0/16).")
@click.pass_obj
def create(obj, name: str, subnet: str | None) -> None:
    """Define network NAME; its bridge appears when the first container joins."""
    created = net.create_network(obj.root, name, subnet)
    click.echo(created.name)


@network.command("delete")
@click.argument("names", nargs=-1, required=True, metavar="NAME...", shell_complete=complete_networks)
@click.pass_obj
def delete(obj, names: tuple[str, ...]) -> None:
    """Delete networks with their bridges and rules (refused while a container is on one).

    Deleting the default network 'bridge' resets it: it is made anew on next use.
    """
    for name in names:
        net.delete_network(obj.root, name)
        click.echo(name)


network.add_command(delete, "rm")


@network.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Print the names only.")
@click.pass_obj
def ls(obj, quiet: bool) -> None:
    """List networks."""
    infos = net.list_networks(obj.root)
    if quiet:
        click.echo("".join(f"{info.network.name}\n" for info in infos), nl=False)
        return
    rows = [(i.network.name, i.driver, i.network.subnet, i.network.gateway, i.network.bridge, i.firewall,
             str(len(i.containers))) for i in infos]
    click.echo(_table([COLUMNS, *rows]))


@network.command("inspect")
@click.argument("names", nargs=-1, required=True, metavar="NAME...", shell_complete=complete_networks)
@click.pass_obj
def inspect(obj, names: tuple[str, ...]) -> None:
    """Show networks as JSON: subnet, gateway, bridge, firewall backend and containers."""
    click.echo(json.dumps([net.inspect_network(obj.root, name).as_dict() for name in names], indent=2))


@click.command("attach")
@click.argument("container", shell_complete=complete_containers)
@click.argument("network_name", metavar="NETWORK", shell_complete=complete_networks)
@click.pass_obj
def attach(obj, container: str, network_name: str) -> None:
    """Plug a running CONTAINER into NETWORK as one more interface (eth1, ...)."""
    ifname, address = obj.engine().attach(container, network_name)
    click.echo(f"{ifname} {address}")


@click.command("detach")
@click.argument("container", shell_complete=complete_containers)
@click.argument("network_name", metavar="NETWORK", shell_complete=complete_networks)
@click.pass_obj
def detach(obj, container: str, network_name: str) -> None:
    """Unplug CONTAINER from NETWORK."""
    obj.engine().detach(container, network_name)


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)
