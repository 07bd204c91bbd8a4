"""The OCI runtime's lifecycle, as runtime-spec's runtime.md describes it and runc does it:

    create(state_dir, id, bundle)  the container's namespaces, cgroup and root are made; its
                                   init waits on STATE_DIR/ID/exec.fifo      -> "created"
    start(state_dir, id)           read the fifo: init execs process.args    -> "running"
    state(state_dir, id)           {ociVersion, id, status, pid, bundle, annotations}
    kill(state_dir, id, signal)    signal the container's init
    delete(state_dir, id, force)   its cgroup and state go (a running one only with force)

State lives in one folder per container under the caller's `state_dir` (runc's --root):
state.json and exec.fifo. `gophernetes run` does not come this way: it creates and starts
in one process (the native engine's run.run_container), with a pipe instead of the fifo. A container made
here is nobody's child once `create` returns (as with runc, the caller's subreaper — a
shim — reaps it); its status is read from the kernel: a dead init is "stopped".
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal as signals
import time
from pathlib import Path

from gophernetes.errors import Conflict, GophernetesError, NotFound, UsageError
from gophernetes.runtime import process
from gophernetes.runtime.bundle import Container
from gophernetes.runtime.oci_config import OCI_VERSION

CREATING, CREATED, RUNNING, STOPPED = "creating", "created", "running", "stopped"
FIFO = "exec.fifo"


def create(state_dir: str | os.PathLike, container_id: str, bundle: str | os.PathLike,
           stdio: tuple[int, int, int] | None = None, no_pivot: bool = False, console=None,
           before_pivot=None) -> dict:
    """Create the container `container_id` from `bundle`; return its state ("created").

    Its init has done everything but exec: it waits on the exec fifo until `start`. A
    failure (a bad config.json, a mount refused) removes what was made and raises.
    `console` (process.terminal): the init makes a pty in the container's own devpts and
    sends its master through `console.theirs` (runtime/exec_process.EngineConsole: the
    engine's --console-socket), as runc does. `before_pivot(pid)`: called while the init
    waits with its mounts done, before pivot_root; the init then runs the bundle's
    createContainer hooks itself (runtime/init.run_create_hooks).
    """
    from gophernetes.runtime import launcher

    if not container_id or "/" in container_id or container_id.startswith("."):
        raise UsageError(f"invalid container id {container_id!r}")
    folder = Path(state_dir) / container_id
    container = Container.load(container_id, bundle, no_pivot=no_pivot, die_with_parent=False)
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        raise Conflict(f"container {container_id} exists already (delete it first)") from None
    cgroup = None
    try:
        _write(folder, {"id": container_id, "bundle": str(container.bundle), "status": CREATING})
        os.mkfifo(folder / FIFO, 0o600)
        launcher.make_directories(container)
        cgroup = launcher.make_cgroup(container)
        remap = launcher.remap_ids(container, folder / "layers") if container.has_namespace("user") else None
        started = launcher.start(container, cgroup, stdio=stdio, remap=remap, console=console,
                                 fifo=process.ExecFifo(str(folder / FIFO)), before_pivot=before_pivot)
        os.close(started.error_fd)
        _write(folder, {"id": container_id, "bundle": str(container.bundle), "status": CREATED,
                        "pid": started.pid, "pid_started": process.start_time(started.pid),
                        "cgroup": "/".join(launcher.cgroup_location(container.config.linux.cgroups_path,
                                                                   container_id)), "created": time.time()})
    except BaseException:
        if cgroup is not None:
            cgroup.kill_all()
            cgroup.remove(timeout=5)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return state(state_dir, container_id)


def start(state_dir: str | os.PathLike, container_id: str, timeout: float = 10) -> None:
    """Let the created container's init exec its process: open the fifo and read its one byte."""
    folder, record = _load(state_dir, container_id)
    status = _status(folder, record)
    if status != CREATED:
        raise Conflict(f"container {container_id} is {status}: only a created container can be started")
    reader = os.open(folder / FIFO, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        deadline = time.monotonic() + timeout
        while True:
            ready = select.select([reader], [], [], 0.05)[0]
            if ready and os.read(reader, 1):
                break  # init wrote its byte: it goes on to exec
            if not process.is_alive(record["pid"], record.get("pid_started")) or time.monotonic() > deadline:
                raise GophernetesError(f"container {container_id}: its init did not take the start")
            if ready:
                time.sleep(0.001)  # end-of-file: init has not opened its end yet
    finally:
        os.close(reader)
    os.unlink(folder / FIFO)
    _write(folder, {**record, "status": RUNNING, "started": time.time()})


def state(state_dir: str | os.PathLike, container_id: str) -> dict:
    """The spec's state of the container: ociVersion, id, status, pid, bundle, annotations."""
    folder, record = _load(state_dir, container_id)
    status = _status(folder, record)
    annotations: dict[str, str] = {}
    try:
        annotations = json.loads((Path(record["bundle"]) / "config.json").read_text()).get("annotations") or {}
    except (OSError, ValueError):
        pass
    result = {"ociVersion": OCI_VERSION, "id": container_id, "status": status, "bundle": record["bundle"],
              "annotations": annotations}
    if status in (CREATED, RUNNING):
        result["pid"] = record["pid"]
    return result


def kill(state_dir: str | os.PathLike, container_id: str, signal: int = signals.SIGTERM) -> None:
    """Send `signal` to the container's init (refused once it has stopped, as the spec says)."""
    folder, record = _load(state_dir, container_id)
    if _status(folder, record) not in (CREATED, RUNNING):
        raise Conflict(f"container {container_id} is not running")
    try:
        os.kill(record["pid"], signal)
    except ProcessLookupError:
        pass


def delete(state_dir: str | os.PathLike, container_id: str, force: bool = False) -> None:
    """Remove a stopped container's cgroup and state; with `force`, kill a running one first."""
    from gophernetes.linux.cgroups import open_driver

    folder, record = _load(state_dir, container_id)
    status = _status(folder, record)
    if status in (CREATED, RUNNING) and not force:
        raise Conflict(f"container {container_id} is {status}: kill it first, or delete --force")
    parent, _, name = (record.get("cgroup") or "").rpartition("/")
    if name:
        cgroup = open_driver(parent).open(name)
        if cgroup.directories():
            cgroup.kill_all()
            cgroup.remove(timeout=5)
    process.wait_for_exit(record.get("pid"), record.get("pid_started"), 5)
    shutil.rmtree(folder, ignore_errors=True)


def list_ids(state_dir: str | os.PathLike) -> list[str]:
    """The containers under `state_dir` (runc list)."""
    root = Path(state_dir)
    return sorted(entry.name for entry in root.iterdir() if entry.is_dir()) if root.is_dir() else []


def _load(state_dir, container_id: str) -> tuple[Path, dict]:
    folder = Path(state_dir) / container_id
    try:
        return folder, json.loads((folder / "state.json").read_text())
    except FileNotFoundError:
        raise NotFound(f"container {container_id} does not exist") from None
    except ValueError:
        raise GophernetesError(f"the state of container {container_id} ({folder}/state.json) cannot be read") \
            from None


def _status(folder: Path, record: dict) -> str:
    """What the kernel says: an init that is gone (or a zombie) is stopped, whatever was written."""
    status = record.get("status", CREATING)
    if status in (CREATED, RUNNING) and not process.is_alive(record.get("pid"), record.get("pid_started")):
        return STOPPED
    if status == CREATED and not (folder / FIFO).exists():
        return RUNNING  # started by someone who could not write state.json after
    return status


def _write(folder: Path, record: dict) -> None:
    """state.json, replaced atomically."""
    temporary = folder / f".state.json.{os.getpid()}"
    temporary.write_text(json.dumps(record))
    os.replace(temporary, folder / "state.json")
