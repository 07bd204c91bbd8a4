"""Mounts: building the container's file tree and cutting it off from the host's.

In its own mount namespace the container starts with a copy of the host's mounts. We
make them all private (so nothing we do propagates back), mount the root filesystem
(overlayfs over the image layers), add /proc, /sys and /dev, then pivot_root into it and
drop the old root — or, with --chroot, merely chroot (lab 02 shows why that is weaker).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from gophernetes.linux import syscalls
from gophernetes.linux.syscalls import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
)

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")  # the most mount(2) copies of an option string
# Docker's defaults: files whose contents leak host secrets or control the host.
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
# Docker's defaults: readable, but a container must not change them.
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def make_all_private() -> None:
    """Stop mount events from propagating between this namespace and the host's.

    A new mount namespace inherits "shared" propagation from systemd hosts: a mount made
    inside would appear on the host. `mount --make-rprivate /` cuts that tie.
    """
    syscalls.mount(None, "/", None, MS_REC | MS_PRIVATE)


def mount_overlay(lower_dirs: list[Path], upper: Path, work: Path, target: Path) -> None:
    """Mount an overlayfs at `target`: read-only `lower_dirs` (top first) under a writable `upper`.

    Reads fall through to the first layer that has the file; the first write copies the
    file up into `upper`; a deletion leaves a "whiteout" in `upper`. The image layers are
    never changed, so many containers share them (lab 06).

    The option string must fit in one page (4096 bytes, the kernel copies no more): with
    absolute `.../layers/<64 hex>/diff` paths only ~38 layers fit. Like docker's overlay2, the image
    store hands us short links instead (`layers/l/<12 hex>` -> `../<64 hex>/diff`), and we
    name them relative to their common folder, made the working directory for the call:
    13 bytes a layer, so over 250 layers fit (overlayfs itself stacks at most 500). The
    kernel follows the links when it looks the lowerdirs up, once, at mount time.
    """
    common = os.path.commonpath([os.fspath(d) for d in lower_dirs]) if len(lower_dirs) > 1 else ""
    if common and common != "/":
        os.chdir(common)
        lower = ":".join(os.path.relpath(d, common) for d in lower_dirs)
    else:
        lower = ":".join(os.fspath(d) for d in lower_dirs)
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    if len(options) >= PAGE_SIZE:
        raise OSError(errno.E2BIG, f"overlay: {len(lower_dirs)} layers make {len(options)} bytes of mount "
                                   f"options, over the kernel's limit of one page ({PAGE_SIZE} bytes)")
    syscalls.mount("overlay", target, "overlay", 0, options)


def bind(source: str | Path, target: str | Path, read_only: bool = False) -> None:
    """Make `source` visible at `target` too (mount --bind), optionally read-only.

    A read-only bind takes two calls: the kernel ignores MS_RDONLY on the first bind and
    only honours it on a remount of the new mount.
    """
    syscalls.mount(os.fspath(source), target, None, MS_BIND | MS_REC)
    if read_only:
        syscalls.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def mount_proc(target: str | Path) -> None:
    """Mount a procfs at `target` (ROOT/proc): it lists the processes of *our* PID namespace."""
    syscalls.mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def mount_sys(target: str | Path) -> None:
    """Mount sysfs read-only at `target` (ROOT/sys); in a new network namespace it shows only our devices."""
    syscalls.mount("sysfs", target, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def pivot_into(root: Path) -> None:
    """Make `root` the new "/" with pivot_root and detach the host's old root for good.

    The "." trick: after chdir(root), pivot_root(".", ".") puts the old root on top of
    the new one at the same place; umount2(".", MNT_DETACH) then peels it off, and what
    is left at "/" is only the container's tree. No directory for the old root is needed.
    """
    os.chdir(root)
    syscalls.pivot_root(".", ".")
    syscalls.umount2(".", MNT_DETACH)
    os.chdir("/")


def chroot_into(root: Path) -> None:
    """Only change how this process resolves "/": the host's root stays mounted behind it.

    A process with CAP_SYS_CHROOT can chroot again into a subdirectory and walk ".." out
    of the first chroot — lab 02 does exactly that. pivot_root leaves nothing to walk to.
    """
    os.chdir(root)
    os.chroot(".")
    os.chdir("/")


def mask_paths(paths: tuple[str, ...] = MASKED_PATHS) -> None:
    """Hide host-revealing files: /dev/null over files, an empty read-only tmpfs over directories.

    Plain paths are safe here, unlike before pivot_root (linux/inroot.py): we run after
    pivot_root (or chroot), so "/" is the container's root and no link can lead back to
    the host; /proc and /sys are real directories (inroot.mount_point refuses links) with
    the kernel's own filesystems on them, where nobody can make a link, and no other
    process of the container exists yet to change anything.
    """
    for path in paths:
        if os.path.isdir(path):
            syscalls.mount("tmpfs", path, "tmpfs", MS_RDONLY)
        elif os.path.exists(path):
            syscalls.mount("/dev/null", path, None, MS_BIND)


def make_readonly(paths: tuple[str, ...] = READONLY_PATHS) -> None:
    """Bind each path onto itself, then remount that bind read-only, keeping its other flags.

    Only MS_RDONLY is added, as runc does: /proc/sys stays "ro,relatime". The flags the
    mount already has (statvfs) go into the remount again, because in a user namespace the
    kernel refuses a remount that would clear a locked nosuid, nodev or noexec (EPERM).
    """
    kept = {os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV, os.ST_NOEXEC: MS_NOEXEC}
    for path in paths:
        if os.path.exists(path):
            syscalls.mount(path, path, None, MS_BIND | MS_REC)
            present = os.statvfs(path).f_flag
            flags = sum(flag for st, flag in kept.items() if present & st)
            syscalls.mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)
