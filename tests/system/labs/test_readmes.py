"""What the labs' READMEs tell a student, read as text: every step can be typed in a new
shell, every command a README names (Questions included) is installed in the lab VM.

These read files only (no root, no kernel), next to the tests that run the labs.
"""

from __future__ import annotations

import re

import pytest

from gophernetes import labs
from tests.system.labs.conftest import LABS

ALL = [lab.name for lab in labs.discover(LABS)]

# Variables a step may use without setting them: the shell's own, and the environment's
# (always with a default where they matter: ${REGISTRY:-...}, ${GOPHERNETES_ROOT:-}).
SHELL_VARIABLES = {"PPID", "HOME", "PWD", "GOPHERNETES_ROOT", "REGISTRY"}


def without_single_quotes(script: str) -> str:
    """The script with its '...' strings blanked: nothing in there is expanded by this shell
    (sh -c '... $PPID ...', jq '.[] | $repo')."""
    return re.sub(r"'[^']*'", "''", script)


def assigned(script: str) -> set[str]:
    names = set(re.findall(r"(?:^|[\s;(&|])([A-Za-z_][A-Za-z0-9_]*)=", script, re.M))
    names |= set(re.findall(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b", script))
    return names


def used(script: str) -> set[str]:
    return set(re.findall(r"(?<!\\)\$\{?([A-Za-z_][A-Za-z0-9_]*)", without_single_quotes(script)))


@pytest.mark.parametrize("name", ALL)
def test_every_step_sets_the_variables_it_uses(name):
    """A step typed in a new shell must not expand an empty $MEM into `/cgroup.procs` at
    the filesystem's root: each step sets what it uses (issue 19)."""
    for step in labs.find_lab(name, LABS).steps():
        missing = used(step.script) - assigned(step.script) - SHELL_VARIABLES
        assert not missing, f"{name} step {step.number} uses ${', $'.join(sorted(missing))} set by another step"


def test_the_variable_rule_sees_a_variable_from_another_step():
    assert used('sh -c "echo \\$\\$ > $MEM/cgroup.procs"') - assigned("echo") == {"MEM"}
    assert used("MEM=/sys/fs/cgroup/lab04; cat $MEM/memory.max") <= assigned("MEM=/sys/fs/cgroup/lab04")
    assert used("sh -c 'echo $PPID; jq $repo'") == set()
