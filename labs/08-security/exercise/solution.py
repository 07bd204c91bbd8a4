"""Lab 08 exercise, solved by gophernetes' own code: gophernetes/linux/capabilities.py and syscalls.py.

`sudo gophernetes lab check 08 --exercise --solution` runs the exercise's check on this file.
"""

from gophernetes.linux import capabilities, syscalls


def drop_from_bounding(cap: int) -> None:
    syscalls.prctl(syscalls.PR_CAPBSET_DROP, cap)  # what capabilities.drop_bounding does for each one


def drop_from_process(cap: int) -> None:
    permitted = capabilities.permitted_mask()
    keep = frozenset(name for name, number in capabilities.CAPABILITIES.items()
                     if permitted >> number & 1 and number != cap)
    capabilities.apply(capabilities.Sets(bounding=keep, effective=keep, permitted=keep))


def drop(cap: int) -> None:
    drop_from_bounding(cap)
    drop_from_process(cap)
