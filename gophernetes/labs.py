"""The labs: find them, read their steps and checks, run the checks, keep the progress.

A lab is a folder `labs/NN-topic/` with
- `README.md`: the text, whose runnable steps are fenced blocks with the info string
  ```` ```sh step=N ```` (several blocks may share a step; other blocks are not run);
- `checks/test_*.py`: pytest-testinfra checks, one per step, named `test_step_N_...`.
  A check's docstring says what it verifies (first line) and how to get there without
  giving the command away (a paragraph starting with "Hint:");
- `solution.sh`: the README's step blocks, in order, as one script (CI runs it and a
  test makes sure it is still exactly the README's text: see `solution_script`);
- `questions.sh`: likewise the README's ```` ```sh question=N ```` blocks, the commands its
  "## Questions" tell a student to try, each right under question N (see
  `questions_script`). They run offline on a solved lab, in the VM and on a CI host: a
  command whose point is a failure says so (`cmd || echo "refused, as expected: $?"`), one
  that only the VM can run is guarded in the block (`if [ -d /run/systemd/system ]`).
  prove.sh runs questions.sh after the solved checks and needs exit 0;
- `reset.sh`: puts the host back as it was before the lab;
- `answers.md`: the answer key to the README's Questions (`gophernetes lab answers NN`,
  shown once the lab's checks have all passed, or on request).

Checks are pytest-testinfra tests (`pytest labs/NN-*/checks` runs them too); `lab check` calls
them without pytest's start-up, in a forked child (gophernetes.lab_checks), so a check that
crashes or hangs cannot take this process down. The exercises' checks (gophernetes.lab_exercises)
use pytest's fixtures: they run under pytest, reporting through a JUnit XML file.

    python -m gophernetes.labs write-solutions [LABS_DIR]   # regenerate every solution.sh and questions.sh
"""

from __future__ import annotations

import ast
import json
import os
import pwd
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gophernetes import lab_checks
from gophernetes.errors import NotFound, PermissionDenied, UsageError

LAB_DIR_PATTERN = re.compile(r"^(\d\d)-[a-z0-9-]+$")
STEP_FENCE = re.compile(r"^```sh\s+step=(\d+)\s*$")
QUESTION_FENCE = re.compile(r"^```sh\s+question=(\d+)\s*$")
CHECK_NAME = re.compile(r"^test_step_?(\d+)(?:_|$)")
PROGRESS_FILE = ".progress.json"
SOLUTION_HEADER = """#!/usr/bin/env bash
# Lab {number}: {title}
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail
"""
QUESTIONS_HEADER = """#!/usr/bin/env bash
# Lab {number}: {title}, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail
"""


@dataclass(frozen=True)
class Step:
    """One numbered step of a README: the shell text a student types."""

    number: int
    script: str


@dataclass(frozen=True)
class Check:
    """One check function: which step it verifies, what it says, its hint."""

    step: int
    name: str
    title: str
    hint: str


@dataclass
class CheckResult:
    check: Check
    passed: bool
    message: str = ""


