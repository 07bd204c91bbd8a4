"""Lab 02 exercise check: exercise.py really makes mounts private, binds and pivots.

Each part runs in a throw-away child (gophernetes.lab_exercises.in_child) that the
check has first moved into a mount namespace of its own with private mounts (except in
part 1, which tests the student's way to make them private: no mount is made there).
The prepared root is a temporary folder with a marker file, removed afterwards.
"""

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from gophernetes.lab_exercises import in_child
from gophernetes.linux import mounts, syscalls


def mount_points(mountinfo: str) -> list[str]:
    """The mount point of each line of /proc/PID/mountinfo (man 5 proc)."""
    return [line.split()[4] for line in mountinfo.splitlines()]


def mountinfo_via(proc: int) -> str:
    """/proc/self/mountinfo, opened through a descriptor of /proc taken before the pivot (the
    new root has no /proc). The file shows the mounts as seen from the root of the process
    that opens it: opened now, after the pivot, that is the new root."""
    fd = os.open("self/mountinfo", os.O_RDONLY, dir_fd=proc)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(fd)


@pytest.fixture
def new_root():
    """A folder to pivot into, holding one marker file no other root has."""
    root = Path(tempfile.mkdtemp(prefix="gophernetes-exercise02-"))
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    (root / marker).write_text("the new root\n")
    try:
        yield str(root), marker
    finally:
        shutil.rmtree(root, ignore_errors=True)


def sandbox(bind: str | None = None) -> None:
    """The check's own preparation, in the child: a mount namespace, private mounts (and a bind)."""
    syscalls.unshare(syscalls.CLONE_NEWNS)
    mounts.make_all_private()
    if bind:
        mounts.bind(bind, bind)


def test_part_1_make_mounts_private_stops_propagation():
    """make_mounts_private() leaves no mount shared with another namespace.

    Hint: one mount(2) call on "/" with MS_REC | MS_PRIVATE changes the propagation of
    every mount; /proc/self/mountinfo then shows no "shared:N" field.
    """
    def body(module):
        syscalls.unshare(syscalls.CLONE_NEWNS)  # the student's call only ever acts on this copy
        module.make_mounts_private()
        with open("/proc/self/mountinfo") as file:
            return [line.split()[4] for line in file if " shared:" in line.split(" - ")[0]]

    shared = in_child(body)
    assert not shared, f"still shared: {', '.join(shared[:5])}"


def test_part_2_bind_onto_itself_makes_a_mount_point(new_root):
    """bind_onto_itself(path) makes the folder a mount point of its own.

    Hint: mount(path, path, NULL, MS_BIND | MS_REC, NULL) (man 2 mount); strings go to
    ctypes as bytes (os.fsencode).
    """
    root, _ = new_root

    def body(module):
        sandbox()
        module.bind_onto_itself(root)
        with open("/proc/self/mountinfo") as file:
            return mount_points(file.read())

    points = in_child(body)
    assert root in points, f"{root} is not a mount point after bind_onto_itself()"


def test_part_3_pivot_into_makes_it_the_root_and_unmounts_the_old(new_root):
    """After pivot_into(root), "/" is the prepared root and it is the only mount left.

    Hint: chdir into it, pivot_root(".", ".") by syscall number, then umount2(".",
    MNT_DETACH) removes the old root stacked on top; chdir("/") last (man 2 pivot_root).
    """
    root, marker = new_root

    def body(module):
        sandbox(bind=root)
        proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
        module.pivot_into(root)
        return os.listdir("/"), mount_points(mountinfo_via(proc))

    listing, points = in_child(body)
    assert marker in listing, f"/ is not the prepared root: it holds {sorted(listing)[:8]}"
    assert points == ["/"], f"mounts left: {', '.join(points[:6])}" + (" (the old root is still there)"
                                                                          if points.count("/") > 1 else "")


def test_part_4_no_chroot_escape_reaches_the_host(new_root):
    """After pivot_into(root), lab 02's chroot escape (chroot to a subfolder, walk "..") ends in the new root.

    Hint: chroot only changes how one process resolves "/"; pivot_root changes the
    namespace's root mount, and once the old root is unmounted there is nothing to
    climb back to. Use the pivot_root system call, not os.chroot.
    """
    root, marker = new_root

    def body(module):
        sandbox(bind=root)
        module.pivot_into(root)
        os.mkdir("/escape")
        os.chroot("/escape")  # the current directory stays outside this chroot...
        for _ in range(64):
            os.chdir("..")     # ... so ".." climbs to the namespace's real root
        os.chroot(".")
        return os.listdir("/")

    listing = in_child(body)
    assert marker in listing, f"the escape reached another root, holding {sorted(listing)[:8]}"
