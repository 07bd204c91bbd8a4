"""The `gophernetes` command line: click commands only.

Each command parses its options, calls the engine or a library function, and prints.
Subcommands live in their own modules and are imported only when used, so that
`gophernetes run` pays for nothing it does not need (every millisecond of start-up is
measured against runc in bench/).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from gophernetes.errors import GophernetesError

# command name -> "module:attribute", imported on first use.
COMMANDS: dict[str, str] = {
    "run": "gophernetes.cli.run:run",
    "child": "gophernetes.cli.run:child",
    "info": "gophernetes.cli.info:info",
    "pull": "gophernetes.cli.images:pull",
    "images": "gophernetes.cli.images:images",
    "rmi": "gophernetes.cli.images:rmi",
    "login": "gophernetes.cli.images:login",
    "push": "gophernetes.cli.images:push",
    "save": "gophernetes.cli.images:save",
    "load": "gophernetes.cli.images:load",
    "build": "gophernetes.cli.build:build",
    "image": "gophernetes.cli.images:image",
    "network": "gophernetes.cli.network:network",
    "attach": "gophernetes.cli.network:attach",
    "detach": "gophernetes.cli.network:detach",
    "list": "gophernetes.cli.containers:list_containers",
    "ps": "gophernetes.cli.containers:list_containers",
    "logs": "gophernetes.cli.containers:logs",
    "exec": "gophernetes.cli.containers:exec",
    "pause": "gophernetes.cli.containers:pause",
    "resume": "gophernetes.cli.containers:resume",
    "stop": "gophernetes.cli.containers:stop",
    "kill": "gophernetes.cli.containers:kill",
    "rm": "gophernetes.cli.containers:rm",
    "start": "gophernetes.cli.containers:start",
    "restart": "gophernetes.cli.containers:restart",
    "volume": "gophernetes.cli.volume:volume",
    "inspect": "gophernetes.cli.containers:inspect",
    "prune": "gophernetes.cli.containers:prune",
    "stats": "gophernetes.cli.seeing:stats",
    "top": "gophernetes.cli.seeing:top",
    "cp": "gophernetes.cli.seeing:cp",
    "port": "gophernetes.cli.seeing:port",
    "rename": "gophernetes.cli.seeing:rename",
    "wait": "gophernetes.cli.seeing:wait",
    "completion": "gophernetes.cli.completion:completion",
    "lab": "gophernetes.cli.lab:lab",
    "help": "gophernetes.cli:help_command",
}

# Hidden from `--help` but documented in the README: the container's init side.
HIDDEN = {"child"}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when they are invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted((set(COMMANDS) - HIDDEN) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", envvar="GOPHERNETES_ROOT", metavar="DIR",
              help="State root (default /var/lib/gophernetes and /run/gophernetes). "
                   "Env: GOPHERNETES_ROOT.")
@click.option("--debug", is_flag=True, envvar="GOPHERNETES_DEBUG",
              help="Print the traceback of an error, not just its message.")
@click.option("--engine", envvar="GOPHERNETES_ENGINE", default="native", show_default=True,
              type=click.Choice(["native", "containerd"]),
              help="Who makes the containers: gophernetes itself, or a containerd daemon. Env: GOPHERNETES_ENGINE.")
@click.option("--address", "containerd_address", envvar="GOPHERNETES_CONTAINERD_ADDRESS", metavar="SOCKET",
              help="containerd's socket for --engine containerd (default /run/containerd/containerd.sock). "
                   "Env: GOPHERNETES_CONTAINERD_ADDRESS.")
@click.version_option(package_name="gophernetes", message="gophernetes %(version)s")
@click.pass_context
def cli(ctx: click.Context, root: str | None, debug: bool, engine: str, containerd_address: str | None) -> None:
    """Gophernetes: containers made by hand from Linux primitives.

    \b
    Examples:
      gophernetes run /bin/sh                        # a shell in the default busybox image
      gophernetes run --memory 64m busybox sh -c 'echo hi'
      gophernetes run --rootfs ./rootfs /bin/hostname
    """
    from gophernetes.paths import StateRoot

    ctx.obj = Context(root=StateRoot.from_option(root), debug=debug, engine_name=engine,
                      containerd_address=containerd_address)


class Context:
    """What every command needs: where state lives, which engine, whether to show tracebacks."""

    def __init__(self, root, debug: bool, engine_name: str = "native", containerd_address: str | None = None) -> None:
        self.root = root
        self.debug = debug
        self.engine_name = engine_name
        self.containerd_address = containerd_address

    def engine(self):
        """The engine chosen with --engine, made on first use (containerd's client is not free)."""
        from gophernetes.engines import get_engine

        return get_engine(self.engine_name, self.root, self.containerd_address)


@click.command("help")
@click.argument("command", required=False)
@click.pass_context
def help_command(ctx: click.Context, command: str | None) -> None:
    """Show help for gophernetes or for one COMMAND."""
    parent = ctx.parent
    assert parent is not None and isinstance(parent.command, click.Group)  # `help` is a subcommand of the group
    group = parent.command
    if command is None:
        click.echo(group.get_help(parent))
        return
    sub = group.get_command(ctx, command)
    if sub is None:
        raise GophernetesError(f"unknown command {command!r}; see 'gophernetes help'")
    with click.Context(sub, info_name=command, parent=parent) as sub_ctx:
        click.echo(sub.get_help(sub_ctx))


def load_config() -> dict:
    """Defaults for the global options from the configuration file (gophernetes/settings.py):
    engine, address and root. The command line and the environment win over the file;
    `lab_registry` is no option (only the not-found hint reads it)."""
    from gophernetes import settings

    config = settings.read()
    config.pop("lab_registry", None)
    if "address" in config:  # click knows the option by its parameter name
        config["containerd_address"] = config.pop("address")
    return config


def main(argv: list[str] | None = None) -> None:
    """The `gophernetes` command: run the CLI, then leave at once.

    A command lives for milliseconds, and two things the interpreter does by default only
    cost it time (measured in bench/, ~25 ms of a `run`): the cyclic garbage collector's
    passes over the objects that imports create, and the finalization at exit (freeing
    every module, which the kernel does anyway). So the collector is off, and once the
    output is flushed the process ends with os._exit. Everything we write is closed by a
    `with` block before that; background threads are daemons that only relay output.
    """
    import gc

    gc.disable()
    try:
        _run_cli(argv)
        code = 0
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else (0 if leaving.code is None else 1)
        if leaving.code is not None and not isinstance(leaving.code, int):
            print(leaving.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass  # a closed pipe (`| head`): nothing more can be said
    os._exit(code)


def _run_cli(argv: list[str] | None = None) -> None:
    """Run the CLI; turn a GophernetesError into one line on stderr and its exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv) or bool(os.environ.get("GOPHERNETES_DEBUG"))
    try:
        cli.main(args=argv, prog_name="gophernetes", standalone_mode=False, default_map=load_config())
    except GophernetesError as error:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"gophernetes: {error}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("gophernetes: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        # One line, as for every other error (not click's usage block), and docker's 125:
        # click's 2 would be mistaken for the container's status.
        click.echo(f"gophernetes: {_one_line(error)}", err=True)
        sys.exit(125)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except OSError as error:  # the machine said no (a full disk, a vanished file): one line, not a bug
        if debug:
            import traceback

            traceback.print_exc()
        where = f": {error.filename}" if error.filename else ""
        click.echo(f"gophernetes: {error.strerror or error}{where}", err=True)
        sys.exit(125)
    except Exception as error:  # noqa: BLE001 — a bug: still one line, unless --debug
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"gophernetes: internal error: {type(error).__name__}: {error} "
                   "(run with --debug for the traceback)", err=True)
        sys.exit(125)


def _one_line(error: click.ClickException) -> str:
    """click's message, with the command it is about and where to read more, on one line."""
    message = " ".join(error.format_message().split())
    context = getattr(error, "ctx", None)
    if context is None:
        return message
    return f"{context.command_path.removeprefix('gophernetes ')}: {message} (see '{context.command_path} --help')"
