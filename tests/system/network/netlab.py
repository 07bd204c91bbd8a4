"""The test bench for networking: network namespaces the tests make, and "containers" in them.

The host's own network namespace is never touched: the whole pytest process moves into
a sandbox namespace for the session (see conftest.py), and each test then enters a
fresh namespace of its own, which plays the host's part for gophernetes. A "container"
is a `sleep` that unshared one more network namespace inside it, exactly the state the
runtime hands to `plug(pid)`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

# A TCP server that answers each connection with the address it came from, then closes.
PEER_SERVER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(16)
print("ready", flush=True)
while True:
    conn, peer = server.accept()
    conn.sendall(peer[0].encode())
    conn.close()
"""

# Connect to HOST PORT, print what the server says (its view of our address).
PEER_CLIENT = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as conn:
    print(conn.recv(100).decode())
"""


def setns(path: str | Path) -> None:
    """Move the calling thread (pytest is single-threaded: the process) into the netns at `path`."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def netns_inode(path: str | Path) -> int:
    return os.stat(path).st_ino


def sh(*command: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=timeout)


@dataclass
class Netns:
    """A named network namespace (/run/netns/NAME) that this test session made."""

    name: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return Path("/run/netns") / self.name

    @classmethod
    def create(cls, name: str) -> Netns:
        sh("ip", "netns", "add", name)
        netns = cls(name)
        netns.run("ip", "link", "set", "lo", "up")
        return netns

    def delete(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
        sh("ip", "netns", "delete", self.name, check=False)

    def run(self, *command: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run `command` inside this namespace (nsenter --net, which leaves /sys alone)."""
        return sh("nsenter", f"--net={self.path}", *command, check=check, timeout=timeout)

    def popen(self, *command: str, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(["nsenter", f"--net={self.path}", *command], **kwargs)
        self.processes.append(process)
        return process

    @contextlib.contextmanager
    def entered(self) -> Iterator[Netns]:
        """Run the block with this process inside the namespace; come back out afterwards."""
        back = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(self.path)
            yield self
        finally:
            if _libc.setns(back, CLONE_NEWNET) != 0:  # pragma: no cover - would leave us in a test netns
                raise OSError(ctypes.get_errno(), "setns back")
            os.close(back)

    def links(self) -> set[str]:
        out = self.run("ip", "-o", "link", "show").stdout
        return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}

    def ruleset(self) -> str:
        """`nft list ruleset` without packet counters (ebtables-nft's rules count what they drop)."""
        return re.sub(r"counter packets \d+ bytes \d+", "counter", self.run("nft", "list", "ruleset").stdout)

    def iptables_save(self) -> str:
        """Every iptables rule, without the comments and packet counters that change by themselves."""
        lines = self.run("iptables-save").stdout.splitlines()
        return "\n".join(re.sub(r" \[\d+:\d+\]$", "", line) for line in lines if not line.startswith("#"))

    def serve(self, port: int) -> subprocess.Popen:
        return _start_server(self.popen, port)

    def ask(self, host: str, port: int) -> str | None:
        """Connect to host:port from this namespace; what the peer server answered, None if it failed."""
        return _answer(self.run(sys.executable, "-c", PEER_CLIENT, host, str(port), check=False))


@dataclass
class Container:
    """A process in a network namespace of its own, created inside `parent`."""

    pid: int
    process: subprocess.Popen
    parent: Netns

    @classmethod
    def start(cls, parent: Netns) -> Container:
        process = parent.popen("unshare", "--net", "sleep", "600")
        parent_inode = netns_inode(parent.path)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until unshare(2) has happened
            with contextlib.suppress(FileNotFoundError):
                if netns_inode(f"/proc/{process.pid}/ns/net") != parent_inode:
                    return cls(process.pid, process, parent)
            time.sleep(0.005)
        raise TimeoutError("the container process never unshared its network namespace")

    def run(self, *command: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess:
        return sh("nsenter", f"--net=/proc/{self.pid}/ns/net", *command, check=check, timeout=timeout)

    def ping(self, address: str, attempts: int = 3) -> bool:
        """True when `address` answers one of `attempts` pings (a loaded machine can lose the first)."""
        return any(self.run("busybox", "ping", "-c", "1", "-W", "1", address).returncode == 0
                   for _ in range(attempts))

    def cannot_ping(self, address: str) -> bool:
        return self.run("busybox", "ping", "-c", "1", "-W", "1", address).returncode != 0

    def addresses(self, ifname: str = "eth0") -> list[str]:
        out = self.run("ip", "-4", "-o", "addr", "show", "dev", ifname).stdout
        return [line.split()[3] for line in out.splitlines()]

    def default_route(self) -> str:
        return self.run("ip", "route", "show", "default").stdout.strip()

    def serve(self, port: int) -> subprocess.Popen:
        def popen(*command, **kwargs):
            process = subprocess.Popen(["nsenter", f"--net=/proc/{self.pid}/ns/net", *command], **kwargs)
            self.parent.processes.append(process)
            return process
        return _start_server(popen, port)

    def ask(self, host: str, port: int) -> str | None:
        return _answer(self.run(sys.executable, "-c", PEER_CLIENT, host, str(port)))

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait()


def _answer(result: subprocess.CompletedProcess) -> str | None:
    return result.stdout.strip() if result.returncode == 0 else None


def _start_server(popen, port: int) -> subprocess.Popen:
    process = popen(sys.executable, "-c", PEER_SERVER, str(port), stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


def ask_here(host: str, port: int) -> str:
    """Connect from the namespace this process is in (the test's "host")."""
    import socket

    with socket.create_connection((host, port), timeout=3) as conn:
        return conn.recv(100).decode()


def link_world(host: Netns, world: Netns) -> tuple[str, str]:
    """Cable `world` (another machine, say) to `host` on 198.51.100.0/24 (TEST-NET-2).

    Returns (host address, world address). The world gets no route to any container
    subnet: whatever reaches it from a container must have been masqueraded.
    """
    sh("ip", "link", "add", "gntw0", "netns", host.name, "type", "veth", "peer", "name", "eth0",
       "netns", world.name)
    host.run("ip", "addr", "add", "198.51.100.1/24", "dev", "gntw0")
    host.run("ip", "link", "set", "gntw0", "up")
    world.run("ip", "addr", "add", "198.51.100.2/24", "dev", "eth0")
    world.run("ip", "link", "set", "eth0", "up")
    return "198.51.100.1", "198.51.100.2"
