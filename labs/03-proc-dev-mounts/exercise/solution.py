"""Lab 03 exercise, solved by gophernetes' own code: gophernetes/linux/mounts.py and devices.py.

`sudo gophernetes lab check 03 --exercise --solution` runs the exercise's check on this file.
"""

import os

from gophernetes.linux import devices, mounts


def mount_proc(target: str) -> None:
    mounts.mount_proc(target)


def make_dev(dev: str) -> None:
    # populate_dev mounts ROOT/dev (through a descriptor of ROOT) and adds pts, shm, mqueue too
    root = os.open(os.path.dirname(os.path.abspath(dev)), os.O_PATH | os.O_DIRECTORY)
    try:
        devices.populate_dev(root)
    finally:
        os.close(root)
