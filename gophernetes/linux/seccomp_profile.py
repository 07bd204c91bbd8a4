"""Seccomp profiles: docker's default, written out by purpose, and docker's JSON format.

A profile says, per system call name, what the kernel should do when a container calls
it: allow it, or fail it with an errno (EPERM by default). Docker's default profile
(moby's profiles/seccomp/default.json) allows the ~360 calls ordinary programs make and
refuses the rest: the calls that reach things namespaces do not isolate (the kernel
keyring: keyctl, add_key, request_key; kernel modules; the clock; swap; reboot; kexec),
the calls that make namespaces or mounts (unshare, setns, mount, clone with CLONE_NEW*),
and old or risky interfaces (userfaultfd, io_uring, personality changes, AF_ALG and
AF_VSOCK sockets). Many refusals duplicate a capability check on purpose: two locks, and
the filter also closes paths a capability does not (a user namespace gives its creator
every capability inside it — which is how an unconfined container became root of its
own namespace and mounted a cgroup hierarchy).

Some rules depend on the container: the calls a capability is needed for are allowed
when the container has that capability (`includes.caps`: --cap-add SYS_ADMIN allows
mount), and clone's namespace-flag check is left out when it has CAP_SYS_ADMIN
(`excludes.caps`). `resolve()` turns a profile into the rules for one container; the
compiler (seccomp.py) turns those into the program.

The data below is docker's default in our own form: the same allowlist, the same
conditions, grouped by what the calls do. `load_json()` reads docker's format (what
`--security-opt seccomp=PROFILE.json` takes); its documentation is
https://docs.docker.com/engine/security/seccomp/.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from gophernetes.errors import UsageError

# --- The vocabulary of a profile (libseccomp's names, which docker's format uses) -----

ACTIONS = ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
           "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG")
OPERATORS = ("SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE",
             "SCMP_CMP_MASKED_EQ")
FLAGS = ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
EPERM, ENOSYS = 1, 38

# libseccomp's architecture names -> the ABIs gophernetes has number tables for
# (syscall_table.py). SCMP_ARCH_ARM (32-bit programs on arm64) has no table here, so
# such programs are killed (docker runs them).
ABIS = {"SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X86": "i386", "SCMP_ARCH_X32": "x32",
        "SCMP_ARCH_AARCH64": "aarch64"}
# The machine (uname -m) -> its native architecture, and its name in `includes.arches`
# (docker compares those with Go's name for the machine).
NATIVE = {"x86_64": ("SCMP_ARCH_X86_64", "amd64"), "aarch64": ("SCMP_ARCH_AARCH64", "arm64")}


@dataclass(frozen=True)
class Arg:
    """A condition on one argument: `args[index] op value` (MASKED_EQ: `args[index] & value == value_two`)."""

    index: int
    value: int
    op: str = "SCMP_CMP_EQ"
    value_two: int = 0


@dataclass(frozen=True)
class When:
    """A rule's `includes` or `excludes`: capabilities, machines (Go names) and a kernel version."""

    caps: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    min_kernel: str = ""


@dataclass(frozen=True)
class Rule:
    """What to do with the calls in `names`: `action` when all `args` conditions hold."""

    names: tuple[str, ...]
    action: str = "SCMP_ACT_ALLOW"
    errno: int | None = None        # for SCMP_ACT_ERRNO; None = EPERM, as runc
    args: tuple[Arg, ...] = ()
    includes: When = When()         # the rule applies only if the container has all of these
    excludes: When = When()         # ... and none of these
    comment: str = ""


@dataclass(frozen=True)
class Profile:
    default_action: str
    default_errno: int
    arch_map: dict[str, tuple[str, ...]]   # native architecture -> the others it runs ("subArchitectures")
    rules: tuple[Rule, ...]
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolved:
    """A profile as it applies to one container on one machine: what the compiler takes."""

    default_action: str
    default_errno: int
    abis: tuple[str, ...]                  # native first, e.g. ("x86_64", "x32", "i386")
    rules: tuple[Rule, ...]                # only those whose includes/excludes matched
    flags: tuple[str, ...] = ()


# --- Docker's default profile -----------------------------------------------------------

