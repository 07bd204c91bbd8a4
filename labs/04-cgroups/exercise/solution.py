"""Lab 04 exercise, solved by gophernetes' own code: gophernetes/linux/cgroups/ (v1.py, v2.py).

`sudo gophernetes lab check 04 --exercise --solution` runs the exercise's check on this file.
"""

from gophernetes.linux.cgroups import Limits, open_driver


def create_cgroup(parent: str, name: str) -> None:
    open_driver(parent).create(name)


def set_limits(parent: str, name: str, memory_bytes: int, max_pids: int) -> None:
    open_driver(parent).open(name).apply(Limits(memory=memory_bytes, pids=max_pids))


def add_process(parent: str, name: str, pid: int) -> None:
    open_driver(parent).open(name).add_process(pid)


def remove_cgroup(parent: str, name: str) -> None:
    open_driver(parent).open(name).remove()  # and the parent, once empty
