"""linux/pinned_namespaces.py on the real kernel: namespaces made before any container
process, held by bind mounts alone, joined later, and gone when unpinned."""

from __future__ import annotations

import os
import subprocess

from gophernetes.linux import pinned_namespaces


def mounted(path) -> bool:
    with open("/proc/self/mountinfo") as file:
        return any(line.split()[4] == str(path) for line in file)


def test_pinned_namespaces_outlive_their_maker_and_are_joined_by_path(tmp_path):
    pins = tmp_path / "ns"
    plugged = []
    pinned_namespaces.pin(pins, ["net", "uts"], "pinned-host", plug=plugged.append)
    try:
        assert len(plugged) == 1 and not os.path.exists(f"/proc/{plugged[0]}/ns")  # the maker has gone
        assert os.stat(pins / "net").st_ino != os.stat("/proc/self/ns/net").st_ino
        inside = subprocess.run(["nsenter", f"--net={pins / 'net'}", f"--uts={pins / 'uts'}", "sh", "-c",
                                 "hostname; ip -o link show | cut -d' ' -f2,3"],
                                capture_output=True, text=True, timeout=10)
        assert inside.stdout.splitlines() == ["pinned-host", "lo: <LOOPBACK,UP,LOWER_UP>"], inside.stderr
    finally:
        pinned_namespaces.unpin(pins)
    assert list(pins.iterdir()) == [] and not mounted(pins / "net")
