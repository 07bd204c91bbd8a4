"""Fixtures of the runtime tests."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest

ATTACKS = Path(__file__).parent / "attacks"


@pytest.fixture(scope="session")
def attack_tools(tmp_path_factory) -> Path:
    """/attack and the fake ld.so (attacks/*.c), compiled static: the busybox image has no C library."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc with a static libc (libc6-dev) builds the attack programs")
    out = tmp_path_factory.mktemp("attack-tools")
    subprocess.run(["gcc", "-static", "-O2", "-o", out / "attack", ATTACKS / "attack.c"], check=True)
    if platform.machine() == "x86_64":  # its system calls are x86_64 assembly
        subprocess.run(["gcc", "-O2", "-fPIE", "-static-pie", "-nostdlib", "-fno-stack-protector",
                        "-o", out / "fakeld", ATTACKS / "fakeld.c"], check=True)
    return out
