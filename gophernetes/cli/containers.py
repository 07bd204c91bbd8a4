"""The verbs that manage containers after `run`: list, logs, exec, pause, resume, stop,
kill, rm, inspect, prune. Each parses, calls one engine method, prints."""

from __future__ import annotations

import json
import sys
import time

import click

from gophernetes.cli.completion import complete_containers
from gophernetes.cli.output import FORMAT_HELP, Format, format_age, format_items, format_status, table


@click.command("list")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show exited containers too.")
@click.option("--images", is_flag=True, help="List images instead (same as gophernetes images).")
@click.option("-q", "--quiet", is_flag=True, help="Only the IDs.")
@click.option("--no-trunc", is_flag=True, help="Full IDs and commands, not cut to fit the table.")
@click.option("--format", "output", type=Format(), default="table", show_default=True, help=FORMAT_HELP)
@click.pass_context
def list_containers(ctx, show_all: bool, images: bool, quiet: bool, no_trunc: bool, output: str) -> None:
    """List containers: running ones, or all with --all (the bash tool's `list`).

    \b
    Examples:
      gophernetes list
      gophernetes ps --all --format json
      gophernetes ps -aq --no-trunc                       # full IDs, one a line
      gophernetes ps --format '{{.Name}}\t{{.Status}}'
    """
    if images:
        from gophernetes.cli.images import images as images_command

        ctx.invoke(images_command, output=output)
        return
    containers = ctx.obj.engine().containers(all=show_all)
    if quiet:
        for container in containers:
            click.echo(container.id if no_trunc else container.id[:12])
    elif output != "table":
        click.echo(format_items([_as_dict(c) for c in containers], output))
    else:
        rows = [("CONTAINER ID", "NAME", "IMAGE", "COMMAND", "STATUS", "CREATED", "PORTS")]
        now = time.time()
        for c in containers:
            command = " ".join(c.command)
            if not no_trunc:
                command = f'{command[:20]}{"…" if len(command) > 20 else ""}'
            rows.append((c.id if no_trunc else c.id[:12], c.name, c.image, f'"{command}"',
                         format_status(c, now), format_age(c.created, now), ", ".join(c.ports)))
        click.echo(table(rows))


def _as_dict(container) -> dict:
    data = dict(vars(container))
    data.pop("details", None)
    return data


@click.command()
@click.argument("container", shell_complete=complete_containers)
@click.option("-f", "--live", "--follow", "follow", is_flag=True, help="Keep printing new lines until the "
              "container exits (or Ctrl-C).")
@click.option("-n", "--tail", type=int, default=None, help="Only the last N lines.")
@click.option("-t", "--timestamps", is_flag=True, help="Show when each line was written.")
@click.pass_obj
def logs(obj, container: str, follow: bool, tail: int | None, timestamps: bool) -> None:
    """Print what a detached container wrote to stdout and stderr.

    \b
    Examples:
      gophernetes logs web
      gophernetes logs web --live
      gophernetes logs --tail 10 -t web
    """
    try:
        for line in obj.engine().logs(container, follow=follow, tail=tail, timestamps=timestamps):
            sys.stdout.write(line)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass


@click.command(context_settings={"allow_interspersed_args": False})
@click.argument("container", shell_complete=complete_containers)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("-i", "--interactive", is_flag=True, help="Keep stdin open.")
@click.option("-t", "--tty", is_flag=True, help="Give the command a pseudo-terminal.")
@click.option("-e", "--env", multiple=True, metavar="KEY=VALUE", help="Set an environment variable.")
@click.option("-u", "--user", default="", help="Run as this user.")
@click.option("-w", "--workdir", default="", help="Working directory inside the container.")
@click.pass_obj
def exec(obj, container: str, command: tuple[str, ...], interactive: bool, tty: bool, env, user, workdir) -> None:
    """Run a command inside a running container (it joins the container's namespaces).

    COMMAND may be one quoted string, as in the bash tool: exec web "ls -l /".

    \b
    Examples:
      gophernetes exec web ps
      gophernetes exec -it web sh
    """
    argv = list(command)
    if len(argv) == 1 and " " in argv[0]:
        argv = ["/bin/sh", "-c", argv[0]]
    status = obj.engine().exec(container, argv, tty=tty, interactive=interactive, env=list(env), user=user,
                               workdir=workdir)
    sys.exit(status)


@click.command()
@click.argument("containers", nargs=-1, required=True, shell_complete=complete_containers)
@click.pass_obj
def pause(obj, containers) -> None:
    """Freeze every process of the containers (cgroup freezer)."""
    _each(containers, obj.engine().pause)


