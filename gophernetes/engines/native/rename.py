"""`gophernetes rename OLD NEW` for the native engine: the names index, the record, and the
neighbours' /etc/hosts.

A name is taken by a symlink containers/.names/NAME -> ID (records.py): symlink(2)
creates it whole or fails with EEXIST, so two commands can never take one name. A
rename, under the records lock, takes the new link first, then rewrites the record's
record.json (atomically, see records.write_json; the OCI config.json has no name and
stays as written), then drops the old link: killed at any
step, the container keeps a name that leads to it.

Then the networks: the container's line in each of its networks' shared hosts file gets
the new name (network.rename_container), so its neighbours, which have that file
bind-mounted, reach it by the new name at once, as docker's DNS and podman's hosts files
do. A neighbour started with --add-host has a hosts file of its own (a copy made at its
start); its line for the renamed container is rewritten too.
"""

from __future__ import annotations

import contextlib
import json
import os

from gophernetes.engines.native.records import Record, RecordStore, write_json
from gophernetes.errors import Conflict
from gophernetes.names import check_name
from gophernetes.paths import StateRoot

OWN_HOSTS_LIMIT = 1 << 20  # a container can grow its own (writable) hosts file: never read a huge one


def rename(store: RecordStore, record: Record, new: str) -> None:
    """Give the container of `record` the name `new` (refused if taken)."""
    check_name(new)
    if new == record.name:
        raise Conflict(f"container {record.name} is already called {new}")
    with store.locked():
        store.names.mkdir(exist_ok=True)
        _take(store, new, record.id)
        try:
            record_path = record.folder / "record.json"
            data = json.loads(record_path.read_text())
            data["name"] = new
            write_json(record_path, data)
        except BaseException:
            os.unlink(store.names / new)
            raise
        old = store.names / record.name
        with contextlib.suppress(FileNotFoundError):
            if os.readlink(old) == record.id:
                os.unlink(old)
    record.name = new


def _take(store: RecordStore, name: str, container_id: str) -> None:
    link = store.names / name
    try:
        os.symlink(container_id, link)
        return
    except FileExistsError:
        holder = os.readlink(link)
    if (store.root / holder).is_dir():
        raise Conflict(f'the container name "{name}" is already in use by container {holder[:12]}: '
                       f'remove it or choose another name')
    os.unlink(link)  # a stale link whose container is gone: the name is free
    os.symlink(container_id, link)


def rename_on_networks(state: StateRoot, store: RecordStore, record: Record, old: str) -> None:
    """The renamed container's line in its networks' hosts files, and in its neighbours' own."""
    if record.spec.net in ("none", "host"):
        return  # no lease, no line: and `network` is not imported for nothing
    from gophernetes import network
    from gophernetes.network import hosts

    lines = network.rename_container(state, record.id, old, record.name)
    if not lines:
        return
    with store.locked():
        for neighbour in store.all():
            own = neighbour.folder / "hosts"
            if neighbour.spec.add_hosts and own.is_file() and own.stat().st_size < OWN_HOSTS_LIMIT:
                for address, names in lines.items():
                    hosts.rename(own, address, names)
