"""OCI hooks: programs the bundle asks the runtime to run at fixed points of a container's life.

A config.json may list, under `hooks`, programs for six moments (runtime-spec config.md,
"POSIX-platform Hooks"):

  createRuntime    during `create`, once the namespaces exist, before pivot_root; runs in
                   the runtime's namespaces (e.g. a network plugin wiring the netns)
  createContainer  during `create`, after createRuntime, before pivot_root; runs in the
                   container's namespaces
  startContainer   during `start`, in the container, just before the user's process is
                   executed
  prestart         deprecated, kept for old engines: as createRuntime
  poststart        after the user's process has started, before `start` returns
  poststop         after the container is deleted, before `delete` returns

Each hook is {path, args, env, timeout}: `path` is absolute and executed as is; `args` is
its whole argv (argv[0] included: [path] when absent); `env` is its whole environment
(absent: the runtime's own, as runc does); `timeout` is in seconds. The container's state
JSON (ociVersion, id, status, pid, bundle, annotations) is written to its stdin: that is
how a hook learns which container and which init pid it is about.

What a failure does depends on the moment: for createRuntime, createContainer,
startContainer and prestart it is an error of the operation (the runtime stops the
container and deletes it); for poststart and poststop it is only a warning in the log, and
the remaining hooks still run. A hook that outlives its timeout is killed (SIGKILL) and
counts as failed.

See the runtime-spec:  config.md#posix-platform-hooks, runtime.md#lifecycle
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gophernetes.errors import GophernetesError, UsageError

# The moments, in the order a container meets them.
STAGES = ("createRuntime", "createContainer", "prestart", "startContainer", "poststart", "poststop")
# Stages whose failure is only a warning (config.md: "the runtime MUST log a warning").
WARN_ONLY = frozenset({"poststart", "poststop"})

log = logging.getLogger("gophernetes.runtime.hooks")


class HookFailed(GophernetesError):
    """A hook exited non-zero, was killed by a signal, could not start, or ran out of time."""


@dataclass(frozen=True)
class Hook:
    """One entry of config.json's hooks.<stage> list."""

    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] | None = None
    timeout: float | None = None

    @classmethod
    def from_spec(cls, entry: Mapping, where: str) -> Hook:
        """A Hook from its config.json object; UsageError naming `where` when malformed."""
        path = entry.get("path") if isinstance(entry, Mapping) else None
        if not isinstance(path, str) or not path.startswith("/"):
            raise UsageError(f"{where}.path must be an absolute path, not {path!r}")
        args, env, timeout = entry.get("args"), entry.get("env"), entry.get("timeout")
        for key, value in (("args", args), ("env", env)):
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise UsageError(f"{where}.{key} must be a list of strings")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0):
            raise UsageError(f"{where}.timeout must be a positive number of seconds, not {timeout!r}")
        return cls(path, tuple(args or ()), None if env is None else tuple(env), timeout)

    @property
    def argv(self) -> list[str]:
        return list(self.args) or [self.path]


@dataclass(frozen=True)
class Hooks:
    """Every hook of a bundle, by stage."""

    by_stage: Mapping[str, tuple[Hook, ...]] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, hooks: Mapping | None) -> Hooks:
        """Hooks from config.json's `hooks` object (absent or null: none). Unknown stages are errors."""
        if not hooks:
            return cls({})
        if not isinstance(hooks, Mapping):
            raise UsageError("hooks must be an object of stage: [hook, ...]")
        unknown = sorted(set(hooks) - set(STAGES))
        if unknown:
            raise UsageError(f"unknown hook stage {unknown[0]!r}: the runtime-spec names {', '.join(STAGES)}")
        stages = {}
        for stage, entries in hooks.items():
            if not isinstance(entries, list):
                raise UsageError(f"hooks.{stage} must be a list")
            stages[stage] = tuple(Hook.from_spec(e, f"hooks.{stage}[{i}]") for i, e in enumerate(entries))
        return cls(stages)

    def __getitem__(self, stage: str) -> tuple[Hook, ...]:
        return tuple(self.by_stage.get(stage, ()))


def run_hook(hook: Hook, state: Mapping, runner: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
    """Run one hook with `state` as JSON on its stdin; HookFailed unless it exits 0 in time.

    Its stdout and stderr are kept and quoted in the error, as runc does: they are what
    tells the user why a hook refused.
    """
    where = f"hook {hook.path}"
    try:
        document = json.dumps(dict(state), separators=(",", ":"))  # compact, as runc writes it
        done = runner(hook.argv, executable=hook.path, input=document.encode(), capture_output=True,
                      env=None if hook.env is None else _environ(hook.env), timeout=hook.timeout, check=False,
                      close_fds=True)
    except subprocess.TimeoutExpired:
        raise HookFailed(f"{where}: timed out after {hook.timeout:g} s (killed)") from None
    except OSError as error:
        raise HookFailed(f"{where}: cannot run it: {error.strerror or error}") from None
    if done.returncode != 0:
        status = f"killed by signal {-done.returncode}" if done.returncode < 0 else f"exit status {done.returncode}"
        output = _quoted(done.stdout, "stdout") + _quoted(done.stderr, "stderr")
        raise HookFailed(f"{where}: {status}{output}")


def run_stage(hooks: Hooks, stage: str, state: Mapping,
              runner: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[str]:
    """Run the hooks of `stage` in order. Returns the warnings of a warn-only stage (poststart,
    poststop: every hook runs, failures become warnings, also logged); for the other stages
    the first failure is raised and the hooks after it do not run."""
    if stage not in STAGES:
        raise ValueError(f"unknown hook stage {stage!r}")
    warnings = []
    for index, hook in enumerate(hooks[stage]):
        try:
            run_hook(hook, state, runner)
        except HookFailed as failure:
            message = f"{stage} hook #{index}: {failure}"
            if stage not in WARN_ONLY:
                raise HookFailed(message) from None
            log.warning(message)
            warnings.append(message)
    return warnings


def _environ(entries: tuple[str, ...]) -> dict[str, str]:
    """config.json's ["KEY=value", ...] as the mapping subprocess wants (a later KEY wins)."""
    pairs = (entry.partition("=") for entry in entries)
    return {key: value for key, _, value in pairs}


def _quoted(output: bytes | None, name: str) -> str:
    text = (output or b"").decode(errors="replace").strip()
    return f", {name}: {text[-500:]}" if text else ""
