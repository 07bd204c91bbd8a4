"""The seccomp compiler, root-free: a classic-BPF interpreter runs the compiled program over
seccomp_data for chosen calls, as the kernel would, and the verdicts are checked."""

from __future__ import annotations

import json
import struct

import pytest

from gophernetes.errors import UsageError
from gophernetes.linux import seccomp, seccomp_profile
from gophernetes.linux.capabilities import DOCKER_DEFAULT
from gophernetes.linux.seccomp import (
    AUDIT_ARCH,
    JA,
    JEQ,
    JGE,
    JGT,
    LD,
    MAX_INSTRUCTIONS,
    RET,
    SECCOMP_RET_ALLOW,
    SECCOMP_RET_ERRNO,
    SECCOMP_RET_KILL_PROCESS,
)
from gophernetes.linux.syscall_table import TABLES

ALLOW, KILL = SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS
EPERM, ENOSYS = SECCOMP_RET_ERRNO | 1, SECCOMP_RET_ERRNO | 38
AUDIT_ARCH_ARM = 0x40000028
CLONE_NEWUSER, SIGCHLD, CLONE_THREAD_FLAGS = 0x10000000, 17, 0x003D0F00  # what pthread_create passes
AF_INET, AF_ALG, AF_NFC, AF_VSOCK = 2, 38, 39, 40


def run_filter(program: list[seccomp.Instruction], abi: str, name: str | int, *args: int) -> int:
    """What the kernel would return for call `name` of `abi`: a tiny classic-BPF interpreter
    over a struct seccomp_data, reading the *encoded* bytes as the kernel does."""
    number = name if isinstance(name, int) else TABLES[abi][name]
    arch = AUDIT_ARCH.get(abi, abi) if isinstance(abi, str) else abi
    data = struct.pack("<iIQ6Q", number - (1 << 32) if number >= 1 << 31 else number, arch, 0,
                       *(list(args) + [0] * (6 - len(args))))
    code = seccomp.encode(program)
    a, pc = 0, 0
    for _ in range(len(program) + 1):  # forward jumps only: no path is longer than the program
        op, jt, jf, k = struct.unpack_from("<HBBI", code, pc * 8)
        pc += 1
        if op == LD:
            a = struct.unpack_from("<I", data, k)[0]
        elif op == seccomp.AND:
            a &= k
        elif op == JA:
            pc += k
        elif op in (JEQ, JGT, JGE):
            taken = a == k if op == JEQ else a > k if op == JGT else a >= k
            pc += jt if taken else jf
        elif op == RET:
            return k
        else:
            raise AssertionError(f"unknown opcode {op:#x}")
    raise AssertionError("the program did not return")


def default_program(machine: str = "x86_64", caps=DOCKER_DEFAULT) -> list[seccomp.Instruction]:
    return seccomp.compile_for(None, caps, machine)


@pytest.fixture(scope="module")
def x86() -> list[seccomp.Instruction]:
    return default_program()


@pytest.mark.parametrize("call, args, verdict", [
    ("read", (), ALLOW),
    ("write", (), ALLOW),
    ("clone", (SIGCHLD,), ALLOW),                         # fork()
    ("clone", (CLONE_THREAD_FLAGS,), ALLOW),              # a thread
    ("clone", (CLONE_NEWUSER | SIGCHLD,), EPERM),         # a user namespace
    ("unshare", (CLONE_NEWUSER,), EPERM),
    ("setns", (), EPERM),
    ("mount", (), EPERM),
    ("keyctl", (), EPERM),                                # docker refuses the keyring calls
    ("add_key", (), EPERM),
    ("request_key", (), EPERM),
    ("clone3", (), ENOSYS),                               # glibc falls back to clone
    ("socket", (AF_INET,), ALLOW),
    ("socket", (AF_ALG,), EPERM),
    ("socket", (AF_NFC,), ALLOW),
    ("socket", (AF_VSOCK,), EPERM),
    ("socket", (41,), ALLOW),
    ("personality", (0xFFFFFFFF,), ALLOW),                # query
    ("personality", (0x0040000,), EPERM),                 # ADDR_NO_RANDOMIZE
    ("ptrace", (), ALLOW),                                # kernel >= 4.8
    ("chroot", (), ALLOW),                                # CAP_SYS_CHROOT is a default capability
    ("reboot", (), EPERM),
    ("init_module", (), EPERM),
    ("io_uring_setup", (), EPERM),
    ("userfaultfd", (), EPERM),
    ("arch_prctl", (), ALLOW),
])
def test_docker_default_on_x86_64(x86, call, args, verdict):
    assert run_filter(x86, "x86_64", call, *args) == verdict


