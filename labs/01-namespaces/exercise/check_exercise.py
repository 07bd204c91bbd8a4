"""Lab 01 exercise check: exercise.py's functions really make a UTS namespace and name it.

Each part runs the student's code in a throw-away child (gophernetes.lab_exercises.in_child).
set_hostname only ever runs once the child's UTS namespace is seen to be new: the host's
hostname is never at stake.
"""

import os
import socket

from gophernetes.lab_exercises import in_child


def uts() -> str:
    return os.readlink("/proc/self/ns/uts")


def in_new_namespace(module, host_namespace: str) -> None:
    module.new_uts_namespace()
    assert uts() != host_namespace, \
        f"after new_uts_namespace() the process is still in the host's UTS namespace ({uts()})"


def test_part_1_new_uts_namespace_makes_a_new_namespace():
    """new_uts_namespace() moves the process into a UTS namespace of its own.

    Hint: libc.unshare(CLONE_NEWUTS) is the whole call; /proc/self/ns/uts shows a new
    inode number afterwards (man 2 unshare). Pass its result to check().
    """
    host = uts()
    inside = in_child(lambda module: (module.new_uts_namespace(), uts())[1])
    assert inside != host, f"/proc/self/ns/uts is still {host}, the host's"


def test_part_2_set_hostname_changes_it_inside_only():
    """set_hostname() names the new namespace; the host's hostname is untouched.

    Hint: libc.sethostname takes bytes and their length: name.encode() and len() of
    those bytes (man 2 sethostname). os.uname().nodename reads it back.
    """
    host, before = uts(), socket.gethostname()
    wanted = "exercise01" if before != "exercise01" else "exercise01-b"

    def body(module):
        in_new_namespace(module, host)
        module.set_hostname(wanted)
        return os.uname().nodename

    inside = in_child(body)
    assert inside == wanted, f"inside, the hostname is {inside!r}, not {wanted!r}"
    assert socket.gethostname() == before, f"the host's hostname changed to {socket.gethostname()!r}!"


def test_part_3_a_refused_name_raises_oserror():
    """set_hostname() raises OSError when the kernel refuses (a 65-byte name: EINVAL).

    Hint: a C function does not raise: it returns -1 and sets errno. Pass the result of
    libc.sethostname to check() (use_errno=True lets ctypes.get_errno() read it).
    """
    host = uts()

    def body(module):
        in_new_namespace(module, host)
        try:
            module.set_hostname("x" * 65)
        except OSError as error:
            return f"OSError {error.errno}"
        return f"no error, and the hostname is now {os.uname().nodename!r}"

    assert in_child(body) == "OSError 22", "set_hostname('x' * 65) should raise OSError(EINVAL)"
