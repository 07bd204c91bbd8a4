"""The labs' exercises: a small Python file the student completes, checked by running it for real.

After doing a mechanism by hand in a lab, the student writes its core in Python (as
rubber-docker and containers-from-scratch do). An exercise is a folder
`labs/NN-topic/exercise/` with three files:

- `exercise.py`: the student's file. Functions whose core is a gap,
  `raise NotImplementedError("...")`, with comments naming the man page to read and the
  gophernetes module that solves it (read it afterwards: that closes the loop).
- `solution.py`: the same functions, each delegating to the project's own code
  (linux/syscalls.py, linux/cgroups/, network with pyroute2, image/layers.py): the
  checks are proven against the code gophernetes itself runs.
- `check_exercise.py`: the check, a pytest file like a lab's checks: one function
  `test_part_N_...` per part, whose docstring's first line says what it verifies and whose
  "Hint:" paragraph says how to get there. A part calls `in_child(body)`: a forked child
  loads the file under test (named by $GOPHERNETES_EXERCISE), runs `body(module)` and
  sends back what it returned (or what went wrong, "exercise.py line N, in f: ...").
  The student's code runs as root on the real kernel, in that child: the namespaces,
  mounts, chdir and setns it makes die with it. What outlives a process (a cgroup folder,
  a file) the part itself removes, in a `finally`. A part must never let the student's
  code touch the host: it makes the sandbox first (a mount namespace with private
  mounts, a network namespace of its own) or checks that the student's code made one
  before going on (lab 01 checks the UTS namespace is new before any sethostname).

    sudo gophernetes lab check 01 --exercise              # checks labs/01-*/exercise/exercise.py
    sudo gophernetes lab check 01 --exercise --solution   # the same check against solution.py
    sudo gophernetes lab check 01 --exercise --file F.py  # ... against any file (prove.sh: exercise.orig.py)

`lab reset` never touches exercise.py; `gophernetes lab exercise 01 --fresh` keeps the
student's file as exercise.py.N.bak and puts back the untouched copy (exercise.orig.py,
which a test keeps equal to exercise.py in the repository).
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import re
import select
import shutil
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from gophernetes.errors import NotFound
from gophernetes.labs import Check, CheckResult, Lab, discover, parse_checks, require_root, run_pytest

FOLDER = "exercise"
STUDENT_FILE = "exercise.py"
PRISTINE_FILE = "exercise.orig.py"
SOLUTION_FILE = "solution.py"
CHECK_FILE = "check_exercise.py"
UNDER_TEST = "GOPHERNETES_EXERCISE"  # the environment variable naming the file a check runs
PART_NAME = re.compile(r"^test_part_?(\d+)(?:_|$)")
CHILD_TIMEOUT = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class Exercise:
    """The exercise folder of a lab."""

    lab: Lab

    @property
    def folder(self) -> Path:
        return self.lab.path / FOLDER

    @property
    def student_file(self) -> Path:
        return self.folder / STUDENT_FILE

    @property
    def pristine_file(self) -> Path:
        return self.folder / PRISTINE_FILE

    @property
    def solution_file(self) -> Path:
        return self.folder / SOLUTION_FILE

    @property
    def check_file(self) -> Path:
        return self.folder / CHECK_FILE

    def parts(self) -> list[Check]:
        """Every test_part_N of the check file, by number (read with ast: nothing is imported)."""
        return sorted(parse_checks(self.check_file.read_text(), PART_NAME), key=lambda part: part.step)


def has_exercise(lab: Lab) -> bool:
    return (lab.path / FOLDER / CHECK_FILE).exists()


def exercise_of(lab: Lab) -> Exercise:
    if not has_exercise(lab):
        others = [other.number for other in discover(lab.path.parent) if has_exercise(other)]
        raise NotFound(f"lab {lab.number} has no exercise ({FOLDER}/{CHECK_FILE}); "
                       f"labs with one: {', '.join(others) or 'none'}")
    return Exercise(lab)


def run(lab: Lab, *, solution: bool = False, file: Path | None = None, timeout: float = 300) -> list[CheckResult]:
    """Check the student's exercise.py (with `solution`, solution.py; or any `file`): one result per part."""
    exercise = exercise_of(lab)
    require_root(f"sudo gophernetes lab check {lab.number} --exercise")
    target = file or (exercise.solution_file if solution else exercise.student_file)
    if not target.is_file():
        fix = f"`gophernetes lab exercise {lab.number} --fresh` puts a copy back" if target == exercise.student_file \
            else "give the path of a Python file"
        raise NotFound(f"{target} is missing: {fix}")
    return run_pytest(lab, exercise.check_file, exercise.parts(), env={UNDER_TEST: str(target.resolve())},
                      timeout=timeout)


