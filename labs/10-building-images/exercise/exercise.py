"""Lab 10 exercise: turn what one build step changed (an overlay upper folder) into a layer tar.

Fill in the three gaps (`raise NotImplementedError`), then check your work as root:

    sudo gophernetes lab check 10 --exercise

A RUN step runs in a container whose root is an overlayfs: the image so far is the
read-only lower folder, and every change lands in the *upper* folder. So after the step
the upper folder IS the change set, in overlayfs' notation; the layer is the same set in
the image spec's notation (the OCI image spec, layer.md):

    in the upper folder (overlayfs)                in the layer tar (OCI image spec)
    a file or folder, added or changed             the same entry
    a character device 0/0 named NAME              an empty file .wh.NAME ("NAME was deleted")
    a folder with xattr trusted.overlay.opaque=y   the folder, then FOLDER/.wh..wh..opq
                                                   ("nothing of the layers below shows through")

This is lab 06's exercise backwards. The check makes a real change set (it mounts an
overlay on a lower tree, edits, deletes, replaces a folder through it), runs your
write_layer on the upper folder, and unpacks your tar with gophernetes' own unpacker:
stacked on the lower tree it must show what the upper folder showed.

Afterwards, read gophernetes/image/diff.py (and how image/build.py calls it): the same,
plus hard links, xattrs, and a tar that gives the same digest every time.
"""

import os
import stat  # noqa: F401 (for is_whiteout)
import tarfile

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"


def is_whiteout(st: os.stat_result) -> bool:
    """Is this (what os.lstat says of a path in the upper folder) overlayfs' mark of a deletion?

    man 2 mknod, and the overlayfs documentation ("whiteouts and opaque directories"):
    a character device whose device number is 0/0 (stat.S_ISCHR, st.st_rdev).
    """
    raise NotImplementedError("True for a character device with st_rdev == 0 (os.makedev(0, 0))")


def is_opaque(path: str) -> bool:
    """Is the folder at `path` opaque: does it carry the xattr trusted.overlay.opaque = b"y"?

    man 2 getxattr (os.getxattr); a folder without the xattr raises OSError (ENODATA).
    """
    raise NotImplementedError("os.getxattr(path, OPAQUE_XATTR) == b'y', False when it raises OSError")


def whiteout_name(name: str) -> str:
    """The layer's name for the deletion of `name`: "etc/motd" -> "etc/.wh.motd", "motd" -> ".wh.motd"."""
    raise NotImplementedError("the same folder, WHITEOUT + the base name (os.path.split, os.path.join)")


def marker(name: str) -> tarfile.TarInfo:
    """An empty regular file entry named `name`: how the layer writes .wh.NAME and .wh..wh..opq."""
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info


def paths(upper: str) -> list[str]:
    """Every path below `upper`, relative to it, parents before children, sorted."""
    found = []
    for folder, folders, files in os.walk(upper):
        folders.sort()
        for name in sorted(folders + files):
            found.append(os.path.relpath(os.path.join(folder, name), upper))
    return found


def write_layer(upper: str, tar_path: str) -> None:
    """Write the change set in the overlay upper folder `upper` as a layer tar at `tar_path`."""
    with tarfile.open(tar_path, "w") as archive:
        for name in paths(upper):
            path = os.path.join(upper, name)
            if is_whiteout(os.lstat(path)):
                archive.addfile(marker(whiteout_name(name)))
                continue
            archive.add(path, arcname=name, recursive=False)
            if os.path.isdir(path) and not os.path.islink(path) and is_opaque(path):
                archive.addfile(marker(os.path.join(name, OPAQUE)))
