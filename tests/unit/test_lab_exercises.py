"""The labs' exercises as files: their layout, their parts, and the logic that reports on them.

Nothing here runs a student's code (tests/system/labs/test_exercises.py does, for real).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

from gophernetes import lab_exercises, labs

LABS = REPO / "labs"
EXERCISES = [lab.name for lab in labs.discover(LABS) if lab_exercises.has_exercise(lab)]


def exercise(name: str) -> lab_exercises.Exercise:
    return lab_exercises.exercise_of(labs.find_lab(name, LABS))


def defined_functions(path: Path) -> set[str]:
    return {node.name for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)}


def called_on_module(path: Path) -> set[str]:
    """The names a check calls as `module.NAME(...)`: the functions the file under test must define."""
    return {node.func.attr for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "module"}


def test_the_labs_the_issue_asks_for_have_an_exercise():
    assert {name[:2] for name in EXERCISES} >= {"01", "02", "04", "05", "06"}


@pytest.mark.parametrize("name", EXERCISES)
def test_every_part_is_numbered_and_has_a_title_and_a_hint(name):
    parts = exercise(name).parts()
    assert [part.step for part in parts] == list(range(1, len(parts) + 1))
    for part in parts:
        assert part.title and part.hint, f"{part.name} needs a docstring title and a 'Hint:' paragraph"


@pytest.mark.parametrize("name", EXERCISES)
def test_the_student_file_is_the_untouched_copy_with_gaps(name):
    """exercise.orig.py is what `lab exercise NN --fresh` puts back: it must be the shipped exercise.py."""
    found = exercise(name)
    assert found.student_file.read_text() == found.pristine_file.read_text()
    gaps = lab_exercises.gaps(found.student_file.read_text())
    assert gaps and all(gaps), "an exercise has at least one gap, each saying what to do"


@pytest.mark.parametrize("name", EXERCISES)
def test_the_exercise_and_its_solution_define_what_the_check_calls(name):
    found = exercise(name)
    wanted = called_on_module(found.check_file)
    assert wanted, "the check calls no function of the file under test"
    assert wanted <= defined_functions(found.student_file)
    assert wanted <= defined_functions(found.solution_file)


@pytest.mark.parametrize("name", EXERCISES)
def test_the_solution_is_gophernetes_own_code(name):
    """Reading the solution leads to the project's modules: it imports gophernetes."""
    assert "from gophernetes" in exercise(name).solution_file.read_text()


@pytest.mark.parametrize("name", EXERCISES)
def test_no_reset_script_touches_the_exercise(name):
    """`lab reset NN` runs reset.sh: the student's exercise.py must survive it."""
    assert "exercise" not in (LABS / name / "reset.sh").read_text()


def test_gaps_are_found_in_order():
    source = ('def a():\n    raise NotImplementedError("first")\n\n'
              'def b():\n    raise NotImplementedError(\n        "second")\n')
    assert lab_exercises.gaps(source) == ["first", "second"]


def test_part_names_are_numbered_like_steps():
    source = ('def test_part_2_b():\n    """Two.\n\n    Hint: do b."""\n\n'
              'def test_part_1_a():\n    """One.\n\n    Hint: do a."""\n\ndef test_step_3_x():\n    pass\n')
    parts = labs.parse_checks(source, lab_exercises.PART_NAME)
    assert [(p.step, p.title, p.hint) for p in parts] == [(2, "Two.", "do b."), (1, "One.", "do a.")]


def test_describe_names_the_line_of_the_file_under_test(tmp_path):
    student = tmp_path / "exercise.py"
    student.write_text('def f():\n    raise NotImplementedError("fill me")\n')
    module = lab_exercises.load(student)
    try:
        module.f()
    except NotImplementedError as error:
        described = lab_exercises.describe(error, student)
    assert described == "exercise.py line 2, in f: NotImplementedError: fill me"


def test_describe_keeps_a_checks_own_assertion_as_it_is(tmp_path):
    assert lab_exercises.describe(AssertionError("no cgroup /x"), tmp_path / "exercise.py") == "no cgroup /x"
    assert lab_exercises.describe(ValueError(), tmp_path / "exercise.py") == "ValueError"


def test_in_child_returns_the_value_and_reports_errors(tmp_path, monkeypatch):
    """in_child forks: the student's module state changes stay in the child (no root needed here)."""
    student = tmp_path / "exercise.py"
    student.write_text("import os\nSEEN = []\ndef double(x):\n    SEEN.append(x)\n    return 2 * x\n"
                       "def broken():\n    return 1 / 0\n")
    monkeypatch.setenv(lab_exercises.UNDER_TEST, str(student))
    assert lab_exercises.in_child(lambda module: (module.double(21), os.getpid())[0]) == 42
    with pytest.raises(AssertionError, match=r"exercise.py line 7, in broken: ZeroDivisionError"):
        lab_exercises.in_child(lambda module: module.broken())


def test_in_child_stops_a_child_that_hangs(tmp_path, monkeypatch):
    student = tmp_path / "exercise.py"
    student.write_text("import time\ndef wait():\n    time.sleep(60)\n")
    monkeypatch.setenv(lab_exercises.UNDER_TEST, str(student))
    with pytest.raises(AssertionError, match="still running after 1 s"):
        lab_exercises.in_child(lambda module: module.wait(), timeout=1)


def test_fresh_keeps_the_students_file_and_puts_the_copy_back(tmp_path):
    lab = tmp_path / "01-namespaces"
    (lab / "exercise").mkdir(parents=True)
    (lab / "README.md").write_text("# Lab 01: x\n")
    (lab / "exercise" / "check_exercise.py").write_text("")
    (lab / "exercise" / "exercise.orig.py").write_text("gaps\n")
    (lab / "exercise" / "exercise.py").write_text("mine\n")
    one = labs.find_lab("01", tmp_path)
    assert lab_exercises.fresh(one) == lab / "exercise" / "exercise.py.1.bak"
    (lab / "exercise" / "exercise.py").write_text("mine again\n")
    assert lab_exercises.fresh(one) == lab / "exercise" / "exercise.py.2.bak"
    assert (lab / "exercise" / "exercise.py").read_text() == "gaps\n"
    assert (lab / "exercise" / "exercise.py.1.bak").read_text() == "mine\n"
    assert (lab / "exercise" / "exercise.py").stat().st_uid == (lab / "exercise").stat().st_uid


def test_the_cli_says_which_labs_have_an_exercise_and_refuses_solution_alone():
    env = {**os.environ, "GOPHERNETES_LABS": str(LABS), "PYTHONPATH": str(REPO)}
    listed = subprocess.run([sys.executable, "-m", "gophernetes", "lab", "list"], capture_output=True, text=True,
                            env=env)
    rows = {line.split()[0]: line.split()[-1] for line in listed.stdout.splitlines()[1:]}
    assert all(rows[name[:2]] == "yes" for name in EXERCISES), listed.stdout
    alone = subprocess.run([sys.executable, "-m", "gophernetes", "lab", "check", "01", "--solution"],
                           capture_output=True, text=True, env=env)
    assert alone.returncode == 125 and "--exercise" in alone.stderr
