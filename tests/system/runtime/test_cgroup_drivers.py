"""Both cgroup drivers against the real kernel: v1 on this host's controllers, v2 on its
unified hierarchy (which offers cgroup.procs, cgroup.freeze and cgroup.kill; its full
controller set is proven in the VM test)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from support import wait_until

from gophernetes.errors import GophernetesError
from gophernetes.linux.cgroups import Limits, detect_version
from gophernetes.linux.cgroups.v1 import CgroupV1Driver
from gophernetes.linux.cgroups.v2 import CgroupV2Driver, shares_to_weight

UNIFIED = Path("/sys/fs/cgroup/unified")


@pytest.fixture
def sleeper():
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]


@pytest.mark.skipif(not (UNIFIED / "cgroup.procs").exists(), reason="no cgroup2 mount at /sys/fs/cgroup/unified")
def test_v2_driver_moves_freezes_and_kills_on_the_unified_hierarchy(sleeper):
    driver = CgroupV2Driver(UNIFIED, f"gophernetes-test-{uuid.uuid4().hex[:6]}")
    cgroup = driver.create("c1")
    try:
        cgroup.add_process(sleeper.pid)
        assert cgroup.pids() == [sleeper.pid]
        assert f"0::/{driver.parent_path.name}/c1" in Path(f"/proc/{sleeper.pid}/cgroup").read_text()
        cgroup.freeze()
        assert wait_until(cgroup.is_frozen)
        cgroup.thaw()
        assert wait_until(lambda: not cgroup.is_frozen())
        cgroup.kill_all()
        assert sleeper.wait(timeout=5) == -9
    finally:
        cgroup.remove()
    assert not cgroup.path.exists() and not driver.parent_path.exists()


@pytest.mark.skipif(not (UNIFIED / "cgroup.procs").exists(), reason="no cgroup2 mount at /sys/fs/cgroup/unified")
def test_v2_driver_says_which_controller_is_missing():
    driver = CgroupV2Driver(UNIFIED, f"gophernetes-test-{uuid.uuid4().hex[:6]}")
    cgroup = driver.create("c1")
    try:
        if "memory" in driver.available_controllers():
            pytest.skip("this unified hierarchy has the memory controller")
        with pytest.raises(GophernetesError, match="cgroup v2 controller 'memory' is not available"):
            cgroup.apply(Limits(memory=64 << 20))
    finally:
        cgroup.remove()


def test_cpu_shares_map_onto_v2_weights_as_runc_does():
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000


@pytest.mark.skipif(detect_version() != 1, reason="a v1 host")
def test_v1_driver_freezes_with_the_freezer_controller(sleeper):
    driver = CgroupV1Driver(Path("/sys/fs/cgroup"), f"gophernetes-test-{uuid.uuid4().hex[:6]}")
    cgroup = driver.create("c1")
    try:
        cgroup.add_process(sleeper.pid)
        cgroup.apply(Limits(memory=64 << 20, pids=5))
        assert (cgroup.paths["memory"] / "memory.limit_in_bytes").read_text().strip() == str(64 << 20)
        assert (cgroup.paths["pids"] / "pids.max").read_text().strip() == "5"
        cgroup.freeze()
        assert wait_until(lambda: process_state(sleeper.pid) == "D" or cgroup.is_frozen())
        cgroup.thaw()
        assert not cgroup.is_frozen()
    finally:
        cgroup.kill_all()
        sleeper.wait(timeout=5)
        cgroup.remove()
    assert not any(d.exists() for d in cgroup.directories())
