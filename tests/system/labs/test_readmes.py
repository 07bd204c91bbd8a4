"""What the labs' READMEs tell a student, read as text: every step can be typed in a new
shell, every command a README names (Questions included) is installed in the lab VM, every
question that names a command has a ```sh question=N block under it (the labs' system
test runs them), the sample outputs follow one rule (the labs' system test runs the steps
and compares).

These read files and ask dpkg (no root, no kernel), next to the tests that run the labs.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from gophernetes import labs
from tests.system.labs.conftest import LABS

ALL = [lab.name for lab in labs.discover(LABS)]

# Variables a step may use without setting them: the shell's own, and the environment's
# (always with a default where they matter: ${REGISTRY:-...}, ${GOPHERNETES_ROOT:-}).
SHELL_VARIABLES = {"PPID", "HOME", "PWD", "GOPHERNETES_ROOT", "REGISTRY", "CONTAINERD_ADDRESS"}


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


@pytest.mark.parametrize("name", ALL)
def test_every_question_block_sets_the_variables_it_uses(name):
    """A question's block is typed after the lab, in whatever shell: it sets what it uses."""
    for question in labs.find_lab(name, LABS).questions():
        missing = used(question.script) - assigned(question.script) - SHELL_VARIABLES
        assert not missing, f"{name} question {question.number} uses ${', $'.join(sorted(missing))} it does not set"


def test_the_variable_rule_sees_a_variable_from_another_step():
    assert used('sh -c "echo \\$\\$ > $MEM/cgroup.procs"') - assigned("echo") == {"MEM"}
    assert used("MEM=/sys/fs/cgroup/lab04; cat $MEM/memory.max") <= assigned("MEM=/sys/fs/cgroup/lab04")
    assert used("sh -c 'echo $PPID; jq $repo'") == set()


# ---------------------------------------------------------------- sample output
# A ```text output=N block is what step N prints, all of it, as the lab VM prints it; in it
# `...` stands for text that varies: a line of its own for any number of lines, a hex
# prefix with `...` (sha256:dce65c32b718...) for any digest, else anything on that line;
# a 12- or 64-digit hex word (a short or full ID, a digest) for any other of its length.
# The labs' system test runs each step and compares (the VM's registry address,
# 127.0.0.1:5000, stands for wherever $REGISTRY is).

SAMPLE_FENCE = re.compile(r"^```text\s+output=(\d+)\s*$")


def samples(markdown: str) -> dict[int, str]:
    """step number -> the README's sample of its output."""
    found: dict[int, str] = {}
    current, lines = None, []
    for line in markdown.splitlines():
        if current is None:
            match = SAMPLE_FENCE.match(line.strip())
            if match:
                current, lines = int(match.group(1)), []
        elif line.strip() == "```":
            found[current] = "\n".join(lines)
            current = None
        else:
            lines.append(line)
    return found


def sample_pattern(sample: str) -> re.Pattern:
    parts = []
    for line in sample.rstrip().splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        pieces = re.split(r"([0-9a-f]{6,}\.\.\.|\.\.\.|\b[0-9a-f]{12}\b|\b[0-9a-f]{64}\b)", line.rstrip())
        regex = "".join(r"[0-9a-f]+" if piece.endswith("...") and piece != "..." else
                        r"[^\n]*?" if piece == "..." else
                        rf"[0-9a-f]{{{len(piece)}}}" if re.fullmatch(r"[0-9a-f]{12}|[0-9a-f]{64}", piece) else
                        re.escape(piece) for piece in pieces)
        parts.append(regex + r"[ \t]*\n")
    return re.compile("".join(parts) + r"\Z")


def sample_matches(sample: str, output: str, registry: str = "127.0.0.1:5000") -> bool:
    sample = sample.replace("127.0.0.1:5000", registry)
    return sample_pattern(sample).match(output.rstrip() + "\n") is not None


