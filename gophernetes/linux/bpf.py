"""bpf(2): hand the kernel a tiny eBPF program and attach it to a cgroup.

eBPF is a small virtual machine inside the kernel: eleven 64-bit registers (R0-R10) and
8-byte instructions. A program is loaded with one bpf(2) call; the kernel's *verifier*
first proves that it terminates and only reads what it may (or refuses it, with a log
saying why), then it runs at a hook chosen by the program's type. Cgroup v2 has no
devices controller: a BPF_PROG_TYPE_CGROUP_DEVICE program attached to a cgroup decides,
on every mknod and open of a device node by a process in it, whether that is allowed.

This module is the syscall and the few instructions such a program needs (see
cgroups/device_filter.py for the program itself). No compiler, no libbpf: the bytes
written here are the program. Read Documentation/bpf/standardization/
instruction-set.rst (or Documentation/bpf/instruction-set.rst) next to it, and man 2 bpf.
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import NamedTuple

from gophernetes.linux.syscalls import _check, libc

SYS_bpf = {"x86_64": 321, "aarch64": 280}[os.uname().machine]

# bpf(2) commands, from <linux/bpf.h> (enum bpf_cmd).
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8

# The one program type and hook we use (enum bpf_prog_type, enum bpf_attach_type).
BPF_PROG_TYPE_CGROUP_DEVICE = 15  # called with a struct bpf_cgroup_dev_ctx; returns 1 allow, 0 deny
BPF_CGROUP_DEVICE = 6             # the hook: device access by a process in the cgroup

# Attach flags: what happens with programs on the cgroups below and above (see prog_attach).
BPF_F_ALLOW_OVERRIDE = 1
BPF_F_ALLOW_MULTI = 2

# --- Instructions -------------------------------------------------------------------
# An opcode byte is three fields ORed together: the class (load, ALU, jump), the operation
# within it, and where the second operand comes from — BPF_K: the instruction's 32-bit
# immediate, BPF_X: the source register.
BPF_LDX, BPF_ALU, BPF_JMP = 0x01, 0x04, 0x05   # classes (BPF_ALU works on the low 32 bits)
BPF_W, BPF_MEM = 0x00, 0x60                     # load size: a 32-bit word; mode: from memory
BPF_AND, BPF_RSH, BPF_MOV = 0x50, 0x70, 0xb0    # ALU operations
BPF_JNE, BPF_EXIT = 0x50, 0x90                  # jump operations
BPF_K, BPF_X = 0x00, 0x08                       # operand source

# Registers: R0 holds the return value, R1 the program's argument (for us: a pointer to
# the context struct), R2-R5 are free scratch registers, R10 the read-only frame pointer.
R0, R1, R2, R3, R4, R5 = range(6)


class Instruction(NamedTuple):
    """One struct bpf_insn: u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm."""

    code: int
    dst: int = 0
    src: int = 0
    off: int = 0   # jumps: how many instructions to skip (from the next one); loads: byte offset
    imm: int = 0

    def encode(self) -> bytes:
        # Little-endian, as on x86_64 and aarch64: dst_reg is the low nibble of byte 1.
        return struct.pack("<BBhi", self.code, self.src << 4 | self.dst, self.off, self.imm)


def load_word(dst: int, src: int, offset: int) -> Instruction:
    """dst = *(u32 *)(src + offset) — read a 32-bit field of the struct `src` points at."""
    return Instruction(BPF_LDX | BPF_MEM | BPF_W, dst, src, offset)


def and_imm(dst: int, imm: int) -> Instruction:
    """dst &= imm (32-bit): keep only the bits set in `imm`."""
    return Instruction(BPF_ALU | BPF_AND | BPF_K, dst, imm=imm)


def rsh_imm(dst: int, bits: int) -> Instruction:
    """dst >>= bits (32-bit, logical): bring a field in the upper bits down."""
    return Instruction(BPF_ALU | BPF_RSH | BPF_K, dst, imm=bits)


def mov_imm(dst: int, imm: int) -> Instruction:
    """dst = imm (32-bit)."""
    return Instruction(BPF_ALU | BPF_MOV | BPF_K, dst, imm=imm)


def mov_reg(dst: int, src: int) -> Instruction:
    """dst = src (32-bit)."""
    return Instruction(BPF_ALU | BPF_MOV | BPF_X, dst, src)


def jne_imm(dst: int, imm: int, skip: int) -> Instruction:
    """if dst != imm: skip the next `skip` instructions (eBPF jumps only forward here)."""
    return Instruction(BPF_JMP | BPF_JNE | BPF_K, dst, off=skip, imm=imm)


def jne_reg(dst: int, src: int, skip: int) -> Instruction:
    """if dst != src: skip the next `skip` instructions."""
    return Instruction(BPF_JMP | BPF_JNE | BPF_X, dst, src, off=skip)


def exit_program() -> Instruction:
    """Return R0 to the kernel."""
    return Instruction(BPF_JMP | BPF_EXIT)


def listing(program: list[Instruction]) -> str:
    """The program as a student reads it, one instruction a line, in the kernel verifier's
    notation (what `bpftool prog dump xlated` prints): `0: (61) r2 = *(u32 *)(r1 +0)`."""
    return "\n".join(f"{number}: ({insn.code:02x}) {_text(insn)}" for number, insn in enumerate(program))


def _text(insn: Instruction) -> str:
    dst, src = f"r{insn.dst}", f"r{insn.src}"
    operation = insn.code & 0xf0
    if insn.code == BPF_LDX | BPF_MEM | BPF_W:
        return f"{dst} = *(u32 *)({src} +{insn.off})"
    if insn.code & 0x07 == BPF_ALU:
        operand = src if insn.code & BPF_X else str(insn.imm)
        symbol = {BPF_AND: "&=", BPF_RSH: ">>=", BPF_MOV: "="}[operation]
        return f"w{insn.dst} {symbol} {'w' + str(insn.src) if insn.code & BPF_X else operand}"
    if insn.code == BPF_JMP | BPF_EXIT:
        return "exit"
    operand = src if insn.code & BPF_X else str(insn.imm)
    return f"if {dst} != {operand} goto pc+{insn.off}"


# --- The syscall ----------------------------------------------------------------------
# bpf(2) takes one union bpf_attr; each command reads its own prefix of it. Pointers are
# passed as u64. Passing only the prefix we fill in is allowed: the kernel treats the
# rest as zero.

class _ProgLoadAttr(ctypes.Structure):
    _fields_ = [("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32), ("insns", ctypes.c_uint64),
                ("license", ctypes.c_uint64), ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
                ("log_buf", ctypes.c_uint64), ("kern_version", ctypes.c_uint32), ("prog_flags", ctypes.c_uint32),
                ("prog_name", ctypes.c_char * 16)]


class _ProgAttachAttr(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_bpf_fd", ctypes.c_uint32),
                ("attach_type", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32)]


VERIFIER_LOG_SIZE = 64 * 1024


def _bpf(command: int, attr: ctypes.Structure) -> int:
    return libc.syscall(SYS_bpf, command, ctypes.byref(attr), ctypes.sizeof(attr))


def prog_load(prog_type: int, instructions: list[Instruction], license: str, name: str = "") -> int:
    """Load an eBPF program into the kernel; return a file descriptor that holds it.

    Before accepting it, the verifier walks every path through the program: each must
    end in an exit with R0 set, read only initialised registers and only the context
    fields this program type may see. A refused program comes back as EINVAL or EACCES;
    we then load it once more with a log buffer, so the error carries the verifier's
    explanation (libbpf does the same). `license` matters only to programs that call
    GPL-only kernel helpers; `name` (15 characters) is what `bpftool prog` shows.

    The program lives as long as a file descriptor or an attachment refers to it. (Before
    Linux 5.11 its memory counted against RLIMIT_MEMLOCK, which runc raises first; the
    kernels of Debian 12 and Ubuntu 22.04 charge it to the memory cgroup instead.)

    man 2 bpf (BPF_PROG_LOAD), Documentation/bpf/verifier.rst
    """
    code = b"".join(instruction.encode() for instruction in instructions)
    code_buffer = ctypes.create_string_buffer(code, len(code))
    license_buffer = ctypes.create_string_buffer(license.encode())
    attr = _ProgLoadAttr(prog_type=prog_type, insn_cnt=len(instructions), insns=ctypes.addressof(code_buffer),
                         license=ctypes.addressof(license_buffer), prog_name=name.encode()[:15])
    fd = _bpf(BPF_PROG_LOAD, attr)
    if fd >= 0:
        return fd
    log = ctypes.create_string_buffer(VERIFIER_LOG_SIZE)
    attr.log_level, attr.log_size, attr.log_buf = 1, VERIFIER_LOG_SIZE, ctypes.addressof(log)
    fd = _bpf(BPF_PROG_LOAD, attr)
    if fd < 0:
        error = ctypes.get_errno()
        verifier_says = log.value.decode(errors="replace").strip()
        raise OSError(error, f"bpf(BPF_PROG_LOAD {name}): {os.strerror(error)}"
                             + (f" — the verifier says:\n{verifier_says}" if verifier_says else ""))
    return fd


def prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int = 0) -> None:
    """Attach a loaded program to a hook of `target_fd` (for cgroup programs: the open cgroup directory).

    From now on the kernel runs the program for every process in that cgroup and in the
    cgroups below it. `flags` decide how it combines with programs elsewhere in the tree:
    0 lets no cgroup below attach a program of this type at all; BPF_F_ALLOW_OVERRIDE
    lets a program below *replace* this one for its subtree; BPF_F_ALLOW_MULTI keeps a
    list per cgroup and runs every program from the process's cgroup up to the root —
    for device programs, access is granted only if all of them say yes. An attachment
    holds its own reference to the program: closing `prog_fd` afterwards is fine, and
    the program goes away when the cgroup is removed.

    man 2 bpf (BPF_PROG_ATTACH), the "cgroup-bpf attach flags" comment in <linux/bpf.h>
    """
    attr = _ProgAttachAttr(target_fd=target_fd, attach_bpf_fd=prog_fd, attach_type=attach_type,
                           attach_flags=flags)
    _check(_bpf(BPF_PROG_ATTACH, attr), "bpf", f"BPF_PROG_ATTACH to fd {target_fd}")
