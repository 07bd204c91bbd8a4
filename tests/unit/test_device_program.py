"""The cgroup v2 device filter, instruction by instruction (as runc's devicefilter_test reads
its program): the listing is what `bpftool prog dump xlated` shows for the attached program."""

from __future__ import annotations

import pytest

from gophernetes.errors import GophernetesError
from gophernetes.linux import bpf
from gophernetes.linux.cgroups.device_filter import compile_rules

EXPECTED = """\
0: (61) r2 = *(u32 *)(r1 +0)
1: (54) w2 &= 65535
2: (61) r3 = *(u32 *)(r1 +0)
3: (74) w3 >>= 16
4: (61) r4 = *(u32 *)(r1 +4)
5: (61) r5 = *(u32 *)(r1 +8)
6: (55) if r2 != 2 goto pc+4
7: (55) if r4 != 1 goto pc+3
8: (55) if r5 != 3 goto pc+2
9: (b4) w0 = 1
10: (95) exit
11: (55) if r2 != 2 goto pc+6
12: (bc) w1 = w3
13: (54) w1 &= 6
14: (5d) if r1 != r3 goto pc+3
15: (55) if r4 != 136 goto pc+2
16: (b4) w0 = 1
17: (95) exit
18: (b4) w0 = 0
19: (95) exit"""


def test_two_rules_compile_to_the_expected_program():
    assert bpf.listing(compile_rules(("c 1:3 rwm", "c 136:* rw"))) == EXPECTED


def test_every_instruction_is_eight_bytes_little_endian():
    program = compile_rules(("c 1:3 rwm",))
    assert [len(insn.encode()) for insn in program] == [8] * len(program)
    assert program[0].encode() == bytes([0x61, 0x12, 0, 0, 0, 0, 0, 0])  # r2 = *(u32 *)(r1 + 0)


def test_no_rule_denies_everything():
    assert bpf.listing(compile_rules(())).splitlines()[-2:] == ["6: (b4) w0 = 0", "7: (95) exit"]


@pytest.mark.parametrize("rule, complaint", [
    ("c 1:3", "want TYPE MAJOR:MINOR ACCESS"),
    ("x 1:3 rwm", "the type 'x' is not c (character), b (block) or a (all)"),
    ("c 1:3 rwx", "the access 'rwx' is not made of r (read), w (write), m (mknod)"),
    ("c one:3 r", "'one' is not * or a device number from 0 to 4095"),
    ("b 8:1048576 r", "'1048576' is not * or a device number from 0 to 1048575"),
])
def test_a_bad_rule_is_refused_with_what_is_wrong(rule, complaint):
    with pytest.raises(GophernetesError) as error:
        compile_rules(("c 1:3 rwm", rule))
    assert str(error.value).startswith(f"bad device rule {rule!r}: {complaint}")
