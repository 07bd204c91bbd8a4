"""Bring up `lo` in a fresh network namespace, with one ioctl and no netlink library.

A new network namespace has a single device, the loopback `lo`, and it is DOWN: even
127.0.0.1 does not answer. Setting the IFF_UP flag (what `ip link set lo up` does) is
enough; the kernel adds 127.0.0.1/8 and ::1 by itself.
"""

from __future__ import annotations

import fcntl
import socket
import struct

SIOCGIFFLAGS = 0x8913  # get an interface's flags
SIOCSIFFLAGS = 0x8914  # set them
IFF_UP = 0x1


def bring_up(name: str = "lo") -> None:
    """Set IFF_UP on interface `name` in the caller's network namespace (man 7 netdevice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", name.encode(), 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", name.encode(), flags | IFF_UP))
