"""Named volumes: folders gophernetes keeps for containers, under the state root, as docker does.

    /var/lib/gophernetes/volumes/.lock           the lock every change takes
    /var/lib/gophernetes/volumes/NAME/_data      what containers see (bind-mounted at their path)
    /var/lib/gophernetes/volumes/NAME/volume.json   name, created, anonymous

A volume is nothing but a folder that outlives containers: `run -v NAME:/path` binds
NAME/_data at /path in the container's mount namespace (runtime/oci_mounts.py), exactly
as a bind mount of a host folder. The first container that mounts an empty volume finds
the image's files at /path copied into it (docker's behaviour; `nocopy` leaves it empty).
Which containers use a volume is read from their records (the engine asks), not kept here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from gophernetes.errors import Conflict, GophernetesError, NotFound
from gophernetes.runtime.mount_specs import check_volume_name


@dataclass
class Volume:
    name: str
    mountpoint: str           # the _data folder containers see
    created: float
    anonymous: bool = False   # made for `-v /path`: removed by `rm -v` and by a --rm container's end

    def as_dict(self) -> dict:
        """As `volume inspect` shows it (docker's fields, and ours)."""
        return {"Name": self.name, "Driver": "local", "Mountpoint": self.mountpoint, "Scope": "local",
                "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)),
                "Anonymous": self.anonymous}


class VolumeStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @contextlib.contextmanager
    def locked(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def data(self, name: str) -> Path:
        return self.root / name / "_data"

    def create(self, name: str | None = None, exist_ok: bool = True) -> Volume:
        """Make the volume `name` (a random one when None: an anonymous volume); an existing
        one is returned as it is (docker's `volume create` of a taken name does the same)."""
        anonymous = name is None
        name = name or os.urandom(32).hex()
        check_volume_name(name, "volume")
        with self.locked():
            with contextlib.suppress(NotFound):
                found = self.get(name)
                if not exist_ok:
                    raise Conflict(f"volume {name} already exists")
                return found
            draft = self.root / f".new-{name}"
            shutil.rmtree(draft, ignore_errors=True)
            (draft / "_data").mkdir(parents=True)
            volume = Volume(name, str(self.data(name)), time.time(), anonymous)
            (draft / "volume.json").write_text(json.dumps(asdict(volume)))
            os.rename(draft, self.root / name)
            return volume

    def get(self, name: str) -> Volume:
        try:
            return Volume(**json.loads((self.root / name / "volume.json").read_text()))
        except FileNotFoundError:
            raise NotFound(f"no such volume: {name}") from None
        except (ValueError, TypeError) as error:
            raise GophernetesError(f"the volume {name} is damaged ({self.root / name}/volume.json: {error}): "
                                   f"remove the folder by hand") from None

    def all(self) -> list[Volume]:
        if not self.root.is_dir():
            return []
        names = sorted(e.name for e in self.root.iterdir() if e.is_dir() and not e.name.startswith("."))
        return [self.get(name) for name in names]

    def remove(self, name: str, users: list[str]) -> None:
        """Delete the volume and its data, unless a container (`users`, any state) still names it."""
        with self.locked():
            self.get(name)
            if users:
                raise Conflict(f"volume {name} is in use by container {', '.join(users)}: remove "
                               f"{'it' if len(users) == 1 else 'them'} first (gophernetes rm)")
            trash = self.root / f".removing-{name}"
            os.rename(self.root / name, trash)  # gone at once for everyone; the data goes next
            shutil.rmtree(trash)


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
    import stat

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


def remove_anonymous(root: Path, mounts: list[dict]) -> None:
    """The anonymous volumes among a removed container's mounts (`rm -v`, --rm)."""
    store = VolumeStore(root)
    for mount in mounts:
        if mount.get("anonymous"):
            with contextlib.suppress(NotFound):
                store.remove(mount["volume"], [])
