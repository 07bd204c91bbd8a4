"""Parsing the human units of the command line: 64m, 1g, 0.5 CPUs."""

from __future__ import annotations

import os
import re

from gophernetes.errors import UsageError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
MAX_SIZE = 2**63 - 1  # the kernel keeps byte counts as signed 64-bit numbers
_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str, option: str) -> int:
    """'64m', '1g', '512k', '1048576', '64MiB' -> bytes (powers of 1024, as docker)."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"invalid size {text!r} for {option}: use a number with an optional unit "
                         f"b, k, m or g (e.g. 64m)")
    number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _FACTORS[unit])
    if size > MAX_SIZE:
        raise UsageError(f"invalid size {text!r} for {option}: at most {MAX_SIZE} bytes (8 EiB), as the kernel counts")
    return size


def parse_memory_swap(text: str) -> int:
    """--memory-swap: a size, or -1 for unlimited swap."""
    return -1 if text.strip() == "-1" else parse_size(text, "--memory-swap")


def parse_cpus(text: str) -> float:
    """--cpus: a positive fraction, at most the number of CPUs this host has."""
    try:
        cpus = float(text)
    except ValueError:
        raise UsageError(f"invalid value {text!r} for --cpus: use a number such as 0.5") from None
    available = os.cpu_count() or 1
    if not 0.01 <= cpus <= available:
        raise UsageError(f"--cpus {text}: range of CPUs is from 0.01 to {available}.00, as there are only "
                         f"{available} CPUs available")
    return cpus


def human_size(size: int) -> str:
    """1073741824 -> '1GiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:g}{unit}" if unit == "B" else f"{value:.4g}{unit}"
        value /= 1024
    return str(value)
