"""The last hop into a container: never let it reach the runtime's own binary (CVE-2019-5736).

Between joining a container and exec'ing the command, the runtime is a process *inside*
the container whose /proc/PID/exe is a host file — here the host's Python interpreter.
Two ways in for a container process, both shown by tests/system/runtime/test_runtime_binary.py:

1. It opens /proc/PID/exe of that process (O_PATH is enough) while it is visible — `exec`
   joins a container whose processes are already running — and keeps the descriptor.
   Once no process runs the binary any more (ETXTBSY guards it only while it runs), it
   reopens /proc/self/fd/N for writing and replaces the host's interpreter.
2. The command is a script starting "#!/proc/self/exe". The kernel resolves the
   interpreter in the process that calls execve: that is us, so it runs the *host's*
   interpreter inside the container — with the image's own ld.so and libc loaded into
   it — and that code opens /proc/self/exe from the inside.

runc's two answers, and what we take:

- The joining process is non-dumpable (prctl PR_SET_DUMPABLE 0) until it execs:
  /proc/PID/exe of a non-dumpable process needs CAP_SYS_PTRACE, which a default
  container lacks. Free; we do it in `exec` (way 1). For `run`, no other process of the
  container exists before its init execs, so there is nobody to look.
- runc re-execs itself from a sealed memfd copy (memfd_create, copy, F_ADD_SEALS): its
  /proc/self/exe is then a file no one can write. Re-executing *Python* costs an
  interpreter start plus imports (we measured ~20-25 ms on Debian's python3, more on
  pyenv's) — and a dynamically linked interpreter cannot even be started after the
  root is the container's (its ld.so and libc would come from the image). So we copy
  runc's idea to the last hop only, as runc 1.1.12's "runc-dmz" did: the command is
  exec'd *by a tiny static program* that lives in a sealed memfd. Its whole job is
  execve(argv[1], argv + 2, envp). Way 2 then finds the memfd, not a host file: the
  program notices it was started as an interpreter (fewer than three arguments),
  says so on stderr and exits 126. The cost, measured: 15 µs to make and seal the
  memfd, ~40 µs to search PATH ourselves (for docker's 126/127 messages), ~0.1 ms of
  CPU for the extra execve of a 290-byte binary — about 0.15 ms for `run` and `exec`.

The program below is 75 bytes of x86_64 (or 76 of aarch64) machine code and its message,
wrapped in the smallest valid ELF file (a header and one loadable segment), assembled
from the listing next to it with `as` (aarch64-linux-gnu-as; checked under qemu-aarch64).
On other architectures `trampoline()` returns None and the command is exec'd directly
(way 2 stays open there; way 1 is closed everywhere).
"""

from __future__ import annotations

import fcntl
import os
import struct

from gophernetes.linux import syscalls

# x86_64, Intel syntax; the process starts with rsp -> argc, argv[0..argc-1], NULL, envp...
TRAMPOLINE_X86_64 = bytes.fromhex(
    "488b0c24"            # mov rcx, [rsp]            argc
    "4883f903"            # cmp rcx, 3
    "721d"                # jb refuse                 run as "#!/proc/self/exe": not by the runtime
    "488b7c2410"          # mov rdi, [rsp+16]         path = argv[1]
    "488d742418"          # lea rsi, [rsp+24]         argv = &argv[2]
    "488d54cc10"          # lea rdx, [rsp+rcx*8+16]   envp = &argv[argc+1]
    "b83b000000"          # mov eax, 59
    "0f05"                # syscall                   execve(path, argv, envp): no return if it works
    "bf7f000000"          # mov edi, 127              the exec failed (the file changed since we checked)
    "eb1d"                # jmp leave
    "bf02000000"          # refuse: mov edi, 2
    "488d3518000000"      # lea rsi, [rip+message]
    "ba5f000000"          # mov edx, 95               length of the message
    "b801000000"          # mov eax, 1
    "0f05"                # syscall                   write(2, message, 95)
    "bf7e000000"          # mov edi, 126
    "b83c000000"          # leave: mov eax, 60
    "0f05"                # syscall                   exit(status)
) + b"gophernetes: refused: the interpreter of this program is the runtime itself (#!/proc/self/exe)\n"

