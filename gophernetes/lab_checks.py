"""Run one lab's checks: every `test_step_N_...(host)` of its `checks/test_*.py`, called with a
testinfra host for this machine, in a forked copy of `gophernetes lab check`'s own process.

The checks are pytest-testinfra tests (a teacher can still run `pytest labs/NN-*/checks`), but
they use nothing of pytest beyond the `host` fixture. So they are called here directly:
pytest's own start-up (plugins, collection, a JUnit report) was three quarters of the CPU time
of a check run (measured with Debian's python3: 0.24 s user against 0.05 s; 6-9 s per `lab
check` in the software-emulated lab VM).

Why forked and not a new Python: in that VM a new Python, with its imports, costs a second or
more (`gophernetes --help` alone: 1.2-1.4 s), and a fork of a process that has them already
costs 15-25 ms. So the checks run in a forked child of `lab check`, and each check in a forked
child of that one, all at once (results_lines): the VM has two CPUs. A check that hangs fails
alone after CHECK_TIMEOUT; one that crashes, changes its working directory or leaves a
namespace joined changes nothing for the others or for `lab check`. labs/labkit.py runs the
gophernetes commands a check asks for the same way (`in_child`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from gophernetes.paths import StateRoot

CHECK_PREFIX = "test_step_"
CHECK_TIMEOUT = 120  # seconds a check may take before it fails


def check_functions(checks_dir: Path) -> list[tuple[str, Callable[[Any], None]]]:
    """The check functions of a lab's checks/ folder, by name, in file and source order.

    The labs folder (the checks' grandparent) goes on sys.path first: the checks import the
    shared helpers in labs/labkit.py, as labs/conftest.py arranges under pytest.
    """
    sys.path.insert(0, str(checks_dir.resolve().parent.parent))
    found = []
    for path in sorted(checks_dir.glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"lab_check_{checks_dir.parent.name}_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found += [(name, value) for name, value in vars(module).items()
                  if name.startswith(CHECK_PREFIX) and callable(value)]
    return found


def failure_message(error: BaseException) -> str:
    """What a student reads after `found:`: the assertion's own words (its first line).

    A bare `assert` has no words: its source line stands in. Anything else that went wrong
    in a check is named with its type, as pytest would report it.
    """
    if isinstance(error, AssertionError):
        words = str(error).strip()
        if words:
            return words.splitlines()[0]
        frames = traceback.extract_tb(error.__traceback__)
        return f"assertion failed: {frames[-1].line}" if frames else "assertion failed"
    return f"{type(error).__name__}: {error}".splitlines()[0]


def results_lines(checks_dir: Path, timeout: float = CHECK_TIMEOUT) -> None:
    """Print one JSON line {name, passed, message} per check of CHECKS_DIR, in order.

    The checks only read the machine's state, so they all run at once, each in a forked
    child of its own: the lab VM has two CPUs, and most of a check's time is spent in the
    commands it asks (nsenter, gophernetes exec) anyway. A check still running after
    TIMEOUT seconds is killed and fails; the others keep their results.
    """
    import testinfra  # pytest-testinfra, without pytest: its local backend runs commands here

    # compiled once per boot, under the state root: not as root-owned __pycache__ folders in
    # the student's ~/labs, and not compiled again on every check run (0.1-0.5 s in the VM)
    sys.pycache_prefix = str(StateRoot.from_option().run / "lab-checks")
    host = testinfra.get_host("local://")
    running = [(name, start(functools.partial(_print_outcome, name, check, host), [name]))
               for name, check in check_functions(checks_dir)]
    deadline = time.monotonic() + timeout
    for name, child in running:
        try:
            done = child.wait(deadline - time.monotonic())
        except subprocess.TimeoutExpired:
            print(json.dumps({"name": name, "passed": False, "message": f"still running after {timeout:.0f} s"}))
            continue
        results = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if results:
            print(results[-1])
        else:  # the check ended its process (os._exit, a signal): no result of its own
            last = (done.stderr.strip().splitlines() or [""])[-1]
            print(json.dumps({"name": name, "passed": False,
                              "message": f"the check ended with exit status {done.returncode} {last}".strip()}))


def _print_outcome(name: str, check: Callable[[Any], None], host: Any) -> None:
    """Call one check with HOST (in its own child); print {name, passed, message}."""
    try:
        check(host)
    except Exception as error:  # noqa: BLE001 - every failure of a check is a FAIL line
        print(json.dumps({"name": name, "passed": False, "message": failure_message(error)}))
    else:
        print(json.dumps({"name": name, "passed": True, "message": ""}))


@dataclass
class Child:
    """A forked copy of this process calling a function, seen as a program: its stdout and
    stderr go to two anonymous files, read when it has ended."""

    pid: int
    command: list[str]
    stdout: IO[bytes]
    stderr: IO[bytes]

    def wait(self, timeout: float) -> subprocess.CompletedProcess:
        """Its exit status (-N for a signal) and output; killed after TIMEOUT s (TimeoutExpired)."""
        try:
            pidfd = os.pidfd_open(self.pid)
            try:
                ended = select.select([pidfd], [], [], max(timeout, 0))[0]
            finally:
                os.close(pidfd)
            if not ended:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise subprocess.TimeoutExpired(self.command, timeout)
            _, status = os.waitpid(self.pid, 0)
            return subprocess.CompletedProcess(self.command, os.waitstatus_to_exitcode(status),
                                               _read(self.stdout), _read(self.stderr))
        finally:
            self.stdout.close()
            self.stderr.close()


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def start(work: Callable[[], object], command: list[str]) -> Child:
    """Call WORK in a forked copy of this process, as subprocess would start COMMAND with its
    output captured: stdin is /dev/null, and the exit status is WORK's sys.exit() (0 if it
    returns, 1 and a traceback if it raises). COMMAND only names it."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _run_as_child(work, out.fileno(), err.fileno())  # never returns
    return Child(pid, command, out, err)


def in_child(work: Callable[[], object], command: list[str], timeout: float) -> subprocess.CompletedProcess:
    """start() and wait: as subprocess.run(COMMAND, capture_output=True, text=True, timeout=TIMEOUT)."""
    return start(work, command).wait(timeout)


def _run_as_child(work: Callable[[], object], stdout: int, stderr: int) -> NoReturn:
    status = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        os.close(null)
        # fresh streams on the new descriptors, as a new program has: the parent's may be
        # anything (pytest replaces them with its capture)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - for the child's life
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        work()
        status = 0
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            status = done.code or 0
        else:  # sys.exit("words"), as Python itself reports it
            print(done.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - a crash is the command's failure, as in a new process
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def start_checks(checks_dir: Path) -> Child:
    """Every check of CHECKS_DIR, started in a forked child (results_lines); wait() for its
    output. Each check may take CHECK_TIMEOUT seconds."""
    return start(lambda: results_lines(checks_dir), ["lab checks", str(checks_dir)])