ALLOWED: dict[str, str] = {
    # Files: open, read, write, seek, sync, lock. (ioctl is allowed whole: a tty needs it.)
    "files": """open openat openat2 creat close close_range read readv pread64 preadv preadv2 write writev
        pwrite64 pwritev pwritev2 lseek _llseek sendfile sendfile64 copy_file_range splice tee vmsplice readahead
        fadvise64 fadvise64_64 fallocate truncate truncate64 ftruncate ftruncate64 fsync fdatasync sync syncfs
        sync_file_range flock fcntl fcntl64 dup dup2 dup3 ioctl cachestat""",
    # What a file is: stat in all its generations, modes, owners (chown still needs CAP_CHOWN), times.
    "file metadata": """stat stat64 lstat lstat64 fstat fstat64 fstatat64 newfstatat statx statfs statfs64 fstatfs
        fstatfs64 access faccessat faccessat2 chmod fchmod fchmodat fchmodat2 chown chown32 fchown fchown32 fchownat
        lchown lchown32 umask utime utimes utimensat utimensat_time64 futimesat readlink readlinkat
        name_to_handle_at statmount listmount""",
    "extended attributes": """getxattr lgetxattr fgetxattr getxattrat setxattr lsetxattr fsetxattr setxattrat
        listxattr llistxattr flistxattr listxattrat removexattr lremovexattr fremovexattr removexattrat""",
    "directories and links": """chdir fchdir getcwd getdents getdents64 mkdir mkdirat mknod mknodat rmdir rename
        renameat renameat2 link linkat symlink symlinkat unlink unlinkat""",
    # Waiting on many file descriptors, and the things that make descriptors to wait on.
    "waiting and events": """select _newselect pselect6 pselect6_time64 poll ppoll ppoll_time64 epoll_create
        epoll_create1 epoll_ctl epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait epoll_pwait2 eventfd eventfd2
        inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark signalfd signalfd4
        timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 pipe pipe2""",
    # Linux AIO (not io_uring: docker refuses io_uring_* since 2023, a rich source of kernel bugs).
    "asynchronous I/O": """io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents
        io_pgetevents_time64 ioprio_get ioprio_set""",
    "memory": """brk mmap mmap2 munmap mremap mprotect madvise mincore msync mlock mlock2 mlockall munlock
        munlockall membarrier memfd_create memfd_secret remap_file_pages pkey_alloc pkey_free pkey_mprotect
        map_shadow_stack mseal""",
    # Processes and threads: fork (clone has its own rule below), exec, wait, exit, ids, limits.
    "processes": """fork vfork execve execveat exit exit_group wait4 waitid waitpid getpid getppid gettid getpgid
        setpgid getpgrp getsid setsid set_tid_address set_robust_list get_robust_list futex futex_time64
        futex_waitv futex_wait futex_wake futex_requeue rseq prctl seccomp capget capset getrlimit setrlimit
        ugetrlimit prlimit64 getrusage times uname sysinfo getcpu getrandom restart_syscall set_thread_area
        get_thread_area pidfd_open pidfd_send_signal process_mrelease uretprobe riscv_hwprobe
        landlock_create_ruleset landlock_add_rule landlock_restrict_self""",
    "signals": """kill tkill tgkill rt_sigaction rt_sigprocmask rt_sigpending rt_sigsuspend rt_sigtimedwait
        rt_sigtimedwait_time64 rt_sigqueueinfo rt_tgsigqueueinfo rt_sigreturn sigreturn sigprocmask sigaltstack
        pause alarm""",
    # Reading the clocks and sleeping; setting them needs CAP_SYS_TIME (a rule below).
    # adjtimex and clock_adjtime only read unless the caller has CAP_SYS_TIME.
    "time": """time gettimeofday clock_gettime clock_gettime64 clock_getres clock_getres_time64 clock_nanosleep
        clock_nanosleep_time64 nanosleep adjtimex clock_adjtime clock_adjtime64 getitimer setitimer timer_create
        timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64""",
    # Changing identity is allowed; CAP_SETUID/CAP_SETGID decide whether it works.
    "users and groups": """getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32 getresuid
        getresuid32 getresgid getresgid32 getgroups getgroups32 setuid setuid32 setgid setgid32 setreuid
        setreuid32 setregid setregid32 setresuid setresuid32 setresgid setresgid32 setgroups setgroups32
        setfsuid setfsuid32 setfsgid setfsgid32""",
    "scheduling": """sched_yield sched_getaffinity sched_setaffinity sched_getattr sched_setattr sched_getparam
        sched_setparam sched_getscheduler sched_setscheduler sched_get_priority_max sched_get_priority_min
        sched_rr_get_interval sched_rr_get_interval_time64 getpriority setpriority""",
    # Sockets once made (socket itself has a rule below); socketcall is i386's one door to all of them.
    "networking": """socketpair socketcall bind connect listen accept accept4 getsockname getpeername getsockopt
        setsockopt shutdown send sendto sendmsg sendmmsg recv recvfrom recvmsg recvmmsg recvmmsg_time64""",
    # Isolated by the IPC namespace.
    "System V and POSIX IPC": """ipc msgget msgctl msgsnd msgrcv semget semctl semop semtimedop
        semtimedop_time64 shmget shmat shmdt shmctl mq_open mq_unlink mq_timedsend mq_timedsend_time64
        mq_timedreceive mq_timedreceive_time64 mq_notify mq_getsetattr""",
}

