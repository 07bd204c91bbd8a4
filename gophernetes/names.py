"""Container names: docker's rule for the ones a user gives, docker's style for the ones we make."""

from __future__ import annotations

import random

from gophernetes.errors import UsageError

_ADJECTIVES = ("brave", "calm", "eager", "fond", "keen", "lucid", "merry", "quiet", "swift", "witty",
               "bold", "clever", "gentle", "happy", "jolly", "nimble", "proud", "sharp", "tender", "vivid")
_GOPHERS = ("pike", "thompson", "griesemer", "cox", "fitzpatrick", "taylor", "gerrand", "hudson", "kennedy",
            "ritchie", "torvalds", "hopper", "lovelace", "turing", "liskov", "knuth", "kernighan", "mccarthy",
            "hamilton", "borg")


def check_name(name: str) -> None:
    """Docker's rule for container names: [a-zA-Z0-9][a-zA-Z0-9_.-]*."""
    if not (name and name[0].isalnum() and all(c.isalnum() or c in "_.-" for c in name) and name.isascii()):
        raise UsageError(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")


def generate_name(taken: set[str]) -> str:
    """A docker-style random name (adjective_surname), unused so far."""
    for _ in range(100):
        name = f"{random.choice(_ADJECTIVES)}_{random.choice(_GOPHERS)}"
        if name not in taken:
            return name
    return f"{random.choice(_ADJECTIVES)}_{random.choice(_GOPHERS)}{random.randint(10, 9999)}"
