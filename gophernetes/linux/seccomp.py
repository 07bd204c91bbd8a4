"""seccomp(2): a filter program the kernel runs on every system call a container makes.

Namespaces decide what a process *sees*; capabilities what it may *change*. Neither
stops it from calling into parts of the kernel that are not namespaced at all (the
keyring, the clock, kernel modules) or from making new namespaces in which it is root
again. A seccomp filter does: once installed, the kernel runs it at the entry of every
system call, with this struct as its input,

    struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; };

and the 32-bit value it returns is the verdict: SECCOMP_RET_ALLOW runs the call,
SECCOMP_RET_ERRNO | e returns -e without running it, SECCOMP_RET_KILL_PROCESS kills the
process. A filter can only be added, never removed, and it is inherited by children and
kept across execve: the container's command and everything it starts live under it.

The program is *classic* BPF (the packet filter language of tcpdump, 1992), not eBPF:
one 32-bit accumulator A, loads from seccomp_data at a fixed offset, forward jumps only,
at most 4096 instructions. This module compiles a profile (seccomp_profile.py: docker's
default or a docker-format JSON file) into such a program, as libseccomp does for runc
and crun, and shows it: `python3 -m gophernetes.linux.seccomp` prints the listing of
docker's default for this machine, one instruction a line, each commented.

Why compile by hand instead of binding libseccomp: the program is the lesson. Every
instruction the kernel will run is made by the ~150 lines below and can be read, as the
eBPF device filter in cgroups/device_filter.py can; a binding would hand the kernel an
opaque blob. It also costs no import of a C binding on the start path (Debian's
python3-seccomp exists only for /usr/bin/python3) and nothing the lab VM lacks. What we
give up is libseccomp's tree-shaped optimisation: our program tests the numbers one
after another. That costs little, because since Linux 5.11 the kernel emulates a filter
once when it is installed and remembers every call number whose verdict is a constant
ALLOW (no argument looked at): those calls then skip the filter entirely.

The shape of the program (the same as libseccomp's):

    A = arch                          which ABI is calling? one section per ABI; any other
    if A == AUDIT_ARCH_X86_64 ...     ABI (e.g. 32-bit programs, if the profile leaves
    ...                               them out) kills the process: a number means nothing
    return KILL_PROCESS               without its ABI
  x86_64:
    A = nr                            x32 calls come in as AUDIT_ARCH_X86_64 too, with
    if A >= 0x40000000: goto x32      bit 30 set in the number
    if A != 0 (read): skip 1          one block per call the profile names...
    return ALLOW
    if A != 56 (clone): skip to next
    A = args[0] high; if A & ... != 0: skip    ...with its argument checks, if any
    A = args[0] low;  if A & 0x7e020000 != 0: skip
    return ALLOW
    return ERRNO(EPERM)               clone with a CLONE_NEW* flag
    ...
    return ERRNO(EPERM)               the profile's default action

man 2 seccomp, Documentation/userspace-api/seccomp_filter.rst, Documentation/networking/
filter.rst (classic BPF); libseccomp's src/gen_bpf.c is the industrial version.
"""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # the profile module is imported only when a program must be compiled
    from gophernetes.linux.seccomp_profile import Arg, Resolved, Rule

# --- Classic BPF (<linux/filter.h>, <linux/bpf_common.h>) ----------------------------------
# An opcode is class | size | mode | operation | source, as in eBPF (linux/bpf.py) but with
# only the accumulator A: loads fill A, ALU operations change A, jumps compare A with k.
BPF_LD, BPF_ALU, BPF_JMP, BPF_RET = 0x00, 0x04, 0x05, 0x06   # classes
BPF_W, BPF_ABS = 0x00, 0x20                                  # a 32-bit word at absolute offset k
BPF_AND = 0x50
BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE = 0x00, 0x10, 0x20, 0x30
BPF_K = 0x00                                                 # the operand is the constant k

LD = BPF_LD | BPF_W | BPF_ABS
AND = BPF_ALU | BPF_AND | BPF_K
JA, JEQ, JGT, JGE = (BPF_JMP | op | BPF_K for op in (BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE))
RET = BPF_RET | BPF_K
MNEMONICS = {LD: "ld", AND: "and", JA: "ja", JEQ: "jeq", JGT: "jgt", JGE: "jge", RET: "ret"}
MAX_INSTRUCTIONS = 4096    # BPF_MAXINSNS
MAX_JUMP = 255             # jt and jf are one byte each: conditional jumps reach 255 ahead