@dataclass
class Lab:
    """A lab folder, e.g. labs/01-namespaces."""

    path: Path
    number: str = field(init=False)
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.path.name
        self.number = self.name[:2]

    @property
    def title(self) -> str:
        """The README's first heading, without a leading "Lab NN:"."""
        for line in self.readme.read_text().splitlines():
            if line.startswith("# "):
                return re.sub(r"^Lab\s+\d+\s*[:—-]\s*", "", line[2:]).strip()
        return self.name

    @property
    def readme(self) -> Path:
        return self.path / "README.md"

    @property
    def checks_dir(self) -> Path:
        return self.path / "checks"

    def steps(self) -> list[Step]:
        """The README's ```sh step=N blocks, merged per step, in the order they appear."""
        return parse_steps(self.readme.read_text())

    def questions(self) -> list[Step]:
        """The README's ```sh question=N blocks (what its Questions ask to try), merged per question."""
        return parse_questions(self.readme.read_text())

    def checks(self) -> list[Check]:
        """Every check in checks/test_*.py, by step (read with ast: nothing is imported)."""
        found: list[Check] = []
        for file in sorted(self.checks_dir.glob("test_*.py")):
            found += parse_checks(file.read_text())
        return sorted(found, key=lambda check: (check.step, check.name))

    @property
    def answers_file(self) -> Path:
        return self.path / "answers.md"

    def answers(self) -> str:
        """The answer key to the README's Questions."""
        if not self.answers_file.exists():
            raise NotFound(f"lab {self.number} has no answer key ({self.answers_file.name})")
        return self.answers_file.read_text()

    def hint(self, step: int) -> str:
        hints = [check.hint for check in self.checks() if check.step == step and check.hint]
        if not hints:
            raise NotFound(f"lab {self.number} has no hint for step {step} (steps: "
                           f"{', '.join(str(c.step) for c in self.checks())})")
        return "\n".join(hints)


def parse_steps(markdown: str) -> list[Step]:
    """Collect the fenced blocks marked ```sh step=N; a step may span several blocks."""
    return parse_blocks(markdown, STEP_FENCE, "step")


def parse_questions(markdown: str) -> list[Step]:
    """Collect the fenced blocks marked ```sh question=N (Step.number is the question's)."""
    return parse_blocks(markdown, QUESTION_FENCE, "question")


def parse_blocks(markdown: str, fence: re.Pattern, kind: str) -> list[Step]:
    """The blocks whose opening line matches `fence`, merged per number, in order; a block
    indented under a list item (a question's) loses its fence's indentation."""
    scripts: dict[int, list[str]] = {}
    current: int | None = None
    lines: list[str] = []
    indent = ""
    for line in markdown.splitlines():
        if current is None:
            match = fence.match(line.strip())
            if match:
                current, lines = int(match.group(1)), []
                indent = line[:len(line) - len(line.lstrip())]
        elif line.strip() == "```":
            scripts.setdefault(current, []).append("\n".join(lines))
            current = None
        else:
            lines.append(line.removeprefix(indent))
    if current is not None:
        raise UsageError(f"{kind} {current}: a ```sh block is never closed")
    return [Step(number, "\n".join(blocks)) for number, blocks in scripts.items()]


def parse_checks(source: str, pattern: re.Pattern[str] = CHECK_NAME) -> list[Check]:
    """The test_step_N functions of a check file (or those `pattern` names, its group 1
    the number), with their docstring's title and hint."""
    checks = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            match = pattern.match(node.name)
            if match:
                title, hint = split_docstring(ast.get_docstring(node) or "")
                checks.append(Check(int(match.group(1)), node.name, title, hint))
    return checks


def split_docstring(doc: str) -> tuple[str, str]:
    """'Title.\\n\\nMore.\\n\\nHint: do X.' -> ('Title.', 'do X.')."""
    paragraphs = [p.strip() for p in doc.split("\n\n") if p.strip()]
    title = paragraphs[0].replace("\n", " ") if paragraphs else ""
    hint = " ".join(p.removeprefix("Hint:").strip().replace("\n", " ") for p in paragraphs
                    if p.startswith("Hint:"))
    return title, hint


# ---------------------------------------------------------------- finding the labs


def labs_dir() -> Path:
    """Where the labs are: $GOPHERNETES_LABS, the current folder (or its labs/), the
    student's ~/labs (also under sudo), else the labs/ of a source checkout."""
    candidates = []
    if os.environ.get("GOPHERNETES_LABS"):
        return Path(os.environ["GOPHERNETES_LABS"])
    cwd = Path.cwd()
    candidates += [cwd, cwd.parent, cwd / "labs"]
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user:
        try:
            candidates.append(Path(pwd.getpwnam(sudo_user).pw_dir) / "labs")
        except KeyError:
            pass
    candidates += [Path.home() / "labs", Path(__file__).resolve().parent.parent / "labs"]
    for candidate in candidates:
        if _holds_labs(candidate):
            return candidate
    raise NotFound("no labs found: run from your labs folder (~/labs) or set GOPHERNETES_LABS")


