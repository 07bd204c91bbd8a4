"""Pinned namespaces: a namespace that outlives every process in it, held by a bind mount.

A namespace lives as long as something refers to it: a process inside it, an open
/proc/PID/ns/KIND file, or a *mount* of that file. Bind-mounting /proc/PID/ns/net onto
an ordinary empty file keeps the network namespace after PID has exited; that is all
`ip netns add NAME` does (it pins onto /run/netns/NAME), and `nsenter --net=FILE` or
setns(2) on the file joins it later. Unmounting the file lets the namespace go, once no
process is left in it.

The containerd engine uses this to make a container's network and UTS namespaces
*before* runc starts its command: the bridge network plugs a veth into the pinned
namespace, and runc is told to join it (the OCI spec's `linux.namespaces[].path`).
Lab 01 pins a namespace by hand with `unshare --net=FILE`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from gophernetes.errors import GophernetesError
from gophernetes.linux import loopback, syscalls
from gophernetes.linux.namespaces import FLAGS

# The kinds pinned here: the caller enters a new one at once on unshare. (A new PID
# namespace is entered only by the caller's next child, and a mount namespace may only be
# pinned on a mount that does not propagate, which a state root need not be: see the
# --mount=FILE note in man 1 unshare.)
PINNABLE = ("net", "uts", "ipc", "cgroup")


def unshare_flags(kinds: list[str]) -> int:
    """The CLONE_NEW* flags for `kinds`, e.g. ["net", "uts"] -> CLONE_NEWNET | CLONE_NEWUTS."""
    unknown = [kind for kind in kinds if kind not in PINNABLE]
    if unknown or not kinds:
        raise GophernetesError(f"cannot pin namespaces {kinds!r}: choose among {', '.join(PINNABLE)}")
    flags = 0
    for kind in kinds:
        flags |= FLAGS[kind]
    return flags


def pin(directory: Path, kinds: list[str], hostname: str = "", plug: Callable[[int], None] | None = None) -> None:
    """Make new namespaces of `kinds` and pin each at `directory`/KIND.

    The new UTS namespace is given `hostname`, the new network namespace its loopback
    up. While the process that made them is still inside, `plug(pid)` may wire more into
    them (the bridge network moves a veth into /proc/PID/ns/net). When this returns, the
    process is gone and only the pins hold the namespaces: `unpin(directory)` frees them.

    man 2 unshare, man 7 namespaces, man 8 ip-netns
    """
    with _held_by_a_child(kinds, hostname) as pid:
        directory.mkdir(parents=True, exist_ok=True)
        for kind in kinds:
            bind(f"/proc/{pid}/ns/{kind}", directory / kind)
        if plug is not None:
            plug(pid)


def bind(namespace_file: str, target: Path) -> None:
    """Pin the namespace `namespace_file` refers to by bind-mounting it onto `target`.

    A bind mount needs a target of the same kind as its source: /proc/PID/ns/KIND is a
    file (a "magic link" to an nsfs inode), so the target is an empty regular file.

    man 2 mount (MS_BIND)
    """
    target.touch()
    syscalls.mount(namespace_file, target, None, syscalls.MS_BIND)


def unpin(directory: Path) -> None:
    """Unmount and delete every pin under `directory`; a namespace goes when nothing else holds it.

    MNT_DETACH: a process that has the namespace open (an `exec` joining it right now)
    keeps it until it lets go, instead of the unmount failing with EBUSY.

    man 2 umount
    """
    if not directory.is_dir():
        return
    for target in directory.iterdir():
        with contextlib.suppress(OSError):
            syscalls.umount2(target, syscalls.MNT_DETACH)
        with contextlib.suppress(OSError):
            target.unlink()


@contextlib.contextmanager
def _held_by_a_child(kinds: list[str], hostname: str) -> Iterator[int]:
    """A forked child that unshares `kinds`, names the host, brings `lo` up and waits; its PID.

    A child, not the caller: unshare moves the *calling* process, and ours must stay in
    the host's namespaces. Two pipes keep it in step: it says "ready" once inside, and
    waits until the caller closes the other pipe (when the with-block ends), then exits.
    """
    flags = unshare_flags(kinds)
    ready_read, ready_write = os.pipe()
    done_read, done_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(ready_read)
            os.close(done_write)
            syscalls.unshare(flags)
            if "uts" in kinds and hostname:
                syscalls.sethostname(hostname)
            if "net" in kinds:
                loopback.bring_up()
            os.write(ready_write, b"1")
            os.read(done_read, 1)
            status = 0
        finally:
            os._exit(status)
    os.close(ready_write)
    os.close(done_read)
    try:
        if os.read(ready_read, 1) != b"1":
            raise GophernetesError(f"could not create the container's {' and '.join(kinds)} namespaces")
        yield pid
    finally:
        os.close(done_write)
        os.close(ready_read)
        os.waitpid(pid, 0)