def test_sample_rules():
    assert sample_matches("a\n...\nz", "a\nb\nc\nz\n")
    assert sample_matches("a\n...\nz", "a\nz")
    assert sample_matches("sha256:dce65c32b718...  x", "sha256:0123abcd  x")
    assert not sample_matches("sha256:dce65c32b718...  x", "sha256:  x")
    assert sample_matches('{"repositories":["busybox"...]}', '{"repositories":["busybox","debian"]}')
    assert not sample_matches("lrwxrwxrwx 1 root root 7 ... ls -> busybox",
                              "lrwxrwxrwx 1 root root 12 Dec 1 ls -> /bin/busybox")
    assert sample_matches("pull 127.0.0.1:5000/busybox", "pull 127.0.0.1:4711/busybox", "127.0.0.1:4711")
    assert not sample_matches("a\nb", "a\nb\nc")
    assert sample_matches("layer dce65c32b718 done", "layer 9dc856a058da done")
    assert not sample_matches("layer dce65c32b718 done", "layer 9dc856a058 done")


@pytest.mark.parametrize("name", ALL)
def test_samples_name_steps_that_exist(name):
    lab = labs.find_lab(name, LABS)
    steps = {step.number for step in lab.steps()}
    assert set(samples(lab.readme.read_text())) <= steps


# ---------------------------------------------------------------- commands the VM has
# Every program a README runs — in its ```sh blocks and in `inline commands` of the text
# and the Questions — must be installed on the lab VM: a package the roles install, or one
# every Debian system has (Priority required or important). Which package holds a
# program is asked of this (Debian 12) host's dpkg; programs missing here are listed below.

REPO_ROOT = LABS.parent
NOT_ON_THIS_HOST = {"tcpdump": "tcpdump", "ping": "iputils-ping"}
PROJECT = {"gophernetes", "gophernetes-runtime"}  # pyproject's console scripts, installed by roles/gophernetes
SHELL_WORDS = {"cd", "echo", "for", "do", "done", "if", "then", "else", "fi", "while", "until", "exec", "export",
               "set", "wait", "read", "test", "[", "]", "!", "{", "}", "true", ":", ".", "local", "return",
               "time", "sudo", "kill", "printf", "case", "esac", "in", "exit", "g5", "function", "elif",
               "break", "continue", "shift", "trap", "unset", "eval"}
ROLE_PACKAGE_LISTS = {"base": ["base_packages", "base_extra_packages"], "containerd": ["containerd_packages"],
                      "gophernetes": ["gophernetes_packages"], "registry": ["registry_packages"],
                      "images": ["images_packages"], "labs": ["labs_packages"]}


def vm_packages() -> set[str]:
    import yaml

    found: set[str] = set()
    for role, names in ROLE_PACKAGE_LISTS.items():
        defaults = yaml.safe_load((REPO_ROOT / "roles" / role / "defaults" / "main.yml").read_text())
        for name in names:
            found |= set(defaults.get(name) or [])
    return found


@functools.cache
def package_of(program: str) -> tuple[str, str] | None:
    """(package, priority) of PROGRAM on this host, per dpkg (through alternatives'
    links, /usr-merged paths and diversions: /bin/sh is dash's)."""
    import shutil
    import subprocess

    found = shutil.which(program, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        return None
    real = Path(found).resolve()
    candidates = [str(real), str(real).replace("/usr/", "/", 1), found, found.replace("/usr/", "/", 1)]
    owner = subprocess.run(["dpkg", "-S", *candidates], capture_output=True, text=True)
    packages = [line.split(":")[0] for line in owner.stdout.splitlines() if not line.startswith("diversion ")]
    if not packages:
        return None
    priority = subprocess.run(["dpkg-query", "-W", "-f", "${Priority}", packages[0]], capture_output=True, text=True)
    return packages[0], priority.stdout


def command_words(line: str) -> list[str]:
    """The programs a shell line runs: the first word of each simple command, and the
    command `ip netns exec NS` runs."""
    line = re.sub(r"'[^']*'|\"[^\"]*\"", " ", line.split(" #")[0])
    programs = []
    for segment in re.split(r"\|\||&&|[|;&()`{}]|\$\(", line):
        words = [w for w in segment.split() if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w)]
        while words and words[0] in ("sudo", "time", "exec", "timeout") or (words and re.fullmatch(r"\d+", words[0])):
            words = words[1:]
        if not words:
            continue
        programs.append(words[0])
        if words[:3] == ["ip", "netns", "exec"] and len(words) > 4:
            programs.append(words[4])
    return [p for p in programs if re.fullmatch(r"[a-z][a-z0-9_.-]*", p) and p not in SHELL_WORDS]