# struct seccomp_data: byte offsets (little-endian machines: the low word of an argument first).
NR, ARCH = 0, 4


def arg_low(index: int) -> int:
    return 16 + 8 * index


def arg_high(index: int) -> int:
    return 16 + 8 * index + 4


# Verdicts (<linux/seccomp.h>); the kernel obeys the most severe one when several filters are stacked.
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_KILL_THREAD = 0x00000000
SECCOMP_RET_TRAP = 0x00030000      # SIGSYS to the caller
SECCOMP_RET_ERRNO = 0x00050000     # | errno: the call fails with it, unrun
SECCOMP_RET_TRACE = 0x7FF00000     # ask a ptrace tracer; without one, ENOSYS
SECCOMP_RET_LOG = 0x7FFC0000       # allow, and log to the audit log
SECCOMP_RET_ALLOW = 0x7FFF0000
ACTIONS = {"SCMP_ACT_KILL_PROCESS": SECCOMP_RET_KILL_PROCESS, "SCMP_ACT_KILL_THREAD": SECCOMP_RET_KILL_THREAD,
           "SCMP_ACT_KILL": SECCOMP_RET_KILL_THREAD, "SCMP_ACT_TRAP": SECCOMP_RET_TRAP,
           "SCMP_ACT_ERRNO": SECCOMP_RET_ERRNO, "SCMP_ACT_TRACE": SECCOMP_RET_TRACE,
           "SCMP_ACT_LOG": SECCOMP_RET_LOG, "SCMP_ACT_ALLOW": SECCOMP_RET_ALLOW}

