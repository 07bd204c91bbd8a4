"""The runtime's own binary stays out of the container's reach (the CVE-2019-5736 class).

`gophernetes exec` is a Python process that joins the container before it execs the
command: for a moment it is a process *in* the container whose /proc/PID/exe is the
host's interpreter. A container process that opens that link can write to the host's
binary once nothing runs it any more; "#!/proc/self/exe" makes the kernel itself run the
host's binary in the container. Each test attacks a private copy of the interpreter
(the CLI runs from it) and checks the copy is still byte-for-byte the same.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import wait_until

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="the fake ELF interpreter is x86_64 code")


@pytest.fixture
def hostile_root(busybox_rootfs, attack_tools, tmp_path) -> Path:
    """busybox + the attacker + a fake ELF interpreter + /evil, a script run by "#!/proc/self/exe"."""
    root = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    shutil.copy(attack_tools / "attack", root / "attack")
    (root / "lib64").mkdir(exist_ok=True)
    shutil.copy(attack_tools / "fakeld", root / "lib64" / "ld-linux-x86-64.so.2")
    (root / "evil").write_text("#!/proc/self/exe\n")
    (root / "evil").chmod(0o755)
    return root


@pytest.fixture
def interpreter(tmp_path) -> Path:
    """A private copy of the interpreter that runs the CLI: the host binary under attack."""
    copy = tmp_path / "host-bin" / Path(os.path.realpath(sys.executable)).name
    copy.parent.mkdir()
    shutil.copy2(os.path.realpath(sys.executable), copy)
    return copy


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli_from(interpreter: Path, gophernetes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(interpreter), "-m", "gophernetes", *args], capture_output=True, text=True,
                          timeout=60, env=gophernetes.env)


def attack_log(cli) -> str:
    return cli("exec", "box", "cat", "/attack.log").stdout


def test_exec_cannot_be_reopened_through_proc_pid_exe(cli, hostile_root, interpreter):
    before = digest(interpreter)
    started = cli("run", "-d", "--name", "box", "--net", "none", "--rootfs", str(hostile_root), "/attack", "scan", "60")
    assert started.returncode == 0, started.stderr
    for _ in range(15):  # each exec is a window; the scanner watches all the time
        result = cli_from(interpreter, cli, "exec", "box", "/bin/true")
        if digest(interpreter) != before:
            break
        assert result.returncode == 0, result.stderr
    written = wait_until(lambda: digest(interpreter) != before, timeout=1)
    assert not written, attack_log(cli)
    assert "WRITTEN" not in attack_log(cli)


def test_exec_of_a_proc_self_exe_script_does_not_run_the_host_binary(cli, hostile_root, interpreter):
    before = digest(interpreter)
    started = cli("run", "-d", "--name", "box", "--net", "none", "--rootfs", str(hostile_root), "sleep", "60")
    assert started.returncode == 0, started.stderr
    cli_from(interpreter, cli, "exec", "box", "/evil")  # whatever it prints: the binary must not change
    written = wait_until(lambda: digest(interpreter) != before, timeout=1)
    assert not written, attack_log(cli)
    assert "hold" not in attack_log(cli)  # the fake ld.so never ran inside the host's binary


def test_run_refuses_a_command_whose_interpreter_is_the_runtime(gophernetes, hostile_root, interpreter):
    before = digest(interpreter)
    result = cli_from(interpreter, gophernetes, "run", "--net", "none", "--rootfs", str(hostile_root), "/evil")
    assert result.returncode == 126
    assert len(result.stderr.strip().splitlines()) == 1 and "/proc/self/exe" in result.stderr
    assert digest(interpreter) == before
