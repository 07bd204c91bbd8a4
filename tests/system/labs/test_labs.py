"""Every lab is solvable, checked and resettable — proven on this host, as a student would do it.

For each lab: on a fresh host `gophernetes lab check NN` fails every step; the README's
step blocks run in order in one shell (solution.sh is exactly those blocks, see the
first test), with a `lab check` after each: after step N, steps 1..N pass and no later
one does; at the end every step passes, and still after every step ran once more (a
student repeats a step); then the commands its Questions ask to try (questions.sh, the
README's question blocks) run and exit 0, and the lab still passes; `gophernetes lab
reset NN` then puts the host back, so every step fails again and nothing the lab made is
left (stacked mounts included).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gophernetes import labs
from tests.support import host_leftovers
from tests.system.labs.conftest import LABS
from tests.system.labs.test_readmes import sample_matches, samples

ALL = [lab.name for lab in labs.discover(LABS)]
NEEDS = {"06-images-layers": "registry", "07-containerd": "containerd", "08-security": "subids",
         "09-oci-runtimes": "containerd", "10-building-images": "registry"}


def step_results(output: str) -> dict[int, bool]:
    """`lab check` output -> {step: passed} (no colours: stdout is not a terminal)."""
    found = re.findall(r"^\s+(PASS|FAIL)\s+step (\d+):", output, re.M)
    return {int(step): verdict == "PASS" for verdict, step in found}


@pytest.mark.parametrize("name", ALL)
def test_the_solution_is_exactly_the_readme_steps(name):
    lab = labs.find_lab(name, LABS)
    assert lab.steps(), f"{name}/README.md has no ```sh step=N blocks"
    assert (lab.path / "solution.sh").read_text() == labs.solution_script(lab), \
        f"{name}/solution.sh is stale: run `python -m gophernetes.labs write-solutions`"


@pytest.mark.parametrize("name", ALL)
def test_the_questions_script_is_exactly_the_readme_question_blocks(name):
    lab = labs.find_lab(name, LABS)
    script, expected = lab.path / "questions.sh", labs.questions_script(lab)
    if expected is None:
        assert not script.exists(), f"{name}/questions.sh is left over: its README has no ```sh question=N blocks"
    else:
        assert script.exists() and script.read_text() == expected, \
            f"{name}/questions.sh is stale: run `python -m gophernetes.labs write-solutions`"


@pytest.mark.parametrize("name", ALL)
def test_every_step_has_one_check_with_a_hint(name):
    lab = labs.find_lab(name, LABS)
    steps = [step.number for step in lab.steps()]
    assert steps == list(range(1, len(steps) + 1)), f"steps are not numbered 1..N: {steps}"
    checks = lab.checks()
    assert [check.step for check in checks] == steps, "one check per step, in order"
    for check in checks:
        assert check.title and check.hint, f"{check.name} needs a docstring title and a 'Hint:' paragraph"
    assert (lab.path / "reset.sh").exists()


def checkpointed(lab: labs.Lab, log_dir: Path) -> str:
    """solution.sh with `gophernetes lab check` after each step; each step's own output and
    the check's kept per step (the same shell runs everything, a { } group is no subshell)."""
    parts = [labs.SOLUTION_HEADER.format(number=lab.number, title=lab.title)]
    for step in lab.steps():
        parts.append(f"\n# --- step {step.number}\n{{\n{step.script}\n}} > {log_dir}/step-{step.number}.out 2>&1\n"
                     f"cat {log_dir}/step-{step.number}.out\n"
                     f"{{ gophernetes lab check {lab.number} && echo 'exit status 0' || echo \"exit status $?\"; }}"
                     f" > {log_dir}/after-step-{step.number}.txt 2>&1\n")
    return "".join(parts)


