"""`gophernetes pull|images|rmi|login|image`: parse, call gophernetes.image, print."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from gophernetes.cli.completion import complete_images
from gophernetes.cli.output import FORMAT_HELP, Format
from gophernetes.errors import UsageError

COLUMNS = ("NAME", "TAG", "IMAGE ID", "CREATED", "SIZE")


@click.command("pull")
@click.argument("source")
@click.argument("image", required=False)
@click.option("--insecure", is_flag=True, help="Use plain HTTP (always so for 127.0.0.1 and localhost).")
@click.option("--platform", metavar="OS/ARCH", help="Platform to pick from a multi-platform image "
                                                    "(default: this host's, e.g. linux/amd64).")
@click.option("--name", metavar="NAME", help="With `local`: the name to give an archive's only image.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image name.")
@click.pass_obj
def pull(obj, source: str, image: str | None, insecure: bool, platform: str | None, name: str | None,
         quiet: bool) -> None:
    """Pull an image: `pull REF`, `pull docker IMAGE` (Docker Hub) or `pull local PATH`.

    \b
    Examples:
      gophernetes pull alpine:3.19
      gophernetes pull docker alpine
      gophernetes pull 127.0.0.1:5000/team/app:1.0
      gophernetes pull local ./alpine-oci.tar
    """
    from gophernetes.image.progress import Progress

    progress = Progress(quiet=quiet)
    if image is None:
        ref, archive = source, None
    elif source == "docker":
        ref, archive = image, None
    elif source == "local":
        ref, archive = None, Path(image)
    else:
        raise UsageError(f"unknown source {source!r}: use 'docker' or 'local', or give one reference")
    if archive is None and name:
        raise UsageError("--name is only for `pull local PATH`")
    engine = obj.engine()
    if archive is not None:
        for imported in engine.import_archive(str(archive), name, platform=platform, progress=progress):
            click.echo(imported)
        return
    pulled = engine.pull(ref, insecure, platform=platform, progress=progress)
    if not quiet and pulled.downloaded is not None:
        status = "Downloaded newer image for" if pulled.downloaded else "Image is up to date for"
        click.echo(f"Digest: {pulled.digest}\nStatus: {status} {pulled.name}", err=True)
    click.echo(pulled.name)


@click.command("images")
@click.option("--format", "output", type=Format(), default="table", help=FORMAT_HELP)
@click.option("-q", "--quiet", is_flag=True, help="Print the image IDs only.")
@click.pass_obj
def images(obj, output: str, quiet: bool) -> None:
    """List images: NAME, TAG, IMAGE ID, CREATED, SIZE.

    \b
    Examples:
      gophernetes images
      gophernetes images --format json
      gophernetes images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
    """
    from gophernetes.cli.output import format_items, format_since, table

    found = obj.engine().images()
    if quiet:
        click.echo("".join(f"{i.id[7:19]}\n" for i in found), nl=False)
    elif output != "table":
        click.echo(format_items([_as_dict(i) for i in found], output))
    else:
        now = time.time()
        rows = [(*_name_and_tag(i.name), i.id[7:19], format_since(i.created, now), _size(i.size)) for i in found]
        click.echo(table([COLUMNS, *rows]))


@click.command("rmi")
@click.argument("refs", nargs=-1, required=True, metavar="IMAGE...", shell_complete=complete_images)
@click.pass_obj
def rmi(obj, refs: tuple[str, ...]) -> None:
    """Remove images by name or IMAGE ID; layers no other image uses are deleted."""
    engine = obj.engine()
    for ref in refs:
        for name in engine.remove_image(ref) or [ref]:
            click.echo(f"Untagged: {name}")


@click.command("login")
@click.argument("server", default="docker.io")
@click.option("-u", "--username", prompt=True, help="User name.")
@click.option("-p", "--password", help="Password (prefer --password-stdin: it stays out of `ps`).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--insecure", is_flag=True, help="Use plain HTTP (always so for 127.0.0.1 and localhost).")
@click.pass_obj
def login(obj, server: str, username: str, password: str | None, password_stdin: bool,
          insecure: bool) -> None:
    """Log in to SERVER (default Docker Hub); the credentials are checked, then saved."""
    if password_stdin:
        if password:
            raise UsageError("give --password or --password-stdin, not both")
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = click.prompt("Password", hide_input=True)
    obj.engine().login(server, username, password, insecure=insecure)
    click.echo("Login Succeeded")


@click.group("image")
def image() -> None:
    """Manage images: build the default busybox image (see also pull, images, rmi)."""


@image.command("build-busybox")
@click.option("--name", default="busybox:latest", show_default=True, help="Name of the image.")
@click.option("--from", "source", default="/bin/busybox", show_default=True, metavar="PATH",
              help="The static busybox binary to use (Debian: busybox-static).")
@click.pass_obj
def build_busybox(obj, name: str, source: str) -> None:
    """Build a one-layer busybox image from the host's busybox, offline."""
    click.echo(obj.engine().build_default_image(name, source))


@image.command("prune")
@click.pass_obj
def prune(obj) -> None:
    """Remove dangling images (<none>: their name moved to a newer pull) that no container uses."""
    for name in obj.engine().prune_images():
        click.echo(f"Deleted: {name}")


image.add_command(images, "ls")
image.add_command(pull, "pull")
image.add_command(rmi, "rm")


def _as_dict(image) -> dict:
    """An engine's ImageInfo for --format json."""
    repository, tag = _name_and_tag(image.name)
    data = {"name": image.name, "repository": repository, "tag": tag, "id": image.id,
            "created": image.created, "size": image.size}
    if image.layers:
        data.update(digest=image.digest, layers=image.layers)
    return data


def _name_and_tag(name: str) -> tuple[str, str]:
    """busybox:latest -> (busybox, latest); a@sha256:... -> (a, <none>)."""
    base = name.split("@")[0]
    if base.rfind(":") > base.rfind("/"):
        repository, _, tag = base.rpartition(":")
        return repository, tag
    return base, "<none>"


def _size(count: int) -> str:
    from gophernetes.image.progress import human_size

    return human_size(count)

