"""Lab 01 exercise, solved by gophernetes' own code: gophernetes/linux/syscalls.py.

`sudo gophernetes lab check 01 --exercise --solution` runs the exercise's check on this file.
"""

from gophernetes.linux import syscalls


def new_uts_namespace() -> None:
    syscalls.unshare(syscalls.CLONE_NEWUTS)


def set_hostname(name: str) -> None:
    syscalls.sethostname(name)
