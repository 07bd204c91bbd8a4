"""gophernetes.lab_checks: a lab's checks called without pytest, each failure in the check's own words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from gophernetes import lab_checks

CHECKS = '''
import labkit_stub


def test_step_1_passes(host):
    """Passes."""
    assert host.run("true").rc == 0


def test_step_2_says_why(host):
    """Fails with words."""
    assert labkit_stub.VALUE == 2, f"found {labkit_stub.VALUE}, not 2\\nsecond line"


def test_step_3_bare_assert(host):
    assert host.run("false").rc == 0


def test_step_4_crashes(host):
    open("/nonexistent/lab-file")


def helper(host):
    raise RuntimeError("not a check: never called")
'''


def lab(tmp_path):
    """labs/99-example/checks/test_example.py, with a helper module beside the labs, like labkit."""
    (tmp_path / "labkit_stub.py").write_text("VALUE = 1\n")
    checks = tmp_path / "99-example" / "checks"
    checks.mkdir(parents=True)
    (checks / "test_example.py").write_text(textwrap.dedent(CHECKS))
    return checks


def test_every_check_runs_and_fails_in_its_own_words(tmp_path, monkeypatch):
    monkeypatch.setenv("GOPHERNETES_ROOT", str(tmp_path / "state"))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as for `lab check` (not PYTHONDONTWRITEBYTECODE)
    result = lab_checks.start_checks(lab(tmp_path)).wait(timeout=60)
    assert result.returncode == 0, result.stderr
    results = [json.loads(line) for line in result.stdout.splitlines()]
    assert results == [
        {"name": "test_step_1_passes", "passed": True, "message": ""},
        {"name": "test_step_2_says_why", "passed": False, "message": "found 1, not 2"},
        {"name": "test_step_3_bare_assert", "passed": False,
         "message": 'assertion failed: assert host.run("false").rc == 0'},
        {"name": "test_step_4_crashes", "passed": False,
         "message": "FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/lab-file'"},
    ]
    assert "labkit_stub" not in sys.modules, "the checks were imported into this process, not the child"
    assert not list((tmp_path / "99-example").rglob("__pycache__")), "the checks left compiled files beside them"
    assert list((tmp_path / "state" / "run" / "lab-checks").rglob("test_example*.pyc")), \
        "the checks were not compiled under the state root"


# ---------------------------------------------------------------- in_child: a forked child as a program


def test_a_child_reports_its_output_and_exit_status_as_a_program_would():
    def work():
        print("out")
        print("err", file=sys.stderr)
        sys.exit(3)

    result = lab_checks.in_child(work, ["work"], timeout=30)
    assert (result.args, result.returncode, result.stdout, result.stderr) == (["work"], 3, "out\n", "err\n")


@pytest.mark.parametrize(("work", "status", "stderr"), [
    (lambda: None, 0, ""),
    (lambda: sys.exit(), 0, ""),
    (lambda: sys.exit("gone wrong"), 1, "gone wrong\n"),
    (lambda: 1 / 0, 1, "ZeroDivisionError: division by zero\n"),
])
def test_a_child_ends_as_python_would(work, status, stderr):
    result = lab_checks.in_child(work, ["work"], timeout=30)
    assert result.returncode == status
    assert result.stderr.endswith(stderr)


def test_a_child_reads_nothing_and_cannot_change_its_parent():
    before = os.getcwd()

    def work():
        os.chdir("/")
        print(repr(sys.stdin.read()))

    assert lab_checks.in_child(work, ["work"], timeout=30).stdout == "''\n"
    assert os.getcwd() == before


def test_a_child_that_hangs_is_killed_at_the_timeout():
    child = lab_checks.start(lambda: time.sleep(60), ["sleeper"])
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(timeout=0.5)
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # nothing left to reap: the killed child was waited for


RACING = '''
import os
import time
from pathlib import Path

HERE = Path(__file__).parent


def meet(mine, theirs):
    """Leave MINE, then wait for THEIRS: two checks get past this only if they run at once."""
    (HERE / mine).touch()
    while not (HERE / theirs).exists():
        time.sleep(0.05)


def test_step_1_waits_for_step_2(host):
    meet("one", "two")


def test_step_2_waits_for_step_1(host):
    meet("two", "one")


def test_step_3_hangs(host):
    time.sleep(600)


def test_step_4_ends_its_process(host):
    print("half a line")
    os._exit(7)
'''


def test_checks_run_at_once_and_one_that_hangs_or_exits_fails_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("GOPHERNETES_ROOT", str(tmp_path / "state"))
    checks = tmp_path / "98-racing" / "checks"
    checks.mkdir(parents=True)
    (checks / "test_racing.py").write_text(RACING)
    result = lab_checks.in_child(lambda: lab_checks.results_lines(checks, timeout=5), ["checks"], timeout=60)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"name": "test_step_1_waits_for_step_2", "passed": True, "message": ""},
        {"name": "test_step_2_waits_for_step_1", "passed": True, "message": ""},
        {"name": "test_step_3_hangs", "passed": False, "message": "still running after 5 s"},
        {"name": "test_step_4_ends_its_process", "passed": False, "message": "the check ended with exit status 7"},
    ]
