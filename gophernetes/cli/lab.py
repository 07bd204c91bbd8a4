"""`gophernetes lab list|check|hint|answers|reset`: the numbered labs, their automatic checks
and the answer keys to their Questions.

The work is in gophernetes.labs; this module only prints. Colours appear on a terminal
and disappear in a pipe (click strips them), so `lab check` output can be grepped.
"""

from __future__ import annotations

import sys
import textwrap

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
    """


@lab.command("list")
def list_labs() -> None:
    """Every lab, with the progress its last `lab check` recorded."""
    from gophernetes import labs

    rows = [("LAB", "TOPIC", "STEPS", "PROGRESS")]
    for one in labs.discover():
        checks = one.checks()
        progress = labs.load_progress(one)
        if progress is None:
            done = "not checked yet"
        else:
            passed = sum(1 for check in checks if progress.get(check.name))
            done = "done" if passed == len(checks) else f"{passed}/{len(checks)} steps"
        rows.append((one.number, one.title, str(len(one.steps())), done))
    click.echo(table(rows))


@lab.command("check")
@click.argument("lab_id", metavar="LAB")
def check(lab_id: str) -> None:
    """Check LAB's steps on this host: PASS or FAIL per step, a hint for each failure.

    Exits 0 when every step passes, 1 otherwise (usable in scripts).
    """
    from gophernetes import labs

    one = labs.find_lab(lab_id)
    results = labs.run_checks(one)
    labs.save_progress(one, results)
    click.echo(f"Lab {one.number}: {one.title}")
    for result in results:
        click.echo(f"  {PASS if result.passed else FAIL}  step {result.check.step}: {result.check.title}")
        if not result.passed:
            if result.message:
                click.echo(click.style(f"        found: {result.message}", dim=True))
            if result.check.hint:
                hint = textwrap.fill(result.check.hint, width=92, initial_indent="        hint:  ",
                                     subsequent_indent=" " * 15)
                click.echo(click.style(hint, fg="yellow"))
    passed = sum(result.passed for result in results)
    click.echo(f"{passed}/{len(results)} steps pass" + (" - lab complete!" if passed == len(results) else ""))
    if passed == len(results) and one.answers_file.exists():
        click.echo(f"The answers to its Questions: gophernetes lab answers {one.number}")
    if passed != len(results):
        sys.exit(1)


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
    """Undo what LAB's steps made on this host (processes, mounts, cgroups, namespaces)."""
    from gophernetes import labs
    from gophernetes.errors import GophernetesError

    one = labs.find_lab(lab_id)
    completed = labs.reset(one)
    click.echo(completed.stdout, nl=False)
    if completed.returncode != 0:
        raise GophernetesError(f"reset of lab {one.number} failed: {completed.stderr.strip()[-300:]}")
    click.echo(f"Lab {one.number} is back to its start.")
