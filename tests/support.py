"""Helpers the tests share (importable as `support`: conftest modules are not, there are several)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def build_busybox_rootfs(root: Path) -> None:
    """The host's static busybox, one relative link per applet, /etc/passwd and the usual folders."""
    (root / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    for name in ("etc", "proc", "sys", "dev", "root", "tmp"):
        (root / name).mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")


def cli_env(state_root: Path, cgroup_parent: str, extra: dict | None = None) -> dict:
    """The environment of a CLI run under the test's state root and cgroup parent."""
    env = dict(os.environ)
    env.update({"GOPHERNETES_ROOT": str(state_root), "GOPHERNETES_CGROUP_PARENT": cgroup_parent,
                "PYTHONPATH": str(REPO)})
    env.update(extra or {})
    return env


def host_leftovers(state_root: Path, cgroup_parent: str) -> dict:
    """What a container could leave on the host: cgroups, mounts, container folders."""
    cgroups = sorted(str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}*"))
    cgroups += sorted(str(p) for p in Path("/sys/fs/cgroup").glob(f"{cgroup_parent}*"))
    with open("/proc/self/mountinfo") as file:
        mounts = [line for line in file if str(state_root) in line]
    containers = state_root / "run" / "containers"
    folders = sorted(p.name for p in containers.iterdir() if not p.name.startswith(".")) if containers.exists() else []
    return {"cgroups": cgroups, "mounts": mounts, "container folders": folders}


def wait_until(predicate, timeout: float = 10) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
