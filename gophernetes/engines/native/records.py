"""Container records: what gophernetes remembers about each container, under the state root.

One folder per container in /run/gophernetes/containers/ID/ (a tmpfs: containers do not
survive a reboot, so neither do their records):

    record.json   the RunSpec and the name — written when the container is made (and by rename)
    config.json   the OCI bundle's config (runtime-spec; engines/native_bundle.py) — written
                  once, with the record, never changed; hosts, hostname, resolv.conf beside it
    state.json    status, PIDs, exit code, times — rewritten as the container lives
    container.log its output, one JSON object per line (detached containers)
    upper/ work/ rootfs/   the overlay's writable layer and mount point

Every change happens under one lock (flock on containers/.lock), and every file is
replaced atomically (write a temporary file, then rename over the old one), so a command
killed at any point leaves either the old record or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gophernetes.engines.native.spec import ContainerDirs, RunSpec
from gophernetes.errors import Conflict, GophernetesError, NotFound, UsageError
from gophernetes.names import generate_name
from gophernetes.paths import StateRoot
from gophernetes.runtime import process

CREATED, RUNNING, PAUSED, EXITED = "created", "running", "paused", "exited"

@dataclass
class State:
    """How a container is doing. Rewritten whole on every change."""

    status: str = CREATED
    pid: int | None = None              # host PID of the container's init
    pid_started: int | None = None      # its start time (see process.py): guards against PID reuse
    monitor_pid: int | None = None      # the process that waits for the init: supervisor or `run`
    monitor_started: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    restart_count: int = 0              # times the supervisor started it again (--restart)
    manually_stopped: bool = False      # stop/rm said so: the supervisor does not restart it
    networks: list[str] = field(default_factory=list)  # attached while it runs (attach/detach)


@dataclass
class Record:
    """One container: its spec, name and state, and where its files are."""

    spec: RunSpec
    name: str
    created: float
    detached: bool
    auto_remove: bool
    folder: Path
    state: State = field(default_factory=State)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def pid(self) -> int | None:
        return self.state.pid

    @property
    def dirs(self) -> ContainerDirs:
        return ContainerDirs(self.folder)

    @property
    def log_path(self) -> Path:
        return self.folder / "container.log"


@dataclass
class Damaged:
    """A container folder whose record cannot be read (truncated, deleted, a full disk).

    Its container may still run: its processes are still in the cgroup named by its ID,
    and its network lease is still keyed by its ID. So it is listed (with the problem and
    the path), and `rm -f` still removes it, processes included.
    """

    id: str
    folder: Path
    name: str | None
    problem: str

    def __str__(self) -> str:
        return (f"the record of container {self.name or self.id[:12]} cannot be read ({self.problem}): "
                f"gophernetes rm -f {self.id[:12]} removes it")


class RecordStore:
    """All container records under one state root.

        containers/.lock            the lock every change takes
        containers/.names/NAME      a symlink -> ID: the name is taken (found without reading records)
        containers/ID/              one container's record and files
    """

    def __init__(self, state: StateRoot) -> None:
        self.root = state.containers
        self.names = self.root / ".names"

    @contextlib.contextmanager
    def locked(self):
        """Hold the records lock: only one command changes records at a time."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def create(self, spec: RunSpec, name: str | None, detached: bool, auto_remove: bool,
               files=None) -> Record:
        """Reserve the name and write the record of a new container (under the lock), with
        `files(draft folder)` (name -> text: the bundle's config.json, its /etc files) beside it.

        Everything is written in a hidden folder and renamed into place, so no reader ever
        sees half of it; a failure (a full disk) removes what was written and says so.
        """
        with self.locked():
            self.names.mkdir(exist_ok=True)
            name = name or self._free_generated_name()
            # Until a supervisor takes over, the command making the container is its keeper:
            # if it dies half-way, the next command sees a dead monitor and cleans up.
            me = os.getpid()
            record = Record(spec=spec, name=name, created=time.time(), detached=detached,
                            auto_remove=auto_remove, folder=self.root / spec.id,
                            state=State(monitor_pid=me, monitor_started=process.start_time(me)))
            self._claim(name, spec.id)
            draft = self.root / f".new-{spec.id}"
            try:
                draft.mkdir()
                for file_name, text in (files(draft) if files else {}).items():
                    (draft / file_name).write_text(text)
                write_json(draft / "record.json", {
                    "spec": json.loads(spec.to_json()), "name": name, "created": record.created,
                    "detached": detached, "auto_remove": auto_remove})
                write_json(draft / "state.json", asdict(record.state))
                os.rename(draft, record.folder)
            except OSError as error:
                shutil.rmtree(draft, ignore_errors=True)
                self._release(name)
                raise GophernetesError(f"cannot write the record of container {name} under {self.root}: "
                                       f"{error.strerror}") from error
            return record

    def _claim(self, name: str, container_id: str) -> None:
        """Take `name` for `container_id` (a symlink is created whole, or not at all)."""
        link = self.names / name
        try:
            os.symlink(container_id, link)
            return
        except FileExistsError:
            holder = os.readlink(link)
        if (self.root / holder).is_dir():
            raise Conflict(f'the container name "{name}" is already in use by container {holder[:12]}: '
                           f'remove it (gophernetes rm {name}) or choose another name')
        os.unlink(link)  # its container is gone (a crash between the two): the name is free
        os.symlink(container_id, link)

    def _release(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.names / name)

    def _free_generated_name(self) -> str:
        taken = set(os.listdir(self.names))
        return generate_name(taken)

    def delete(self, record: Record | Damaged) -> None:
        """Forget a container: its folder and its name."""
        with self.locked():
            shutil.rmtree(record.folder, ignore_errors=True)
            name = record.name
            if name and (self.names / name).is_symlink() and os.readlink(self.names / name) == record.id:
                self._release(name)

    def load(self, folder: Path) -> Record | Damaged:
        """The record in `folder`, or what is wrong with it."""
        try:
            config = json.loads((folder / "record.json").read_text())
            state = json.loads((folder / "state.json").read_text())
            return Record(spec=RunSpec.from_dict(config["spec"]), name=config["name"],
                          created=config["created"], detached=config["detached"],
                          auto_remove=config["auto_remove"], folder=folder, state=State(**state))
        except (OSError, ValueError, KeyError, TypeError) as error:
            problem = f"{error.strerror}: {error.filename}" if isinstance(error, OSError) else \
                f"{type(error).__name__} in {folder}/record.json or state.json"
            return Damaged(folder.name, folder, self._name_of(folder.name), problem)

    def _name_of(self, container_id: str) -> str | None:
        """The name whose link points at `container_id` (a damaged record cannot say it itself)."""
        if not self.names.is_dir():
            return None
        return next((link.name for link in self.names.iterdir()
                     if link.is_symlink() and os.readlink(link) == container_id), None)

    def ids(self) -> list[str]:
        """Every container folder's ID, readable or not."""
        try:
            with os.scandir(self.root) as entries:  # the type comes with the entry: no stat per container
                return [entry.name for entry in entries if not entry.name.startswith(".") and entry.is_dir()]
        except FileNotFoundError:
            return []

    def scan(self) -> tuple[list[Record], list[Damaged]]:
        """All records, oldest first, and the folders whose record cannot be read."""
        loaded = [self.load(self.root / container_id) for container_id in self.ids()]
        records = sorted((r for r in loaded if isinstance(r, Record)), key=lambda r: r.created)
        return records, [d for d in loaded if isinstance(d, Damaged)]

    def all(self) -> list[Record]:
        return self.scan()[0]

    def find(self, name_or_id: str) -> Record | Damaged:
        """The container called `name_or_id`, or whose ID starts with it (docker's rules).

        Names are looked up in the names index and IDs among the folders: no record is read
        but the one found.
        """
        link = self.names / name_or_id
        if "/" not in name_or_id and link.is_symlink() and (self.root / os.readlink(link)).is_dir():
            return self.load(self.root / os.readlink(link))
        ids = self.ids()
        if name_or_id in ids:
            return self.load(self.root / name_or_id)
        matches = [i for i in ids if len(name_or_id) >= 3 and i.startswith(name_or_id)]
        if len(matches) > 1:
            raise UsageError(f"the ID prefix {name_or_id!r} matches {len(matches)} containers: give more of it")
        if not matches:
            raise NotFound(f"no such container: {name_or_id} (see gophernetes list --all)")
        return self.load(self.root / matches[0])

    def save_state(self, record: Record) -> None:
        write_json(record.folder / "state.json", asdict(record.state))

    def update(self, record: Record, **changes) -> None:
        """Change some fields of the container's state, under the lock, from its latest version."""
        with self.locked():
            try:
                current = json.loads((record.folder / "state.json").read_text())
            except FileNotFoundError:
                return  # removed meanwhile (rm -f): nothing left to update
            current.update(changes)
            record.state = State(**current)
            self.save_state(record)

    def reload_state(self, record: Record) -> Record:
        fresh = self.load(record.folder)
        if not isinstance(fresh, Record):
            raise NotFound(f"no such container: {record.name} (it was removed)")
        return fresh


def find(state: StateRoot, name_or_id: str) -> Record | None:
    """For other packages (network attach): the record, or None when there is no such container."""
    try:
        found = RecordStore(state).find(name_or_id)
    except NotFound:
        return None
    if isinstance(found, Damaged):
        raise GophernetesError(str(found))
    return found


def write_json(path: Path, data: dict) -> None:
    """Replace `path` atomically: readers see the old content or the new, never a mix.

    No fsync: the records live on /run, a tmpfs that does not survive a reboot anyway. If
    the write fails (a full disk), the old file stays and the temporary one goes.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(data))
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
