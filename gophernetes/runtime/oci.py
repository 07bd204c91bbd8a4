"""runc's operations over a state directory, on top of the lifecycle: what `gophernetes-runtime` calls.

runtime/lifecycle.py gives create, start, state, kill and delete as the runtime-spec
describes them. An engine asks for more, the way runc gives it (runc's own command line,
not the spec): the init's pid in a --pid-file, a terminal sent over a --console-socket,
`run` (create + start + wait), `exec` of a process given as JSON, `pause`/`resume` (the
freezer), `ps` (the cgroup's processes), `list`, `kill --all`, and the bundle's hooks at
their moments. Each is a few lines here, over the lifecycle and linux/.

A terminal is a pty the init makes in the container's own devpts, its master sent to the
engine's --console-socket (or, for `run` on our own terminal, back to us), as runc does.
The hooks of creation run at runc's moment: the init stops with its mounts done, before
pivot_root; prestart and createRuntime hooks run here, in the runtime's namespaces, then
the init runs the createContainer hooks in the container's (runtime/init.run_create_hooks).
startContainer hooks run in the container (joined as exec joins it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from contextlib import suppress
from pathlib import Path
from typing import Any

from gophernetes.errors import Conflict, GophernetesError, NotFound, UsageError
from gophernetes.runtime import hooks as oci_hooks
from gophernetes.runtime import lifecycle

PAUSED = "paused"


class OciRuntime:
    """The containers under one --root, as runc manages them."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ the lifecycle

    def create(self, container_id: str, bundle: str, pid_file: str | None = None, console_socket: str | None = None,
               no_pivot: bool = False, no_new_keyring: bool = False, preserve_fds: int = 0) -> dict:
        """Create the container (its init waits for `start`), run the create-time hooks, write the pid file."""
        config = _read_config(bundle)
        if preserve_fds:
            raise UsageError("--preserve-fds: passing more descriptors to the container is not supported")
        console = _console(config, console_socket)
        return self._create(container_id, bundle, config, console, pid_file, no_pivot)

    def _create(self, container_id: str, bundle: str, config: dict, console, pid_file: str | None,
                no_pivot: bool) -> dict:
        hooks = oci_hooks.Hooks.from_spec(config.get("hooks"))
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

        def before_pivot(pid: int) -> None:  # in our namespaces, the init waiting with its mounts done
            for stage in ("prestart", "createRuntime"):
                oci_hooks.run_stage(hooks, stage, {**lifecycle.state(self.root, container_id), "pid": pid})

        early = any(hooks[stage] for stage in ("prestart", "createRuntime", "createContainer"))
        state = lifecycle.create(self.root, container_id, bundle, no_pivot=no_pivot, console=console,
                                 before_pivot=before_pivot if early else None)
        try:
            if pid_file:
                _write_atomically(pid_file, str(state["pid"]))
        except BaseException:
            lifecycle.delete(self.root, container_id, force=True)
            raise
        return state

    def start(self, container_id: str) -> None:
        """Let the init exec its process; startContainer before, poststart after (warnings only)."""
        state = lifecycle.state(self.root, container_id)
        hooks = self._hooks(state)
        if hooks["startContainer"] and state["status"] == lifecycle.CREATED:
            from gophernetes.runtime.exec_process import in_container

            try:
                oci_hooks.run_stage(hooks, "startContainer", state, in_container(state, self._cgroup(container_id)))
            except BaseException:
                self.delete(container_id, force=True)  # the spec: a failed startContainer hook ends the container
                raise
        lifecycle.start(self.root, container_id)
        # runc 1.1 gives poststart hooks the state it read before starting ("created"); hooks
        # written for runc see the same here
        oci_hooks.run_stage(hooks, "poststart", state)

    def run(self, container_id: str, bundle: str, detach: bool = False, keep: bool = False, **options: Any) -> int:
        """create + start; without `detach`, wait for the init (our child: we are its subreaper) and
        return its status as a shell would, then delete the container unless `keep`.

        A process.terminal without --console-socket, in the foreground, gets a pty relayed to
        our own terminal (as `runc run` does after `runc spec`, whose process asks for one).
        """
        config = _read_config(bundle)
        if (config.get("process") or {}).get("terminal") and not options.get("console_socket") and not detach:
            return self._run_on_our_terminal(container_id, bundle, config, keep, options)
        state = self.create(container_id, bundle, **options)
        try:
            self.start(container_id)
        except BaseException:
            with suppress(NotFound):  # a failed startContainer hook has deleted it already
                self.delete(container_id, force=True)
            raise
        if detach:
            return 0
        status = _wait_for(state["pid"])
        if not keep:
            self.delete(container_id, force=True)
        return status

    def _run_on_our_terminal(self, container_id: str, bundle: str, config: dict, keep: bool,
                             options: dict[str, Any]) -> int:
        from gophernetes.runtime import terminal

        if options.get("preserve_fds"):
            raise UsageError("--preserve-fds: passing more descriptors to the container is not supported")
        console = terminal.Console()  # the init's pty master comes back to us, sized like our terminal
        # Raw before the relay starts (at create): a ^D typed, or script(1)'s end of input,
        # is then a byte for the container's terminal, not an end-of-file that stops the relay.
        with terminal.raw_mode(0):
            state = self._create(container_id, bundle, config, console, options.get("pid_file"),
                                 bool(options.get("no_pivot")))
            try:
                self.start(container_id)
                status = _wait_for(state["pid"])
                console.finish()
            finally:
                if not keep:
                    self.delete(container_id, force=True)
        return status

    def state(self, container_id: str) -> dict:
        """The spec's state; "paused" while the container's cgroup is frozen (as runc reports it)."""
        state = lifecycle.state(self.root, container_id)
        if state["status"] == lifecycle.RUNNING and self._cgroup(container_id).is_frozen():
            state["status"] = PAUSED
        return state

    def kill(self, container_id: str, number: int, all_processes: bool = False) -> None:
        """Signal the init, or with `all_processes` every process in the container's cgroup."""
        if not all_processes:
            lifecycle.kill(self.root, container_id, number)
            return
        cgroup = self._cgroup(container_id)
        for pid in cgroup.pids():
            try:
                os.kill(pid, number)
            except ProcessLookupError:
                pass
        if number == signal.SIGKILL and cgroup.is_frozen():
            cgroup.thaw()  # a frozen process cannot die until thawed

    def delete(self, container_id: str, force: bool = False) -> None:
        """Remove the container (force: kill it first), then run its poststop hooks (warnings only)."""
        state = lifecycle.state(self.root, container_id)
        hooks = self._hooks(state)
        if force and state["status"] != lifecycle.STOPPED:
            cgroup = self._cgroup(container_id)
            if cgroup.directories() and cgroup.is_frozen():
                cgroup.thaw()
        lifecycle.delete(self.root, container_id, force=force)
        oci_hooks.run_stage(hooks, "poststop", {**state, "status": lifecycle.STOPPED})

    # ------------------------------------------------------------------ beyond the spec: runc's extras

    def pause(self, container_id: str) -> None:
        """Freeze every process of the container (the freezer cgroup)."""
        if self.state(container_id)["status"] != lifecycle.RUNNING:
            raise Conflict(f"container {container_id} is not running")
        self._cgroup(container_id).freeze()

    def resume(self, container_id: str) -> None:
        if self.state(container_id)["status"] != PAUSED:
            raise Conflict(f"container {container_id} is not paused")
        self._cgroup(container_id).thaw()

    def pids(self, container_id: str) -> list[int]:
        """The host pids of the container's processes: those of its cgroup that live in its pid
        namespace (an exec's helper joins the cgroup but stays in the host's, waiting outside)."""
        state = lifecycle.state(self.root, container_id)  # NotFound for an unknown id
        pids = self._cgroup(container_id).pids()
        namespace = _pid_namespace(state.get("pid"))
        if namespace is None:
            return sorted(pids)
        return sorted(pid for pid in pids if _pid_namespace(pid) == namespace)

    def ps_table(self, container_id: str, ps_args: list[str]) -> str:
        """`ps ARGS` of the host, only the header and the container's processes (as runc ps)."""
        pids = set(self.pids(container_id))
        lines = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=False).stdout.splitlines()
        if not lines:
            raise GophernetesError(f"ps {' '.join(ps_args)} printed nothing")
        column = lines[0].split().index("PID") if "PID" in lines[0].split() else None
        if column is None:
            raise UsageError("ps: the arguments must keep the PID column")
        chosen = [line for line in lines[1:] if line.split()[column].isdigit() and int(line.split()[column]) in pids]
        return "".join(f"{line}\n" for line in [lines[0], *chosen])

    def list(self) -> list[dict]:
        """Every container under the root, with runc list's fields."""
        found = []
        for container_id in lifecycle.list_ids(self.root):
            try:
                state = self.state(container_id)
            except GophernetesError:
                continue  # a folder being created or deleted right now
            record = self._record(container_id)
            found.append({**state, "pid": state.get("pid", 0), "created": _iso(record.get("created")),
                          "owner": "root"})
        return found

    def exec(self, container_id: str, process: dict, detach: bool = False, pid_file: str | None = None,
             console_socket: str | None = None, whole: bool = False) -> int:
        """Run `process` (config.json's process object) in the running container: `whole`
        (a --process file), as it is; else over the container's own process (see exec_process).

        Detached (how containerd and podman exec), the process is handed to the caller: a
        child of ours that joins the container runs it and exits with its status; its pid
        goes to `pid_file`, and once we exit the caller (a subreaper) reaps it.
        """
        from gophernetes.runtime.exec_process import start_exec

        state = self.state(container_id)
        if state["status"] != lifecycle.RUNNING:
            raise Conflict(f"cannot exec in a {state['status']} container (it must be running)")
        pid = start_exec(state, self._cgroup(container_id), process, console_socket, whole=whole)
        if pid_file:
            _write_atomically(pid_file, str(pid))
        return 0 if detach else _wait_for(pid)

    # ------------------------------------------------------------------ helpers

    def _record(self, container_id: str) -> dict:
        try:
            return json.loads((self.root / container_id / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def _cgroup(self, container_id: str):
        from gophernetes.linux.cgroups import open_driver

        parent, _, name = (self._record(container_id).get("cgroup") or "").rpartition("/")
        if not name:
            raise GophernetesError(f"container {container_id} has no cgroup recorded")
        return open_driver(parent).open(name)

    def _hooks(self, state: dict) -> oci_hooks.Hooks:
        try:
            return oci_hooks.Hooks.from_spec(_read_config(state["bundle"]).get("hooks"))
        except GophernetesError:
            return oci_hooks.Hooks()


def _read_config(bundle: str) -> dict:
    try:
        document = json.loads((Path(bundle) / "config.json").read_text())
    except FileNotFoundError:
        raise UsageError(f"no config.json in the bundle {bundle}") from None
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {bundle}/config.json: {error}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{bundle}/config.json is not a JSON object")
    return document


def _console(config: dict, console_socket: str | None):
    """With process.terminal, the engine's console socket, through which the init sends the master
    of a pty it makes in the container's own devpts (runc's rule: a terminal needs
    --console-socket, and only then); None without a terminal."""
    process = config.get("process") or {}
    if not process.get("terminal"):
        if console_socket:
            raise UsageError("--console-socket given but process.terminal is false")
        return None
    if not console_socket:
        raise UsageError("process.terminal is true: give --console-socket (or set terminal to false)")
    from gophernetes.runtime.exec_process import EngineConsole

    return EngineConsole(console_socket)


def _pid_namespace(pid: int | None) -> str | None:
    """Which pid namespace `pid` is in ("pid:[4026532...]"), None if it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") if pid else None
    except OSError:
        return None


def _wait_for(pid: int) -> int:
    """Wait for our child `pid`; its status as a shell reports it (128+N for signal N)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        raise GophernetesError(f"process {pid} is not ours to wait for") from None
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _write_atomically(path: str, text: str) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def _iso(timestamp: float | None) -> str:
    import time

    if not timestamp:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
