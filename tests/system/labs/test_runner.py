"""The lab runner itself: steps read from a README, checks and hints read from their
docstrings, the checks' results read back, the `gophernetes lab` commands' output and exit codes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from gophernetes import labs
from gophernetes.errors import NotFound, UsageError
from tests.system.labs.conftest import LABS, REPO

README = """# Lab 09: Example

```sh
echo not a step
```

```sh step=1
echo one
```

Text between two blocks of the same step.

```sh step=1
echo one again
```

```sh step=2
echo two
```
"""

CHECKS = '''
def test_step_1_something(host):
    """It is there.

    More words
    on two lines.

    Hint: look
    over there.
    """


def test_step_2_other(host):
    """Without a hint."""


def helper():
    """Not a check."""
'''


def test_steps_are_the_marked_blocks_merged_per_step():
    steps = labs.parse_steps(README)
    assert [(s.number, s.script) for s in steps] == [(1, "echo one\necho one again"), (2, "echo two")]


def test_an_unclosed_step_block_is_an_error():
    with pytest.raises(UsageError, match="step 3"):
        labs.parse_steps("```sh step=3\necho never closed\n")


QUESTIONS = README + """
## Questions

1. Why? Try it:

   ```sh question=1
   echo one
   cat <<'JSON'
   {"indented": "under the list item, not in the script"}
   JSON
   ```

   And again:

   ```sh question=1
   echo one again
   ```
2. Nothing to try.
3. Here too:

   ```sh question=3
   echo three || echo "refused, as expected: $?"
   ```
"""


def test_question_blocks_are_parsed_like_steps_without_their_indentation():
    questions = labs.parse_questions(QUESTIONS)
    assert [(q.number, q.script) for q in questions] == [
        (1, 'echo one\ncat <<\'JSON\'\n{"indented": "under the list item, not in the script"}\nJSON\necho one again'),
        (3, 'echo three || echo "refused, as expected: $?"'),
    ]
    assert [s.number for s in labs.parse_steps(QUESTIONS)] == [1, 2], "question blocks are no steps"
    assert labs.parse_questions(README) == []


def test_an_unclosed_question_block_is_an_error():
    with pytest.raises(UsageError, match="question 2"):
        labs.parse_questions("2. Try:\n   ```sh question=2\n   echo never closed\n")


def test_write_solutions_writes_questions_sh_only_for_a_readme_with_question_blocks(tmp_path):
    for name, text in (("01-with", QUESTIONS), ("02-without", README)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "README.md").write_text(text)
    (tmp_path / "02-without" / "questions.sh").write_text("stale\n")
    written = labs.write_solutions(tmp_path)
    assert sorted(path.relative_to(tmp_path).as_posix() for path in written) == [
        "01-with/questions.sh", "01-with/solution.sh", "02-without/solution.sh"]
    assert not (tmp_path / "02-without" / "questions.sh").exists(), "a stale questions.sh is removed"
    script = (tmp_path / "01-with" / "questions.sh").read_text()
    assert script.startswith("#!/usr/bin/env bash\n# Lab 01: Example, the commands its Questions ask")
    assert "\n# --- question 1\necho one\n" in script and "\n# --- question 3\necho three" in script
    assert "set -euo pipefail\n" in script
    ran = subprocess.run(["bash", str(tmp_path / "01-with" / "questions.sh")], capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout.splitlines()[0] == "one" and ran.stdout.splitlines()[-1] == "three"


def test_checks_come_with_their_title_and_hint():
    checks = labs.parse_checks(CHECKS)
    assert [(c.step, c.name, c.title, c.hint) for c in checks] == [
        (1, "test_step_1_something", "It is there.", "look over there."),
        (2, "test_step_2_other", "Without a hint.", ""),
    ]


def test_junit_results_are_matched_to_checks_without_testinfras_suffix():
    """The exercises' checks run under pytest and report through JUnit XML."""
    xml = """<testsuites><testsuite>
      <testcase name="test_part_1_a[local]"/>
      <testcase name="test_part_2_b[local]"><failure message="AssertionError: no veth named veth-c1&#10;assert []">
      </failure></testcase>
    </testsuite></testsuites>"""
    assert labs.parse_junit(xml) == {"test_part_1_a": (True, ""), "test_part_2_b": (False, "no veth named veth-c1")}


@pytest.mark.parametrize("ident", ["1", "01", "01-namespaces", "namespaces"])
def test_a_lab_is_found_by_number_folder_or_topic(ident):
    assert labs.find_lab(ident, LABS).name == "01-namespaces"


def test_an_unknown_lab_names_the_ones_there_are():
    with pytest.raises(NotFound, match="01-namespaces"):
        labs.find_lab("99", LABS)