def test_a_namespace_flag_in_the_high_word_is_not_mistaken_for_none(x86):
    assert run_filter(x86, "x86_64", "clone", 1 << 32 | SIGCHLD) == ALLOW  # no CLONE_NEW* bit: allowed
    assert run_filter(x86, "x86_64", "clone", 1 << 32 | CLONE_NEWUSER) == EPERM


def test_the_32_bit_abis_get_their_own_numbers(x86):
    assert TABLES["i386"]["read"] == 3 and TABLES["x32"]["read"] == 0x40000000
    assert run_filter(x86, "i386", "read") == ALLOW
    assert run_filter(x86, "i386", "chown32") == ALLOW          # an i386-only name
    assert run_filter(x86, "i386", "keyctl") == EPERM
    assert run_filter(x86, "i386", "clone", CLONE_NEWUSER) == EPERM
    assert run_filter(x86, "i386", "socketcall") == ALLOW
    assert run_filter(x86, "x32", "read") == ALLOW              # arch x86_64, number | 0x40000000
    assert run_filter(x86, "x32", "unshare") == EPERM
    assert run_filter(x86, "x32", "clone3") == ENOSYS


def test_an_abi_the_profile_does_not_list_kills(x86):
    assert run_filter(x86, AUDIT_ARCH_ARM, 3) == KILL
    assert run_filter(x86, AUDIT_ARCH["aarch64"], 63) == KILL


def test_without_x32_in_the_profile_an_x32_call_kills():
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
    program = seccomp.compile_for(profile, DOCKER_DEFAULT, "x86_64")
    assert run_filter(program, "x86_64", "read") == ALLOW
    assert run_filter(program, "x32", "read") == KILL
    assert run_filter(program, "i386", "read") == KILL


def test_docker_default_on_aarch64():
    program = default_program("aarch64")
    assert TABLES["aarch64"]["read"] == 63 and "open" not in TABLES["aarch64"]
    assert run_filter(program, "aarch64", "read") == ALLOW
    assert run_filter(program, "aarch64", "openat") == ALLOW
    assert run_filter(program, "aarch64", "clone", SIGCHLD) == ALLOW
    assert run_filter(program, "aarch64", "unshare", CLONE_NEWUSER) == EPERM
    assert run_filter(program, "aarch64", "keyctl") == EPERM
    assert run_filter(program, "aarch64", "clone3") == ENOSYS
    assert run_filter(program, "x86_64", 0) == KILL


def test_capabilities_open_the_rules_docker_ties_to_them():
    program = default_program(caps=DOCKER_DEFAULT | {"SYS_ADMIN", "SYS_TIME"})
    assert run_filter(program, "x86_64", "mount") == ALLOW
    assert run_filter(program, "x86_64", "unshare", CLONE_NEWUSER) == ALLOW
    assert run_filter(program, "x86_64", "clone", CLONE_NEWUSER) == ALLOW
    assert run_filter(program, "x86_64", "clone3") == ALLOW
    assert run_filter(program, "x86_64", "settimeofday") == ALLOW
    without_chroot = default_program(caps=DOCKER_DEFAULT - {"SYS_CHROOT"})
    assert run_filter(without_chroot, "x86_64", "chroot") == EPERM


def test_min_kernel_leaves_ptrace_out_on_old_kernels():
    old = seccomp_profile.resolve(seccomp_profile.DEFAULT, DOCKER_DEFAULT, "x86_64", "4.4.0-generic")
    assert run_filter(seccomp.compile_filter(old), "x86_64", "ptrace") == EPERM


OPS = {"SCMP_CMP_EQ": lambda a, v: a == v, "SCMP_CMP_NE": lambda a, v: a != v, "SCMP_CMP_LT": lambda a, v: a < v,
       "SCMP_CMP_LE": lambda a, v: a <= v, "SCMP_CMP_GT": lambda a, v: a > v, "SCMP_CMP_GE": lambda a, v: a >= v}
PROBES = [0, 5, 6, 7, 2**32 - 1, 2**32, 2**32 + 5, 2**32 + 6, 2**32 + 7, 2**33 + 6, 2**64 - 1]


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("value", [6, 2**32 + 6])
def test_argument_comparisons_are_64_bit_on_x86_64_and_32_bit_on_i386(op, value):
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 2, "value": value, "op": op}]}]}
    program = seccomp.compile_for(profile, DOCKER_DEFAULT, "x86_64")
    for probe in PROBES:
        expected = ALLOW if OPS[op](probe, value) else EPERM
        assert run_filter(program, "x86_64", "write", 0, 0, probe) == expected, (op, value, probe)
        low = ALLOW if OPS[op](probe & 0xFFFFFFFF, value & 0xFFFFFFFF) else EPERM
        assert run_filter(program, "i386", "write", 0, 0, probe) == low, (op, value, probe, "i386")


