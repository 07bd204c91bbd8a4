"""Lab 07 exercise check: exercise.py's keep() keeps a command's exit status, reaps its orphans, outlives its parent.

In a throw-away child C (gophernetes.lab_exercises.in_child), itself a subreaper so that
nothing escapes to the host's PID 1: C forks P, the process that starts the keeper (a
containerd), and P forks K, which runs the student's keep(argv, status_file). Either P
waits for K, or P exits at once and K must carry on alone. C reaps whatever comes back to
it and notes which pids those were: an orphan the keeper should have reaped shows up
there. A keeper still running after 10 s is killed with its process group.
Everything is under one temporary folder, removed afterwards.
"""

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from gophernetes.lab_exercises import describe, in_child, under_test
from gophernetes.linux import syscalls

KEEPER_TIMEOUT = 10.0


@pytest.fixture
def work():
    folder = Path(tempfile.mkdtemp(prefix="gophernetes-exercise07-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def keeper(module, command: str, status_file: Path, errors: int) -> None:
    """K: a process group of its own (so a hung keeper is killed whole), then the student's keep. Never returns."""
    try:
        os.setpgid(0, 0)
        module.keep(["sh", "-c", command], str(status_file))
    except BaseException as error:  # noqa: BLE001 — it goes back to the check
        os.write(errors, describe(error, under_test()).encode()[:4000])
    finally:
        os._exit(0)


def scenario(module, work: Path, command: str, parent_exits_first: bool) -> dict:
    """Run keep() as described above; what C saw: the status file, who reaped the orphan, the keeper's error."""
    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
    status_file, errors_read, errors_write = work / "status", *os.pipe()
    pid_read, pid_write = os.pipe()
    starter = os.fork()
    if starter == 0:  # P
        kept = os.fork()
        if kept == 0:
            keeper(module, command, status_file, errors_write)
        os.write(pid_write, str(kept).encode())
        if not parent_exits_first:
            os.waitpid(kept, 0)
        os._exit(0)
    os.close(errors_write)
    os.close(pid_write)
    kept = int(os.read(pid_read, 32))
    os.close(pid_read)
    seen: dict = {"reaped_by_us": set(), "keeper_outlived_parent": None}
    deadline = time.monotonic() + KEEPER_TIMEOUT
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == starter:
            seen["keeper_outlived_parent"] = Path(f"/proc/{kept}").exists() and not status_file.exists()
        elif pid:
            seen["reaped_by_us"].add(pid)
        if time.monotonic() > deadline and not seen.get("timeout"):
            seen["timeout"] = True
            try:
                os.killpg(kept, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not pid:
            time.sleep(0.01)
    seen["error"] = os.read(errors_read, 4096).decode()
    os.close(errors_read)
    if seen["error"]:
        raise AssertionError(seen["error"])
    if seen.get("timeout"):
        raise AssertionError(f"keep() still ran after {KEEPER_TIMEOUT:.0f} s (killed): does wait_all stop at ECHILD?")
    seen["status"] = status_file.read_text() if status_file.exists() else None
    orphan = work / "orphan"
    seen["orphan"] = int(orphan.read_text()) if orphan.exists() else None
    seen["reaped_by_us"].discard(kept)
    return seen


def test_part_1_the_status_file_holds_the_commands_exit_code(work):
    """keep(["sh", "-c", "sleep 0.2 & exit 3"], FILE) writes 3 to FILE.

    Hint: become_subreaper first (keep calls it first); then exit_status:
    os.waitstatus_to_exitcode(wait_status) is 3 here; wait_all: os.wait() in a loop,
    keeping the status whose pid is the command's, until ChildProcessError.
    """
    seen = in_child(lambda module: scenario(module, work, f"sleep 0.2 & echo $! > {work}/orphan; exit 3", False))
    assert seen["status"] is not None, "no status file was written"
    assert seen["status"].strip() == "3", f"the status file holds {seen['status']!r}"


def test_part_2_a_command_killed_by_sigkill_is_137(work):
    """A command killed by SIGKILL (signal 9) has the status 137 (128 + 9), as docker reports it.

    Hint: os.waitstatus_to_exitcode gives -9 for a death by signal 9: return 128 - code
    for a negative code.
    """
    seen = in_child(lambda module: scenario(module, work, "kill -9 $$", False))
    assert seen["status"] is not None, "no status file was written"
    assert seen["status"].strip() == "137", f"the status file holds {seen['status']!r}"


def test_part_3_the_orphaned_grandchild_is_reaped_by_the_keeper(work):
    """The `sleep 0.2 &` the shell leaves behind is re-parented to the keeper and reaped by it, not by whoever is above.

    Hint: without PR_SET_CHILD_SUBREAPER the orphan goes to a subreaper further up (here,
    the check; on a host, PID 1); without wait_all's loop until ECHILD the keeper exits
    before the orphan does, and the orphan goes up again.
    """
    seen = in_child(lambda module: scenario(module, work, f"sleep 0.2 & echo $! > {work}/orphan; exit 3", False))
    assert seen["orphan"], "the command did not say its orphan's pid"
    assert seen["orphan"] not in seen["reaped_by_us"], \
        "the orphaned sleep was reaped above the keeper: the keeper is no subreaper, or stopped waiting too early"
    assert seen["status"] is not None and seen["status"].strip() == "3", f"the status file holds {seen['status']!r}"


def test_part_4_the_status_survives_the_parent_that_started_the_keeper(work):
    """The process that started the keeper exits at once; the keeper carries on and still writes 5.

    Hint: nothing in keep() depends on its parent: once the parts above pass, this one
    does. That is why containerd can restart without losing a container's exit status.
    """
    seen = in_child(lambda module: scenario(module, work, "sleep 0.3; exit 5", True))
    assert seen["keeper_outlived_parent"], "the keeper was gone (or done) when its parent exited"
    assert seen["status"] is not None and seen["status"].strip() == "5", f"the status file holds {seen['status']!r}"