AF_ALG, AF_VSOCK = 38, 40          # socket families: the kernel's crypto API; host <-> VM sockets
CLONE_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
PER_LINUX, PER_LINUX32, UNAME26 = 0x0, 0x8, 0x20000
PERSONALITY_QUERY = 0xFFFFFFFF


def _split(names: str) -> tuple[str, ...]:
    return tuple(names.split())


def _with_cap(cap: str, names: str, comment: str) -> Rule:
    return Rule(_split(names), includes=When(caps=(f"CAP_{cap}",)), comment=comment)


CONDITIONAL: tuple[Rule, ...] = (
    # Since 4.8 a ptraced process cannot use ptrace to slip past its seccomp filter.
    Rule(_split("process_vm_readv process_vm_writev ptrace"), includes=When(min_kernel="4.8"),
         comment="ptrace no longer bypasses seccomp (kernel 4.8)"),
    # Every socket family but AF_ALG and AF_VSOCK.
    Rule(("socket",), args=(Arg(0, AF_ALG, "SCMP_CMP_LT"),), comment="families below AF_ALG"),
    Rule(("socket",), args=(Arg(0, AF_ALG + 1, "SCMP_CMP_EQ"),), comment="AF_NFC"),
    Rule(("socket",), args=(Arg(0, AF_VSOCK, "SCMP_CMP_GT"),), comment="families above AF_VSOCK"),
    # personality(): only the harmless values (query, Linux, 32-bit Linux, uname26) — not
    # e.g. ADDR_NO_RANDOMIZE, which turns off address space randomisation.
    *(Rule(("personality",), args=(Arg(0, value),), comment=name) for value, name in (
        (PER_LINUX, "PER_LINUX"), (PER_LINUX32, "PER_LINUX32"), (UNAME26, "UNAME26"),
        (UNAME26 | PER_LINUX32, "UNAME26|PER_LINUX32"), (PERSONALITY_QUERY, "query"))),
    # Calls that exist only on some machines.
    Rule(_split("sync_file_range2 swapcontext"), includes=When(arches=("ppc64le",))),
    Rule(_split("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls"),
         includes=When(arches=("arm", "arm64"))),
    Rule(("arch_prctl",), includes=When(arches=("amd64", "x32"))),
    Rule(("modify_ldt",), includes=When(arches=("amd64", "x32", "x86"))),
    Rule(_split("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"), includes=When(arches=("s390", "s390x"))),
    Rule(("riscv_flush_icache",), includes=When(arches=("riscv64",))),
    # What a capability is needed for anyway: allowed when the container has it.
    _with_cap("DAC_READ_SEARCH", "open_by_handle_at", "reads any file by handle (the 2014 'shocker' escape)"),
    _with_cap("SYS_ADMIN", """bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie
              lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount open_tree
              perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare""",
              "namespaces, mounts, tracing"),
    # Without CAP_SYS_ADMIN, clone may make threads and processes but no namespace.
    Rule(("clone",), args=(Arg(0, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ", 0),),
         excludes=When(caps=("CAP_SYS_ADMIN",), arches=("s390", "s390x")), comment="no CLONE_NEW* flag"),
    Rule(("clone",), args=(Arg(1, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ", 0),),
         includes=When(arches=("s390", "s390x")), excludes=When(caps=("CAP_SYS_ADMIN",)),
         comment="s390 passes clone's flags second"),
    # clone3 passes its flags in a struct a filter cannot read: refuse it with ENOSYS, so
    # that glibc believes the kernel is old and falls back to clone (EPERM would be final).
    Rule(("clone3",), action="SCMP_ACT_ERRNO", errno=ENOSYS, excludes=When(caps=("CAP_SYS_ADMIN",)),
         comment="ENOSYS: glibc falls back to clone"),
    _with_cap("SYS_BOOT", "reboot", "reboots the host (or ends a PID namespace)"),
    _with_cap("SYS_CHROOT", "chroot", "chroot"),
    _with_cap("SYS_MODULE", "delete_module init_module finit_module", "kernel modules"),
    _with_cap("SYS_PACCT", "acct", "process accounting"),
    _with_cap("SYS_PTRACE", "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
              "other processes' memory and files"),
    _with_cap("SYS_RAWIO", "iopl ioperm", "I/O ports"),
    _with_cap("SYS_TIME", "settimeofday stime clock_settime clock_settime64", "the host's clock"),
    _with_cap("SYS_TTY_CONFIG", "vhangup", "hang up a terminal"),
    _with_cap("SYS_NICE", "get_mempolicy mbind set_mempolicy set_mempolicy_home_node", "NUMA memory policy"),
    _with_cap("SYSLOG", "syslog", "the kernel log"),
    _with_cap("BPF", "bpf", "eBPF"),
    _with_cap("PERFMON", "perf_event_open", "performance counters"),
)

DEFAULT = Profile(
    default_action="SCMP_ACT_ERRNO",
    default_errno=EPERM,
    arch_map={"SCMP_ARCH_X86_64": ("SCMP_ARCH_X86", "SCMP_ARCH_X32"), "SCMP_ARCH_AARCH64": ("SCMP_ARCH_ARM",)},
    rules=(*(Rule(_split(names), comment=purpose) for purpose, names in ALLOWED.items()), *CONDITIONAL),
)


# --- Applying a profile to one container --------------------------------------------------

def resolve(profile: Profile, capabilities: frozenset[str] | set[str], machine: str | None = None,
            kernel: str | None = None) -> Resolved:
    """Keep the rules that apply to a container with `capabilities` (names without CAP_) on
    `machine` (uname -m) running `kernel` (uname -r), as moby's setupSeccomp() does."""
    machine = machine or os.uname().machine
    native, go_arch = NATIVE.get(machine, ("", ""))
    if not native:
        raise UsageError(f"seccomp: gophernetes has no system call table for {machine} (x86_64 and aarch64 only)")
    caps = {f"CAP_{name}" for name in capabilities}
    running = _version(kernel or os.uname().release)
    architectures = [native, *profile.arch_map.get(native, ())]
    abis = tuple(dict.fromkeys(ABIS[a] for a in architectures if a in ABIS))

    def applies(rule: Rule) -> bool:
        inc, exc = rule.includes, rule.excludes
        if go_arch in exc.arches or any(c in caps for c in exc.caps):
            return False
        if exc.min_kernel and running >= _version(exc.min_kernel):
            return False
        if inc.arches and go_arch not in inc.arches:
            return False
        if any(c not in caps for c in inc.caps):
            return False
        return not (inc.min_kernel and running < _version(inc.min_kernel))

    return Resolved(profile.default_action, profile.default_errno, abis,
                    tuple(rule for rule in profile.rules if applies(rule)), profile.flags)


def _version(release: str) -> tuple[int, int]:
    """'6.18.0-1-amd64' -> (6, 18)."""
    parts = release.split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise UsageError(f"seccomp: invalid kernel version {release!r}, expected e.g. \"4.8\"") from None


def to_oci(resolved: Resolved) -> dict:
    """A resolved profile in the OCI runtime spec's form (config.json's linux.seccomp), which
    runc reads and `ctr run --seccomp-profile FILE` takes: no conditions left, one flat list."""
    architectures = {abi: name for name, abi in ABIS.items()}
    syscalls = []
    for rule in resolved.rules:
        entry: dict = {"names": list(rule.names), "action": rule.action}
        if rule.action == "SCMP_ACT_ERRNO":
            entry["errnoRet"] = EPERM if rule.errno is None else rule.errno
        if rule.args:
            entry["args"] = [{"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op}
                             for a in rule.args]
        syscalls.append(entry)
    document: dict = {"defaultAction": resolved.default_action, "architectures": [architectures[abi] for abi in
                                                                            resolved.abis], "syscalls": syscalls}
    if resolved.default_action == "SCMP_ACT_ERRNO":
        document["defaultErrnoRet"] = resolved.default_errno
    if resolved.flags:
        document["flags"] = list(resolved.flags)
    return document


# --- Docker's JSON format -----------------------------------------------------------------

def load_file(path: str) -> dict:
    """Read a profile file as JSON (the object is kept in the container's spec, checked by from_json)."""
    try:
        with open(path) as file:
            document = json.load(file)
    except OSError as error:
        raise UsageError(f"--security-opt seccomp={path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"--security-opt seccomp={path}: not JSON: {error}") from None
    from_json(document, path)  # refuse a bad profile before anything is made
    return document


def from_json(document: object, where: str = "") -> Profile:
    """A docker-format profile (a parsed JSON object) as a Profile; refuses what it cannot apply."""
    def fail(message: str) -> UsageError:
        return UsageError(f"seccomp profile{' ' + where if where else ''}: {message}")

    if not isinstance(document, dict):
        raise fail("expected a JSON object with defaultAction and syscalls")
    default_action = document.get("defaultAction", "")
    if document.get("listenerPath") or default_action == "SCMP_ACT_NOTIFY":
        raise fail("SCMP_ACT_NOTIFY and listenerPath need a seccomp agent, which gophernetes does not have")
    if default_action not in ACTIONS:
        raise fail(f"defaultAction {default_action!r} is not one of {', '.join(ACTIONS)}")
    if document.get("architectures") and document.get("archMap"):
        raise fail("both 'architectures' and 'archMap' are given; use one")
    flags = tuple(document.get("flags") or ())
    for flag in flags:
        if flag not in FLAGS:
            raise fail(f"unknown flag {flag!r} (known: {', '.join(FLAGS)})")
    arch_map: dict[str, tuple[str, ...]] = {}
    for entry in document.get("archMap") or ():
        arch_map[entry.get("architecture", "")] = tuple(entry.get("subArchitectures") or ())
    if document.get("architectures"):
        # The OCI form: one flat list, applied whatever the machine.
        listed = tuple(document["architectures"])
        arch_map = {native: listed for native, _ in NATIVE.values()}
    rules = tuple(_rule(entry, index, fail) for index, entry in enumerate(document.get("syscalls") or ()))
    return Profile(default_action, _errno(document.get("defaultErrnoRet"), fail), arch_map, rules, flags)


def _rule(entry: dict, index: int, fail) -> Rule:
    where = f"syscalls[{index}]"
    if not isinstance(entry, dict):
        raise fail(f"{where} is not an object")
    if entry.get("name") and entry.get("names"):
        raise fail(f"{where}: both 'name' and 'names' are given; use one")
    names = tuple(entry.get("names") or ([entry["name"]] if entry.get("name") else []))
    if not names or not all(isinstance(name, str) for name in names):
        raise fail(f"{where}: 'names' must list system call names")
    action = entry.get("action", "")
    if action == "SCMP_ACT_NOTIFY":
        raise fail(f"{where}: SCMP_ACT_NOTIFY needs a seccomp agent, which gophernetes does not have")
    if action not in ACTIONS:
        raise fail(f"{where}: action {action!r} is not one of {', '.join(ACTIONS)}")
    args = []
    for arg in entry.get("args") or ():
        op = arg.get("op", "")
        if op not in OPERATORS:
            raise fail(f"{where}: operator {op!r} is not one of {', '.join(OPERATORS)}")
        index_ = arg.get("index")
        if not isinstance(index_, int) or not 0 <= index_ <= 5:
            raise fail(f"{where}: argument index {index_!r} is not 0 to 5")
        value, value_two = arg.get("value", 0), arg.get("valueTwo", 0)
        if not all(isinstance(v, int) and 0 <= v < 2 ** 64 for v in (value, value_two)):
            raise fail(f"{where}: argument values must be integers from 0 to 2^64-1")
        args.append(Arg(index_, value, op, value_two))
    return Rule(names, action, _errno(entry.get("errnoRet"), fail) if "errnoRet" in entry else None, tuple(args),
                _when(entry.get("includes")), _when(entry.get("excludes")), entry.get("comment", ""))


def _errno(value: object, fail) -> int:
    if value is None:
        return EPERM
    if not isinstance(value, int) or not 0 <= value < 4096:
        raise fail(f"errno {value!r} is not a number from 0 to 4095")
    return value


def _when(data: dict | None) -> When:
    data = data or {}
    return When(tuple(data.get("caps") or ()), tuple(data.get("arches") or ()), data.get("minKernel") or "")
