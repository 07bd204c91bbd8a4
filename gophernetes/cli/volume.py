"""`gophernetes volume create|ls|inspect|rm|prune`: parse, call the engine, print."""

from __future__ import annotations

import json
import sys

import click

from gophernetes.cli.completion import complete_volumes
from gophernetes.cli.output import table


@click.group("volume")
def volume() -> None:
    """Manage named volumes: folders kept under the state root (lib/volumes/NAME/_data) that
    containers bind at a path, and that outlive them (native engine).

    \b
    Examples:
      gophernetes volume create data
      gophernetes run -v data:/data busybox sh -c 'echo hi > /data/note'
      gophernetes run -v data:/data:ro busybox cat /data/note
      gophernetes volume ls
      gophernetes volume rm data
    """


@volume.command("create")
@click.argument("name", required=False)
@click.pass_obj
def create(obj, name: str | None) -> None:
    """Make volume NAME (a random name without one); an existing one is left as it is."""
    click.echo(obj.engine().create_volume(name)["Name"])


@volume.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only the names.")
@click.pass_obj
def ls(obj, quiet: bool) -> None:
    """List volumes, with the containers (in any state) that mount each."""
    volumes = obj.engine().volumes()
    if quiet:
        click.echo("".join(f"{v['Name']}\n" for v in volumes), nl=False)
        return
    rows = [(v["Name"], v["Driver"], ",".join(v["Containers"]) or "-") for v in volumes]
    click.echo(table([("VOLUME NAME", "DRIVER", "CONTAINERS"), *rows]))


@volume.command("inspect")
@click.argument("names", nargs=-1, required=True, metavar="NAME...", shell_complete=complete_volumes)
@click.pass_obj
def inspect(obj, names: tuple[str, ...]) -> None:
    """Show volumes as JSON: mount point on the host, creation time, the containers using them."""
    engine = obj.engine()
    click.echo(json.dumps([engine.inspect_volume(name) for name in names], indent=2))


@volume.command("rm")
@click.argument("names", nargs=-1, required=True, metavar="NAME...", shell_complete=complete_volumes)
@click.pass_obj
def rm(obj, names: tuple[str, ...]) -> None:
    """Remove volumes and their data (refused while a container, even an exited one, uses one)."""
    from gophernetes.cli.containers import _each

    _each(names, obj.engine().remove_volume)  # prints each name removed


@volume.command("prune")
@click.option("-a", "--all", "everything", is_flag=True, help="Named volumes too, not only anonymous ones.")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation (asked only on a terminal).")
@click.pass_obj
def prune(obj, everything: bool, force: bool) -> None:
    """Remove the anonymous volumes no container uses (with -a: every unused volume), as docker 23+."""
    if not force and sys.stdin.isatty():
        click.confirm("This removes unused volumes and their data. Are you sure you want to continue?", abort=True)
    for name in obj.engine().prune_volumes(everything):
        click.echo(name)