def _holds_labs(folder: Path) -> bool:
    return folder.is_dir() and any(LAB_DIR_PATTERN.match(p.name) and (p / "README.md").exists()
                                   for p in folder.iterdir())


def discover(folder: Path | None = None) -> list[Lab]:
    """Every NN-topic folder with a README, in order."""
    folder = folder or labs_dir()
    return [Lab(p) for p in sorted(folder.iterdir())
            if p.is_dir() and LAB_DIR_PATTERN.match(p.name) and (p / "README.md").exists()]


def find_lab(ident: str, folder: Path | None = None) -> Lab:
    """A lab by number ("1", "01"), folder name ("01-namespaces") or topic ("namespaces")."""
    labs = discover(folder)
    for lab in labs:
        if ident in (lab.name, lab.name[3:]) or (ident.isdigit() and int(ident) == int(lab.number)):
            return lab
    raise NotFound(f"no lab {ident!r}; there are: {', '.join(lab.name for lab in labs)}")


# ---------------------------------------------------------------- running checks


def require_root(command: str) -> None:
    """The checks read other processes' namespaces and cgroups; resets undo root's work."""
    if os.geteuid() != 0:
        raise PermissionDenied(f"the labs look at and change the whole machine: run as root ({command})")


def run_checks(lab: Lab, timeout: float = 300) -> list[CheckResult]:
    """Run the lab's checks in a forked child (gophernetes.lab_checks); one result per check."""
    require_root(f"sudo gophernetes lab check {lab.number}")
    running = lab_checks.start_checks(lab.checks_dir)
    checks = lab.checks()  # read (with ast) while the child runs them: the lab VM has two CPUs
    try:
        completed = running.wait(timeout)
    except subprocess.TimeoutExpired:
        raise UsageError(f"the checks of lab {lab.number} did not finish within {timeout:.0f} s") from None
    outcomes = {}
    for line in completed.stdout.splitlines():
        if line.startswith("{"):
            one = json.loads(line)
            outcomes[one["name"]] = (bool(one["passed"]), str(one["message"]))
    if completed.returncode != 0:
        raise UsageError(f"the checks of lab {lab.number} could not run (is pytest-testinfra installed for "
                         f"{sys.executable}?): {(completed.stderr or completed.stdout).strip()[-400:]}")
    return _results(checks, outcomes)


def run_pytest(lab: Lab, target: Path, checks: list[Check], *, env: dict[str, str] | None = None,
               timeout: float = 300) -> list[CheckResult]:
    """Run the pytest file or folder `target` of `lab` in a child process; one result per
    check in `checks` (a check that did not run fails). `env` adds to the environment.
    The exercises' checks use pytest's fixtures, so they run under pytest itself."""
    with tempfile.TemporaryDirectory(prefix="gophernetes-lab-") as tmp:
        report = Path(tmp) / "report.xml"
        # Only the testinfra plugin: other installed plugins (hypothesis, ...) would double
        # the start-up time of every check run. -c /dev/null: no project's pytest settings.
        command = [sys.executable, "-m", "pytest", str(target), "-q", "--tb=line", "-p", "testinfra.plugin",
                   "-p", "no:cacheprovider", f"--junitxml={report}", "--rootdir", str(lab.path.parent),
                   "-c", os.devnull, "--confcutdir", str(lab.path.parent)]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
                                        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})})
        if not report.exists():
            raise UsageError(f"the checks of lab {lab.number} could not run (is pytest-testinfra installed for "
                             f"{sys.executable}?): {(completed.stderr or completed.stdout).strip()[-400:]}")
        outcomes = parse_junit(report.read_text())
    return _results(checks, outcomes)


def _results(checks: list[Check], outcomes: dict[str, tuple[bool, str]]) -> list[CheckResult]:
    results = []
    for check in checks:
        passed, message = outcomes.get(check.name, (False, "the check did not run"))
        results.append(CheckResult(check, passed, message))
    return results