def fresh(lab: Lab) -> Path | None:
    """Put the untouched exercise.py back; the student's own is kept as exercise.py.N.bak (returned)."""
    exercise = exercise_of(lab)
    kept = None
    if exercise.student_file.exists():
        number = 1
        while (exercise.folder / f"{STUDENT_FILE}.{number}.bak").exists():
            number += 1
        kept = exercise.folder / f"{STUDENT_FILE}.{number}.bak"
        exercise.student_file.rename(kept)
    shutil.copyfile(exercise.pristine_file, exercise.student_file)
    if os.geteuid() == 0:  # under sudo: the new copy is the student's, as the folder is
        owner = exercise.folder.stat()
        os.chown(exercise.student_file, owner.st_uid, owner.st_gid)
    return kept


# ---------------------------------------------------------------- used by the check files


def under_test() -> Path:
    """The file a check runs: $GOPHERNETES_EXERCISE (set by `lab check --exercise`)."""
    value = os.environ.get(UNDER_TEST)
    if not value:
        raise AssertionError(f"${UNDER_TEST} is not set: run the check with `gophernetes lab check NN --exercise`")
    return Path(value)


def load(path: Path) -> ModuleType:
    """Import the Python file at `path` as a fresh module (not cached in sys.modules)."""
    spec = importlib.util.spec_from_file_location(f"exercise_{os.getpid()}", path)
    if spec is None or spec.loader is None:
        raise AssertionError(f"{path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_child(body: Callable[[ModuleType], T], timeout: float = CHILD_TIMEOUT) -> T:
    """Run `body(the module under test)` in a forked child; return what it returned.

    Whatever the student's code does to its process (unshare, setns, pivot_root, chdir)
    stays in the child and ends with it. An exception in the child, the student's or the
    body's own assertion, comes back as an AssertionError whose message names where in
    the exercise it happened: that is the `found:` line `lab check --exercise` prints.
    """
    path = under_test()
    sys.stdout.flush()
    sys.stderr.flush()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        os.close(reader)
        _child(body, path, writer)
    os.close(writer)
    try:
        data = _read_all(reader, timeout)
    finally:
        os.close(reader)
        if data is None:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if data is None:
        raise AssertionError(f"still running after {timeout:.0f} s: does it wait for something that never comes?")
    if not data:
        raise AssertionError("the process running the exercise died without a word (did it call os._exit or exec?)")
    status, value = pickle.loads(data)
    if status != "ok":
        raise AssertionError(value)
    return value  # type: ignore[no-any-return]


def _child(body: Callable[[ModuleType], object], path: Path, writer: int) -> None:
    try:
        outcome: tuple[str, object] = ("ok", body(load(path)))
        data = pickle.dumps(outcome)
    except BaseException as error:  # noqa: BLE001 — everything goes back to the parent
        data = pickle.dumps(("error", describe(error, path)))
    try:
        with os.fdopen(writer, "wb") as out:
            out.write(data)
    finally:
        os._exit(0)


def _read_all(fd: int, timeout: float) -> bytes | None:
    """Everything written to the pipe until the child closes it; None after `timeout` seconds."""
    import time

    deadline, chunks = time.monotonic() + timeout, list[bytes]()
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def describe(error: BaseException, path: Path) -> str:
    """'exercise.py line 31, in set_hostname: NotImplementedError: call sethostname(2)'.

    The innermost frame in the file under test says where; a check's own assertion
    (raised outside that file) is its message alone.
    """
    if isinstance(error, AssertionError) and str(error):
        return str(error)
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if Path(frame.filename) == path]
    if frames:
        return f"{path.name} line {frames[-1].lineno}, in {frames[-1].name}: {text}"
    return text


def gaps(source: str) -> list[str]:
    """The messages of the `raise NotImplementedError("...")` gaps in a file's source, in order."""
    return re.findall(r'raise NotImplementedError\(\s*"([^"]*)"', source)
