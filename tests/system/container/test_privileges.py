"""The privilege check `gophernetes run` makes first: enough capabilities, a writable cgroup tree.

Each case is made for real: capabilities dropped with setpriv before Python starts, a
cgroup mount remounted read-only in a mount namespace of the test's own. Only the v2
cgroup-namespace layout is written out as files, because this hybrid host cannot offer a
cgroup2 hierarchy with controllers (the lab VM, pure v2, can).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gophernetes.linux.cgroups import detect_version
from gophernetes.linux.privileges import cgroup_problem, check_can_make_containers, missing_capabilities

REPO = Path(__file__).resolve().parents[3]
CHECK = ("from gophernetes.errors import PermissionDenied\n"
         "from gophernetes.linux.privileges import check_can_make_containers\n"
         "try:\n"
         "    check_can_make_containers()\n"
         "except PermissionDenied as error:\n"
         "    print(error)\n"
         "else:\n"
         "    print('allowed')\n")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="as root, with every capability")


def check_in(*wrapper: str) -> str:
    """Run the check in a fresh Python started through `wrapper` (setpriv, unshare, ...)."""
    result = subprocess.run([*wrapper, sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_root
def test_root_on_this_host_may_make_containers():
    check_can_make_containers()


@needs_root
@pytest.mark.skipif(not shutil.which("setpriv"), reason="setpriv (util-linux) is needed")
def test_without_cap_sys_admin_the_user_is_told_to_run_privileged():
    # what root keeps in a default docker/podman container: no SYS_ADMIN, no NET_ADMIN
    said = check_in("setpriv", "--inh-caps=-all", "--bounding-set=-sys_admin,-net_admin", "--")
    assert said == ("gophernetes needs CAP_SYS_ADMIN (namespaces and mounts) and CAP_NET_ADMIN (network interfaces) "
                    "to make containers, and this process lacks them; inside a container, run it with --privileged\n")


def test_the_capabilities_are_read_bit_by_bit():
    everything = (1 << 41) - 1
    assert missing_capabilities(everything) == []
    assert missing_capabilities(everything & ~(1 << 27)) == ["MKNOD"]
    assert missing_capabilities(0xA80425FB) == ["SYS_ADMIN", "NET_ADMIN"]  # podman 4.3's default set
    assert missing_capabilities(0) == ["SYS_ADMIN", "NET_ADMIN", "MKNOD", "SETPCAP", "SYS_CHROOT"]


@needs_root
@pytest.mark.skipif(not shutil.which("unshare"), reason="unshare (util-linux) is needed")
def test_a_read_only_cgroup_filesystem_is_named_with_the_fix():
    # read-only for this mount namespace only: a bind remount changes the mount, not the host's
    target = "/sys/fs/cgroup" if detect_version() == 2 else "/sys/fs/cgroup/memory"
    if not os.path.exists(f"{target}/cgroup.procs"):
        pytest.skip(f"no cgroup mounted at {target}")
    script = f'mount -o remount,bind,ro {target} && exec "$@"'
    said = check_in("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh")
    assert said == (f"the cgroup filesystem at {target} is read-only; run the outer container with --privileged "
                    "(and --cgroupns=host on cgroup v2 hosts where needed)\n")


def test_no_cgroup_filesystem_at_all_is_named(tmp_path):
    assert cgroup_problem(tmp_path).startswith(f"no cgroup filesystem is mounted at {tmp_path} ")


def v2_namespace_root(folder: Path, procs: str, subtree_control: str) -> Path:
    """What a container on a cgroup v2 host sees at /sys/fs/cgroup with its own cgroup namespace:
    a non-root cgroup (it has cgroup.type) holding the container's processes."""
    files = {"cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc", "cgroup.type": "domain",
             "cgroup.procs": procs, "cgroup.subtree_control": subtree_control}
    for name, content in files.items():
        (folder / name).write_text(content + "\n")
    return folder


def test_a_v2_cgroup_namespace_holding_processes_asks_for_cgroupns_host(tmp_path):
    root = v2_namespace_root(tmp_path, procs="1\n7", subtree_control="")
    assert cgroup_problem(root) == (
        f"{root} is this container's own cgroup (a cgroup namespace) and holds its processes, so it cannot hand the "
        "cpu, io, memory, pids controllers down to containers; run the outer container with --privileged "
        "--cgroupns=host")


def test_a_v2_cgroup_namespace_is_fine_once_its_controllers_are_handed_down(tmp_path):
    assert cgroup_problem(v2_namespace_root(tmp_path, procs="", subtree_control="")) is None
    assert cgroup_problem(v2_namespace_root(tmp_path, procs="1", subtree_control="cpu io memory pids")) is None


def test_the_host_root_cgroup_of_v2_is_never_refused(tmp_path):
    v2_namespace_root(tmp_path, procs="1", subtree_control="")
    (tmp_path / "cgroup.type").unlink()  # the real root has no type: "no internal processes" exempts it
    assert cgroup_problem(tmp_path) is None

