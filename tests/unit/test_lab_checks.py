"""gophernetes.lab_checks: a lab's checks called without pytest, each failure in the check's own words."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from gophernetes import lab_checks
from tests.support import REPO

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


def test_every_check_runs_and_fails_in_its_own_words(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gophernetes.lab_checks", str(lab(tmp_path))],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
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


def test_without_a_folder_it_says_how_to_call_it():
    assert lab_checks.main([]) == 2
