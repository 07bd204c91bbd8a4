"""-it: a real pseudo-terminal, driven the way a person would — keys typed into tmux."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from support import wait_until

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/install")


def open_window(env: dict, command: str) -> str:
    """A new 100x30 tmux session running `command` with the test's environment; its name."""
    session = f"gnt-{uuid.uuid4().hex[:6]}"
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()
                       if k.startswith(("GOPHERNETES", "PYTHON", "PATH")))
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                    f"env {exports} {command}"], check=True)
    return session


@pytest.fixture
def terminal(gophernetes):
    """A tmux window with a shell (prompt "host#"); keys in, screen out."""
    session = open_window(gophernetes.env, "PS1='host# ' bash --norc --noprofile")

    class Terminal:
        def type(self, keys: str, enter: bool = True) -> None:
            subprocess.run(["tmux", "send-keys", "-t", session, keys, *(["Enter"] if enter else [])], check=True)

        def at_prompt(self, prompt: str, timeout: float = 15) -> bool:
            """Wait until the last line on screen is `prompt`: the shell is waiting for input."""
            def last_line() -> str:
                lines = [line for line in self.screen().splitlines() if line.strip()]
                return lines[-1].strip() if lines else ""
            return wait_until(lambda: last_line() == prompt, timeout)

        def screen(self) -> str:
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True, check=True).stdout

        def shows(self, text: str, timeout: float = 15) -> bool:
            if wait_until(lambda: text in self.screen(), timeout):
                return True
            print(self.screen())  # shown by pytest when the assertion fails
            return False

    yield Terminal()
    subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    left = gophernetes("list", "--all", "--quiet").stdout.split()
    if left:  # a foreground container whose terminal went away with the session
        gophernetes("rm", "--force", *left)


def test_run_it_gives_the_container_a_terminal_of_its_own(terminal, gophernetes):
    terminal.type(f"{sys.executable} -m gophernetes run -it --net none busybox sh")
    assert terminal.shows("/ #")
    terminal.type("stty size; tty; echo pid=$$")
    assert terminal.shows("pid=1")
    screen = terminal.screen()
    assert "30 100" in screen
    assert "/dev/pts/0" in screen  # a pts of the container's own devpts
    terminal.type("sleep 100")
    time.sleep(0.5)
    terminal.type("C-c", enter=False)  # Ctrl-C interrupts the sleep, not the container
    terminal.type("echo still-here; exit 5")
    assert terminal.shows("still-here")
    assert terminal.at_prompt("host#")
    terminal.type("echo status=$?")
    assert terminal.shows("status=5")


def test_exec_it_opens_a_shell_inside_a_running_container(terminal, gophernetes):
    started = gophernetes("run", "-d", "--net", "none", "--name", "box", "--hostname", "boxhost", "busybox",
                          "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        terminal.type(f"{sys.executable} -m gophernetes exec -it box sh")
        assert terminal.shows("/ #")
        terminal.type("hostname; tty")
        assert terminal.shows("boxhost")
        assert "/dev/pts/" in terminal.screen()
        assert terminal.at_prompt("/ #")
        terminal.type("exit 3")
        assert terminal.at_prompt("host#")
        terminal.type("echo status=$?")
        assert terminal.shows("status=3")
    finally:
        gophernetes("rm", "-f", "box")


def test_closing_the_terminal_ends_a_foreground_container(gophernetes):
    """The window closes: our stdin ends, the pty hangs up, the container's shell reads EOF and exits."""
    session = open_window(gophernetes.env, f"{sys.executable} -m gophernetes run -it --net none busybox sh")
    try:
        assert wait_until(lambda: gophernetes("list", "--quiet").stdout.strip() != "")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    assert wait_until(lambda: gophernetes("list", "--all", "--quiet").stdout == "", timeout=10)


# Without -t: the container never holds our terminal (runtime/terminal.py).

@pytest.fixture
def attack_root(busybox_rootfs, attack_tools, tmp_path):
    """busybox and /attack, whose `tiocsti TEXT` pushes TEXT into every terminal it can reach."""
    root = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    shutil.copy(attack_tools / "attack", root / "attack")
    return root


def typed_command_ran(terminal, marker) -> bool:
    """Let the host shell read whatever was pushed into its input, then look for its trace."""
    terminal.type("echo done-$((40+2))")
    assert terminal.shows("done-42")
    return marker.exists()


def test_run_without_t_cannot_type_into_the_host_shell(terminal, gophernetes, attack_root, tmp_path):
    marker = tmp_path / "typed-by-the-container"
    terminal.type(f"{sys.executable} -m gophernetes run --net none --rootfs {attack_root} "
                  f"/attack tiocsti $'touch {marker}\\n'")
    assert terminal.shows("/dev/tty:")  # the attack ran and reported
    assert terminal.at_prompt("host#")
    assert not typed_command_ran(terminal, marker)
    screen = terminal.screen()
    assert "fd 0: pushed 0" in screen and "fd 1: pushed 0" in screen and "fd 2: pushed 0" in screen
    assert "/dev/tty: No such device or address" in screen  # no controlling terminal at all


def test_exec_without_t_cannot_type_into_the_host_shell(terminal, gophernetes, attack_root, tmp_path):
    marker = tmp_path / "typed-by-the-container"
    started = gophernetes("run", "-d", "--net", "none", "--name", "box", "--rootfs", str(attack_root), "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        terminal.type(f"{sys.executable} -m gophernetes exec box /attack tiocsti $'touch {marker}\\n'")
        assert terminal.shows("/dev/tty:")
        assert terminal.at_prompt("host#")
        assert not typed_command_ran(terminal, marker)
        assert "fd 0: pushed 0" in terminal.screen()
    finally:
        gophernetes("rm", "-f", "box")


SCRIPT = ("echo ready; read line; echo \"got: $line\"; trap 'echo interrupted; exit 7' INT; echo waiting; "
          "while :; do sleep 0.1; done")


def stdin_output_and_ctrl_c_flow(terminal) -> None:
    # Type only once the container reads: keys typed while the host shell's line editor still
    # holds the terminal (raw, no ICRNL) arrive as "\r" and never end a line.
    assert terminal.shows("ready")
    terminal.type("hello from the host")
    assert terminal.shows("got: hello from the host")
    assert terminal.shows("waiting")
    terminal.type("C-c", enter=False)
    assert terminal.shows("interrupted")
    assert terminal.at_prompt("host#")
    terminal.type("echo status=$?")
    assert terminal.shows("status=7")


def test_run_without_t_still_passes_stdin_output_and_ctrl_c(terminal, gophernetes, busybox_rootfs):
    terminal.type(f"{sys.executable} -m gophernetes run --net none --rootfs {busybox_rootfs} /bin/sh -c "
                  f"{shlex.quote(SCRIPT)}")
    stdin_output_and_ctrl_c_flow(terminal)


def test_exec_without_t_still_passes_stdin_output_and_ctrl_c(terminal, gophernetes, busybox_rootfs):
    started = gophernetes("run", "-d", "--net", "none", "--name", "box", "--rootfs", str(busybox_rootfs),
                          "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        terminal.type(f"{sys.executable} -m gophernetes exec box /bin/sh -c {shlex.quote(SCRIPT)}")
        stdin_output_and_ctrl_c_flow(terminal)
    finally:
        gophernetes("rm", "-f", "box")