@pytest.mark.parametrize("name", ALL)
def test_lab_fails_fresh_passes_solved_and_resets(name, lab_host, request):
    lab = labs.find_lab(name, LABS)
    if name in NEEDS:
        request.getfixturevalue(NEEDS[name])(lab_host)
    steps = [step.number for step in lab.steps()]
    images_before = store_images(lab_host)
    try:
        lab_host.gophernetes("lab", "reset", lab.number)
        fresh = lab_host.gophernetes("lab", "check", lab.number)
        assert fresh.returncode == 1, fresh.stdout + fresh.stderr
        assert step_results(fresh.stdout) == dict.fromkeys(steps, False), f"fresh host:\n{fresh.stdout}"

        solved = lab_host.run("bash", "-c", checkpointed(lab, lab_host.log_dir), log=f"{lab.number}-solution.log")
        outputs = {step: (lab_host.log_dir / f"step-{step}.out") for step in steps}
        outputs = {step: path.read_text() for step, path in outputs.items() if path.exists()}
        assert solved.returncode == 0, f"the solution failed:\n{(solved.stdout + list(outputs.values())[-1])[-3000:]}"
        for step in steps:
            after = (lab_host.log_dir / f"after-step-{step}.txt").read_text()
            expected = {n: n <= step for n in steps}
            assert step_results(after) == expected, f"after step {step}, only steps 1-{step} must pass:\n{after}"
            assert after.rstrip().endswith("exit status 0" if step == steps[-1] else "exit status 1"), after

        registry = lab_host.env.get("REGISTRY", "127.0.0.1:5000")
        for step, sample in samples(lab.readme.read_text()).items():
            assert sample_matches(sample, outputs[step], registry), \
                f"step {step} printed what its README's sample does not show:\n{outputs[step]}\n--- sample:\n{sample}"

        # A student repeats a step: every step once more (errors allowed: a second `ip netns
        # add` fails), then the lab still passes, and the reset must undo both runs (two
        # stacked mounts on one point, two containers' worth of state...).
        again_script = "set +e\n" + "".join(f"\n# --- step {step.number} again\n{step.script}\n"
                                             for step in lab.steps())
        lab_host.run("bash", "-c", again_script, log=f"{lab.number}-again.log")
        twice = lab_host.gophernetes("lab", "check", lab.number)
        assert twice.returncode == 0, f"after every step ran twice:\n{twice.stdout}"

        # What the Questions ask a student to try, on the solved lab: it runs, and leaves
        # the lab solved (a question that stops something starts it again).
        if labs.questions_script(lab) is not None:
            asked = lab_host.run("bash", str(lab.path / "questions.sh"), log=f"{lab.number}-questions.log")
            assert asked.returncode == 0, f"questions.sh exit {asked.returncode}:\n{asked.stdout[-3000:]}"
            still = lab_host.gophernetes("lab", "check", lab.number)
            assert still.returncode == 0, f"after the questions' commands:\n{still.stdout}"

        reset = lab_host.gophernetes("lab", "reset", lab.number)
        assert reset.returncode == 0, reset.stderr
        again = lab_host.gophernetes("lab", "check", lab.number)
        assert step_results(again.stdout) == dict.fromkeys(steps, False), f"after the reset:\n{again.stdout}"
    finally:
        lab_host.gophernetes("lab", "reset", lab.number)
    left = host_leftovers(Path(lab_host.env["GOPHERNETES_ROOT"]), lab_host.env["GOPHERNETES_CGROUP_PARENT"])
    assert left == {"cgroups": [], "mounts": [], "container folders": []}, f"the reset left behind: {left}"
    assert lab_mounts(lab.number) == [], "the reset left the lab's mounts behind"
    if name == "10-building-images":  # it builds, pushes and pulls: the store and the registry as found
        assert store_images(lab_host) == images_before, "the reset left images behind"
        tags = lab_host.run("curl", "-s", f"http://{lab_host.env['REGISTRY']}/v2/lab10/hello/tags/list")
        assert '"tags":null' in tags.stdout or "NAME_UNKNOWN" in tags.stdout, f"the registry still has {tags.stdout}"


def store_images(host) -> list[tuple[str, str]]:
    """(name, id) of every image in the lab host's store."""
    import json

    listed = host.gophernetes("images", "--format", "json")
    return sorted((image["name"], image["id"]) for image in json.loads(listed.stdout or "[]"))


def lab_mounts(number: str) -> list[str]:
    """Mounts of the host naming the lab (/run/lab01/uts, /srv/lab06/merged, tmpfs lab03-shared, ...)."""
    pattern = re.compile(rf"(^|[/ ])lab{number}([-/ ]|$)")
    return [line.strip() for line in Path("/proc/self/mountinfo").read_text().splitlines() if pattern.search(line)]