@click.command()
@click.argument("containers", nargs=-1, required=True, shell_complete=complete_containers)
@click.pass_obj
def resume(obj, containers) -> None:
    """Thaw paused containers."""
    _each(containers, obj.engine().resume)


@click.command()
@click.argument("containers", nargs=-1, required=True, shell_complete=complete_containers)
@click.option("-t", "--time", "timeout", type=float, default=10, show_default=True,
              help="Seconds to wait after SIGTERM before SIGKILL.")
@click.pass_obj
def stop(obj, containers, timeout: float) -> None:
    """Stop containers: SIGTERM, then SIGKILL after --time seconds."""
    engine = obj.engine()
    _each(containers, lambda name: engine.stop(name, timeout=timeout))


@click.command()
@click.argument("containers", nargs=-1, required=True, shell_complete=complete_containers)
@click.option("-s", "--signal", "signal_name", default="KILL", show_default=True, help="Signal to send.")
@click.pass_obj
def kill(obj, containers, signal_name: str) -> None:
    """Send a signal to the containers' main process."""
    engine = obj.engine()
    _each(containers, lambda name: engine.kill(name, signal_name))


@click.command()
@click.argument("containers", nargs=-1, required=True, shell_complete=complete_containers)
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.option("-v", "--volumes", is_flag=True, help="Remove its anonymous volumes too (named volumes stay).")
@click.pass_obj
def rm(obj, containers, force: bool, volumes: bool) -> None:
    """Remove containers (their records, logs and writable layers).

    \b
    Examples:
      gophernetes rm web
      gophernetes rm -f -v web      # kill it, and remove its anonymous volumes (-v /path)
    """
    engine = obj.engine()
    _each(containers, lambda name: engine.remove(name, force=force, volumes=volumes))


@click.command()
@click.argument("containers", nargs=-1, required=True, shell_complete=complete_containers)
@click.pass_obj
def start(obj, containers) -> None:
    """Start stopped (detached) containers again: same config, same writable layer (native engine).

    \b
    Examples:
      gophernetes stop web && gophernetes start web
    """
    engine = obj.engine()
    _each(containers, engine.start)


@click.command()
@click.argument("containers", nargs=-1, required=True, shell_complete=complete_containers)
@click.option("-t", "--time", "timeout", type=float, default=10, show_default=True,
              help="Seconds to wait for the stop before killing the container.")
@click.pass_obj
def restart(obj, containers, timeout: float) -> None:
    """Stop containers, then start them again (native engine).

    \b
    Examples:
      gophernetes restart web
    """
    engine = obj.engine()
    _each(containers, lambda name: engine.restart(name, timeout))


@click.command()
@click.argument("container", shell_complete=complete_containers)
@click.option("-f", "--format", "output", type=Format(), default="json",
              help="json (default) or a template such as '{{.Pid}}' or '{{.Details.State.Exit_code}}'.")
@click.pass_obj
def inspect(obj, container: str, output: str) -> None:
    """Everything known about a container, as JSON.

    \b
    Examples:
      gophernetes inspect web
      gophernetes inspect --format '{{.Pid}} {{.Status}}' web
    """
    info = obj.engine().inspect(container)
    if output in ("json", "table"):
        click.echo(json.dumps(vars(info), indent=2, default=str))
    else:
        click.echo(format_items([json.loads(json.dumps(vars(info), default=str))], output))


@click.command()
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation (asked only on a terminal).")
@click.pass_obj
def prune(obj, force: bool) -> None:
    """Remove exited containers and whatever a crash left behind (empty cgroups, leases, folders).

    Running containers are never touched, not even those of another state root that
    shares the cgroup parent.
    """
    if not force and sys.stdin.isatty():
        click.confirm("This removes all stopped containers. Are you sure you want to continue?", abort=True)
    for removed in obj.engine().prune():
        click.echo(removed)


def _each(names, action) -> None:
    """Apply `action` to every name, printing each, as docker does: a name that fails says so
    in one line and the others still go (`rm -f a b c` never leaves b behind because a failed);
    the last failure's exit code is the command's."""
    from gophernetes.errors import GophernetesError

    failed: GophernetesError | None = None
    for name in names:
        try:
            action(name)
        except GophernetesError as error:
            if len(names) == 1:
                raise
            click.echo(f"gophernetes: {error}", err=True)
            failed = error
            continue
        click.echo(name)
    if failed is not None:
        raise SystemExit(failed.exit_code)
