"""A remapped container's root filesystem: the image's files owned by *its* root, not the host's.

The layers on disk belong to host uid 0. Seen from a user namespace whose root is host
uid B, they would belong to nobody (65534), and the container's root could not change
them. Two ways to make them appear as root's:

1. **Idmapped layers** (Linux 5.12+; overlayfs accepts them as layers since 5.19): for
   each layer, a detached copy of its mount (open_tree) is given the container's id map
   (mount_setattr MOUNT_ATTR_IDMAP) and attached over the layer's path in a mount
   namespace of the container's own. Nothing on disk changes; it costs a few syscalls
   per layer. Used whenever the kernel and filesystem allow it (ext4, xfs, btrfs;
   tmpfs since 6.3): here (6.18) and in the lab VM (Debian 12's 6.1, layers on ext4).
2. **A chowned copy**: copy every layer, adding B to each owner (what podman's storage
   does without idmapped mounts, and docker's userns-remap for the whole image store).
   It costs the image's size in disk and its copy time for every container (or every
   distinct B), so it is only the fallback. GOPHERNETES_USERNS_LAYERS=copy forces it
   (to compare the two, as bench/userns.py and the tests do).

Measured on this machine (ext4, kernel 6.18, a loaded 2-core CI box; `python3 bench/userns.py`,
medians; the user namespace itself costs 2-7 ms either way):

    | layer                                      | idmapped          | chowned copy      |
    | busybox (280 files, 2.0 MB)                | 0.06-0.15 ms, 0 B | 65-180 ms, 2.0 MB |
    | Debian bookworm base (4244 files, 85 MB)   | 0.05-0.08 ms, 0 B | 1.6-2.8 s, 85 MB  |
    | `run --rootfs DEBIAN /bin/true` end to end | as --userns host  | +8-10 s           |

An idmapped layer costs the same whatever its size; a copy costs its size, per container.

The overlay itself must be mounted from the *host's* user namespace: its layers carry
whiteouts and opaque markers as trusted.* xattrs, which only the initial namespace's
root may read, and overlayfs does all its later work with the credentials of whoever
mounted it. So stage 1 mounts it (in a private mount namespace, still host root) and
only then joins the container's user namespace and unshares the rest: the new mount
namespace, owned by the container's user namespace, starts as a copy holding the overlay.
The upper layer is *not* idmapped: what the container's root writes is stored as host
uid B, which is what the host should see.

Why the parent makes the namespace (linux/userns.new_user_namespace: a helper unshares
it, the parent writes its maps) instead of stage 1 unsharing it: the idmap needs the
namespace, map written, *before* stage 1 mounts the overlay as host root — and once in
the namespace, stage 1 is host root no more. So stage 1 joins the prepared namespace
with setns and unshares the rest from inside it, as runc does with a user namespace
`path` in config.json.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gophernetes.errors import GophernetesError
from gophernetes.linux import mounts, syscalls, userns
from gophernetes.runtime.subids import IdMapping

# What the kernel answers when a filesystem (or an older kernel) cannot idmap a mount.
NO_IDMAP = (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS, errno.EPERM)


@dataclass
class RemappedRoot:
    """Made by the parent before the fork: the namespace, the idmapped layers, the layer paths."""

    mapping: IdMapping
    userns_fd: int
    lower_dirs: list[Path]                                   # bottom first, as RunSpec.lower_dirs
    idmapped: dict[Path, int] = field(default_factory=dict)  # layer path -> detached idmapped mount
    copied: list[Path] = field(default_factory=list)         # layers that had to be copied instead

    def close(self) -> None:
        """Drop our references (after the fork, the parent keeps none)."""
        for fd in [self.userns_fd, *self.idmapped.values()]:
            os.close(fd)
        self.idmapped.clear()


def prepare(mapping: IdMapping, lower_dirs: list[Path], upper: Path, copies: Path) -> RemappedRoot:
    """The parent's part: a user namespace with the container's map, and every layer made to show root's files.

    The upper layer's top directory becomes the container root's (it is the root
    directory "/" of the overlay), and what the container writes lands in it as host uid B.
    """
    root = RemappedRoot(mapping, userns.new_user_namespace(mapping.uid_base, mapping.gid_base, mapping.size), [])
    force_copy = os.environ.get("GOPHERNETES_USERNS_LAYERS") == "copy"
    try:
        for layer in lower_dirs:
            try:
                if force_copy:
                    raise OSError(errno.EOPNOTSUPP, "GOPHERNETES_USERNS_LAYERS=copy")
                root.idmapped[layer] = userns.idmapped_copy(layer, root.userns_fd)
                root.lower_dirs.append(layer)
            except OSError as error:
                if error.errno not in NO_IDMAP:
                    raise
                copy = copies / str(len(root.copied))
                copy_shifted(layer, copy, mapping.uid_base, mapping.gid_base)
                root.copied.append(copy)
                root.lower_dirs.append(copy)
        os.chown(upper, mapping.uid_base, mapping.gid_base)
    except BaseException:
        root.close()
        raise
    return root


def check_reachable(paths: list[Path], mapping: IdMapping) -> None:
    """Refuse, in one line, host folders that the container's root could not walk through.

    The container's init mounts its root and binds its /etc/hosts *as the container's
    root* — host uid B, with no capability over host root's folders — so every folder
    above them must be searchable by others (o+x, as 0755 or podman's 0711 are). The
    default /run/gophernetes and /var/lib/gophernetes are; a --root in a 0700 home is not.
    """
    for path in paths:
        for folder in reversed(Path(path).parents):
            info = folder.stat()
            mine = mapping.uid_base <= info.st_uid < mapping.uid_base + mapping.size
            if not (info.st_mode & 0o001 or mine):
                raise GophernetesError(f"--userns auto: the container's root (host uid {mapping.uid_base}) cannot "
                                       f"pass {folder} (mode {stat.S_IMODE(info.st_mode):04o}); chmod o+x it or "
                                       "choose a --root below searchable folders")


def stage_one(root: RemappedRoot, mount_root) -> None:
    """In stage 1, still host root: mount the container's root, then become the container's root.

    A mount namespace of our own (owned by the host's user namespace, private, gone when
    the container's namespaces are made from it) receives the idmapped layers over the
    layers' own paths, and `mount_root` mounts the overlay over them. Then we join the
    container's user namespace: every namespace unshared after that is owned by it.
    """
    syscalls.unshare(syscalls.CLONE_NEWNS)
    mounts.make_all_private()
    for layer, fd in root.idmapped.items():
        userns.move_mount(fd, layer)
        os.close(fd)
    root.idmapped.clear()
    mount_root(root.lower_dirs)
    userns.enter(root.userns_fd)
    os.close(root.userns_fd)


def copy_shifted(source: Path, target: Path, uid_base: int, gid_base: int) -> None:
    """Copy the layer `source` to `target` with every owner moved up by the bases (the fallback).

    `cp -a` keeps everything overlayfs reads — modes, times, xattrs (the trusted.overlay.opaque
    markers), whiteouts (0/0 character devices), symlinks, hard links — and shares blocks
    where the filesystem can (--reflink=auto). Then each inode, once, gets its new owner;
    chown clears set-user-id and set-group-id bits, so the mode is set again after it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--reflink=auto", f"{source}/.", os.fspath(target)], check=True,
                   capture_output=True)
    seen: set[int] = set()
    for directory, subdirs, files in os.walk(target):
        for path in [directory, *(os.path.join(directory, name) for name in subdirs + files)]:
            info = os.lstat(path)
            if info.st_ino in seen or (path != directory and stat.S_ISDIR(info.st_mode)):
                continue  # a hard link already done, or a directory done when the walk enters it
            seen.add(info.st_ino)
            os.lchown(path, info.st_uid + uid_base, info.st_gid + gid_base)
            if info.st_mode & (stat.S_ISUID | stat.S_ISGID) and not stat.S_ISLNK(info.st_mode):
                os.chmod(path, stat.S_IMODE(info.st_mode))
