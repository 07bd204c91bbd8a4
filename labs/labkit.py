"""Helpers the lab checks share: processes, namespaces, mounts, cgroups, containers.

Everything here reads the kernel's own answers (/proc, /sys/fs/cgroup) or asks the
gophernetes CLI, so a check verifies what exists, not what was typed.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


# ---------------------------------------------------------------- processes and namespaces


def pids() -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def namespace(pid: int | str, kind: str) -> str | None:
    """'uts:[4026531838]' for /proc/PID/ns/KIND, or None if the process is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def in_new_namespace(pid: int | str, kind: str) -> bool:
    """Is PID in a KIND namespace other than the host's? (The checker's own stands for the
    host's: PID 1 may be out of reach when the lab host is itself a container.)"""
    mine = namespace(pid, kind)
    return mine is not None and mine != namespace("self", kind)


def status(pid: int | str) -> dict[str, str]:
    """/proc/PID/status as a dict ({} if the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {key: value.strip() for key, _, value in (line.partition(":") for line in text.splitlines())}


def comm(pid: int | str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def ns_pids(pid: int | str) -> list[int]:
    """NSpid: the process's PID in each PID namespace it is in, outermost first."""
    return [int(p) for p in status(pid).get("NSpid", "").split()]


@dataclass(frozen=True)
class Mount:
    root: str         # the path inside the filesystem that is mounted here
    target: str       # where it is mounted
    options: str      # per-mount options (rw, ro, nosuid, ...)
    propagation: str  # optional fields: shared:N, master:N, or "" (private)
    fstype: str
    source: str
    super_options: str  # the filesystem's own options (an overlay's lowerdir=..., ...)


def mounts(pid: int | str = "self") -> list[Mount]:
    """The mount table as PID sees it (man 5 proc, /proc/PID/mountinfo)."""
    try:
        lines = Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
    except OSError:
        return []
    table = []
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        table.append(Mount(root=_unescape(fields[3]), target=_unescape(fields[4]), options=fields[5],
                           propagation=" ".join(fields[6:]), fstype=tail[0], source=_unescape(tail[1]),
                           super_options=tail[2] if len(tail) > 2 else ""))
    return table


def _unescape(text: str) -> str:
    return text.encode().decode("unicode_escape") if "\\" in text else text


def mounted_at(target: str, pid: int | str = "self") -> Mount | None:
    """The topmost mount at `target` in PID's mount namespace."""
    found = [m for m in mounts(pid) if m.target == target]
    return found[-1] if found else None


def lab_processes(lab: str) -> list[int]:
    """Processes started with LAB=NN in their environment (what `lab reset` stops)."""
    found = []
    for pid in pids():
        with contextlib.suppress(OSError):
            if f"LAB={lab}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(pid)
    return found


# ---------------------------------------------------------------- cgroups


def cgroup_version() -> int:
    """2 on a unified (pure v2) host, 1 on a legacy or hybrid one, as gophernetes decides."""
    try:
        from gophernetes.linux.cgroups import detect_version
    except ImportError:
        return 2 if (CGROUP_ROOT / "cgroup.controllers").exists() else 1
    return detect_version()


def cgroup_dir(pid: int | str, controller: str = "memory") -> Path | None:
    """The folder of PID's cgroup: for v1 in the CONTROLLER's hierarchy, for v2 the one."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if cgroup_version() == 2 and controllers == "":
            return CGROUP_ROOT / path.lstrip("/")
        if cgroup_version() == 1 and controller in controllers.split(","):
            return CGROUP_ROOT / controllers / path.lstrip("/")
    return None


def read(path: Path | str) -> str:
    """A file's content without the newline, '' if it does not exist."""
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def stat(path: Path | str) -> os.stat_result | None:
    """os.stat of PATH, None if it does not exist (testinfra's host.file asks a shell for
    each attribute: a new process each time)."""
    try:
        return os.stat(path)
    except OSError:
        return None


def keyed(path: Path | str) -> dict[str, str]:
    """'key value' lines (memory.events, cpu.stat, ...) as a dict."""
    return dict(line.split(None, 1) for line in read(path).splitlines() if " " in line)


# ---------------------------------------------------------------- gophernetes


def gophernetes(*args: str, netns: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `gophernetes ARGS` (in network namespace NETNS if given): its exit status and output.

    It runs in a forked copy of this process, which has gophernetes imported already, not
    in a new Python: in the lab VM under software emulation every new Python costs a second
    or more, and a lab's checks make several of these calls. The child is what
    `nsenter --net=/run/netns/NETNS gophernetes ARGS` would be.
    """
    from gophernetes.cli import main

    preload(args)
    return _forked(main, ["gophernetes", *args], netns, timeout)


def gophernetes_runtime(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `gophernetes-runtime ARGS` (the OCI runtime's CLI), forked like gophernetes()."""
    from gophernetes.cli.oci_runtime import main

    return _forked(main, ["gophernetes-runtime", *args], None, timeout)


def _forked(main, command: list[str], netns: str | None, timeout: float) -> subprocess.CompletedProcess:
    """COMMAND run by calling its CLI's MAIN(ARGS) in a forked child (lab_checks.in_child)."""
    from gophernetes.lab_checks import in_child

    def run_command() -> None:
        if netns:
            join_network_namespace(f"/run/netns/{netns}")
        main(command[1:])  # ends the child with the command's exit status

    return in_child(run_command, command, timeout)


def preload(args: tuple[str, ...]) -> None:
    """Import here, once, what the forked command would otherwise import for itself each time:
    its command module (gophernetes.cli.COMMANDS) and the native engine. In the emulated VM
    that is 0.2-0.5 s saved on every call after the first."""
    from gophernetes.cli import COMMANDS

    command = next((arg for arg in args if arg in COMMANDS), None)
    if command:
        importlib.import_module(COMMANDS[command].partition(":")[0])
    importlib.import_module("gophernetes.engines.native.engine")


def join_network_namespace(path: str) -> None:
    """setns(2) into the network namespace file PATH, as `nsenter --net=PATH` does."""
    from gophernetes.linux import syscalls

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, syscalls.CLONE_NEWNET)
    finally:
        os.close(fd)


def container(name: str, netns: str | None = None) -> dict | None:
    """`gophernetes inspect NAME` as a dict, or None if there is no such container."""
    completed = gophernetes("inspect", name, netns=netns)
    if completed.returncode != 0:
        return None
    data = json.loads(completed.stdout)
    return data[0] if isinstance(data, list) else data


def running_container(name: str, netns: str | None = None) -> dict:
    """The inspected container NAME; fails the check unless it is running."""
    found = container(name, netns)
    assert found is not None, f"there is no container named {name}"
    assert found.get("status") == "running" and found.get("pid"), f"container {name} is {found.get('status')}"
    return found


def run(*command: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a command; never raises for its exit status."""
    return subprocess.run(list(command), capture_output=True, text=True, timeout=timeout)


# `lab check` imports the checks, and with them this module, once, then forks a child for
# each check: what most checks ask for (inspect and the native engine) is imported here for
# all of them. Without gophernetes importable, the helpers that do not need it still work.
with contextlib.suppress(ImportError):
    preload(("inspect",))
