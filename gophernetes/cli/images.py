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
        with progress:
            imported = engine.import_archive(str(archive), name, platform=platform, progress=progress)
        for line in imported:
            click.echo(line)
        return
    with progress:  # a failed pull's error starts on a line of its own
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


@click.command("push")
@click.argument("image", shell_complete=complete_images)
@click.argument("destination", required=False)
@click.option("--insecure", is_flag=True, help="Use plain HTTP (always so for 127.0.0.1 and localhost).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the reference pushed.")
@click.pass_obj
def push(obj, image: str, destination: str | None, insecure: bool, quiet: bool) -> None:
    """Push IMAGE to its registry (or to DESTINATION): blobs it lacks, then the manifest.

    A blob the registry has is skipped (HEAD), one another repository of the registry
    holds is mounted from there, the others are uploaded (in chunks when large). The tag
    appears only when every blob is there. Credentials come from `gophernetes login`.

    \b
    Examples:
      gophernetes push 127.0.0.1:5000/team/app:1.0
      gophernetes push alpine:3.19 127.0.0.1:5000/mirror/alpine:3.19
      gophernetes login registry.lab:5000 -u alice && gophernetes push registry.lab:5000/app
    """
    from gophernetes.image.progress import Progress

    with Progress(quiet=quiet) as progress:
        name, digest = obj.engine().push(image, destination, insecure, progress=progress)
    if not quiet and digest:
        click.echo(f"Digest: {digest}", err=True)
    click.echo(name)


@click.command("save")
@click.argument("names", nargs=-1, required=True, metavar="IMAGE...", shell_complete=complete_images)
@click.option("-o", "--output", default="-", metavar="FILE", help="The tar file to write (default: stdout).")
@click.option("--format", "archive_format", type=click.Choice(["docker-archive", "oci-archive"]),
              default="docker-archive", show_default=True, help="docker save's layout, or an OCI layout in a tar.")
@click.pass_obj
def save(obj, names: tuple[str, ...], output: str, archive_format: str) -> None:
    """Save images to a tar archive, to carry them to another host (see `load`).

    \b
    Examples:
      gophernetes save -o app.tar lab/app:1.0
      gophernetes save --format oci-archive -o base.tar busybox alpine:3.19
      gophernetes save busybox | ssh host gophernetes load
    """
    obj.engine().save(list(names), output, archive_format)


@click.command("load")
@click.option("-i", "--input", "source", default="-", metavar="FILE",
              help="The archive to read: docker-archive, oci-archive or an OCI layout folder (default: stdin).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image names.")
@click.pass_obj
def load(obj, source: str, quiet: bool) -> None:
    """Load images from a `save` archive (the same as `pull local FILE`).

    \b
    Examples:
      gophernetes load -i app.tar
      gophernetes load < base-oci.tar
    """
    from gophernetes.image.progress import Progress

    engine = obj.engine()
    if source != "-":
        with Progress(quiet=quiet) as progress:
            names = engine.import_archive(source, progress=progress)
    else:
        import tempfile

        if sys.stdin.isatty():
            raise UsageError("give the archive with -i FILE or on standard input")
        with tempfile.NamedTemporaryFile(prefix="gophernetes-load-", suffix=".tar") as spool:
            while chunk := sys.stdin.buffer.read(1 << 20):
                spool.write(chunk)
            spool.flush()
            with Progress(quiet=quiet) as progress:
                names = engine.import_archive(spool.name, progress=progress)
    for name in names:
        click.echo(f"Loaded image: {name}")


@click.group("image")
def image() -> None:
    """Manage images: inspect, history, the default busybox image (see also pull, push, build, images, rmi)."""


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


@image.command("inspect")
@click.argument("refs", nargs=-1, required=True, metavar="IMAGE...", shell_complete=complete_images)
@click.pass_obj
def inspect_image(obj, refs: tuple[str, ...]) -> None:
    """Show images as JSON: config, layers (blob digests and sizes), diff_ids and history.

    \b
    Examples:
      gophernetes image inspect busybox
      gophernetes image inspect lab/app:1.0 | jq '.[0].Config.Env'
    """
    from gophernetes.image.describe import as_json

    engine = obj.engine()
    click.echo(as_json([engine.inspect_image(ref) for ref in refs]))


@image.command("history")
@click.argument("ref", metavar="IMAGE", shell_complete=complete_images)
@click.option("--no-trunc", is_flag=True, help="Show whole steps and digests.")
@click.pass_obj
def history(obj, ref: str, no_trunc: bool) -> None:
    """Show how an image was made: its steps, newest first, and the layer each one made.

    \b
    Examples:
      gophernetes image history lab/app:1.0
    """
    from gophernetes.cli.output import table

    rows = [("LAYER", "CREATED", "CREATED BY", "SIZE")]
    for step in obj.engine().inspect_image(ref)["History"]:
        created_by = step["CreatedBy"].replace("\n", " ")
        if not no_trunc and len(created_by) > 60:
            created_by = created_by[:57] + "..."
        layer = step["Layer"] if no_trunc else step["Layer"][7:19]
        rows.append((layer or "<missing>", step["Created"] or "-", created_by or "-", _size(step["Size"])))
    click.echo(table(rows))


image.add_command(images, "ls")
image.add_command(pull, "pull")
image.add_command(rmi, "rm")
image.add_command(push, "push")
image.add_command(save, "save")
image.add_command(load, "load")


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

