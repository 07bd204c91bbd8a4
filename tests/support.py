"""Helpers the tests share (importable as `support`: conftest modules are not, there are several)."""

from __future__ import annotations

import os
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def serve_on_loopback(handler) -> ThreadingHTTPServer:
    """An HTTP server for HANDLER on 127.0.0.1 (a free port), serving from a daemon thread.

    Its address is `server.server_address`; stop it with `stop_serving(server)`.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_serving(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


def build_busybox_rootfs(root: Path) -> None:
    """The default image's files (the host's static busybox, /etc/passwd, ...) as a directory."""
    from gophernetes.image.busybox import make_rootfs

    make_rootfs(root)


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


def container_cgroup(controller: str, cgroup_parent: str, timeout: float = 5) -> Path:
    """The cgroup folder (v1: under `controller`) of the one container running under `cgroup_parent`."""
    parent = Path("/sys/fs/cgroup", controller, cgroup_parent)
    found: list[Path] = []
    wait_until(lambda: found.extend(p for p in parent.glob("*") if p.is_dir()) or bool(found), timeout)
    if not found:
        raise AssertionError(f"no container cgroup under {parent}")
    return found[0]


def skip_without_tools(items, folder: Path, tools: tuple[str, ...], packages: str) -> None:
    """Mark the tests under `folder` to skip, with the reason, when a tool they need is missing
    (the rest of the session still runs)."""
    import shutil

    import pytest

    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"needs {', '.join(missing)}: apt-get install the packages in {packages}")
    for item in items:
        if Path(item.fspath).is_relative_to(folder):
            item.add_marker(skip)