# seccomp_data.arch for each ABI (<linux/audit.h>: the ELF machine | 64-bit | little-endian).
AUDIT_ARCH = {"x86_64": 0xC000003E, "i386": 0x40000003, "x32": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000
THIRTY_TWO_BIT_ABIS = {"i386", "x32"}   # libseccomp compares only the low word of their arguments


class Instruction(NamedTuple):
    """One struct sock_filter: u16 code; u8 jt; u8 jf; u32 k — plus a comment for the listing."""

    code: int
    jt: int = 0      # conditional jumps: instructions to skip when true...
    jf: int = 0      # ...and when false (0: go on with the next one)
    k: int = 0       # the constant: an offset to load, a value to compare, a verdict
    comment: str = ""

    def encode(self) -> bytes:
        return struct.pack("<HBBI", self.code, self.jt, self.jf, self.k)


def encode(program: list[Instruction]) -> bytes:
    return b"".join(instruction.encode() for instruction in program)


# --- The compiler -----------------------------------------------------------------------------

class _Assembler:
    """Instructions whose jump targets are labels; `finish()` turns labels into offsets."""

    def __init__(self) -> None:
        self.code: list[list] = []          # [code, jt, jf, k, comment]; jt/jf/k (for ja) may be labels
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def emit(self, code: int, k: int | str = 0, jt: int | str = 0, jf: int | str = 0, comment: str = "") -> None:
        self.code.append([code, jt, jf, k, comment])

    def finish(self) -> list[Instruction]:
        if len(self.code) > MAX_INSTRUCTIONS:
            raise ValueError(f"seccomp: the program has {len(self.code)} instructions, the kernel takes "
                             f"at most {MAX_INSTRUCTIONS}")
        program = []
        for position, (code, jt, jf, k, comment) in enumerate(self.code):
            if code == JA and isinstance(k, str):
                k = self.labels[k] - position - 1
            jt, jf = (self._offset(position, j) for j in (jt, jf))
            program.append(Instruction(code, jt, jf, k, comment))
        return program

    def _offset(self, position: int, target: int | str) -> int:
        if isinstance(target, int):
            return target
        offset = self.labels[target] - position - 1
        if not 0 <= offset <= MAX_JUMP:
            raise ValueError(f"seccomp: a jump to {target} spans {offset} instructions (at most {MAX_JUMP})")
        return offset


def verdict(action: str, errno: int | None = None) -> int:
    """The return value for a profile action; ERRNO carries the errno (EPERM unless given)."""
    value = ACTIONS[action]
    return value | ((1 if errno is None else errno) & 0xFFFF) if value == SECCOMP_RET_ERRNO else value


def compile_filter(profile: Resolved) -> list[Instruction]:
    """The whole program for a resolved profile: arch dispatch, then one section per ABI."""
    from gophernetes.linux.syscall_table import TABLES

    asm = _Assembler()
    default = verdict(profile.default_action, profile.default_errno)
    abis = [abi for abi in profile.abis if abi != "x32"]  # x32 shares x86_64's arch value
    asm.emit(LD, ARCH, comment="A = seccomp_data.arch")
    for abi in abis:
        asm.emit(JEQ, AUDIT_ARCH[abi], 0, 1, comment=f"{abi}?")
        asm.emit(JA, abi, comment=f"-> {abi}")
    asm.emit(RET, SECCOMP_RET_KILL_PROCESS, comment="an ABI this profile does not allow: kill")
    by_name: dict[str, list[Rule]] = {}
    for rule in profile.rules:
        for name in rule.names:
            by_name.setdefault(name, []).append(rule)
    for abi in abis:
        asm.label(abi)
        asm.emit(LD, NR, comment=f"{abi}: A = seccomp_data.nr")
        if abi == "x86_64":
            asm.emit(JGE, X32_SYSCALL_BIT, 0, 1, comment="an x32 call?")
            asm.emit(JA, "x32" if "x32" in profile.abis else "kill", comment="-> x32" if "x32" in profile.abis
                     else "-> kill (x32 not allowed)")
        _section(asm, abi, TABLES[abi], by_name, default)
        if abi == "x86_64" and "x32" in profile.abis:
            asm.label("x32")
            asm.emit(LD, NR, comment="x32: A = seccomp_data.nr")
            _section(asm, "x32", TABLES["x32"], by_name, default)
    asm.label("kill")
    asm.emit(RET, SECCOMP_RET_KILL_PROCESS, comment="kill")
    return asm.finish()


def _section(asm: _Assembler, abi: str, table: dict[str, int], by_name: dict[str, list[Rule]], default: int) -> None:
    """One block per call the profile names that exists on this ABI, then the default."""
    wide = abi not in THIRTY_TWO_BIT_ABIS
    for name, rules in by_name.items():
        number = table.get(name)
        if number is None:
            continue  # not a call of this ABI (chown32 on x86_64): libseccomp skips it too
        after = f"{abi}:{name}:end"
        asm.emit(JEQ, number, 0, after, comment=name)
        for index, rule in enumerate(rules):
            action = verdict(rule.action, rule.errno)
            if not rule.args:
                asm.emit(RET, action, comment=_describe(action))
                break
            fail = f"{abi}:{name}:{index}"
            for arg in rule.args:
                _compare(asm, arg, fail, wide)
            asm.emit(RET, action, comment=_describe(action) + (f" ({rule.comment})" if rule.comment else ""))
            asm.label(fail)
        else:
            asm.emit(RET, default, comment=f"{name}: no rule matched: " + _describe(default))
        asm.label(after)
    asm.emit(RET, default, comment=f"{abi}: any other call: " + _describe(default))


def _compare(asm: _Assembler, arg: Arg, fail: str, wide: bool) -> None:
    """Go on if `args[index] op value` holds, else jump to `fail`.

    A 64-bit argument is two 32-bit loads: the high words decide unless they are equal.
    On 32-bit ABIs (i386, x32) only the low word counts, as libseccomp does.
    """
    value, two, i = arg.value, arg.value_two, arg.index
    low, high = value & 0xFFFFFFFF, value >> 32 & 0xFFFFFFFF
    match = f"{fail}:arg{i}:{arg.op}:ok"
    what = f"args[{i}]"
    if arg.op == "SCMP_CMP_MASKED_EQ":
        if wide and (high or two >> 32):  # a mask with no high bits needs no look at the high word
            asm.emit(LD, arg_high(i), comment=f"A = {what} high")
            asm.emit(AND, high)
            asm.emit(JEQ, two >> 32 & 0xFFFFFFFF, 0, fail)
        asm.emit(LD, arg_low(i), comment=f"A = {what} low")
        asm.emit(AND, low)
        asm.emit(JEQ, two & 0xFFFFFFFF, 0, fail, comment=f"{what} & {value:#x} == {two:#x}?")
        return
    if wide:
        asm.emit(LD, arg_high(i), comment=f"A = {what} high")
        if arg.op == "SCMP_CMP_EQ":
            asm.emit(JEQ, high, 0, fail)
        elif arg.op == "SCMP_CMP_NE":
            asm.emit(JEQ, high, 0, match)
        elif arg.op in ("SCMP_CMP_GT", "SCMP_CMP_GE"):
            asm.emit(JGT, high, match, 0)
            asm.emit(JEQ, high, 0, fail)
        else:  # LT, LE
            asm.emit(JGT, high, fail, 0)
            asm.emit(JEQ, high, 0, match)
    asm.emit(LD, arg_low(i), comment=f"A = {what} low")
    comment = f"{what} {OPERATOR_SIGNS[arg.op]} {value:#x}?"
    if arg.op == "SCMP_CMP_EQ":
        asm.emit(JEQ, low, 0, fail, comment=comment)
    elif arg.op == "SCMP_CMP_NE":
        asm.emit(JEQ, low, fail, 0, comment=comment)
    elif arg.op == "SCMP_CMP_GT":
        asm.emit(JGT, low, 0, fail, comment=comment)
    elif arg.op == "SCMP_CMP_GE":
        asm.emit(JGE, low, 0, fail, comment=comment)
    elif arg.op == "SCMP_CMP_LT":
        asm.emit(JGE, low, fail, 0, comment=comment)
    else:  # LE
        asm.emit(JGT, low, fail, 0, comment=comment)
    if wide:
        asm.label(match)


OPERATOR_SIGNS = {"SCMP_CMP_EQ": "==", "SCMP_CMP_NE": "!=", "SCMP_CMP_LT": "<", "SCMP_CMP_LE": "<=",
                  "SCMP_CMP_GT": ">", "SCMP_CMP_GE": ">="}


VERDICT_NAMES = {SECCOMP_RET_KILL_PROCESS: "KILL_PROCESS", SECCOMP_RET_KILL_THREAD: "KILL_THREAD",
                 SECCOMP_RET_TRAP: "TRAP", SECCOMP_RET_TRACE: "TRACE", SECCOMP_RET_LOG: "LOG",
                 SECCOMP_RET_ALLOW: "ALLOW"}


def _describe(value: int) -> str:
    """A verdict for the listing: the action (high 16 bits) and its data (low 16: the errno)."""
    action, data = value & 0xFFFF0000, value & 0xFFFF
    if action == SECCOMP_RET_ERRNO:
        return f"ERRNO({data}{', ' + os.strerror(data) if data else ''})"
    return VERDICT_NAMES.get(action, hex(value))


def unknown_names(profile: Resolved) -> list[str]:
    """The names in the profile that are a call of none of its ABIs (runc warns about them, and goes on)."""
    from gophernetes.linux.syscall_table import TABLES

    known = set().union(*(TABLES[abi] for abi in profile.abis))
    return sorted({name for rule in profile.rules for name in rule.names} - known)


# --- The listing --------------------------------------------------------------------------------

def listing(program: list[Instruction]) -> str:
    """The program one instruction a line: position, operation, operand, jump targets, comment.

    Jump targets are absolute positions (the kernel stores them relative to the next
    instruction); `ld [4]` reads the 32-bit word at byte 4 of seccomp_data.
    """
    lines = [f"{len(program)} instructions ({len(program) * 8} bytes)"]
    for position, insn in enumerate(program):
        name = MNEMONICS[insn.code]
        if insn.code == LD:
            operand, jumps = f"[{insn.k}]", ""
        elif insn.code == JA:
            operand, jumps = "", f"-> {position + 1 + insn.k}"
        elif insn.code in (JEQ, JGT, JGE):
            operand = f"#{insn.k:#x}"
            jumps = f"true {position + 1 + insn.jt}  false {position + 1 + insn.jf}"
        elif insn.code == RET:
            operand, jumps = f"#{insn.k:#x}", ""
        else:
            operand, jumps = f"#{insn.k:#x}", ""
        lines.append(f"{position:5}  {name:<4} {operand:<13} {jumps:<22} {insn.comment}".rstrip())
    return "\n".join(lines)


# --- The syscall ---------------------------------------------------------------------------------

SYS_seccomp = {"x86_64": 317, "aarch64": 277}.get(os.uname().machine, -1)
SECCOMP_SET_MODE_FILTER = 1
FILTER_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def set_mode_filter(program: bytes, flags: int = 0) -> None:
    """Install `program` (encoded struct sock_filter array) as a seccomp filter of this thread.

    The kernel checks the program first (only known instructions, jumps inside it, every
    path ending in a return) and refuses it with EINVAL otherwise. Then it runs it on
    every later system call of this thread, of the children it makes and of the
    programs it execs. Filters stack: a process can add more, each call then runs all of
    them and the most severe verdict wins, but none can ever be removed.

    Installing needs CAP_SYS_ADMIN, or no_new_privs set first (prctl PR_SET_NO_NEW_PRIVS):
    otherwise a filter could trick a setuid program into a failure it does not expect
    (say, setuid() returning EPERM after it believed it dropped root). The container
    sets no_new_privs and drops its capabilities, then installs the filter last, just
    before execve, so that none of the runtime's own calls need to be in the profile.
    Flags: TSYNC applies it to all threads, LOG logs every non-ALLOW verdict,
    SPEC_ALLOW keeps the speculative-store-bypass mitigation off.

    man 2 seccomp (SECCOMP_SET_MODE_FILTER)
    """
    from gophernetes.linux.syscalls import _check, libc

    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    _check(libc.syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(fprog)),
           "seccomp", f"SECCOMP_SET_MODE_FILTER, {len(program) // 8} instructions")


