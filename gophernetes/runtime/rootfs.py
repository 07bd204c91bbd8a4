"""The container's root filesystem: overlayfs over the image layers, or a copy where it cannot be.

Runs inside the container's own mount namespace, so the mount vanishes by itself when
the container's last process exits: nothing to unmount on the host, nothing to leak.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

from gophernetes.linux import mounts

OPAQUE_XATTR = "trusted.overlay.opaque"


def mount_root(lower_dirs: list[Path], upper: Path, work: Path, rootfs: Path) -> None:
    """Mount the layers (bottom first) at `rootfs` with overlayfs; copy them if overlay is refused.

    Overlayfs refuses an upper directory that is itself on overlayfs (gophernetes inside a
    container) and does not exist on some kernels; the copy is slow but correct.
    """
    try:
        mounts.mount_overlay(list(reversed(lower_dirs)), upper, work, rootfs)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENODEV, errno.EOPNOTSUPP):
            raise
        copy_layers(lower_dirs, rootfs)
        mounts.bind(rootfs, rootfs)  # pivot_root needs a mount point


def copy_layers(lower_dirs: list[Path], target: Path) -> None:
    """Merge the layers into `target` bottom first, applying overlay whiteouts as overlay would."""
    for layer in lower_dirs:
        for directory, subdirs, files in os.walk(layer):
            relative = Path(directory).relative_to(layer)
            destination = target / relative
            if destination.is_symlink():
                destination.unlink()  # a directory replaces a link: never write through it
            elif _is_opaque(Path(directory)) and destination.exists():
                shutil.rmtree(destination)
            destination.mkdir(exist_ok=True)
            shutil.copystat(directory, destination, follow_symlinks=False)
            for name in files + [d for d in subdirs if os.path.islink(Path(directory) / d)]:
                _copy_entry(Path(directory) / name, destination / name)


def _is_opaque(directory: Path) -> bool:
    try:
        return os.getxattr(directory, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _copy_entry(source: Path, destination: Path) -> None:
    info = source.lstat()
    if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:  # a whiteout: the file was deleted
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        elif destination.exists() or destination.is_symlink():
            destination.unlink()
        return
    if destination.is_dir() and not destination.is_symlink():
        shutil.rmtree(destination)
    elif destination.exists() or destination.is_symlink():
        destination.unlink()
    if source.is_symlink():
        os.symlink(os.readlink(source), destination)
    elif stat.S_ISREG(info.st_mode):
        shutil.copy2(source, destination, follow_symlinks=False)
    else:
        os.mknod(destination, info.st_mode, info.st_rdev)
    os.lchown(destination, info.st_uid, info.st_gid)
