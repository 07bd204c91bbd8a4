"""Signals by name or number, as `kill` and runc accept them.

A signal is a small number the kernel delivers to a process (man 7 signal); the names
(SIGTERM = 15, SIGKILL = 9, ...) are the C library's. Engines pass either form to an OCI
runtime: containerd's runc shim sends the number (`kill ID 15`), podman the number too,
people type `kill ID TERM` or `kill ID SIGKILL`. runc's rule, kept here: a number is taken
as it is (if the kernel knows it), a name may come with or without its "SIG" prefix,
in any case; SIGRTMIN+N and SIGRTMAX-N name the real-time signals.

man 7 signal, man 1 kill
"""

from __future__ import annotations

import signal


def parse(text: str) -> int:
    """The signal number that `text` names ("9", "KILL", "sigterm", "RTMIN+3"); ValueError if none."""
    word = text.strip()
    if word.isdigit():
        number = int(word)
        if 0 < number <= signal.SIGRTMAX:
            return number
        raise ValueError(f"unknown signal {text!r}: signals are 1 to {int(signal.SIGRTMAX)}")
    name = word.upper()
    name = name if name.startswith("SIG") else f"SIG{name}"
    for base, sign in (("SIGRTMIN+", 1), ("SIGRTMAX-", -1)):
        if name.startswith(base) and name[len(base):].isdigit():
            anchor = signal.SIGRTMIN if sign > 0 else signal.SIGRTMAX
            number = anchor + sign * int(name[len(base):])
            if signal.SIGRTMIN <= number <= signal.SIGRTMAX:
                return number
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise ValueError(f"unknown signal {text!r}") from None


def name(number: int) -> str:
    """The usual name of signal `number` ("SIGTERM"), or its number as text."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
