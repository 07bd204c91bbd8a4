"""Lab 04 checks: the lab04 cgroups hold the limits and show they were hit.

The paths depend on the cgroup version of this host (labkit.cgroup_version(), as
gophernetes itself decides): one folder /sys/fs/cgroup/lab04 on v2, one folder per
controller /sys/fs/cgroup/CONTROLLER/lab04 on v1.
"""

from pathlib import Path

import labkit

MiB = 1024 * 1024


def lab_cgroup(controller: str) -> Path:
    if labkit.cgroup_version() == 2:
        return labkit.CGROUP_ROOT / "lab04"
    return labkit.CGROUP_ROOT / controller / "lab04"


def cpu_quota(folder: Path) -> tuple[str, str]:
    """(quota, period) in microseconds, in v2's words ("max" = no limit)."""
    if labkit.cgroup_version() == 2:
        quota, period = labkit.read(folder / "cpu.max").split()
        return quota, period
    quota = labkit.read(folder / "cpu.cfs_quota_us")
    return ("max" if quota == "-1" else quota), labkit.read(folder / "cpu.cfs_period_us")


def memory_limit(folder: Path) -> str:
    return labkit.read(folder / ("memory.max" if labkit.cgroup_version() == 2 else "memory.limit_in_bytes"))


def test_step_1_a_cgroup_limited_to_32_mib(host):
    """The lab04 cgroup exists in the memory controller with a 32 MiB limit.

    Hint: a cgroup is a folder (mkdir) in the cgroup filesystem; on v2 the parent must
    first enable the memory controller for its children. The limit's file name
    differs between v1 and v2: see the table in the README.
    """
    folder = lab_cgroup("memory")
    assert folder.is_dir(), f"no cgroup {folder}"
    assert memory_limit(folder) == str(32 * MiB), f"{folder}'s memory limit is {memory_limit(folder)!r}"


def test_step_2_the_oom_killer_struck_in_lab04(host):
    """The kernel OOM-killed at least one process of lab04 (and nothing else raised the limit).

    Hint: move a shell into the cgroup (write its PID to cgroup.procs), then make it
    use more than 32 MiB at once, e.g. dd with a large block size.
    """
    folder = lab_cgroup("memory")
    events = labkit.keyed(folder / ("memory.events" if labkit.cgroup_version() == 2 else "memory.oom_control"))
    assert int(events.get("oom_kill", 0)) >= 1, f"no OOM kill in {folder} yet"


def test_step_3_a_cpu_quota_of_20_percent_that_throttled(host):
    """lab04 may use 20 ms of CPU per 100 ms, and has been throttled.

    Hint: the quota and period are in microseconds (one file on v2, two on v1); then
    run a busy loop inside the cgroup for a moment and look at cpu.stat.
    """
    folder = lab_cgroup("cpu")
    assert folder.is_dir(), f"no cgroup {folder}"
    assert cpu_quota(folder) == ("20000", "100000"), f"{folder}'s quota/period is {cpu_quota(folder)}"
    throttled = int(labkit.keyed(folder / "cpu.stat").get("nr_throttled", 0))
    assert throttled > 0, "lab04 was never throttled: run something busy inside it"


def test_step_4_at_most_5_processes_and_the_limit_was_hit(host):
    """lab04 allows 5 processes, and a fork was refused there at least once.

    Hint: the pids controller's pids.max; then start more than five processes from a
    shell inside the group and look at pids.events.
    """
    folder = lab_cgroup("pids")
    assert labkit.read(folder / "pids.max") == "5", f"{folder}/pids.max is {labkit.read(folder / 'pids.max')!r}"
    assert int(labkit.keyed(folder / "pids.events").get("max", 0)) >= 1, "no fork was refused in lab04 yet"


def test_step_5_lab04_is_frozen_with_a_process_inside(host):
    """The lab04 freezer cgroup holds at least one process and is frozen.

    Hint: move a long-running process into the cgroup, then freeze the group
    (cgroup.freeze on v2, freezer.state on v1).
    """
    folder = lab_cgroup("freezer")
    assert labkit.read(folder / "cgroup.procs"), f"no process in {folder}"
    if labkit.cgroup_version() == 2:
        assert labkit.keyed(folder / "cgroup.events").get("frozen") == "1", f"{folder} is not frozen"
    else:
        assert labkit.read(folder / "freezer.state") == "FROZEN", f"{folder} is {labkit.read(folder / 'freezer.state')}"


def test_step_6_a_container_whose_cgroup_has_the_limits(host):
    """Container lab04 runs in a cgroup with 64 MiB of memory, half a CPU and at most 20 processes.

    Hint: `gophernetes run --help` lists a memory limit, a CPU count and a pids limit;
    run it detached and off the network.
    """
    pid = labkit.running_container("lab04")["pid"]
    memory, cpu, pids = (labkit.cgroup_dir(pid, c) for c in ("memory", "cpu", "pids"))
    assert memory and memory_limit(memory) == str(64 * MiB), f"memory limit of lab04: {memory and memory_limit(memory)}"
    assert cpu and cpu_quota(cpu)[0] != "max", "lab04 has no CPU quota"
    quota, period = cpu_quota(cpu)
    assert int(quota) * 2 == int(period), f"lab04's quota is {quota}/{period}, not half a CPU"
    assert pids and labkit.read(pids / "pids.max") == "20", "lab04's pids.max is not 20"