def parse_junit(xml_text: str) -> dict[str, tuple[bool, str]]:
    """test name -> (passed, first line of the failure) from pytest's --junitxml."""
    import xml.etree.ElementTree as ET  # only the exercises' checks report in XML: not paid by `lab check NN`

    outcomes = {}
    for case in ET.fromstring(xml_text).iter("testcase"):
        problem = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        message = "" if problem is None else (problem.get("message") or problem.text or problem.tag)
        name = re.sub(r"\[.*\]$", "", case.get("name", ""))  # testinfra adds [local]
        outcomes[name] = (problem is None, _first_line(message))
    return outcomes


def _first_line(message: str) -> str:
    """The assertion's own words: pytest's 'AssertionError: x\\nassert ...' -> 'x'."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    return re.sub(r"^(AssertionError|Failed):\s*", "", line)


# ---------------------------------------------------------------- progress, reset, solutions


def progress_file(lab: Lab) -> Path:
    return lab.path.parent / PROGRESS_FILE


def load_progress(lab: Lab) -> dict[str, bool] | None:
    """check name -> passed, as the last `lab check` saw it (None: never checked)."""
    try:
        return json.loads(progress_file(lab).read_text()).get(lab.name)
    except (OSError, ValueError):
        return None


def save_progress(lab: Lab, results: list[CheckResult] | None) -> None:
    """Remember the results (None forgets them); best effort, the labs folder may be read-only."""
    path = progress_file(lab)
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        data = {}
    if results is None:
        data.pop(lab.name, None)
    else:
        data[lab.name] = {result.check.name: result.passed for result in results}
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.rename(path)
    except OSError:
        pass


def solved(lab: Lab) -> bool:
    """Did the last `lab check` see every step of the lab pass?"""
    progress = load_progress(lab) or {}
    checks = lab.checks()
    return bool(checks) and all(progress.get(check.name) for check in checks)


def reset(lab: Lab) -> subprocess.CompletedProcess:
    """Run the lab's reset.sh (it undoes whatever the steps made) and forget its progress."""
    require_root(f"sudo gophernetes lab reset {lab.number}")
    script = lab.path / "reset.sh"
    if not script.exists():
        raise NotFound(f"lab {lab.number} has no reset.sh")
    completed = subprocess.run(["bash", str(script)], cwd=lab.path, capture_output=True, text=True, timeout=300)
    save_progress(lab, None)
    return completed


def solution_script(lab: Lab) -> str:
    """What solution.sh must contain: the header, then each step's blocks in order."""
    parts = [SOLUTION_HEADER.format(number=lab.number, title=lab.title)]
    for step in lab.steps():
        parts.append(f"\n# --- step {step.number}\n{step.script}\n")
    return "".join(parts)


def questions_script(lab: Lab) -> str | None:
    """What questions.sh must contain (None: the README has no question blocks, no file)."""
    questions = lab.questions()
    if not questions:
        return None
    parts = [QUESTIONS_HEADER.format(number=lab.number, title=lab.title)]
    for question in questions:
        parts.append(f"\n# --- question {question.number}\n{question.script}\n")
    return "".join(parts)


def write_solutions(folder: Path | None = None) -> list[Path]:
    """Write every lab's solution.sh and, where its README has question blocks, questions.sh."""
    written = []
    for lab in discover(folder):
        scripts = {"solution.sh": solution_script(lab), "questions.sh": questions_script(lab)}
        for name, text in scripts.items():
            target = lab.path / name
            if text is None:
                target.unlink(missing_ok=True)
                continue
            target.write_text(text)
            target.chmod(0o755)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "write-solutions":
        sys.exit("usage: python -m gophernetes.labs write-solutions [LABS_DIR]")
    for path in write_solutions(Path(args[1]) if len(args) > 1 else None):
        print(path)


if __name__ == "__main__":
    main()
