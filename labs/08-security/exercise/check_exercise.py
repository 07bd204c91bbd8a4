"""Lab 08 exercise check: exercise.py really drops capabilities, and the bounding set makes it stick.

Each part runs in a throw-away child (gophernetes.lab_exercises.in_child): the
capabilities it drops are its own. The file it tries to chown is a temporary one.
"""

import os
import subprocess
import tempfile

import pytest

from gophernetes.lab_exercises import in_child

CAP_CHOWN, CAP_NET_RAW, CAP_SYS_ADMIN = 0, 13, 21


def mask(kind: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(kind + ":"):
                return int(line.split()[1], 16)
    raise LookupError(kind)


def has(kind: str, cap: int) -> bool:
    return bool(mask(kind) >> cap & 1)


@pytest.fixture
def victim():
    """A file root owns, for chown to try on."""
    fd, path = tempfile.mkstemp(prefix="gophernetes-exercise08-")
    os.close(fd)
    try:
        yield path
    finally:
        os.unlink(path)


@pytest.fixture(autouse=True)
def root_with_the_capabilities():
    for cap in (CAP_CHOWN, CAP_NET_RAW, CAP_SYS_ADMIN):
        if not (has("CapEff", cap) and has("CapBnd", cap)):
            pytest.skip(f"the check needs root holding capability {cap} (sudo)")


def test_part_1_drop_from_bounding_caps_the_future_not_the_present():
    """drop_from_bounding(CAP_NET_RAW) removes it from the bounding set; the effective set still has it.

    Hint: prctl(PR_CAPBSET_DROP, cap) through libc (man 2 prctl); CapBnd in
    /proc/self/status loses bit 13, CapEff keeps it until the process drops it too.
    """
    def body(module):
        module.drop_from_bounding(CAP_NET_RAW)
        return has("CapBnd", CAP_NET_RAW), has("CapEff", CAP_NET_RAW)

    bounding, effective = in_child(body)
    assert not bounding, "CAP_NET_RAW is still in the bounding set (CapBnd)"
    assert effective, "CAP_NET_RAW left the effective set too: only the bounding set was to change"


def test_part_2_drop_from_process_takes_it_away_now(victim):
    """drop_from_process(CAP_CHOWN) clears it from CapEff and CapPrm, keeps the others, and chown fails.

    Hint: for each of mask("CapEff"), mask("CapPrm"), mask("CapInh"): & ~(1 << cap); then
    capset(effective, permitted, inheritable). Keep every other bit: CAP_SYS_ADMIN stays.
    """
    def body(module):
        module.drop_from_process(CAP_CHOWN)
        try:
            os.chown(victim, 1234, 1234)
            chown = "allowed"
        except PermissionError:
            chown = "refused"
        return has("CapEff", CAP_CHOWN), has("CapPrm", CAP_CHOWN), has("CapEff", CAP_SYS_ADMIN), chown

    effective, permitted, others, chown = in_child(body)
    assert not effective and not permitted, f"CAP_CHOWN still in CapEff: {effective}, in CapPrm: {permitted}"
    assert others, "CAP_SYS_ADMIN went too: drop only the one capability"
    assert chown == "refused", "chown to another owner still works"


def test_part_3_after_drop_not_even_roots_next_program_gets_it_back(victim):
    """After drop(CAP_CHOWN), a program this root process runs (chown 1234 FILE) is refused too.

    Hint: root that runs a program gets back every capability of its bounding set, so
    drop() must take it from the bounding set as well (drop_from_bounding, part 1).
    """
    def body(module):
        module.drop(CAP_CHOWN)
        run = subprocess.run(["chown", "1234", victim], capture_output=True, text=True)
        return run.returncode, run.stderr.strip()

    returncode, said = in_child(body)
    assert returncode != 0, f"`chown 1234 {victim}` run after drop() still worked"
    assert "not permitted" in said, f"chown failed, but not for lack of the capability: {said}"
