"""TAB completion: the scripts click prints, and the names they offer, asked as bash asks."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest


def offered(cli, *words: str) -> list[str]:
    """What gophernetes offers for the last of `words`, as bash's completion function asks it."""
    line = " ".join(("gophernetes", *words))
    result = subprocess.run([sys.executable, "-m", "gophernetes"], capture_output=True, text=True, timeout=60,
                            env={**cli.env, "_GOPHERNETES_COMPLETE": "bash_complete", "COMP_WORDS": line,
                                 "COMP_CWORD": str(len(words))})
    assert result.returncode == 0, result.stderr
    return [entry.split(",", 1)[1] for entry in result.stdout.splitlines()]


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o nosort -F _gophernetes_completion"),
                                               ("zsh", "#compdef gophernetes"),
                                               ("fish", "complete --no-files --command gophernetes")])
def test_each_shell_gets_its_script(cli, shell, marker):
    result = cli("completion", shell)
    assert result.returncode == 0 and marker in result.stdout and "_GOPHERNETES_COMPLETE" in result.stdout


def test_an_unknown_shell_is_refused_in_one_line(cli):
    result = cli("completion", "tcsh")
    assert result.returncode == 125 and len(result.stderr.strip().splitlines()) == 1


def test_commands_and_options_complete(cli):
    assert offered(cli, "sta") == ["start", "stats"]
    assert "--no-stream" in offered(cli, "stats", "--no-")


def test_container_image_and_network_names_complete(cli):
    for name in ("web", "worker", "db"):
        assert cli("run", "-d", "--net", "none", "--name", name, "busybox", "sleep", "600").returncode == 0
    assert cli("network", "create", "backend").returncode == 0
    assert offered(cli, "top", "w") == ["web", "worker"]
    assert offered(cli, "rm", "-f", "d") == ["db"]
    assert offered(cli, "cp", "we") == ["web:", "we"]
    assert offered(cli, "run", "bus") == ["busybox:latest"]
    assert offered(cli, "network", "inspect", "back") == ["backend"]


def test_volume_names_complete_where_a_volume_is_named(cli):
    for name in ("data", "db-data", "logs"):
        assert cli("volume", "create", name).returncode == 0
    assert cli("network", "create", "hostnet").returncode == 0
    assert cli("run", "--rm", "--net", "none", "busybox", "true").returncode == 0  # the image, made on first use
    assert offered(cli, "volume", "rm", "d") == ["data", "db-data"]
    assert offered(cli, "volume", "inspect", "data", "l") == ["logs"]
    assert offered(cli, "run", "-v", "db") == ["db-data:", "db"]  # then the container path
    assert offered(cli, "run", "-v", "/sr") == ["/sr"]  # a host path: the shell's own file completion
    assert offered(cli, "run", "--net", "ho") == ["host", "hostnet"]
    assert offered(cli, "image", "inspect", "bus") == ["busybox:latest"]
    assert offered(cli, "save", "bus") == ["busybox:latest"]


def bash_completes(cli, tmp_path, words: str) -> str:
    """The completion script sourced into a real bash, its function called as readline would
    call it for the command line WORDS (the last word being completed); what it offers."""
    if not shutil.which("bash"):
        pytest.skip("bash is not installed")
    launcher = tmp_path / "bin" / "gophernetes"
    launcher.parent.mkdir()
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} -m gophernetes \"$@\"\n")
    launcher.chmod(0o755)
    script = cli("completion", "bash").stdout
    bash = (f"{script}\nCOMP_WORDS=({words}); COMP_CWORD={len(words.split()) - 1}\n"
            "_gophernetes_completion gophernetes; echo \"${COMPREPLY[@]}\"\n")
    result = subprocess.run(["bash", "--norc", "-c", bash], capture_output=True, text=True, timeout=60,
                            env={**cli.env, "PATH": f"{launcher.parent}:{cli.env.get('PATH', '/usr/bin:/bin')}"})
    return result.stdout.strip() or result.stderr


def test_bash_itself_completes_a_container_name(cli, tmp_path):
    assert cli("run", "-d", "--net", "none", "--name", "webserver", "busybox", "sleep", "600").returncode == 0
    assert bash_completes(cli, tmp_path, "gophernetes logs webs") == "webserver"


def test_bash_itself_completes_a_volume_name(cli, tmp_path):
    assert cli("volume", "create", "uploads").returncode == 0
    assert bash_completes(cli, tmp_path, "gophernetes volume rm up") == "uploads"
