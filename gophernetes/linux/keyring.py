"""Session keyrings: each container gets its own, so the host's keys stay out of reach.

The kernel keeps keys (passwords, Kerberos tickets, disk encryption keys, ...) in
keyrings, and keyrings are not namespaced. Every process has a *session* keyring, which
it inherits across fork and execve: a container started from a root shell would share
that shell's session keyring, and with it every key in it, and read them with keyctl(2)
(`keyctl show @s`). /proc/keys is masked and docker's seccomp profile refuses keyctl, but
a container run with `--security-opt seccomp=unconfined` or a profile that allows
keyctl would see them.

So, as runc does, the container's init *joins a new session keyring* named `_ses.ID`
before anything else: from then on it and everything it starts sees an empty keyring of
its own, whatever seccomp allows. `exec` joins the same one by name, so all processes of
a container share one session keyring. (The *user* keyring of uid 0 is still shared by
every root process of the host; that is why the seccomp profile refuses keyctl as well.
User namespaces give a container its own.)

The name carries the full 64-digit ID, as runc's does under docker: another container
that knows only the short ID (its hostname) cannot join it by name.

man 7 keyrings, man 7 session-keyring, man 2 keyctl (KEYCTL_JOIN_SESSION_KEYRING)
"""

from __future__ import annotations

import ctypes
import errno
import os

from gophernetes.linux.syscalls import libc

SYS_keyctl = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine, -1)

# keyctl(2) operations, from <linux/keyctl.h>.
KEYCTL_GET_KEYRING_ID = 0
KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_SETPERM = 5
KEYCTL_DESCRIBE = 6
KEY_SPEC_SESSION_KEYRING = -3    # "my session keyring", wherever it is

# Permission bits: four sets of six (view, read, write, search, link, setattr) for the
# possessor, the owning user, the group and others, from the high byte down.
KEY_USR_SEARCH = 0x00080000


def session_name(container_id: str) -> str:
    return f"_ses.{container_id}"


def _keyctl(operation: int, *args) -> int:
    return libc.syscall(SYS_keyctl, operation, *args)


def join_session_keyring(name: str) -> int:
    """Make the keyring called `name` this process's session keyring; return its serial number.

    If a keyring of that name exists and this process may search it, the process joins
    it (how `exec` enters the container's); otherwise the kernel makes a new, empty one,
    owned by the caller. Either way the keyring inherited from the parent is left.

    man 2 keyctl (KEYCTL_JOIN_SESSION_KEYRING), man 3 keyctl_join_session_keyring
    """
    serial = _keyctl(KEYCTL_JOIN_SESSION_KEYRING, ctypes.c_char_p(name.encode()))
    if serial < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"keyctl(KEYCTL_JOIN_SESSION_KEYRING, {name}): {os.strerror(error)}")
    return serial


def describe(serial: int) -> tuple[str, int, int, int, str]:
    """(type, uid, gid, permissions, description) of a key: what `keyctl describe` prints.

    man 2 keyctl (KEYCTL_DESCRIBE)
    """
    buffer = ctypes.create_string_buffer(4096 + 64)
    size = _keyctl(KEYCTL_DESCRIBE, ctypes.c_long(serial), buffer, ctypes.c_size_t(len(buffer)))
    if size < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"keyctl(KEYCTL_DESCRIBE, {serial}): {os.strerror(error)}")
    kind, uid, gid, permissions, description = buffer.value.decode().split(";", 4)
    return kind, int(uid), int(gid), int(permissions, 16), description


def set_permissions(serial: int, permissions: int) -> None:
    """Replace a key's permission mask (the caller must own it or possess it with setattr).

    man 2 keyctl (KEYCTL_SETPERM)
    """
    if _keyctl(KEYCTL_SETPERM, ctypes.c_long(serial), ctypes.c_uint(permissions)) < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"keyctl(KEYCTL_SETPERM, {serial}): {os.strerror(error)}")


def join_new_session(container_id: str) -> None:
    """The container's init: join a session keyring of its own, searchable by its owner so
    that `exec` can find it by name (runc gives the same bit). A kernel without keyrings
    (ENOSYS) has nothing to hide: go on, as runc does."""
    try:
        serial = join_session_keyring(session_name(container_id))
        set_permissions(serial, describe(serial)[3] | KEY_USR_SEARCH)
    except OSError as error:
        if error.errno != errno.ENOSYS:
            raise


def join_existing_session(container_id: str) -> None:
    """`exec`: join the session keyring of the container's init, as runc's setns init does."""
    try:
        join_session_keyring(session_name(container_id))
    except OSError as error:
        if error.errno != errno.ENOSYS:
            raise
