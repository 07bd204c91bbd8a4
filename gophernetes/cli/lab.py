"""`gophernetes lab list|check|hint|answers|reset|exercise`: the numbered labs, their automatic
checks, the answer keys to their Questions and their Python exercises.

The work is in gophernetes.labs and gophernetes.lab_exercises; this module only prints. Colours appear on a terminal
and disappear in a pipe (click strips them), so `lab check` output can be grepped.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import click

from gophernetes.cli.output import table

PASS, FAIL = click.style("PASS", fg="green", bold=True), click.style("FAIL", fg="red", bold=True)


@click.group("lab")
def lab() -> None:
    """The labs: list them, check your work, get a hint, start over.

    \b
    Examples:
      gophernetes lab list
      sudo gophernetes lab check 01
      gophernetes lab hint 01 2
      gophernetes lab answers 01
      sudo gophernetes lab reset 01
      sudo gophernetes lab check 01 --exercise    # the Python exercise of lab 01
    """


@lab.command("list")
def list_labs() -> None:
    """Every lab, with the progress its last `lab check` recorded, and whether it has an exercise."""
    from gophernetes import lab_exercises, labs

    rows = [("LAB", "TOPIC", "STEPS", "PROGRESS", "EXERCISE")]
    for one in labs.discover():
        checks = one.checks()
        progress = labs.load_progress(one)
        if progress is None:
            done = "not checked yet"
        else:
            passed = sum(1 for check in checks if progress.get(check.name))
            done = "done" if passed == len(checks) else f"{passed}/{len(checks)} steps"
        exercise = "yes" if lab_exercises.has_exercise(one) else "-"
        rows.append((one.number, one.title, str(len(one.steps())), done, exercise))
    click.echo(table(rows))


@lab.command("check")
@click.argument("lab_id", metavar="LAB")
@click.option("--exercise", is_flag=True,
              help="Check LAB's Python exercise (exercise/exercise.py) instead of its steps.")
@click.option("--solution", is_flag=True, help="With --exercise: check the exercise's solution.py instead.")
@click.option("--file", "file", type=click.Path(path_type=Path), metavar="PATH",
              help="With --exercise: check this Python file instead of exercise/exercise.py.")
def check(lab_id: str, exercise: bool, solution: bool, file: Path | None) -> None:
    """Check LAB's steps on this host: PASS or FAIL per step, a hint for each failure.

    With --exercise, run the exercise's check instead: your exercise/exercise.py runs
    for real (as root, in throw-away child processes), PASS or FAIL per part.
    Exits 0 when every step (or part) passes, 1 otherwise (usable in scripts).
    """
    from gophernetes import labs
    from gophernetes.errors import UsageError

    one = labs.find_lab(lab_id)
    if (solution or file) and not exercise:
        raise UsageError("--solution and --file go with --exercise: gophernetes lab check NN --exercise --solution")
    if solution and file:
        raise UsageError("--solution or --file, not both")
    if exercise:
        from gophernetes import lab_exercises

        results = lab_exercises.run(one, solution=solution, file=file)
        which = file.name if file else "solution.py" if solution else "exercise.py"
        click.echo(f"Lab {one.number} exercise ({which}): {one.title}")
        passed = _print_results(results, "part")
        click.echo(f"{passed}/{len(results)} parts pass" + (" - exercise complete!" if passed == len(results) else ""))
        if passed == len(results) and not solution and not file:
            click.echo(f"Now compare with gophernetes' own code: {lab_exercises.exercise_of(one).solution_file}")
    else:
        results = labs.run_checks(one)
        labs.save_progress(one, results)
        click.echo(f"Lab {one.number}: {one.title}")
        passed = _print_results(results, "step")
        click.echo(f"{passed}/{len(results)} steps pass" + (" - lab complete!" if passed == len(results) else ""))
        if passed == len(results) and one.answers_file.exists():
            click.echo(f"The answers to its Questions: gophernetes lab answers {one.number}")
    if passed != len(results):
        sys.exit(1)


def _print_results(results: list, noun: str) -> int:
    """PASS/FAIL per step (or part), with what was found and the hint for a failure; how many passed."""
    for result in results:
        click.echo(f"  {PASS if result.passed else FAIL}  {noun} {result.check.step}: {result.check.title}")
        if not result.passed:
            if result.message:
                click.echo(click.style(f"        found: {result.message}", dim=True))
            if result.check.hint:
                hint = textwrap.fill(result.check.hint, width=92, initial_indent="        hint:  ",
                                     subsequent_indent=" " * 15)
                click.echo(click.style(hint, fg="yellow"))
    return sum(result.passed for result in results)


@lab.command("hint")
@click.argument("lab_id", metavar="LAB")
@click.argument("step", type=int)
def hint(lab_id: str, step: int) -> None:
    """Show the hint for STEP of LAB (it guides; the README has the commands)."""
    from gophernetes import labs

    click.echo(textwrap.fill(labs.find_lab(lab_id).hint(step), width=88))


@lab.command("answers")
@click.argument("lab_id", metavar="LAB")
@click.option("--yes", "-y", is_flag=True, help="Show them without asking, even before the lab's checks pass.")
def answers(lab_id: str, yes: bool) -> None:
    """Show the answer key to LAB's Questions.

    Once `lab check` has seen every step pass they are shown at once; before that, only
    after you confirm (or with --yes): try the Questions first.
    """
    from gophernetes import labs
    from gophernetes.errors import UsageError

    one = labs.find_lab(lab_id)
    text = one.answers()
    if not yes and not labs.solved(one):
        question = (f"Lab {one.number} is not solved yet (its last `sudo gophernetes lab check {one.number}` "
                    f"did not pass every step). Show the answers anyway?")
        if not sys.stdin.isatty():
            raise UsageError(f"lab {one.number} is not solved yet: solve it, or ask with --yes to see the answers")
        if not click.confirm(question, default=False):
            raise UsageError("not shown")
    click.echo(text, nl=not text.endswith("\n"))


@lab.command("reset")
@click.argument("lab_id", metavar="LAB")
def reset(lab_id: str) -> None:
    """Undo what LAB's steps made on this host (processes, mounts, cgroups, namespaces).

    Your exercise/exercise.py is never touched: `lab exercise LAB --fresh` starts it over.
    """
    from gophernetes import labs
    from gophernetes.errors import GophernetesError

    one = labs.find_lab(lab_id)
    completed = labs.reset(one)
    click.echo(completed.stdout, nl=False)
    if completed.returncode != 0:
        raise GophernetesError(f"reset of lab {one.number} failed: {completed.stderr.strip()[-300:]}")
    click.echo(f"Lab {one.number} is back to its start.")


@lab.command("exercise")
@click.argument("lab_id", metavar="LAB")
@click.option("--fresh", is_flag=True,
              help="Start over: keep your file as exercise.py.N.bak, put the untouched one back.")
def exercise(lab_id: str, fresh: bool) -> None:
    """Where LAB's Python exercise is and how to check it; --fresh starts it over."""
    from gophernetes import lab_exercises, labs

    one = labs.find_lab(lab_id)
    found = lab_exercises.exercise_of(one)
    if fresh:
        kept = lab_exercises.fresh(one)
        click.echo(f"{found.student_file} is as new" + (f"; yours is kept as {kept.name}" if kept else ""))
        return
    click.echo(f"Lab {one.number} exercise: edit {found.student_file}")
    click.echo(f"  check it:    sudo gophernetes lab check {one.number} --exercise")
    click.echo(f"  start over:  gophernetes lab exercise {one.number} --fresh")