def cli(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {"GOPHERNETES_LABS": str(LABS), "GOPHERNETES_ROOT": str(tmp_path / "state"), "PYTHONPATH": str(REPO),
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    return subprocess.run([sys.executable, "-m", "gophernetes", "lab", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_lab_list_shows_every_lab_with_its_steps(tmp_path):
    listed = cli("list", tmp_path=tmp_path)
    assert listed.returncode == 0, listed.stderr
    for lab in labs.discover(LABS):
        assert f"{lab.number}    {lab.title}" in listed.stdout
    assert "LAB" in listed.stdout.splitlines()[0] and "PROGRESS" in listed.stdout.splitlines()[0]


def test_lab_hint_guides_and_a_missing_step_is_an_error(tmp_path):
    hint = cli("hint", "01", "1", tmp_path=tmp_path)
    assert hint.returncode == 0 and "unshare" in hint.stdout
    missing = cli("hint", "01", "42", tmp_path=tmp_path)
    assert missing.returncode == 125 and "no hint for step 42" in missing.stderr


def test_lab_check_exits_1_and_prints_a_hint_per_failed_step(tmp_path):
    checked = cli("check", "03", tmp_path=tmp_path)   # nothing of lab 03 exists on a test host
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stdout.count("FAIL  step") == len(labs.find_lab("03", LABS).checks())
    assert checked.stdout.count("hint:") == checked.stdout.count("FAIL  step")
    assert "\x1b[" not in checked.stdout, "no colours in a pipe"


def test_lab_check_as_a_normal_user_says_to_use_sudo(tmp_path):
    # Debian's python3 (with python3-click): a normal user may not reach a pyenv under /root
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-m", "gophernetes",
               "lab", "check", "01"]
    env = {"GOPHERNETES_LABS": str(LABS), "PYTHONPATH": str(REPO), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": str(tmp_path)}
    checked = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert checked.returncode == 125 and "sudo gophernetes lab check 01" in checked.stderr, checked.stderr


def test_info_as_a_student_without_sudo_says_to_use_sudo(tmp_path):
    """A student's first `gophernetes info` in the VM is without sudo: containerd's socket is
    root's and nft lives in /usr/sbin, outside their PATH. That is no verdict on the host."""
    if shutil.which("runuser") is None:
        pytest.skip("runuser (util-linux) is not installed")
    # Debian's python, as in the VM (a pyenv one under /root is out of nobody's reach)
    if subprocess.run(["/usr/bin/python3", "-c", "import click"], capture_output=True).returncode != 0:
        pytest.skip("/usr/bin/python3 has no click (apt-get install python3-click)")
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "GOPHERNETES_ROOT": str(tmp_path / "state"),
           "GOPHERNETES_CONTAINERD_ADDRESS": str(tmp_path / "containerd.sock")}
    command = ["runuser", "-u", "nobody", "--", "/usr/bin/env", *(f"{k}={v}" for k, v in env.items()),
               "/usr/bin/python3", "-m", "gophernetes", "info"]
    shown = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "containerd:  run with sudo to see" in shown.stdout
    assert "Firewall:       run with sudo to see" in shown.stdout
    assert "not reachable" not in shown.stdout and "neither nft nor iptables" not in shown.stdout


# ---------------------------------------------------------------- answer keys


def questions(markdown: str) -> list[str]:
    """The numbers of the README's Questions ("1.", "2.", ... under ## Questions)."""
    section = markdown.split("## Questions", 1)[1].split("\n## ", 1)[0] if "## Questions" in markdown else ""
    return re.findall(r"^(\d+)\. ", section, re.M)


@pytest.mark.parametrize("name", [lab.name for lab in labs.discover(LABS)])
def test_every_question_has_an_answer(name):
    lab = labs.find_lab(name, LABS)
    asked = questions(lab.readme.read_text())
    assert asked, f"{name}/README.md has no Questions"
    answered = re.findall(r"^(\d+)\. \*\*", lab.answers(), re.M)
    assert answered == asked, f"{name}/answers.md answers {answered}, the README asks {asked}"


def test_answers_wait_for_the_lab_to_be_solved_or_a_yes(tmp_path):
    labs_copy = tmp_path / "labs"
    shutil.copytree(LABS / "01-namespaces", labs_copy / "01-namespaces")
    env = {"GOPHERNETES_LABS": str(labs_copy), "GOPHERNETES_ROOT": str(tmp_path / "state"),
           "PYTHONPATH": str(REPO), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    key = (labs_copy / "01-namespaces" / "answers.md").read_text()

    def answers(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gophernetes", "lab", "answers", "01", *args],
                              capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)

    unsolved = answers()
    assert unsolved.returncode == 125 and unsolved.stdout == ""
    assert "not solved yet" in unsolved.stderr and "--yes" in unsolved.stderr
    forced = answers("--yes")
    assert forced.returncode == 0 and forced.stdout == key

    lab = labs.find_lab("01", labs_copy)
    labs.save_progress(lab, [labs.CheckResult(check, True) for check in lab.checks()])
    solved = answers()
    assert solved.returncode == 0 and solved.stdout == key

    labs.save_progress(lab, [labs.CheckResult(check, check.step != 4) for check in lab.checks()])
    assert answers().returncode == 125, "one step failing in the last check: not solved"


def test_a_lab_without_an_answer_key_says_so(tmp_path):
    labs_copy = tmp_path / "labs"
    shutil.copytree(LABS / "01-namespaces", labs_copy / "01-namespaces", ignore=shutil.ignore_patterns("answers.md"))
    with pytest.raises(NotFound, match="no answer key"):
        labs.find_lab("01", labs_copy).answers()
