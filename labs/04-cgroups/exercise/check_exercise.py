"""Lab 04 exercise check: exercise.py really makes a cgroup, limits it and moves a process in.

Everything happens under a parent cgroup named gophernetes-exercise04-XXXXXX, removed
at the end of each part whatever the student's code made (every hierarchy, processes
inside killed). Parts 2 to 4 start from a cgroup the check makes with gophernetes' own
driver, so each part tests one function.
"""

import subprocess
import uuid
from pathlib import Path

import pytest

from gophernetes.lab_exercises import in_child
from gophernetes.linux.cgroups import CGROUP_ROOT, detect_version, open_driver

PARENT_PREFIX = "gophernetes-exercise04-"
NAME = "box"
MiB = 1024 * 1024


def folder(parent: str, controller: str) -> Path:
    """Where the cgroup's files of `controller` are, on this host's cgroup version."""
    if detect_version() == 2:
        return CGROUP_ROOT / parent / NAME
    return CGROUP_ROOT / controller / parent / NAME


def remove_everything(parent: str) -> None:
    """The parent cgroup in every hierarchy, whatever is inside: processes killed, children first."""
    open_driver(parent).adopt(NAME).remove()
    tops = [CGROUP_ROOT] if detect_version() == 2 else \
        [p for p in CGROUP_ROOT.iterdir() if (p / "cgroup.procs").exists()]
    for top in tops:
        if (top / parent).exists():
            for child in sorted((top / parent).rglob("*"), key=lambda p: -len(p.parts)):
                if child.is_dir():
                    child.rmdir()
            (top / parent).rmdir()


@pytest.fixture
def parent():
    name = PARENT_PREFIX + uuid.uuid4().hex[:6]
    try:
        yield name
    finally:
        remove_everything(name)


@pytest.fixture
def sleeper():
    process = subprocess.Popen(["sleep", "300"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_part_1_create_cgroup_makes_it_with_memory_and_pids(parent):
    """create_cgroup() makes PARENT/box, where the memory and pids controllers apply.

    Hint: on v1, one folder per controller: /sys/fs/cgroup/memory/PARENT/box and
    /sys/fs/cgroup/pids/PARENT/box (mkdir with parents). On v2, one folder, and its
    cgroup.controllers lists memory and pids only if PARENT's cgroup.subtree_control
    enabled them (write "+memory", "+pids"), and the root's for PARENT.
    """
    in_child(lambda module: module.create_cgroup(parent, NAME))
    for controller in ("memory", "pids"):
        assert folder(parent, controller).is_dir(), f"no cgroup {folder(parent, controller)}"
    if detect_version() == 2:
        controllers = (folder(parent, "memory") / "cgroup.controllers").read_text().split()
        assert {"memory", "pids"} <= set(controllers), \
            f"{folder(parent, 'memory')}/cgroup.controllers is {' '.join(controllers)!r}: memory, pids not enabled"


def test_part_2_set_limits_writes_both_limits(parent):
    """set_limits() gives the cgroup a 64 MiB memory limit and a 20-process limit.

    Hint: memory.limit_in_bytes on v1, memory.max on v2; pids.max on both. The value
    is written as text, e.g. Path(...).write_text(str(64 * 1024 * 1024)).
    """
    open_driver(parent).create(NAME)
    in_child(lambda module: module.set_limits(parent, NAME, 64 * MiB, 20))
    memory_file = "memory.max" if detect_version() == 2 else "memory.limit_in_bytes"
    memory = (folder(parent, "memory") / memory_file).read_text().strip()
    pids = (folder(parent, "pids") / "pids.max").read_text().strip()
    assert (memory, pids) == (str(64 * MiB), "20"), f"{memory_file} is {memory}, pids.max is {pids}"


def test_part_3_add_process_moves_it_in(parent, sleeper):
    """add_process() moves a running process into the cgroup (memory and pids both).

    Hint: write its PID into cgroup.procs; on v1 in the memory and the pids folder.
    /proc/PID/cgroup shows where a process is.
    """
    open_driver(parent).create(NAME)
    in_child(lambda module: module.add_process(parent, NAME, sleeper.pid))
    lines = Path(f"/proc/{sleeper.pid}/cgroup").read_text().splitlines()
    wanted = f"/{parent}/{NAME}"
    if detect_version() == 2:
        assert f"0::{wanted}" in lines, f"the process is in {lines}"
    else:
        for controller in ("memory", "pids"):
            line = next((line for line in lines if controller in line.split(":")[1].split(",")), "")
            assert line.endswith(f":{wanted}"), f"in the {controller} hierarchy the process is in {line!r}"


def test_part_4_remove_cgroup_removes_it_and_its_parent(parent):
    """remove_cgroup() deletes the (empty) cgroup and its parent, in every hierarchy it made.

    Hint: rmdir, not rm -r: the cgroup's files go with the folder. The child first,
    then the parent; on v1 in the memory and the pids hierarchy.
    """
    open_driver(parent).create(NAME)
    in_child(lambda module: module.remove_cgroup(parent, NAME))
    left = [str(folder(parent, c).parent) for c in ("memory", "pids") if folder(parent, c).parent.exists()]
    assert not left, f"still there: {', '.join(sorted(set(left)))}"
