"""Seeing what runs, and small verbs around it: stats, top, cp, port, rename, wait.

Each parses, calls one engine method, prints (the reading is done in runtime/stats.py,
runtime/top.py, runtime/copy.py, network/published.py, runtime/waiting.py).
"""

from __future__ import annotations

import sys

import click

from gophernetes.cli.completion import complete_containers, complete_copy_endpoint
from gophernetes.cli.output import FORMAT_HELP, Format, format_items, table
from gophernetes.errors import GophernetesError

CLEAR_SCREEN = "\033[2J\033[H"
STATS_COLUMNS = ("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS")


def stats_view(line) -> dict:
    """One container's stats as numbers and as docker prints them (its --format field names)."""
    from dataclasses import asdict

    from gophernetes.cli.output import format_binary_size as binary
    from gophernetes.cli.output import format_decimal_size as decimal

    return {**asdict(line), "ID": line.id[:12], "Name": line.name, "CPUPerc": f"{line.cpu_percent:.2f}%",
            "MemUsage": f"{binary(line.memory)} / {binary(line.memory_limit)}",
            "MemPerc": f"{line.memory_percent:.2f}%", "NetIO": f"{decimal(line.net_rx)} / {decimal(line.net_tx)}",
            "BlockIO": f"{decimal(line.block_read)} / {decimal(line.block_write)}", "PIDs": str(line.pids)}


def stats_table(lines) -> str:
    views = [stats_view(line) for line in lines]
    keys = ("ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs")
    return table([STATS_COLUMNS, *[tuple(view[key] for key in keys) for view in views]])


@click.command()
@click.argument("containers", nargs=-1, shell_complete=complete_containers)
@click.option("--no-stream", is_flag=True, help="Print one reading and leave (it takes a second: a rate needs "
              "two readings).")
@click.option("--format", "output", type=Format(), default="table", help=FORMAT_HELP + " json: one object per "
              "line and container, numbers in bytes and percent.")
@click.pass_obj
def stats(obj, containers: tuple[str, ...], no_stream: bool, output: str) -> None:
    """Live resource use of containers, as docker stats.

    CPU, memory, PIDs, network and block I/O of the running containers (all of them, or
    those named), refreshed every second until Ctrl-C.

    Read from the container's cgroup (cpuacct.usage or cpu.stat, memory usage less the
    page cache the kernel can drop, pids.current, blkio or io.stat) and from its network
    namespace's interfaces (/proc/PID/net/dev, lo excluded). Both engines.

    \b
    Examples:
      gophernetes stats
      gophernetes stats --no-stream web
      gophernetes stats --no-stream --format json web
      gophernetes stats --no-stream --format '{{.Name}} {{.CPUPerc}} {{.MemUsage}}'
    """
    clear = output == "table" and not no_stream and sys.stdout.isatty()
    try:
        for lines in obj.engine().stats(list(containers), stream=not no_stream):
            if output == "table":
                text = stats_table(lines)
            elif lines:
                text = format_items([stats_view(line) for line in lines], output, json_lines=True)
            else:
                continue  # no container running: nothing to say in JSON or a template
            click.echo((CLEAR_SCREEN if clear else "") + text)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass


@click.command()
@click.argument("container", shell_complete=complete_containers)
@click.pass_obj
def top(obj, container: str) -> None:
    """The processes of a running container, seen from the host.

    Host PID, user (the host's name for the uid), CPU time and command, read from the
    container's cgroup (cgroup.procs) and /proc. Both engines.

    \b
    Examples:
      gophernetes top web
    """
    from gophernetes.runtime.top import HEADERS

    rows = [(str(p.pid), p.user, p.time, p.command) for p in obj.engine().top(container)]
    click.echo(table([HEADERS, *rows]))


@click.command("cp")
@click.argument("source", metavar="SRC", shell_complete=complete_copy_endpoint)
@click.argument("destination", metavar="DST", shell_complete=complete_copy_endpoint)
@click.pass_obj
def cp(obj, source: str, destination: str) -> None:
    """Copy files between the host and a container, running or stopped.

    One of SRC and DST is CONTAINER:PATH. A folder is copied with its contents; into DST
    when DST is a folder.

    Every path in the container is resolved inside its root, as the container would
    resolve it (openat2 RESOLVE_IN_ROOT): a link the container made, even /etc/shadow,
    never reaches the host's file. Links inside a copied folder are copied as links;
    files copied in belong to the container's root; setuid bits do not come out.
    Devices and FIFOs are skipped.

    A stopped container's root (its image layers under its own writable layer) is
    mounted again in a private mount namespace for the copy, and nothing else: what it
    had in volumes and bind mounts is not reached while it is stopped (docker's is).
    A --read-only container takes nothing in. Both engines.

    \b
    Examples:
      gophernetes cp web:/etc/hostname .
      gophernetes cp ./site web:/srv/
      gophernetes cp web:/var/log /tmp/web-logs
    """
    obj.engine().copy(source, destination)


@click.command()
@click.argument("container", shell_complete=complete_containers)
@click.argument("port", required=False, metavar="[PORT[/PROTO]]")
@click.pass_obj
def port(obj, container: str, port: str | None) -> None:
    """List a container's published ports (run -p), or where one PORT is published.

    Both engines.

    \b
    Examples:
      gophernetes port web               # 80/tcp -> 0.0.0.0:8080
      gophernetes port web 80/tcp        # 0.0.0.0:8080
    """
    for line in obj.engine().port(container, port):
        click.echo(line.split(" -> ", 1)[1] if port else line)


@click.command()
@click.argument("old", metavar="CONTAINER", shell_complete=complete_containers)
@click.argument("new", metavar="NEW_NAME")
@click.pass_obj
def rename(obj, old: str, new: str) -> None:
    """Give a container a new name (running or not). Both engines.

    The containers on its networks find it by the new name at once, and no more by the
    old one: its line in their /etc/hosts is rewritten (its hostname and short ID stay).
    Run it in the network namespace where its network was made (as `run` was).

    \b
    Examples:
      gophernetes rename web web-old
    """
    obj.engine().rename(old, new)


@click.command()
@click.argument("containers", nargs=-1, required=True, shell_complete=complete_containers)
@click.pass_obj
def wait(obj, containers: tuple[str, ...]) -> None:
    """Wait until the containers stop; print each one's exit code. Sleeps on a pidfd of the
    container's init: no polling. Both engines (containerd: detached containers).

    \b
    Examples:
      gophernetes wait web
      gophernetes run -d --name job busybox sh -c 'exit 3' && gophernetes wait job   # prints 3
    """
    engine = obj.engine()
    failed: GophernetesError | None = None
    for name in containers:
        try:
            click.echo(engine.wait(name))
        except GophernetesError as error:
            if len(containers) == 1:
                raise
            click.echo(f"gophernetes: {error}", err=True)
            failed = error
    if failed is not None:
        raise SystemExit(failed.exit_code)
