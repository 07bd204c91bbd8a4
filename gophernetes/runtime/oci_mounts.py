"""config.json's `mounts` and `linux.devices`, done inside the container's new root before pivot_root.

Each entry is one mount(2): `type` is the filesystem (proc, sysfs, tmpfs, devpts, mqueue,
bind, ...), `source` what to mount, and `options` mix mount flags (nosuid, nodev, noexec,
ro, strictatime, bind/rbind) with the filesystem's own data (mode=755, size=65536k,
newinstance, ...), exactly as `mount -o` takes them. Entries are done in order, so /dev's
tmpfs comes before /dev/pts on it. Right after a tmpfs on /dev, the device nodes of
`linux.devices` and the usual links (/dev/fd, /dev/ptmx, ...) are made in it, as runc does.

Every destination is resolved *inside* the root (linux/inroot.py): an image whose /dev or
/etc is a link to a host folder is refused or kept in the root, never followed out.

`run -v` and `--mount` are bind entries here too (a volume is a bind of its folder,
runtime/copy_up.py); a volume named in the COPY_UP annotation that is still empty first gets
the image's files at its destination, as docker fills a new volume.
"""

from __future__ import annotations

import json
import os
import posixpath
import stat

from gophernetes.linux import devices, inroot, syscalls
from gophernetes.runtime.oci_config import Config, ConfigError, Device, Mount

FLAGS = {
    "ro": syscalls.MS_RDONLY, "nosuid": syscalls.MS_NOSUID, "nodev": syscalls.MS_NODEV,
    "noexec": syscalls.MS_NOEXEC, "strictatime": syscalls.MS_STRICTATIME,
    "bind": syscalls.MS_BIND, "rbind": syscalls.MS_BIND | syscalls.MS_REC,
}
COPY_UP = "org.gophernetes.mounts.copy-up"  # JSON list of destinations: fill an empty volume from the image
CLEARED = {"rw", "suid", "dev", "exec", "relatime", "private", "rprivate"}  # the defaults: no flag to set


def flags_and_data(options: list[str]) -> tuple[int, str | None]:
    """Mount options -> (MS_* flags, the filesystem's data string or None)."""
    flags, data = 0, []
    for option in options:
        if option in FLAGS:
            flags |= FLAGS[option]
        elif option not in CLEARED:
            data.append(option)
    return flags, ",".join(data) or None


def mount_all(root_fd: int, config: Config) -> None:
    """Every entry of config.mounts, in order, at its destination inside the root `root_fd`."""
    copy_up = set(json.loads(config.annotations.get(COPY_UP, "[]")))
    for mount in config.mounts:
        flags, data = flags_and_data(mount.options)
        if flags & syscalls.MS_BIND:
            if mount.destination in copy_up and os.path.isdir(mount.source):
                from gophernetes.runtime.copy_up import fill_from_image

                fill_from_image(root_fd, mount.destination, mount.source)
            bind(root_fd, mount, flags)
            continue
        kind, source = mount.type, mount.source or mount.type
        if kind == "cgroup":
            kind, source, data = cgroup_filesystem(data)
            if kind == "tmpfs":  # runc's tmpfs there is writable; only its controllers' binds are read-only
                flags &= ~syscalls.MS_RDONLY
        target = inroot.mount_point(root_fd, mount.destination)
        try:
            syscalls.mount(source, inroot.fd_path(target), kind, flags, data)
        finally:
            os.close(target)
        if mount.destination == "/dev" and mount.type == "tmpfs":
            populate_dev(root_fd, config.linux.devices)


def cgroup_filesystem(data: str | None) -> tuple[str, str, str | None]:
    """What a "cgroup" entry (runc spec has one at /sys/fs/cgroup) becomes here.

    On a cgroup v2 host, a cgroup2 mount: in the container's cgroup namespace it shows the
    container's own cgroup as its root. On a v1 or hybrid host (this machine), mounting
    "cgroup" would try to mount every v1 controller at once and fail with EBUSY; runc binds
    each controller's directory instead. Gophernetes does not yet: an empty tmpfs keeps
    the path there (a program that reads its limits from it finds none).
    """
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "cgroup2", "cgroup2", None
    return "tmpfs", "tmpfs", "mode=755"


def bind(root_fd: int, mount: Mount, flags: int) -> None:
    """Bind the host path `mount.source` at its destination; read-only takes a second call (a
    remount of the new mount, opened again: the first descriptor names the file beneath)."""
    if not os.path.exists(mount.source):
        raise ConfigError(f"config.json: mounts {mount.destination}: source {mount.source} does not exist")
    directory = os.path.isdir(mount.source)
    if not directory:
        _replace_link(root_fd, mount.destination)
    target = inroot.mount_point(root_fd, mount.destination, directory=directory)
    try:
        syscalls.mount(mount.source, inroot.fd_path(target), None, flags & (syscalls.MS_BIND | syscalls.MS_REC))
    finally:
        os.close(target)
    extra = flags & ~(syscalls.MS_BIND | syscalls.MS_REC)
    if extra:
        again = inroot.open_in_root(root_fd, mount.destination)
        try:
            syscalls.mount(None, inroot.fd_path(again), None, syscalls.MS_BIND | syscalls.MS_REMOUNT | extra)
        finally:
            os.close(again)


def _replace_link(root_fd: int, path: str) -> None:
    """A link at a file bind's destination (an image's /etc/hosts -> ../run/...) becomes an empty
    file: a mount "on" a link would land wherever it points, perhaps out of the root."""
    parent, name = posixpath.split(posixpath.normpath("/" + path))
    parent_fd = inroot.make_directories(root_fd, parent)
    try:
        is_link = stat.S_ISLNK(os.lstat(name, dir_fd=parent_fd).st_mode)
    except FileNotFoundError:
        is_link = False
    finally:
        os.close(parent_fd)
    if is_link:
        inroot.create_file(root_fd, path, b"")


def populate_dev(root_fd: int, nodes: list[Device]) -> None:
    """The default devices the spec promises (null, zero, full, random, urandom, tty), those of
    linux.devices (one of the same path replaces the default), and the links every /dev has
    (fd, stdin, ptmx, ...), in the fresh tmpfs."""
    dev = inroot.open_in_root(root_fd, "/dev", os.O_PATH | os.O_DIRECTORY)
    defaults = [Device(f"/dev/{name}", "c", major, minor) for name, (major, minor) in devices.CHARACTER_DEVICES.items()]
    try:
        given = {node.path for node in nodes}
        for node in [node for node in defaults if node.path not in given] + nodes:
            name = posixpath.normpath(node.path).removeprefix("/dev/")
            if node.type not in devices.FILE_TYPES or name.startswith(("/", "..")):
                raise ConfigError(f"config.json: linux.devices {node.path}: a device (type c, b, u or p) "
                                  "under /dev is needed")
            devices.make_device(dev, name, node.type, node.major, node.minor, node.file_mode & 0o7777,
                                node.uid, node.gid)
        for name, link in devices.SYMLINKS.items():
            os.symlink(link, name, dir_fd=dev)
    finally:
        os.close(dev)
