"""`gophernetes build`: parse, call the engine's build, print the image ID."""

from __future__ import annotations

import click

from gophernetes.errors import UsageError


@click.command("build")
@click.argument("context", default=".", metavar="DIR")
@click.option("-t", "--tag", required=True, metavar="NAME[:TAG]", help="The name of the image to make.")
@click.option("-f", "--file", "containerfile", metavar="FILE",
              help="The Containerfile (default: DIR/Containerfile, else DIR/Dockerfile).")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY=VALUE", help="A value for an ARG.")
@click.option("--network", default="none", show_default=True, metavar="MODE",
              help="The network of RUN steps: none, host or a network's name.")
@click.option("--no-cache", is_flag=True, help="Run every step again; reuse no layer.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image ID, not the steps.")
@click.pass_obj
def build(obj, context: str, tag: str, containerfile: str | None, build_args: tuple[str, ...], network: str,
          no_cache: bool, quiet: bool) -> None:
    """Build an image from a Containerfile: one layer per COPY, ADD or RUN step.

    Supported: FROM (an image in the store, or scratch; `AS NAME` for a stage), RUN (in a
    gophernetes container), COPY and ADD (files of DIR; ADD unpacks local tars;
    COPY --from=STAGE|INDEX|IMAGE copies from that root instead, owners kept), ENV,
    WORKDIR, USER, CMD, ENTRYPOINT, LABEL, EXPOSE, ARG, SHELL (the shell of RUN, CMD and
    ENTRYPOINT's shell form), VOLUME, STOPSIGNAL, HEALTHCHECK and ONBUILD. A step seen
    before on the same parent reuses its layer. Native engine only.

    Multi-stage: every stage is built, the last one is the image. HEALTHCHECK is stored in
    the image config as docker stores it (Healthcheck: Test, Interval...); gophernetes does
    not run health checks. ONBUILD is stored (OnBuild) and its instructions run when a
    later build starts FROM the image, as docker runs them.

    \b
    Examples:
      gophernetes build -t lab/app:1.0 .
      gophernetes build -t lab/app -f Containerfile.dev --build-arg VERSION=2 ./app
      gophernetes build --no-cache --network host -t lab/tools tools/
      gophernetes build -t lab/small .   # FROM busybox AS build ... FROM scratch, COPY --from=build
    """
    arguments = {}
    for item in build_args:
        key, equals, value = item.partition("=")
        if not key or not equals:
            raise UsageError(f"--build-arg {item!r}: give KEY=VALUE")
        arguments[key] = value
    say = (lambda line: None) if quiet else (lambda line: click.echo(line, err=True))
    name, image_id = obj.engine().build(context, containerfile, tag, arguments, network=network,
                                        use_cache=not no_cache, say=say)
    if not quiet:
        click.echo(f"Successfully tagged {name}", err=True)
    click.echo(image_id)