# aarch64; the process starts with sp -> argc, argv[0..argc-1], NULL, envp...
TRAMPOLINE_AARCH64 = bytes.fromhex(
    "e30340f9"            # ldr x3, [sp]              argc
    "7f0c00f1"            # cmp x3, #3
    "23010054"            # b.lo refuse               run as "#!/proc/self/exe": not by the runtime
    "e00b40f9"            # ldr x0, [sp, #16]         path = argv[1]
    "e1630091"            # add x1, sp, #24           argv = &argv[2]
    "e26f238b"            # add x2, sp, x3, lsl #3
    "42400091"            # add x2, x2, #16           envp = &argv[argc+1]
    "a81b80d2"            # mov x8, #221
    "010000d4"            # svc #0                    execve(path, argv, envp)
    "e00f80d2"            # mov x0, #127              the exec failed
    "07000014"            # b leave
    "400080d2"            # refuse: mov x0, #2
    "e1000010"            # adr x1, message
    "e20b80d2"            # mov x2, #95
    "080880d2"            # mov x8, #64
    "010000d4"            # svc #0                    write(2, message, 95)
    "c00f80d2"            # mov x0, #126
    "a80b80d2"            # leave: mov x8, #93
    "010000d4"            # svc #0                    exit(status)
) + TRAMPOLINE_X86_64[-95:]  # the same message

LOAD_ADDRESS = 0x400000
ELF_HEADER_SIZE = 64
PROGRAM_HEADER_SIZE = 56


def elf_executable(code: bytes, machine: int) -> bytes:
    """The smallest static ELF64 executable: a header, one read+execute segment, the code.

    The kernel needs nothing more to run it: it maps the file at LOAD_ADDRESS and jumps
    to e_entry, the first byte after the two headers. No ld.so, no libc — which is why
    it runs in any container's root. (man 5 elf)
    """
    entry = LOAD_ADDRESS + ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE
    size = ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE + len(code)
    header = struct.pack("<4sBBBB8xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0,  # 64-bit, little-endian, v1, SysV
                         2, machine, 1, entry, ELF_HEADER_SIZE, 0, 0,       # ET_EXEC, e_phoff, no sections
                         ELF_HEADER_SIZE, PROGRAM_HEADER_SIZE, 1, 0, 0, 0)
    segment = struct.pack("<IIQQQQQQ", 1, 5, 0, LOAD_ADDRESS, LOAD_ADDRESS, size, size, 0x1000)  # PT_LOAD, R+X
    return header + segment + code


PROGRAMS = {"x86_64": (TRAMPOLINE_X86_64, 62), "aarch64": (TRAMPOLINE_AARCH64, 183)}  # uname -m -> (code, e_machine)


def make_non_dumpable() -> None:
    """prctl(PR_SET_DUMPABLE, 0): /proc/PID/{exe,fd,mem,...} of this process now need CAP_SYS_PTRACE.

    The kernel resets the flag at the next execve of a readable binary, so the command
    the container runs is dumpable as usual. Children made by fork inherit it.

    man 2 prctl (PR_SET_DUMPABLE), man 5 proc (/proc/pid ownership)
    """
    syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)


def trampoline() -> int | None:
    """A sealed memfd holding the trampoline program, close-on-exec; None on other architectures.

    memfd_create gives an anonymous file that lives only in memory; F_ADD_SEALS then
    forbids, for good, every write, growth or shrink — also through /proc/PID/exe and
    /proc/self/fd/N, which is what an attacker in the container would use.

    man 2 memfd_create, man 2 fcntl (File Sealing)
    """
    program = PROGRAMS.get(os.uname().machine)
    if program is None:
        return None
    fd = os.memfd_create("gophernetes-exec", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, elf_executable(*program))
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK
                | fcntl.F_SEAL_SEAL)
    return fd


def find_program(program: str, search_path: str) -> str:
    """The file execvp(3) would run for `program`: itself when it has a "/", else the first
    executable match in `search_path`. Raises FileNotFoundError or PermissionError, so the
    caller can report docker's 127 or 126 before the last hop."""
    candidates = [program] if "/" in program else [os.path.join(d or ".", program) for d in search_path.split(":")]
    denied = False
    for candidate in candidates:
        try:
            if os.path.isdir(candidate) or not os.access(candidate, os.X_OK):
                denied = denied or os.path.exists(candidate)
                continue
        except OSError:
            continue
        try:
            with open(candidate, "rb") as file:
                magic = file.read(4)
        except OSError:
            return candidate  # executable but not readable (mode 0711): execve alone can tell
        if magic != b"\x7fELF" and not magic.startswith(b"#!"):
            raise OSError(8, "exec format error")  # ENOEXEC, as execve would say
        return candidate
    raise PermissionError(13, "permission denied") if denied else FileNotFoundError(2, "not found")


def exec_command(argv: list[str], env: dict[str, str]) -> None:
    """execve `argv` (searched in env's PATH) through the sealed trampoline. Never returns on success."""
    path = find_program(argv[0], env.get("PATH", os.defpath))
    fd = trampoline()
    if fd is None:
        os.execve(path, argv, env)
    os.execve(fd, ["gophernetes-exec", path, *argv], env)  # fexecve: execveat(fd, "", AT_EMPTY_PATH)
