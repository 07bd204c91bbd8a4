"""Docker's copy-up: a new, empty volume mounted over a path of the image gets the image's files.

When `-v NAME:/path` mounts a volume that was just created, docker first copies what the
image holds at /path into it (owners, modes and links kept), so that a database image's
default files appear in its data volume. The engine marks such a mount with the
annotation `org.gophernetes.mounts.copy-up`; the runtime does the copy inside the new
root, by descriptor (the image's links are never followed out of it). runc ignores the
annotation: under runc a new volume simply starts empty.
"""

from __future__ import annotations

import fcntl
import os
import stat


def fill_from_image(root_fd: int, target: str, data: str) -> None:
    """Docker's copy-up: a volume still empty gets what the image has at `target` (owners, modes
    and links kept), so `-v db:/var/lib/db` starts with the image's database folder.

    Runs in the container's mount namespace before its mounts (runtime/oci_mounts.py), with
    `target` resolved *inside* the root (linux/inroot.py) and the tree below walked by
    descriptors, never following a link: an image cannot make us copy a host folder.
    """
    from gophernetes.linux import inroot

    if os.listdir(data):
        return
    try:
        source = inroot.open_in_root(root_fd, target, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return  # nothing there in the image (or a file): the volume starts empty
    destination = os.open(data, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fcntl.flock(destination, fcntl.LOCK_EX)  # two containers starting on one new volume: one copies
        if os.listdir(destination):
            return
        _copy_owner_and_mode(source, destination)
        _copy_tree(source, destination)
    except OSError as error:  # one line that says what was being done (init reports strerror)
        raise OSError(error.errno, f"cannot copy the image's {target} into its new volume {data}: "
                                   f"{error.strerror}") from None
    finally:
        os.close(source)
        os.close(destination)


def _copy_tree(source: int, destination: int) -> None:
    """Every entry of the directory `source` into `destination`, by name, links as links."""

    for name in os.listdir(source):
        info = os.stat(name, dir_fd=source, follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(name, dir_fd=source), name, dir_fd=destination)
            os.chown(name, info.st_uid, info.st_gid, dir_fd=destination, follow_symlinks=False)
            continue
        if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
            continue  # devices, FIFOs, sockets: not data
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_DIRECTORY if stat.S_ISDIR(info.st_mode) else 0)
        entry = os.open(name, flags, dir_fd=source)
        try:
            if stat.S_ISDIR(info.st_mode):
                os.mkdir(name, 0o700, dir_fd=destination)
                made = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=destination)
                try:
                    _copy_tree(entry, made)
                    _copy_owner_and_mode(entry, made)
                finally:
                    os.close(made)
            else:
                made = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                               dir_fd=destination)
                try:
                    while chunk := os.read(entry, 1 << 20):
                        os.write(made, chunk)
                    _copy_owner_and_mode(entry, made)
                finally:
                    os.close(made)
        finally:
            os.close(entry)


def _copy_owner_and_mode(source: int, destination: int) -> None:
    info = os.fstat(source)
    os.fchown(destination, info.st_uid, info.st_gid)
    os.fchmod(destination, info.st_mode & 0o7777)  # after chown, which clears setuid bits
