"""Lab 02 exercise, solved by gophernetes' own code: gophernetes/linux/mounts.py (over linux/syscalls.py).

`sudo gophernetes lab check 02 --exercise --solution` runs the exercise's check on this file.
"""

from pathlib import Path

from gophernetes.linux import mounts


def make_mounts_private() -> None:
    mounts.make_all_private()


def bind_onto_itself(path: str) -> None:
    mounts.bind(path, path)


def pivot_into(new_root: str) -> None:
    mounts.pivot_into(Path(new_root))
