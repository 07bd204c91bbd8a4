"""Device rules on cgroup v2: the eBPF program of device_filter.py, against the real kernel.

This host is hybrid: its unified hierarchy at /sys/fs/cgroup/unified takes cgroup v2
device programs although the devices controller lives in v1 (the kernel asks both, and
our processes sit in the v1 root, which allows everything). So a child moved into a v2
cgroup there meets exactly the filter a container gets on the pure-v2 lab VM. The CLI
itself always picks v1 on this host; tests/system/vm/in-vm-checks.sh runs a container on v2.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from gophernetes.errors import GophernetesError
from gophernetes.linux import bpf
from gophernetes.linux.cgroups.v2 import CgroupV2, CgroupV2Driver

UNIFIED = Path("/sys/fs/cgroup/unified")
needs_unified = pytest.mark.skipif(not (UNIFIED / "cgroup.procs").exists(),
                                   reason="no cgroup2 mount at /sys/fs/cgroup/unified")


@pytest.fixture
def v2_cgroup(cgroup_parent, leak_check):
    """A v2 cgroup under this session's parent, removed (with its program) afterwards."""
    cgroup = CgroupV2Driver(UNIFIED, cgroup_parent).create("devices")
    yield cgroup
    cgroup.remove()


def inside(cgroup: CgroupV2, steps: dict) -> dict[str, str]:
    """Fork a child, move it into `cgroup`, run each step there: "ok" or the errno's name."""
    go_read, go_write = os.pipe()
    result_read, result_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(go_write)
            if os.read(go_read, 1) == b"x":  # the parent has moved us (or failed to: end of file)
                os.write(result_write, json.dumps({name: attempt(step) for name, step in steps.items()}).encode())
        finally:
            os._exit(0)
    os.close(result_write)
    os.close(go_read)
    try:
        cgroup.add_process(pid)
        os.write(go_write, b"x")
    finally:
        os.close(go_write)
        with os.fdopen(result_read) as results:
            seen = json.loads(results.read() or "{}")
        os.waitpid(pid, 0)
    return seen


def attempt(step) -> str:
    try:
        step()
        return "ok"
    except OSError as error:
        return errno.errorcode[error.errno]


def opens(path: Path | str, flags: int = os.O_RDONLY):
    return lambda: os.close(os.open(path, flags | os.O_NONBLOCK))


def mknod(path: Path, kind: int, major: int, minor: int):
    return lambda: os.mknod(path, kind | 0o600, os.makedev(major, minor))


@needs_unified
def test_a_container_cgroup_can_make_any_device_node_but_open_only_the_listed_ones(v2_cgroup, tmp_path):
    assert v2_cgroup.restrict_devices() == []
    kmsg, loop0 = tmp_path / "kmsg", tmp_path / "loop0"
    seen = inside(v2_cgroup, {
        "write /dev/null": lambda: Path("/dev/null").write_text("x"),
        "mknod c 1:11 (kmsg)": mknod(kmsg, stat.S_IFCHR, 1, 11),
        "open c 1:11": opens(kmsg),
        "mknod b 7:0 (loop0)": mknod(loop0, stat.S_IFBLK, 7, 0),
        "open b 7:0": opens(loop0),
    })
    assert seen == {"write /dev/null": "ok", "mknod c 1:11 (kmsg)": "ok", "open c 1:11": "EPERM",
                    "mknod b 7:0 (loop0)": "ok", "open b 7:0": "EPERM"}
    # Outside the cgroup the same node opens: the filter said no, not the node.
    assert attempt(opens(kmsg)) == "ok"


@needs_unified
def test_a_rule_grants_only_the_access_it_names(v2_cgroup, tmp_path):
    v2_cgroup.restrict_devices(("c 1:3 r",))  # /dev/null: read only, no mknod
    seen = inside(v2_cgroup, {
        "read /dev/null": opens("/dev/null"),
        "write /dev/null": opens("/dev/null", os.O_WRONLY),
        "mknod c 1:3": mknod(tmp_path / "null", stat.S_IFCHR, 1, 3),
        "read /dev/zero": opens("/dev/zero"),
    })
    assert seen == {"read /dev/null": "ok", "write /dev/null": "EPERM", "mknod c 1:3": "EPERM",
                    "read /dev/zero": "EPERM"}


def test_a_rejected_program_comes_back_with_the_verifiers_reason():
    # Exiting without setting R0 (the return value) is the simplest program the verifier refuses.
    with pytest.raises(OSError, match=r"(?s)bpf\(BPF_PROG_LOAD no_r0\): .* the verifier says:.*R0 !read_ok"):
        bpf.prog_load(bpf.BPF_PROG_TYPE_CGROUP_DEVICE, [bpf.exit_program()], "MIT", "no_r0")


def test_when_the_kernel_refuses_the_filter_the_container_does_not_start_as_with_runc(tmp_path):
    # A plain directory is no cgroup: BPF_PROG_ATTACH refuses it, as it would refuse on a
    # kernel without CONFIG_CGROUP_BPF. runc fails the run then; a warning would let it go on.
    with pytest.raises(GophernetesError, match=rf"cannot restrict devices of cgroup {tmp_path}: .*BPF_PROG_ATTACH"):
        CgroupV2("c1", tmp_path).restrict_devices()