def test_masked_eq_and_several_rules_for_one_call():
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["open"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
         "args": [{"index": 1, "value": 3, "op": "SCMP_CMP_MASKED_EQ", "valueTwo": 1}]},
        {"names": ["open"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
        {"name": "mkdir", "action": "SCMP_ACT_ERRNO"}]}
    program = seccomp.compile_for(profile, DOCKER_DEFAULT, "x86_64")
    assert run_filter(program, "x86_64", "open", 0, 1) == SECCOMP_RET_ERRNO | 13   # O_WRONLY
    assert run_filter(program, "x86_64", "open", 0, 0o101) == SECCOMP_RET_ERRNO | 13
    assert run_filter(program, "x86_64", "open", 0, 2) == KILL                   # O_RDWR
    assert run_filter(program, "x86_64", "open", 0, 0) == ALLOW                  # the default
    assert run_filter(program, "x86_64", "mkdir") == EPERM                       # ERRNO without errnoRet
    assert run_filter(program, "x86_64", "read") == ALLOW


def test_the_program_fits_the_kernel_and_every_jump_lands_inside(x86):
    for program in (x86, default_program("aarch64"), default_program(caps=set())):
        assert len(program) <= MAX_INSTRUCTIONS
        for position, insn in enumerate(program):
            if insn.code == JA:
                assert position + 1 + insn.k < len(program)
            elif insn.code in (JEQ, JGT, JGE):
                assert position + 1 + max(insn.jt, insn.jf) < len(program)
        assert program[-1].code == RET


def test_the_listing_names_each_call_and_its_verdict(x86):
    text = seccomp.listing(x86)
    lines = text.splitlines()
    assert lines[0] == f"{len(x86)} instructions ({len(x86) * 8} bytes)"
    assert len(lines) == len(x86) + 1
    assert lines[1].split()[:3] == ["0", "ld", "[4]"] and "arch" in lines[1]
    clone3 = next(i for i, line in enumerate(lines) if line.rstrip().endswith("clone3"))
    assert "ERRNO(38" in lines[clone3 + 1]
    assert any("args[0] & 0x7e020000 == 0x0?" in line for line in lines)


def test_unknown_calls_in_a_profile_are_reported_not_fatal():
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]}
    resolved = seccomp_profile.resolve(seccomp_profile.from_json(profile), DOCKER_DEFAULT, "x86_64")
    assert seccomp.unknown_names(resolved) == ["no_such_call"]
    assert run_filter(seccomp.compile_filter(resolved), "x86_64", "mkdir") == EPERM


@pytest.mark.parametrize("document, message", [
    ([], "expected a JSON object"),
    ({"defaultAction": "SCMP_ACT_MAYBE"}, "defaultAction 'SCMP_ACT_MAYBE'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "ALLOW"}]}, "action 'ALLOW'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}, "'names' must list"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}]},
     "both 'name' and 'names'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
     "argument index 6"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_IN"}]}]},
     "operator 'SCMP_CMP_IN'"),
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "seccomp agent"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{}]},
     "both 'architectures' and 'archMap'"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}, "errno -1"),
])
def test_bad_profiles_are_refused_in_one_line(document, message):
    with pytest.raises(UsageError, match="^seccomp profile") as raised:
        seccomp_profile.from_json(document)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_profile_files_that_cannot_be_read(tmp_path):
    with pytest.raises(UsageError, match="No such file"):
        seccomp_profile.load_file(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(UsageError, match="not JSON"):
        seccomp_profile.load_file(str(broken))
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}))
    assert seccomp_profile.load_file(str(good))["defaultAction"] == "SCMP_ACT_ALLOW"


def test_the_compiled_program_is_cached_by_everything_it_depends_on(tmp_path):
    first = seccomp.cached_program(tmp_path, None, DOCKER_DEFAULT)
    assert seccomp.cached_program(tmp_path, None, DOCKER_DEFAULT) == first
    assert seccomp.cached_program(tmp_path, None, DOCKER_DEFAULT | {"SYS_ADMIN"}) != first
    assert first.read_bytes() == seccomp.encode(default_program())
    assert first.with_suffix(".txt").read_text().startswith(f"{len(first.read_bytes()) // 8} instructions")