# --- What the runtime calls ------------------------------------------------------------------

def compile_for(profile: dict | None, capabilities: frozenset[str] | set[str] | list[str],
                machine: str | None = None) -> list[Instruction]:
    """The program for docker's default (`profile` None) or a docker-format profile, for a
    container with `capabilities` (names without CAP_) on this machine."""
    from gophernetes.linux import seccomp_profile

    chosen = seccomp_profile.DEFAULT if profile is None else seccomp_profile.from_json(profile)
    return compile_filter(seccomp_profile.resolve(chosen, frozenset(capabilities), machine))


def cached_program(cache: Path, profile: dict | None, capabilities: frozenset[str] | set[str] | list[str]) -> Path:
    """The file holding the compiled program for this profile and capability set.

    Compiling docker's default costs ~15 ms in Python (importing the profile and the
    number tables, then ~2000 instructions); a container start should not pay that each
    time. So the program is compiled on first use and kept under the state root as
    KEY.bpf (the bytes the kernel gets) next to KEY.txt (its listing, for students). KEY
    names everything the program depends on: the profile ("default", or a hash of a
    custom one), the capabilities (as a bit mask), the machine and kernel, and the
    compiler's own source files (a new version of gophernetes compiles afresh). Later
    runs only check that the file exists.
    """
    from gophernetes.linux.capabilities import CAPABILITIES

    here = Path(__file__).parent
    stamps = [os.stat(here / name) for name in ("seccomp.py", "seccomp_profile.py", "syscall_table.py")]
    code = f"{max(s.st_mtime_ns for s in stamps):x}.{sum(s.st_size for s in stamps):x}"
    caps = f"{sum(1 << CAPABILITIES[name] for name in capabilities):x}"
    uname = os.uname()
    # No hash for docker's default: hashlib is not otherwise imported on the way to a container.
    name = "default" if profile is None else _digest(profile)
    path = cache / f"{name}-caps{caps}-{uname.machine}-{uname.release}-{code}.bpf"
    if not path.exists():
        program = compile_for(profile, capabilities)
        cache.mkdir(parents=True, exist_ok=True)
        for target, data in ((path.with_suffix(".txt"), listing(program).encode() + b"\n"), (path, encode(program))):
            temporary = target.with_name(f".{target.name}.{os.getpid()}")
            temporary.write_bytes(data)
            os.replace(temporary, target)  # concurrent runs each write a whole file; the last one wins
    return path


def _digest(profile: dict) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(profile, sort_keys=True).encode()).hexdigest()[:16]


def filter_flags(profile: dict | None) -> int:
    """The seccomp(2) flags a profile's "flags" list asks for (docker's default: none)."""
    return sum(FILTER_FLAGS[name] for name in (profile or {}).get("flags") or ())


if __name__ == "__main__":
    # python3 -m gophernetes.linux.seccomp [PROFILE.json]: the listing for docker's default capabilities.
    import sys

    from gophernetes.linux import capabilities, seccomp_profile

    custom = seccomp_profile.load_file(sys.argv[1]) if len(sys.argv) > 1 else None
    print(listing(compile_for(custom, capabilities.DOCKER_DEFAULT)))