def readme_commands(markdown: str) -> list[str]:
    """Every line of every ```sh block, and every inline `code` whose first word is a program."""
    lines, inside = [], False
    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            inside = line.strip().startswith("```sh") and not inside
            continue
        if inside:
            lines.append(line)
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    import shutil

    for span in re.findall(r"`([^`\n]+)`", prose):
        first = span.split()[0] if span.split() else ""
        if " " in span.strip() and (shutil.which(first) or first in NOT_ON_THIS_HOST or first in PROJECT
                                    or first == "sudo"):
            lines.append(span)
    return lines


@pytest.mark.parametrize("name", ALL)
def test_every_command_of_the_readme_is_installed_in_the_vm(name):
    lab_text = labs.find_lab(name, LABS).readme.read_text()
    installed = vm_packages()
    missing = {}
    for line in readme_commands(lab_text):
        for program in command_words(line):
            if program in PROJECT:
                continue
            owner = package_of(program)
            package, priority = owner if owner else (NOT_ON_THIS_HOST.get(program), "")
            if package is None:
                missing[program] = "no package has it (on this host)"
            elif package not in installed and priority not in ("required", "important"):
                missing[program] = f"in {package} ({priority or 'not installed here'}), which the VM does not get"
    assert not missing, f"{name}/README.md runs programs the lab VM lacks: {missing}"


# ---------------------------------------------------------------- the Questions' commands
# A question that names a command to try has a ```sh question=N block right under it (in
# its list item), so that the command runs in CI (questions.sh) and not only in the text.


def question_items(markdown: str) -> dict[int, str]:
    """question number -> its text, blocks included, as the README's "## Questions" has it."""
    if "## Questions" not in markdown:
        return {}
    section = markdown.split("## Questions", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^(\d+)\. ", section, flags=re.M)
    return {int(number): text for number, text in zip(parts[1::2], parts[2::2], strict=True)}


@pytest.mark.parametrize("name", ALL)
def test_question_blocks_sit_under_their_question(name):
    lab = labs.find_lab(name, LABS)
    items = question_items(lab.readme.read_text())
    for number, text in items.items():
        assert {block.number for block in labs.parse_questions(text)} <= {number}, \
            f"{name}: a ```sh question=N block sits under question {number}"
    under = [(block.number, block.script) for text in items.values() for block in labs.parse_questions(text)]
    assert under == [(q.number, q.script) for q in lab.questions()], \
        f"{name}: a ```sh question=N block outside the Questions' list items"


@pytest.mark.parametrize("name", ALL)
def test_every_question_naming_a_command_has_a_block(name):
    lab = labs.find_lab(name, LABS)
    with_block = {question.number for question in lab.questions()}
    for number, text in question_items(lab.readme.read_text()).items():
        named = readme_commands(re.sub(r"```.*?```", "", text, flags=re.S))
        assert not named or number in with_block, \
            f"{name} question {number} names {named} but has no ```sh question={number} block to run it"


def test_question_items_and_their_blocks():
    readme = ("# Lab\n\n## Questions\n\n1. Why? Try `ls -l /proc/self/ns`:\n\n   ```sh question=1\n"
              "   ls -l /proc/self/ns\n   ```\n2. And?\n\n## Cleanup\n\n3. Not a question.\n")
    items = question_items(readme)
    assert sorted(items) == [1, 2] and "Not a question" not in items[2]
    assert [(q.number, q.script) for q in labs.parse_questions(items[1])] == [(1, "ls -l /proc/self/ns")]
    assert [line.strip() for line in readme_commands(items[1])] == ["ls -l /proc/self/ns"] * 2, "block and span"


def test_the_command_rule_finds_the_programs():
    assert command_words("ip netns exec lab05-world tcpdump -ni eth0") == ["ip", "tcpdump"]
    assert command_words('LAB=01 unshare --pid sh -c "x" >/dev/null 2>&1 &') == ["unshare"]
    assert command_words("PID=$(gophernetes inspect lab01 | jq .pid)") == ["gophernetes", "jq"]
    assert command_words("sudo gophernetes lab reset 01") == ["gophernetes"]
    assert "file" in command_words(readme_commands("Run `file /bin/ls` to see.")[0])
    assert command_words(readme_commands("Why did `ping 10.55.0.2` fail?")[0]) == ["ping"]
    assert readme_commands("1. Try:\n\n   ```sh question=1\n   findmnt /\n   ```\n") == ["   findmnt /"], \
        "a question's block is checked like a step's"
