"""Lab 09 exercise check: exercise.py's make_config writes a config.json that gophernetes-runtime really runs.

The student's make_config runs in a throw-away child (gophernetes.lab_exercises.in_child)
and gives back its dict. The check validates it with gophernetes' own reader
(runtime/oci_config.py), refuses to run a config without its own mount and UTS
namespaces (the container's mounts and hostname would be the host's), writes it into a
bundle whose root is a busybox tree, and runs it with `gophernetes-runtime run`: state
under a temporary --root, the cgroup under a parent of the check's own
(gophernetes-exercise09-XXXXXX). The container is deleted, the cgroups removed and the
folder too, also when something fails.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from gophernetes.image.busybox import make_rootfs
from gophernetes.lab_exercises import in_child
from gophernetes.linux.cgroups import CGROUP_ROOT, detect_version
from gophernetes.runtime import oci_config

HOSTNAME = "exercise09"
SCRIPT = ('hostname; echo "pid=$$"; pwd; echo "greeting=$GREETING"; '
          'grep -E " /(proc|dev|sys) " /proc/mounts | cut -d" " -f2,3; '
          'touch /written 2>/dev/null && echo root=rw || echo root=ro')


class Bundle:
    """A bundle folder, a --root and a cgroup parent of this check's own; `remove()` undoes all."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="gophernetes-exercise09-"))
        self.parent = "gophernetes-exercise09-" + uuid.uuid4().hex[:6]
        self.id = "ex09-" + uuid.uuid4().hex[:6]
        make_rootfs(self.folder / "bundle" / "rootfs")

    def runtime(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {**os.environ, "GOPHERNETES_CGROUP_PARENT": self.parent}
        with tempfile.TemporaryFile(dir=self.folder) as out, tempfile.TemporaryFile(dir=self.folder) as err:
            done = subprocess.run([sys.executable, "-m", "gophernetes.cli.oci_runtime", "--root",
                                   str(self.folder / "state"), *args], stdout=out, stderr=err,
                                  stdin=subprocess.DEVNULL, env=env, timeout=timeout)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(done.args, done.returncode, out.read().decode(), err.read().decode())

    def run(self, config: dict) -> subprocess.CompletedProcess:
        types = [namespace.get("type") for namespace in config.get("linux", {}).get("namespaces", [])]
        missing = [kind for kind in ("mount", "uts") if kind not in types]
        if missing:
            raise AssertionError(f"linux.namespaces has no {' and no '.join(missing)}: the container's "
                                 f"{'mounts' if 'mount' in missing else 'hostname'} would be the host's (not run)")
        (self.folder / "bundle" / "config.json").write_text(json.dumps(config, indent=2))
        return self.runtime("run", "--bundle", str(self.folder / "bundle"), self.id)

    def remove(self) -> None:
        try:
            self.runtime("delete", "--force", self.id)
        finally:
            tops = [CGROUP_ROOT] if detect_version() == 2 else \
                [p for p in CGROUP_ROOT.iterdir() if (p / "cgroup.procs").exists()]
            for top in tops:
                if (top / self.parent).exists():
                    for child in sorted((top / self.parent).rglob("*"), key=lambda p: -len(p.parts)):
                        if child.is_dir():
                            child.rmdir()
                    (top / self.parent).rmdir()
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def bundle():
    made = Bundle()
    try:
        yield made
    finally:
        made.remove()


def config_of_student() -> dict:
    return in_child(lambda module: module.make_config(["sh", "-c", SCRIPT], HOSTNAME, env=["GREETING=hi"],
                                                      cwd="/etc"))


def valid(config: dict) -> None:
    try:
        oci_config.from_dict(config)
    except oci_config.ConfigError as error:
        raise AssertionError(f"gophernetes-runtime refuses it: {error}") from None


def ran(bundle: Bundle, config: dict) -> list[str]:
    done = bundle.run(config)
    if done.returncode != 0:
        raise AssertionError(f"gophernetes-runtime run exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return done.stdout.splitlines()


def test_part_1_the_process_runs_with_its_args_env_and_cwd(bundle):
    """The config is valid, and the container runs `sh -c ...` in /etc with GREETING=hi set.

    Hint: process(): {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
    "env": [PATH, *env], "cwd": cwd}. env is the whole environment (nothing is inherited
    from the runtime); the other two gaps (namespaces, mounts) must be filled for the
    config to run at all.
    """
    config = config_of_student()
    valid(config)
    lines = ran(bundle, config)
    assert "/etc" in lines, f"pwd printed no /etc; the container printed {lines}"
    assert "greeting=hi" in lines, f"GREETING was not set; the container printed {lines}"


def test_part_2_the_container_has_its_own_namespaces(bundle):
    """linux.namespaces makes five new ones: the container is PID 1, named exercise09; the host's name is untouched.

    Hint: [{"type": kind} for kind in ("pid", "network", "ipc", "uts", "mount")].
    """
    host_name = socket.gethostname()
    config = config_of_student()
    types = sorted(namespace.get("type") for namespace in config["linux"]["namespaces"])
    assert types == ["ipc", "mount", "network", "pid", "uts"], f"linux.namespaces: {types}"
    valid(config)
    lines = ran(bundle, config)
    assert lines[:2] == [HOSTNAME, "pid=1"], f"the container printed {lines[:2]} (hostname, then its PID)"
    assert socket.gethostname() == host_name, "the host's hostname changed"


def test_part_3_proc_dev_and_sys_are_mounted_and_the_root_is_read_only(bundle):
    """Inside, /proc is a proc, /dev a tmpfs, /sys a sysfs, and the root (root.readonly) cannot be written.

    Hint: {"destination": "/proc", "type": "proc", "source": "proc"}, then /dev as type
    tmpfs (source "tmpfs", options ["nosuid", "mode=755"]), then /sys as type sysfs
    (source "sysfs", options ["nosuid", "noexec", "nodev", "ro"]).
    """
    config = config_of_student()
    valid(config)
    lines = ran(bundle, config)
    for line in ("/proc proc", "/dev tmpfs", "/sys sysfs", "root=ro"):
        assert line in lines, f"no {line!r}: the container printed {lines}"
