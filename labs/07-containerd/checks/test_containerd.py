"""Lab 07 checks: asked of containerd itself (ctr) and of the kernel (/proc).

ctr talks to $CONTAINERD_ADDRESS (default /run/containerd/containerd.sock); the
registry is $REGISTRY (default 127.0.0.1:5000), as in the README.
"""

import json
import os
from pathlib import Path

import labkit

REGISTRY = os.environ.get("REGISTRY", "127.0.0.1:5000")
IMAGE = f"{REGISTRY}/busybox:latest"


def ctr(*args: str, namespace: str = "lab07"):
    return labkit.run("ctr", "--connect-timeout", "3s", "-n", namespace, *args)


def tasks(namespace: str = "lab07") -> dict[str, tuple[int, str]]:
    """task id -> (pid, status) from `ctr tasks ls`."""
    listed = ctr("tasks", "ls", namespace=namespace)
    assert listed.returncode == 0, f"ctr cannot reach containerd: {listed.stderr.strip()}"
    rows = [line.split() for line in listed.stdout.splitlines()[1:] if line.strip()]
    return {row[0]: (int(row[1]), row[2]) for row in rows if len(row) >= 3}


def task(name: str, namespace: str = "lab07") -> tuple[int, str]:
    found = tasks(namespace).get(name)
    assert found, f"containerd has no task {name} in namespace {namespace}"
    return found


def test_step_1_the_image_is_in_containerds_lab07_namespace(host):
    """containerd holds $REGISTRY/busybox:latest in its namespace lab07.

    Hint: ctr's global -n option picks the namespace; `ctr images pull --help`, and the
    lab's registry speaks plain HTTP.
    """
    listed = ctr("images", "ls", "-q")
    assert listed.returncode == 0, f"ctr cannot reach containerd: {listed.stderr.strip()}"
    assert IMAGE in listed.stdout.split(), f"no {IMAGE} in containerd namespace lab07"


def test_step_2_task_lab07_ctr_is_running(host):
    """Container lab07-ctr has a running task in namespace lab07.

    Hint: `ctr run --help`: detached, from the image you pulled, with an ID and a
    long-running command.
    """
    pid, status = task("lab07-ctr")
    assert status in ("RUNNING", "PAUSED"), f"lab07-ctr is {status}"
    assert labkit.in_new_namespace(pid, "pid"), "lab07-ctr's process is not in a PID namespace of its own"


def test_step_3_the_shim_is_the_parent_and_exec_left_a_file(host):
    """lab07-ctr's parent is a containerd shim, and /tmp/probe inside it names the container's PID 1 (sleep).

    Hint: `ctr tasks exec` needs an --exec-id of your choice; write the file from a
    shell inside the container, with what /proc/1/comm says there.
    """
    pid, _ = task("lab07-ctr")
    parent = int(labkit.status(pid).get("PPid", 0))
    assert labkit.comm(parent).startswith("containerd-shim"), f"lab07-ctr's parent is {labkit.comm(parent)!r}"
    probe = Path(f"/proc/{pid}/root/tmp/probe")
    assert probe.exists(), "no /tmp/probe inside lab07-ctr"
    assert "sleep" in probe.read_text(), "/tmp/probe does not say that PID 1 in the container is sleep"


def test_step_4_lab07_ctr_is_paused_in_a_frozen_cgroup(host):
    """Task lab07-ctr is PAUSED, and its cgroup is frozen.

    Hint: ctr's tasks have a verb for it (`ctr tasks --help`).
    """
    pid, status = task("lab07-ctr")
    assert status == "PAUSED", f"lab07-ctr is {status}"
    folder = labkit.cgroup_dir(pid, "freezer")
    assert folder is not None, "lab07-ctr's cgroup was not found"
    if labkit.cgroup_version() == 2:
        assert labkit.keyed(folder / "cgroup.events").get("frozen") == "1", f"{folder} is not frozen"
    else:
        assert labkit.read(folder / "freezer.state") == "FROZEN", f"{folder} is not FROZEN"


def test_step_5_gophernetes_runs_lab07_through_containerd(host):
    """gophernetes' containerd engine runs container lab07; containerd has its task, under a shim.

    Hint: `gophernetes --engine containerd` takes the same commands as the native
    engine; the image has to be pulled into that engine first.
    """
    found = labkit.gophernetes("--engine", "containerd", "inspect", "lab07")
    assert found.returncode == 0, "the containerd engine has no container lab07"
    info = json.loads(found.stdout)
    info = info[0] if isinstance(info, list) else info
    assert info.get("status") == "running", f"lab07 is {info.get('status')}"
    pid, status = task(info["id"], namespace="gophernetes")
    assert status == "RUNNING", f"containerd says lab07 is {status}"
    parent = int(labkit.status(pid).get("PPid", 0))
    assert labkit.comm(parent).startswith("containerd-shim"), "lab07's process is not a shim's child"
