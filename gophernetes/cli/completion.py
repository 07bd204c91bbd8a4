"""`gophernetes completion bash|zsh|fish`: TAB completion, by click's shell completion.

The printed script makes the shell call `gophernetes` again with _GOPHERNETES_COMPLETE
set, and click answers with the commands and options that fit. Container, image, volume
and network names come from the engine (--engine, --root as on the command line being
completed); a completer that cannot ask (no root, no daemon) offers nothing rather than
an error in the middle of the user's line.
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem, get_completion_class

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_GOPHERNETES_COMPLETE"


def _engine(ctx: click.Context):
    from gophernetes.engines import get_engine
    from gophernetes.paths import StateRoot

    params = ctx.find_root().params
    return get_engine(params.get("engine") or "native", StateRoot.from_option(params.get("root")),
                      params.get("containerd_address"))


def _matching(names, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(name) for name in sorted(set(names)) if name.startswith(incomplete)]


def complete_containers(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Names of every container (stopped ones too: rm, logs and inspect take those)."""
    try:
        return _matching((c.name for c in _engine(ctx).containers(all=True)), incomplete)
    except Exception:  # noqa: BLE001 — completion never fails the shell's line
        return []


def complete_images(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    try:
        return _matching((i.name for i in _engine(ctx).images()), incomplete)
    except Exception:  # noqa: BLE001
        return []


def complete_networks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    try:
        from gophernetes.network import list_networks
        from gophernetes.paths import StateRoot

        root = StateRoot.from_option(ctx.find_root().params.get("root"))
        return _matching((info.network.name for info in list_networks(root)), incomplete)
    except Exception:  # noqa: BLE001
        return []


def complete_volumes(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Named volumes (native engine; the containerd engine has none, so offers none)."""
    try:
        return _matching((v["Name"] for v in _engine(ctx).volumes()), incomplete)
    except Exception:  # noqa: BLE001
        return []


def complete_net_mode(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """run --net: none, host, bridge, and the networks made with `network create`."""
    named = {item.value for item in complete_networks(ctx, param, incomplete)}
    return _matching(named | {mode for mode in ("none", "host", "bridge") if mode.startswith(incomplete)}, incomplete)


def complete_volume_option(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """run -v: a volume name followed by ":", or a host path (the shell's own)."""
    if ":" in incomplete or incomplete.startswith(("/", ".", "~")):
        return [CompletionItem(incomplete, type="file")]
    return [CompletionItem(f"{item.value}:") for item in complete_volumes(ctx, param, incomplete)] + [
        CompletionItem(incomplete, type="file")]


def complete_copy_endpoint(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """cp's SRC and DST: a container name followed by ":", or a host path (the shell's own)."""
    if ":" in incomplete or incomplete.startswith(("/", ".", "~")):
        return [CompletionItem(incomplete, type="file")]
    return [CompletionItem(f"{item.value}:")
            for item in complete_containers(ctx, param, incomplete)] + [CompletionItem(incomplete, type="file")]


def complete_run_arguments(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """run's first argument is the image."""
    if ctx.params.get(param.name or ""):
        return []
    return complete_images(ctx, param, incomplete)


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the TAB-completion script for SHELL.

    It completes commands, options, and container, image, volume and network names
    (run --net and -v too).

    \b
    Examples:
      source <(gophernetes completion bash)              # this shell only
      gophernetes completion bash | sudo tee /usr/share/bash-completion/completions/gophernetes
      gophernetes completion zsh > "${fpath[1]}/_gophernetes"
      gophernetes completion fish > ~/.config/fish/completions/gophernetes.fish

    The gophernetes Ansible role installs the bash one in the lab VM.
    """
    root = ctx.find_root()
    cls = get_completion_class(shell)
    assert cls is not None  # click knows all three of SHELLS
    click.echo(cls(root.command, {}, "gophernetes", COMPLETE_VAR).source())
