"""Lab 06 exercise: unpack an image layer, whiteouts included, in the form overlayfs stacks.

Fill in the three gaps (`raise NotImplementedError`), then check your work as root:

    sudo gophernetes lab check 06 --exercise

A layer is a tar of what one build step changed. A tar cannot hold "deleted", so the
image spec marks deletions with *whiteout* files (the OCI image spec, layer.md):

    etc/.wh.motd             etc/motd was deleted: hide the lower layers' etc/motd
    var/cache/.wh..wh..opq   var/cache is opaque: hide everything the lower layers have in it

Each layer is unpacked into a folder of its own, and overlayfs stacks the folders
(mount -t overlay -o lowerdir=TOP:...:BOTTOM). overlayfs has its own form of the two
markers, and that is what you write instead of the marker files:

    a whiteout     -> a character device with device number 0/0, named like the deleted file
    opaque folder  -> the extended attribute trusted.overlay.opaque = "y" on the folder

The check unpacks two layers with your code, mounts them as an overlay (in a mount
namespace of its own) and looks at the result: etc/motd must be gone, var/cache must
hold only the top layer's files. It also feeds you a hostile layer.

Afterwards, read gophernetes/image/layers.py: the same, and more (symlink tricks,
hardlinks, device nodes, gzip bombs). man 5 tar is not needed: Python's tarfile is.
"""

import os
import stat  # noqa: F401 (for make_whiteout)
import tarfile

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"


def is_safe(name: str) -> bool:
    """May an entry of this name be written? Only a relative path that never climbs with "..".

    A layer comes from the network: "../../etc/passwd" or "/etc/passwd" would write on
    the host (tarfile.extract in Python 3.11 does not refuse them).
    """
    raise NotImplementedError("refuse absolute names and any '..' path component")


def make_whiteout(path: str) -> None:
    """Mark `path` deleted, in overlayfs' form: remove what is there, make a 0/0 character device.

    man 2 mknod: os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0)).
    """
    raise NotImplementedError("remove any file or folder at path, then mknod a character device 0/0 there")


def mark_opaque(directory: str) -> None:
    """Mark `directory` opaque, in overlayfs' form: the xattr trusted.overlay.opaque = b"y".

    man 2 setxattr (os.setxattr); only root may set trusted.* attributes.
    """
    raise NotImplementedError("os.makedirs the directory if needed, then set the xattr")


def unpack_layer(tar_path: str, dest: str) -> None:
    """Unpack the layer tar at `tar_path` into the empty folder `dest`, whiteouts as overlayfs wants them."""
    with tarfile.open(tar_path) as archive:
        for member in archive:
            if not is_safe(member.name):
                raise ValueError(f"refusing the layer: entry {member.name!r} would be written outside it")
            folder, base = os.path.split(member.name.rstrip("/"))
            if base == OPAQUE:
                mark_opaque(os.path.join(dest, folder))
            elif base.startswith(WHITEOUT):
                make_whiteout(os.path.join(dest, folder, base[len(WHITEOUT):]))
            else:
                archive.extract(member, dest)

