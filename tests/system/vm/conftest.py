"""The e2e VM run (run-e2e.sh) starts as soon as the session knows it will be asked for.

It is the longest test (30-50 minutes on a 2-core CI machine, most of it QEMU's own CPU) and
needs nothing the other tests make, so it runs beside them: when collection ends and
test_vagrant_up_gives_a_student_a_working_lab_vm is among the tests to run, run-e2e.sh starts
in the background with its output in a file; the test waits for it and asserts on that
output. A full CI run then takes about as long as the longer of the two, not their sum.

Whatever ends the session (the last test, `-x`, Ctrl-C) also ends the run: SIGTERM makes
run-e2e.sh destroy the VM and stop the daemons it started (its trap).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
VM_TEST = "test_vagrant_up_gives_a_student_a_working_lab_vm"
TOOLS = ("vagrant", "virsh", "libvirtd", "qemu-system-x86_64", "debootstrap")
TIMEOUT = 5400  # seconds, from the run's start


def why_not() -> str | None:
    """Why the e2e run cannot start here (the test's skip reason), or None."""
    if os.geteuid() != 0:
        return "the VM test needs root (libvirt, loop devices)"
    for needed in TOOLS:
        if not shutil.which(needed):
            return f"{needed} is not installed (.ci/packages/ansible.txt)"
    return None


@dataclass
class E2ERun:
    """run-e2e.sh in the background: its process, its output file, when it started."""

    process: subprocess.Popen
    log: Path
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls) -> E2ERun:
        log = Path(tempfile.mkstemp(prefix="gophernetes-e2e-", suffix=".log")[1])
        with log.open("w") as out:
            # its own session: a Ctrl-C at the terminal reaches pytest, which ends this run
            process = subprocess.Popen([str(HERE / "run-e2e.sh")], stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        return cls(process, log)

    def output(self) -> str:
        """Everything run-e2e.sh printed; waits for it to end (killed at TIMEOUT)."""
        left = TIMEOUT - (time.monotonic() - self.started)
        try:
            self.process.wait(timeout=max(left, 1))
        except subprocess.TimeoutExpired:
            self.stop()
            return self.log.read_text(errors="replace") + f"\nFAIL run-e2e.sh did not end within {TIMEOUT} s"
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM (run-e2e.sh destroys the VM), then wait for its cleanup to finish."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=600)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.unlink(missing_ok=True)


_RUN: list[E2ERun] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    if any(item.name == VM_TEST for item in session.items) and why_not() is None:
        _RUN.append(E2ERun.start())


def pytest_sessionfinish(session: pytest.Session) -> None:
    while _RUN:
        _RUN.pop().stop()


@pytest.fixture(scope="session")
def e2e_run() -> E2ERun:
    """The background run started at collection's end (or now, if collection did not)."""
    reason = why_not()
    if reason:
        pytest.skip(reason)
    if not _RUN:
        _RUN.append(E2ERun.start())
    return _RUN[0]
