"""Device rules on cgroup v2: the rule list compiled into an eBPF program, as runc does.

v1 has a devices controller that reads rules ("c 1:3 rwm") from devices.allow. v2 has
none: instead, whenever a process in a cgroup makes (mknod) or opens a device node, the
kernel runs the BPF_PROG_TYPE_CGROUP_DEVICE programs attached to that cgroup and to its
ancestors, and refuses with EPERM unless every one of them returns 1. Its only input is

    struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; };

with the device type (block 1, char 2) in the low 16 bits of access_type and the access
asked for (mknod 1, read 2, write 4 — opening for read and write asks 6) in the high 16.

The program compiled here reads those four values into registers, then has one block per
rule, in the order of the rules:

    if type != c: go to the next block             (left out for type "a")
    if access asks for a bit the rule lacks: next  (left out for "rwm")
    if major != 1: next                            (left out for "*")
    if minor != 3: next                            (left out for "*")
    return 1                                       (allow)

and after the last block, `return 0` (deny). runc's libcontainer/cgroups/devices
(devicefilter.go) builds the same program; `bpftool cgroup show /sys/fs/cgroup/...`
lists it on a running container, `bpftool prog dump xlated id N` shows its instructions.
"""

from __future__ import annotations

import os
from pathlib import Path

from gophernetes.linux import bpf
from gophernetes.linux.bpf import R0, R1, R2, R3, R4, R5, Instruction
from gophernetes.linux.cgroups.base import DeviceRule, parse_device_rule

# struct bpf_cgroup_dev_ctx, from <linux/bpf.h>: byte offsets of its fields.
ACCESS_TYPE_OFFSET, MAJOR_OFFSET, MINOR_OFFSET = 0, 4, 8
DEVICE_TYPES = {"b": 1, "c": 2}                # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
ACCESS_BITS = {"m": 1, "r": 2, "w": 4}         # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE

# Where the prologue leaves each value for the rule blocks.
TYPE, ACCESS, MAJOR, MINOR = R2, R3, R4, R5

NEXT_BLOCK = -1  # a jump's offset before we know how far the next block is (eBPF jumps forward only here)

PROGRAM_NAME = "gophernetes_dev"  # what bpftool shows (at most 15 characters)
LICENSE = "MIT"  # the project's; it only matters to programs calling GPL-only helpers, and this one calls none


def compile_rules(rules: tuple[str, ...] | list[str]) -> list[Instruction]:
    """The eBPF program allowing exactly `rules` (strings as in base.DEFAULT_DEVICE_RULES)."""
    program = _read_context()
    for rule in rules:
        program += _allow_block(parse_device_rule(rule))
    return program + [bpf.mov_imm(R0, 0), bpf.exit_program()]  # no rule matched: deny


def _read_context() -> list[Instruction]:
    """Load type, access, major and minor from the context R1 points at."""
    return [
        bpf.load_word(TYPE, R1, ACCESS_TYPE_OFFSET), bpf.and_imm(TYPE, 0xFFFF),
        bpf.load_word(ACCESS, R1, ACCESS_TYPE_OFFSET), bpf.rsh_imm(ACCESS, 16),
        bpf.load_word(MAJOR, R1, MAJOR_OFFSET),
        bpf.load_word(MINOR, R1, MINOR_OFFSET),
    ]


def _allow_block(rule: DeviceRule) -> list[Instruction]:
    """The tests of one rule, each jumping to the next block on a mismatch, then `return 1`."""
    block: list[Instruction] = []
    if rule.type != "a":
        block.append(bpf.jne_imm(TYPE, DEVICE_TYPES[rule.type], NEXT_BLOCK))
    if set(rule.access) != set(ACCESS_BITS):
        # (access & allowed) != access means some bit asked for is not allowed. R1 (the
        # context pointer, no longer needed) holds the intermediate value.
        allowed = sum(ACCESS_BITS[letter] for letter in set(rule.access))
        block += [bpf.mov_reg(R1, ACCESS), bpf.and_imm(R1, allowed), bpf.jne_reg(R1, ACCESS, NEXT_BLOCK)]
    if rule.major is not None:
        block.append(bpf.jne_imm(MAJOR, rule.major, NEXT_BLOCK))
    if rule.minor is not None:
        block.append(bpf.jne_imm(MINOR, rule.minor, NEXT_BLOCK))
    block += [bpf.mov_imm(R0, 1), bpf.exit_program()]
    # A jump skips the instructions after it: to land on the next block, all the rest of this one.
    return [insn._replace(off=len(block) - i - 1) if insn.off == NEXT_BLOCK else insn for i, insn in enumerate(block)]


def attach(cgroup: Path, rules: tuple[str, ...] | list[str]) -> None:
    """Load the program for `rules` and attach it to the v2 cgroup directory `cgroup`.

    Why BPF_F_ALLOW_MULTI (the kernel's rules: the "cgroup-bpf attach flags" comment in
    <linux/bpf.h>, hierarchy_allows_attach() in kernel/bpf/cgroup.c): with it, the
    cgroup keeps a list of programs, and a device access by a process in it runs ours,
    then those of every ancestor attached with ALLOW_MULTI (systemd's, for
    DevicePolicy=, which also uses it); access is granted only if all of them return 1,
    so ours can only narrow what the host allows. Programs attached later in cgroups
    below ours run in addition to ours, never instead: nothing below can widen the
    container's list. Without a flag, ours would forbid any program in the cgroups below
    (a runtime nested in the container would get EPERM); with ALLOW_OVERRIDE, a program
    below would *replace* ours. runc and systemd both use ALLOW_MULTI.

    Both file descriptors are closed again: the attachment holds the program until the
    cgroup is removed (rmdir), which detaches it.
    """
    program = bpf.prog_load(bpf.BPF_PROG_TYPE_CGROUP_DEVICE, compile_rules(rules), LICENSE, PROGRAM_NAME)
    try:
        directory = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
        try:
            bpf.prog_attach(directory, program, bpf.BPF_CGROUP_DEVICE, bpf.BPF_F_ALLOW_MULTI)
        finally:
            os.close(directory)
    finally:
        os.close(program)
