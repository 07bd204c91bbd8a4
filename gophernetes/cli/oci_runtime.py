"""`gophernetes-runtime`: runc's command line, so that containerd and podman can use gophernetes.

containerd's runc shim (containerd-shim-runc-v2) and podman's conmon do not link a runtime:
they execute a binary with runc's arguments and read what it prints, its exit status, its
pid file and its log. Anything that answers the same way can stand in for runc:
`ctr run --runc-binary gophernetes-runtime`, `podman --runtime gophernetes-runtime`.
What they pass, measured on this machine (containerd 1.6, podman 4.3 with conmon):

    containerd: --root R --log BUNDLE/log.json --log-format json create --bundle B --pid-file F
                [--console-socket S] ID;  start ID;  exec --process P.json --detach --pid-file F
                [--tty --console-socket S] ID;  ps --format json ID;  kill ID 15;  pause ID;
                resume ID;  delete [--force] ID
    podman:     --root=R [--debug] create --bundle B --pid-file F [--console-socket S] ID;  start ID;
                exec --pid-file F --process P --detach [--tty --console-socket S] ID;  kill ID 15|9;
                pause ID;  resume ID;  delete --force ID (the last one without --root)

This module only parses those command lines, calls one method of the runtime's OCI
lifecycle, and prints; errors are reported as runc reports them (one line on stderr, an
"error" entry in --log in the --log-format asked, which containerd quotes to the user;
exit status 1).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import click

from gophernetes.errors import GophernetesError, UsageError

PROG = "gophernetes-runtime"
DEFAULT_ROOT = "/run/gophernetes-runtime"

log = logging.getLogger("gophernetes")


# ---------------------------------------------------------------------- logging as runc logs


class RuncFormatter(logging.Formatter):
    """Log records as runc's logrus writes them: `--log-format text` or `json`.

    containerd's shim reads the json form after a failure and quotes the last entry whose
    "level" is "error"; people read the text form.
    """

    def __init__(self, form: str) -> None:
        super().__init__()
        self.form = form

    def format(self, record: logging.LogRecord) -> str:
        level = {"WARNING": "warning", "CRITICAL": "fatal"}.get(record.levelname, record.levelname.lower())
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        message = record.getMessage()
        if record.exc_info and self.form == "text":
            message += "\n" + self.formatException(record.exc_info)
        if self.form == "json":
            return json.dumps({"level": level, "msg": message, "time": when}, separators=(",", ":"))
        return f'time="{when}" level={level} msg={json.dumps(message)}'


def configure_logging(path: str | None, form: str, debug: bool) -> None:
    """Send our log (and the runtime's warnings: ignored fields, failed poststop hooks) to --log."""
    root = logging.getLogger("gophernetes")
    root.handlers.clear()
    root.propagate = False
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if path:
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    handler.setFormatter(RuncFormatter(form))
    root.addHandler(handler)


# ---------------------------------------------------------------------- the runtime behind the CLI


class Options:
    """The global options, kept for the subcommands."""

    def __init__(self, root: str, debug: bool) -> None:
        self.root = root
        self.debug = debug

    def runtime(self) -> Any:
        """The OCI lifecycle under --root (imported on first use: `spec` and `features` do not pay for it)."""
        try:
            from gophernetes.runtime.oci import OciRuntime
        except ImportError as missing:
            raise GophernetesError(f"this build has no OCI lifecycle yet ({missing.name} is missing)") from None
        return OciRuntime(self.root)


pass_options = click.make_pass_decorator(Options)

# Flags engines pass that change nothing here, and the ones we cannot honour.
REFUSED = {
    "systemd_cgroup": "--systemd-cgroup: the systemd cgroup driver is not supported; use cgroupfs "
                      "(containerd: SystemdCgroup = false; podman: cgroup_manager = \"cgroupfs\")",
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", default=DEFAULT_ROOT, show_default=True, metavar="DIR",
              help="Where the state of the containers is kept (one folder per container).")
@click.option("--log", "log_path", metavar="FILE", help="Write the log (and errors) to FILE instead of stderr.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="The log's format, as runc's.")
@click.option("--debug", is_flag=True, help="Log debug messages, and the traceback of an error.")
@click.option("--systemd-cgroup", is_flag=True, help="Refused: the systemd cgroup driver is not supported.")
@click.option("--rootless", type=click.Choice(["true", "false", "auto"]), default="auto", show_default=True,
              help="Accepted for runc's sake; only `true` is refused (gophernetes-runtime runs as root).")
@click.option("--criu", metavar="PATH", hidden=True, help="Accepted and ignored: no checkpoint/restore.")
@click.version_option(package_name="gophernetes", message=f"{PROG} %(version)s\nspec: 1.0.2-dev")
@click.pass_context
def cli(ctx: click.Context, root: str, log_path: str | None, log_format: str, debug: bool, systemd_cgroup: bool,
        rootless: str, criu: str | None) -> None:
    """An OCI runtime with runc's command line: containerd and podman drive it as they drive runc.

    \b
    Examples:
      gophernetes-runtime spec                     # a config.json to edit, next to ./rootfs
      gophernetes-runtime run demo                 # create + start, in the foreground
      ctr run --runc-binary gophernetes-runtime --rootfs ./rootfs demo /bin/sh
      podman --runtime $(which gophernetes-runtime) run --rm busybox true
    """
    configure_logging(log_path, log_format, debug)
    if systemd_cgroup:
        raise UsageError(REFUSED["systemd_cgroup"])
    if rootless == "true":
        raise UsageError("--rootless=true: rootless containers are not supported; run as root")
    ctx.obj = Options(os.path.abspath(root), debug)


# ---------------------------------------------------------------------- lifecycle


def _create_options(function):
    for decorator in reversed([
        click.option("--bundle", "-b", default=".", metavar="DIR", help="The bundle: config.json and its root."),
        click.option("--pid-file", metavar="FILE", help="Write the container's init pid to FILE."),
        click.option("--console-socket", metavar="PATH", help="Send the terminal's master over this unix socket."),
        click.option("--no-pivot", is_flag=True, help="Change root with MS_MOVE+chroot, not pivot_root."),
        click.option("--no-new-keyring", is_flag=True, help="Keep the caller's session keyring."),
        click.option("--preserve-fds", type=int, default=0, help="Pass N more descriptors (from 3) to the init."),
        click.argument("container_id", metavar="ID"),
    ]):
        function = decorator(function)
    return function


@cli.command()
@_create_options
@pass_options
def create(options: Options, container_id: str, **create_options: Any) -> None:
    """Create container ID from a bundle; its process waits until `start`."""
    options.runtime().create(container_id, **_bundle_options(create_options))


@cli.command()
@_create_options
@click.option("--detach", "-d", is_flag=True, help="Return once started; do not wait for the container.")
@click.option("--keep", is_flag=True, help="Do not delete the container after it exits.")
@pass_options
def run(options: Options, container_id: str, detach: bool, keep: bool, **create_options: Any) -> None:
    """Create and start container ID; without --detach, wait and exit with its status."""
    status = options.runtime().run(container_id, detach=detach, keep=keep, **_bundle_options(create_options))
    sys.exit(0 if detach else status)


@cli.command()
@click.argument("container_id", metavar="ID")
@pass_options
def start(options: Options, container_id: str) -> None:
    """Start the process of created container ID."""
    options.runtime().start(container_id)


@cli.command()
@click.argument("container_id", metavar="ID")
@pass_options
def state(options: Options, container_id: str) -> None:
    """Print the state of container ID (the runtime-spec's state JSON)."""
    click.echo(json.dumps(options.runtime().state(container_id), indent=2))


@cli.command()
@click.option("--all", "-a", "all_processes", is_flag=True, help="Signal every process of the container.")
@click.argument("container_id", metavar="ID")
@click.argument("signal_text", metavar="[SIGNAL]", default="SIGTERM")
@pass_options
def kill(options: Options, container_id: str, signal_text: str, all_processes: bool) -> None:
    """Send SIGNAL (a name, with or without SIG, or a number; default SIGTERM) to container ID."""
    number = parse_signal(signal_text)
    options.runtime().kill(container_id, number, all_processes=all_processes)


@cli.command()
@click.option("--force", "-f", is_flag=True, help="Kill the container first if it is running.")
@click.argument("container_id", metavar="ID")
@pass_options
def delete(options: Options, container_id: str, force: bool) -> None:
    """Delete container ID and everything the runtime made for it."""
    options.runtime().delete(container_id, force=force)


@cli.command()
@click.argument("container_id", metavar="ID")
@pass_options
def pause(options: Options, container_id: str) -> None:
    """Freeze every process of container ID (the freezer cgroup)."""
    options.runtime().pause(container_id)


@cli.command()
@click.argument("container_id", metavar="ID")
@pass_options
def resume(options: Options, container_id: str) -> None:
    """Thaw container ID."""
    options.runtime().resume(container_id)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.option("--format", "-f", "form", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.argument("container_id", metavar="ID")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@pass_options
def ps(options: Options, container_id: str, form: str, ps_args: tuple[str, ...]) -> None:
    """The processes of container ID: `--format json` prints their pids (as containerd asks)."""
    if form == "json":
        if ps_args:
            raise UsageError("ps: --format json takes no ps arguments")
        click.echo(json.dumps(options.runtime().pids(container_id)))
    else:
        click.echo(options.runtime().ps_table(container_id, list(ps_args) or ["-ef"]), nl=False)


@cli.command("list")
@click.option("--format", "-f", "form", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="Only the IDs.")
@pass_options
def list_containers(options: Options, form: str, quiet: bool) -> None:
    """The containers under --root."""
    states = options.runtime().list()
    if quiet:
        click.echo("".join(f"{s['id']}\n" for s in states), nl=False)
    elif form == "json":
        click.echo(json.dumps(states))
    else:
        click.echo(format_table(states), nl=False)


@cli.command("exec", context_settings={"ignore_unknown_options": False, "allow_interspersed_args": False})
@click.option("--process", "-p", "process_file", metavar="FILE", help="The process as JSON (config.json's process).")
@click.option("--detach", "-d", is_flag=True, help="Return once started; do not wait.")
@click.option("--pid-file", metavar="FILE", help="Write the new process's pid to FILE.")
@click.option("--tty", "-t", is_flag=True, help="Give the process a terminal (needs --console-socket).")
@click.option("--console-socket", metavar="PATH", help="Send the terminal's master over this unix socket.")
@click.option("--cwd", metavar="DIR", help="Working directory inside the container.")
@click.option("--env", "-e", multiple=True, metavar="KEY=VALUE", help="Add or replace an environment variable.")
@click.option("--user", "-u", metavar="UID[:GID]", help="Run as this numeric user (and group).")
@click.option("--additional-gids", "-g", multiple=True, type=int, metavar="GID", help="A supplementary group.")
@click.option("--cap", "-c", multiple=True, metavar="CAP", help="Add a capability.")
@click.option("--no-new-privs", is_flag=True, help="Set no_new_privs for the process.")
@click.option("--preserve-fds", type=int, default=0, help="Pass N more descriptors (from 3).")
@click.argument("container_id", metavar="ID")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@pass_options
def exec_command(options: Options, container_id: str, process_file: str | None, detach: bool, pid_file: str | None,
                 console_socket: str | None, command: tuple[str, ...], **overrides: Any) -> None:
    """Run another process in running container ID: `--process FILE` or COMMAND [ARG...]."""
    process = exec_process(process_file, list(command), overrides)
    status = options.runtime().exec(container_id, process, detach=detach, pid_file=pid_file,
                                    console_socket=console_socket, whole=process_file is not None)
    sys.exit(0 if detach else status)


# ---------------------------------------------------------------------- bundles and their documents


@cli.command()
@click.option("--bundle", "-b", default=".", metavar="DIR", help="Write DIR/config.json.")
@click.option("--rootless", is_flag=True, help="A config for a user namespace mapping root to the caller.")
def spec(bundle: str, rootless: bool) -> None:
    """Write a default config.json (as `runc spec` does) to edit, next to a rootfs/ folder."""
    from gophernetes.runtime.default_spec import default_spec

    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise UsageError(f"File {path} exists. Remove it first")
    document = default_spec(rootless=rootless, uid=os.getuid(), gid=os.getgid())
    try:
        with open(path, "x") as file:
            file.write(json.dumps(document, indent=2) + "\n")
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None


@cli.command()
def features() -> None:
    """Print what this runtime supports (the runtime-spec features document)."""
    from gophernetes.runtime.features import features as document

    click.echo(json.dumps(document(), indent=4))


def _unsupported(name: str, why: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                   help=f"Not supported: {why}.", add_help_option=False)
    def refuse() -> None:
        raise UsageError(f"{name}: not supported by {PROG}: {why}")

    return refuse


for _name, _why in (("checkpoint", "no CRIU"), ("restore", "no CRIU"), ("update", "limits are fixed at create"),
                    ("events", "no statistics stream")):
    cli.add_command(_unsupported(_name, _why))


# ---------------------------------------------------------------------- pure helpers (unit-tested)


def parse_signal(text: str) -> int:
    """SIGNAL as `kill` takes it, or a UsageError naming it."""
    from gophernetes.linux import signals

    try:
        return signals.parse(text)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _bundle_options(options: dict[str, Any]) -> dict[str, Any]:
    """create's options, with the bundle made absolute (the state records where it is)."""
    return {**options, "bundle": os.path.abspath(options["bundle"])}


def exec_process(process_file: str | None, command: list[str], overrides: dict[str, Any]) -> dict:
    """The `process` object of an exec: the --process file as is (the whole process, as runc
    takes it), or one built from COMMAND and the flags, whose keys left out the runtime takes
    from the container's own process."""
    if process_file:
        if command:
            raise UsageError("exec: give either --process FILE or a COMMAND, not both")
        try:
            with open(process_file) as file:
                document = json.load(file)
        except (OSError, ValueError) as error:
            raise UsageError(f"exec: cannot read the process {process_file}: {error}") from None
        if not isinstance(document, dict) or not document.get("args"):
            raise UsageError(f"exec: {process_file} must be a JSON object with non-empty args")
        if overrides.get("tty"):
            document["terminal"] = True
        return document
    if not command:
        raise UsageError("exec: a COMMAND (or --process FILE) is required")
    if overrides.get("preserve_fds"):
        raise UsageError("exec: --preserve-fds: passing more descriptors to the process is not supported")
    process: dict[str, Any] = {"args": command, "terminal": bool(overrides.get("tty"))}
    if overrides.get("cwd"):
        process["cwd"] = overrides["cwd"]
    if overrides.get("env"):
        process["env"] = list(overrides["env"])
    if overrides.get("user"):
        process["user"] = parse_user(overrides["user"], overrides.get("additional_gids") or ())
    elif overrides.get("additional_gids"):
        raise UsageError("exec: --additional-gids needs --user")
    if overrides.get("cap"):
        process["capabilities"] = {"add": [c.upper() if c.upper().startswith("CAP_") else f"CAP_{c.upper()}"
                                           for c in overrides["cap"]]}
    if overrides.get("no_new_privs"):
        process["noNewPrivileges"] = True
    return process


def parse_user(text: str, additional_gids: tuple[int, ...] | list[int] = ()) -> dict:
    """`--user UID[:GID]` (numbers only, as runc's exec) as the spec's user object."""
    uid_text, _, gid_text = text.partition(":")
    if not uid_text.isdigit() or (gid_text and not gid_text.isdigit()):
        raise UsageError(f"exec: --user {text!r}: give a numeric UID[:GID]")
    user: dict[str, Any] = {"uid": int(uid_text), "gid": int(gid_text or 0)}
    if additional_gids:
        user["additionalGids"] = list(additional_gids)
    return user


def format_table(states: list[dict]) -> str:
    """`list`'s table, with runc's columns."""
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    rows += [(s["id"], str(s.get("pid", 0)), s["status"], s.get("bundle", ""), s.get("created", ""),
              s.get("owner", "root")) for s in states]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n"
                   for row in rows)


# ---------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """Run the command; an error is one line on stderr, an "error" entry in --log, exit 1 (runc's way)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=arguments, prog_name=PROG, standalone_mode=False)
        code = 0
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else 0
    except (GophernetesError, click.ClickException, OSError) as error:
        code = _report(error, debug="--debug" in arguments)
    except click.exceptions.Abort:
        code = 130
    sys.stdout.flush()
    sys.exit(code)


def _report(error: BaseException, debug: bool) -> int:
    """Log the error as runc does (the log's last "error" entry is what containerd shows) and
    print it as one line on stderr."""
    message = error.format_message() if isinstance(error, click.ClickException) else str(error)
    if isinstance(error, OSError) and not isinstance(error, GophernetesError):
        message = f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
    logger = logging.getLogger("gophernetes")
    if not logger.handlers:
        configure_logging(None, "text", debug)
    to_file = any(isinstance(handler, logging.FileHandler) for handler in logger.handlers)
    if to_file:
        log.error(message, exc_info=error if debug else None)
    click.echo(f"{PROG}: {message}", err=True)
    if debug and not to_file:
        import traceback

        traceback.print_exception(error)
    return 1


if __name__ == "__main__":
    main()
