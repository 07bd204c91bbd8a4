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
from gophernetes.mount_specs import check_volume_name


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


def remove_anonymous(root: Path, mounts: list[dict]) -> None:
    """The anonymous volumes among a removed container's mounts (`rm -v`, --rm)."""
    store = VolumeStore(root)
    for mount in mounts:
        if mount.get("anonymous"):
            with contextlib.suppress(NotFound):
                store.remove(mount["volume"], [])
