"""Lab 03 exercise check: exercise.py really mounts a procfs and makes a container's /dev.

Each part runs in a throw-away child (gophernetes.lab_exercises.in_child) that the check
has first moved into a mount namespace of its own with private mounts; for part 1 its
own child is PID 1 of a new PID namespace. Folders are temporary, removed afterwards.
"""

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from gophernetes.lab_exercises import describe, in_child, under_test
from gophernetes.linux import mounts, syscalls

DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}


@pytest.fixture
def root():
    folder = Path(tempfile.mkdtemp(prefix="gophernetes-exercise03-"))
    (folder / "proc").mkdir()
    (folder / "dev").mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sandbox() -> None:
    syscalls.unshare(syscalls.CLONE_NEWNS)
    mounts.make_all_private()


def mount_line(target: Path) -> tuple[str, str] | None:
    """(fstype, per-mount options) of the last mount on `target`, from /proc/self/mountinfo."""
    found = None
    with open("/proc/self/mountinfo") as file:
        for line in file:
            before, _, after = line.partition(" - ")
            if before.split()[4] == str(target):
                found = (after.split()[0], before.split()[5])
    return found


def as_pid_1(work):
    """Run `work()` as PID 1 of a new PID namespace (a grandchild); return what it printed to the pipe."""
    syscalls.unshare(syscalls.CLONE_NEWPID)  # only our next child enters it
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        try:
            text = work()
        except BaseException as error:  # noqa: BLE001 — reported through the pipe
            text = "error: " + describe(error, under_test())
        os.write(writer, text.encode())
        os._exit(0)
    os.close(writer)
    text = os.read(reader, 65536).decode()
    os.waitpid(pid, 0)
    return text


def test_part_1_mount_proc_shows_only_the_pid_namespace(root):
    """In a new PID namespace, the procfs mount_proc() makes lists one process: PID 1, the caller.

    Hint: libc.mount(b"proc", target, b"proc", flags, None); a procfs shows the PID
    namespace of the process that mounts it (man 7 pid_namespaces, "/proc and PID namespaces").
    """
    def body(module):
        sandbox()

        def work():
            module.mount_proc(str(root / "proc"))
            return " ".join(sorted(e for e in os.listdir(root / "proc") if e.isdigit()))
        return as_pid_1(work)

    listed = in_child(body)
    if listed.startswith("error: "):
        raise AssertionError(listed[len("error: "):])
    assert listed == "1", f"the new procfs lists the processes {listed or 'none'}"


def test_part_2_proc_is_mounted_nosuid_nodev_noexec(root):
    """mount_proc() mounts a proc filesystem with nosuid, nodev and noexec, as docker does.

    Hint: the flags MS_NOSUID | MS_NODEV | MS_NOEXEC; /proc/self/mountinfo shows them
    (findmnt -o TARGET,FSTYPE,OPTIONS too).
    """
    def body(module):
        sandbox()
        module.mount_proc(str(root / "proc"))
        return mount_line(root / "proc")

    found = in_child(body)
    assert found, f"nothing is mounted on {root / 'proc'}"
    fstype, options = found
    assert fstype == "proc", f"a {fstype} filesystem is mounted there"
    missing = {"nosuid", "nodev", "noexec"} - set(options.split(","))
    assert not missing, f"the mount's options are {options}: {', '.join(sorted(missing))} missing"


def test_part_3_make_dev_is_a_tmpfs_with_the_six_devices(root):
    """make_dev() mounts a tmpfs holding null, zero, full, random, urandom and tty (right numbers, mode 666), no other device.

    Hint: mount a tmpfs first (the host's /dev holds every disk); then os.mknod each name
    with stat.S_IFCHR and os.makedev(major, minor), and chmod 0o666 (the umask trims mknod's mode).
    """
    def body(module):
        sandbox()
        dev = root / "dev"
        module.make_dev(str(dev))
        nodes = {}
        for entry in os.scandir(dev):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                nodes[entry.name] = (stat.S_ISCHR(info.st_mode), os.major(info.st_rdev), os.minor(info.st_rdev),
                                     oct(info.st_mode & 0o777))
        with open(dev / "null", "wb") as null:
            null.write(b"gone")
        with open(dev / "zero", "rb") as zero:
            zeros = zero.read(4)
        return mount_line(dev), nodes, zeros

    found, nodes, zeros = in_child(body)
    assert found and found[0] == "tmpfs", f"{root / 'dev'} is not a tmpfs mount: {found}"
    wanted = {name: (True, major, minor, "0o666") for name, (major, minor) in DEVICES.items()}
    assert nodes == wanted, f"the device nodes are {nodes}"
    assert zeros == b"\0" * 4
