"""Subordinate ids: which host uids and gids remapped containers may use, and who has which.

/etc/subuid and /etc/subgid give users ranges of ids they may map into user namespaces,
one "NAME:START:COUNT" a line (man 5 subuid). Like podman's `--userns=auto`, gophernetes
takes its ranges from the `containers` entry; the Ansible gophernetes role writes one
(`containers:2147483647:2147483648`, podman's suggestion: the upper half of the id space,
far from any real user). GOPHERNETES_SUBUID / GOPHERNETES_SUBGID name other files (the
tests use temporary ones), and GOPHERNETES_SUBID_USER another entry.

Each remapped container gets a block of 65536 ids (all a Linux distribution uses, so
nobody/65534 fits), the lowest free one that overlaps no other container's. The block
is written to the container's own folder (userns.json) under the records lock, so it is
freed exactly when the container's folder goes (rm, --rm, prune) — there is no second
list to keep in step.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from gophernetes.errors import GophernetesError

DEFAULT_USER = "containers"
DEFAULT_SIZE = 65536
ALLOCATION_FILE = "userns.json"
SUGGESTED_ENTRY = "containers:2147483647:2147483648"


@dataclass(frozen=True)
class IdRange:
    """Host ids start .. start+count-1."""

    start: int
    count: int

    @property
    def end(self) -> int:
        return self.start + self.count

    def overlaps(self, other: IdRange) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class IdMapping:
    """A container's ids: 0..size-1 inside are uid_base.. and gid_base.. on the host."""

    uid_base: int
    gid_base: int
    size: int

    def uid_range(self) -> IdRange:
        return IdRange(self.uid_base, self.size)

    def gid_range(self) -> IdRange:
        return IdRange(self.gid_base, self.size)


class NoIdRange(GophernetesError):
    """No subordinate ids to give (missing entry, or all in use)."""


def parse(text: str, user: str) -> list[IdRange]:
    """The ranges of `user` in the text of a subuid/subgid file; bad lines are skipped, as shadow-utils does."""
    ranges = []
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) != 3 or fields[0] != user or line.lstrip().startswith("#"):
            continue
        try:
            start, count = int(fields[1]), int(fields[2])
        except ValueError:
            continue
        if start >= 0 and count > 0:
            ranges.append(IdRange(start, count))
    return ranges


def first_free(ranges: list[IdRange], taken: list[IdRange], size: int) -> int | None:
    """The lowest start of `size` ids inside one of `ranges` that overlaps none of `taken`."""
    candidates = sorted({r.start for r in ranges} | {t.end for t in taken})
    for start in candidates:
        block = IdRange(start, size)
        inside = any(r.start <= block.start and block.end <= r.end for r in ranges)
        if inside and not any(block.overlaps(t) for t in taken):
            return start
    return None


def subid_files() -> tuple[Path, Path, str]:
    """The subuid and subgid files and the entry name in force (environment overrides)."""
    return (Path(os.environ.get("GOPHERNETES_SUBUID", "/etc/subuid")),
            Path(os.environ.get("GOPHERNETES_SUBGID", "/etc/subgid")),
            os.environ.get("GOPHERNETES_SUBID_USER", DEFAULT_USER))


def _ranges(path: Path, user: str) -> list[IdRange]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = ""
    ranges = parse(text, user)
    if not ranges:
        entry = SUGGESTED_ENTRY.replace(DEFAULT_USER, user)
        raise NoIdRange(f"--userns auto needs ids of its own: add a line such as {entry} to {path} "
                        "(the Ansible gophernetes role does)")
    return ranges


def choose(taken: list[IdMapping], size: int = DEFAULT_SIZE) -> IdMapping:
    """A block of `size` uids and gids from the subid files that no mapping in `taken` uses."""
    uid_file, gid_file, user = subid_files()
    uid_start = first_free(_ranges(uid_file, user), [m.uid_range() for m in taken], size)
    gid_start = first_free(_ranges(gid_file, user), [m.gid_range() for m in taken], size)
    if uid_start is None or gid_start is None:
        path = uid_file if uid_start is None else gid_file
        raise NoIdRange(f"no free block of {size} ids left for {user} in {path} ({len(taken)} containers hold one): "
                        "remove some containers or give the entry a larger range")
    return IdMapping(uid_start, gid_start, size)


def load(folder: Path) -> IdMapping | None:
    """The mapping allocated to the container in `folder`, if any."""
    try:
        return IdMapping(**json.loads((folder / ALLOCATION_FILE).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def allocate(containers: Path, folder: Path, size: int = DEFAULT_SIZE) -> IdMapping:
    """Give the container in `folder` a block no other container under `containers` holds.

    The caller holds the records lock: reading every allocation and writing ours is one step.
    """
    others = [other for other in containers.iterdir() if other.is_dir() and other != folder]
    taken = [mapping for other in others if (mapping := load(other)) is not None]
    mapping = choose(taken, size)
    temporary = folder / f".{ALLOCATION_FILE}.tmp"
    temporary.write_text(json.dumps(asdict(mapping)))
    os.replace(temporary, folder / ALLOCATION_FILE)
    return mapping
