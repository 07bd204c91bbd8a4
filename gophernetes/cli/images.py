"""`gophernetes pull|images|rmi|login|image`: parse, call gophernetes.image, print."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from gophernetes.errors import UsageError

COLUMNS = ("NAME", "TAG", "IMAGE ID", "CREATED", "SIZE")


def _store(obj):
    from gophernetes.image.store import ImageStore

    return ImageStore(obj.root.images)


def _other_engine(obj):
    """The engine chosen with --engine, unless it is the native one (whose store we use directly,
    with progress output, platforms and the in-use check); None for native."""
    if getattr(obj, "engine_name", "native") == "native":
        return None
    return obj.engine()


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
    engine = _other_engine(obj)
    if engine is not None:
        names = engine.import_archive(str(archive), name) if archive else [engine.pull(ref, insecure)]
        click.echo("".join(f"{n}\n" for n in names), nl=False)
        return
    if archive is not None:
        from gophernetes.image.archive import import_archive

        for imported in import_archive(_store(obj), archive, name=name, platform=platform, progress=progress):
            click.echo(imported.name)
        return
    from gophernetes.image.pull import pull as pull_image

    pulled, downloaded = pull_image(_store(obj), ref, insecure=insecure, platform=platform, progress=progress)
    if not quiet:
        status = "Downloaded newer image for" if downloaded else "Image is up to date for"
        click.echo(f"Digest: {pulled.manifest_digest}\nStatus: {status} {pulled.name}", err=True)
    click.echo(pulled.name)


@click.command("images")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table",
              help="Table (default) or JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print the image IDs only.")
@click.pass_obj
def images(obj, output: str, quiet: bool) -> None:
    """List images: NAME, TAG, IMAGE ID, CREATED, SIZE."""
    from gophernetes.cli.output import table

    engine = _other_engine(obj)
    found = engine.images() if engine is not None else _store(obj).list()
    if quiet:
        click.echo("".join(f"{i.id[7:19]}\n" for i in found), nl=False)
    elif output == "json":
        click.echo(json.dumps([_as_dict(i) for i in found], indent=2))
    else:
        rows = [(*_name_and_tag(i.name), i.id[7:19], _ago(i.created), _size(i.size)) for i in found]
        click.echo(table([COLUMNS, *rows]))


@click.command("rmi")
@click.argument("refs", nargs=-1, required=True, metavar="IMAGE...")
@click.pass_obj
def rmi(obj, refs: tuple[str, ...]) -> None:
    """Remove images by name or IMAGE ID; layers no other image uses are deleted."""
    engine = _other_engine(obj)
    if engine is not None:
        for ref in refs:
            engine.remove_image(ref)
            click.echo(f"Untagged: {ref}")
        return
    for ref in refs:
        for name in obj.engine().remove_image(ref):
            click.echo(f"Untagged: {name}")


def _layers_in_use(root) -> dict[str, str]:
    """Layer directory -> a container (in any state) whose root filesystem stacks it."""
    try:
        from gophernetes.runtime.records import RecordStore
    except ImportError:
        return {}
    return {layer: record.name for record in RecordStore(root).all() for layer in record.spec.lower_dirs}


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
    from gophernetes.image.auth import Credentials, save
    from gophernetes.image.reference import Reference
    from gophernetes.image.registry import RegistryClient

    if password_stdin:
        if password:
            raise UsageError("give --password or --password-stdin, not both")
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = click.prompt("Password", hide_input=True)
    credentials = Credentials(username, password)
    docker_hub = ("docker.io", "index.docker.io", "https://index.docker.io/v1/")
    registry = "docker.io" if server in docker_hub else server
    client = RegistryClient(Reference(registry, "library/probe"), insecure=insecure, credentials=credentials)
    client.ping()
    save(registry, credentials, _store(obj).auth_file)
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
    from gophernetes.image import busybox
    from gophernetes.image.reference import parse

    built = busybox.build(_store(obj), parse(name).name, Path(source))
    click.echo(built.name)


@image.command("prune")
@click.pass_obj
def prune(obj) -> None:
    """Remove dangling images (<none>: their name moved to a newer pull) that no container uses."""
    for name in _store(obj).prune(_layers_in_use(obj.root)):
        click.echo(f"Deleted: {name}")


image.add_command(images, "ls")
image.add_command(pull, "pull")
image.add_command(rmi, "rm")


def _as_dict(image) -> dict:
    """An image (the store's Image, or an engine's ImageInfo) for --format json."""
    repository, tag = _name_and_tag(image.name)
    data = {"name": image.name, "repository": repository, "tag": tag, "id": image.id,
            "created": image.created, "size": image.size}
    if hasattr(image, "layer_dirs"):
        data.update(digest=image.manifest_digest, layers=[str(d) for d in image.layer_dirs])
    return data


def _name_and_tag(name: str) -> tuple[str, str]:
    """busybox:latest -> (busybox, latest); a@sha256:... -> (a, <none>)."""
    base = name.split("@")[0]
    if base.rfind(":") > base.rfind("/"):
        repository, _, tag = base.rpartition(":")
        return repository, tag
    return base, "<none>"


def _ago(created: str) -> str:
    """An RFC 3339 time as docker shows it: '3 weeks ago'."""
    try:
        then = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return "N/A"
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - then).total_seconds()
    for unit, length in (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
                         ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= 2 * length or (unit in ("hour", "minute") and seconds >= length):
            count = int(seconds // length)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "Less than a minute ago" if seconds >= 0 else "N/A"


def _size(count: int) -> str:
    from gophernetes.image.progress import human_size

    return human_size(count)

