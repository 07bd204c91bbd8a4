"""Container records: what gophernetes remembers about each container, under the state root.

One folder per container in /run/gophernetes/containers/ID/ (a tmpfs: containers do not
survive a reboot, so neither do their records):

    config.json   the RunSpec and the name — written once, when the container is made
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
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gophernetes.errors import Conflict, NotFound, UsageError
from gophernetes.paths import StateRoot
from gophernetes.runtime import process
from gophernetes.runtime.spec import ContainerDirs, RunSpec

CREATED, RUNNING, PAUSED, EXITED = "created", "running", "paused", "exited"

_ADJECTIVES = ("brave", "calm", "eager", "fond", "keen", "lucid", "merry", "quiet", "swift", "witty",
               "bold", "clever", "gentle", "happy", "jolly", "nimble", "proud", "sharp", "tender", "vivid")
_GOPHERS = ("pike", "thompson", "griesemer", "cox", "fitzpatrick", "taylor", "gerrand", "hudson", "kennedy",
            "ritchie", "torvalds", "hopper", "lovelace", "turing", "liskov", "knuth", "kernighan", "mccarthy",
            "hamilton", "borg")


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


class RecordStore:
    """All container records under one state root."""

    def __init__(self, state: StateRoot) -> None:
        self.root = state.containers

    @contextlib.contextmanager
    def locked(self):
        """Hold the records lock: only one command changes records at a time."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def create(self, spec: RunSpec, name: str | None, detached: bool, auto_remove: bool) -> Record:
        """Reserve the name and write the record of a new container (under the lock)."""
        with self.locked():
            taken = {r.name: r for r in self.all()}
            if name:
                validate_name(name)
                if name in taken:
                    raise Conflict(f'the container name "{name}" is already in use by container '
                                   f'{taken[name].id[:12]}: remove it (gophernetes rm {name}) or choose another name')
            else:
                name = generate_name(set(taken))
            # Until a supervisor takes over, the command making the container is its keeper:
            # if it dies half-way, the next command sees a dead monitor and cleans up.
            me = os.getpid()
            record = Record(spec=spec, name=name, created=time.time(), detached=detached,
                            auto_remove=auto_remove, folder=self.root / spec.id,
                            state=State(monitor_pid=me, monitor_started=process.start_time(me)))
            record.folder.mkdir()
            write_json(record.folder / "config.json", {
                "spec": json.loads(spec.to_json()), "name": name, "created": record.created,
                "detached": detached, "auto_remove": auto_remove})
            write_json(record.folder / "state.json", asdict(record.state))
            return record

    def load(self, folder: Path) -> Record | None:
        """The record in `folder`, or None if it is incomplete (a create that was interrupted)."""
        try:
            config = json.loads((folder / "config.json").read_text())
            state = json.loads((folder / "state.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return Record(spec=RunSpec.from_json(json.dumps(config["spec"])), name=config["name"],
                      created=config["created"], detached=config["detached"], auto_remove=config["auto_remove"],
                      folder=folder, state=State(**state))

    def all(self) -> list[Record]:
        if not self.root.exists():
            return []
        records = [self.load(folder) for folder in self.root.iterdir() if folder.is_dir()]
        return sorted((r for r in records if r), key=lambda r: r.created)

    def find(self, name_or_id: str) -> Record:
        """The container called `name_or_id`, or whose ID starts with it (docker's rules)."""
        records = self.all()
        for record in records:
            if record.name == name_or_id or record.id == name_or_id:
                return record
        matches = [r for r in records if len(name_or_id) >= 3 and r.id.startswith(name_or_id)]
        if len(matches) > 1:
            raise UsageError(f"the ID prefix {name_or_id!r} matches {len(matches)} containers: give more of it")
        if not matches:
            raise NotFound(f"no such container: {name_or_id} (see gophernetes list --all)")
        return matches[0]

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
        if fresh is None:
            raise NotFound(f"no such container: {record.name} (it was removed)")
        return fresh


def find(state: StateRoot, name_or_id: str) -> Record | None:
    """For other packages (network attach): the record, or None when there is no such container."""
    try:
        return RecordStore(state).find(name_or_id)
    except NotFound:
        return None


def validate_name(name: str) -> None:
    """Docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]*."""
    if not (name[0].isalnum() and all(c.isalnum() or c in "_.-" for c in name) and name.isascii()):
        raise UsageError(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")


def generate_name(taken: set[str]) -> str:
    """A docker-style random name (adjective_surname), unused so far."""
    for _ in range(100):
        name = f"{random.choice(_ADJECTIVES)}_{random.choice(_GOPHERS)}"
        if name not in taken:
            return name
    return f"{random.choice(_ADJECTIVES)}_{random.choice(_GOPHERS)}{random.randint(10, 9999)}"


def write_json(path: Path, data: dict) -> None:
    """Replace `path` atomically: readers see the old content or the new, never a mix.

    No fsync: the records live on /run, a tmpfs that does not survive a reboot anyway.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)
