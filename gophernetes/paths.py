"""Where gophernetes keeps its state: one root, overridable for tests.

By default persistent data (images, network definitions) lives in /var/lib/gophernetes
and runtime state (containers, leases of a boot) in /run/gophernetes, as docker keeps
/var/lib/docker and /run/docker. `--root DIR` or GOPHERNETES_ROOT=DIR moves both under
DIR (DIR/lib and DIR/run), so a test never touches the real ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LIB = Path("/var/lib/gophernetes")
DEFAULT_RUN = Path("/run/gophernetes")


@dataclass(frozen=True)
class StateRoot:
    lib: Path
    run: Path

    @classmethod
    def from_option(cls, root: str | os.PathLike | None = None) -> StateRoot:
        """The state root named by `root`, else by GOPHERNETES_ROOT, else the defaults."""
        root = root or os.environ.get("GOPHERNETES_ROOT")
        if not root:
            return cls(DEFAULT_LIB, DEFAULT_RUN)
        base = Path(root).absolute()
        return cls(base / "lib", base / "run")

    @property
    def images(self) -> Path:
        """The image store: blobs, unpacked layers and the name -> image index."""
        return self.lib / "images"

    @property
    def networks(self) -> Path:
        """Network definitions and IP leases of the network namespace this process is in.

        Networks, leases and published ports belong to the network namespace they were made
        in, as its bridges and firewall rules do: the host's namespace keeps them in
        `lib/networks`, any other one in `run/netns/INODE/networks` (see netns_directory),
        so a lab's namespace and the host never see each other's.
        """
        try:
            ours = os.stat("/proc/thread-self/ns/net").st_ino
        except OSError:  # no /proc: the default
            return self.lib / "networks"
        if self._is_host_netns(ours):
            return self.lib / "networks"
        return netns_directory(self.run / "netns" / str(ours)) / "networks"

    def _is_host_netns(self, ours: int) -> bool:
        """True in the host's network namespace: that of PID 1 (`readlink /proc/1/ns/net`).

        Where PID 1 is hidden from us (a sandbox that runs us under someone else's init),
        the first namespace that used this state root stands for the host; it is written
        down as "INODE COOKIE" in lib/networks/host-netns.
        """
        try:
            return os.stat("/proc/1/ns/net").st_ino == ours
        except OSError:
            pass
        stamp = self.lib / "networks" / "host-netns"
        stamp.parent.mkdir(parents=True, exist_ok=True)
        _write_once(stamp, f"{ours} {netns_cookie()}")
        return stamp.read_text() == f"{ours} {netns_cookie()}"

    @property
    def containers(self) -> Path:
        """One folder per container: its record, overlay upper/work dirs, logs."""
        return self.run / "containers"


def netns_cookie() -> int:
    """Our network namespace's cookie: a number the kernel never gives another namespace until reboot.

    Inode numbers of dead namespaces are reused; cookies are not (SO_NETNS_COOKIE, Linux 5.14).

    man 7 socket (SO_NETNS_COOKIE)
    """
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        return int.from_bytes(probe.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8), "little")


def _write_once(path: Path, text: str) -> None:
    """Create `path` holding `text` unless it exists: a reader sees no file or all of it (link(2) is atomic)."""
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    draft.write_text(text)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def netns_directory(directory: Path) -> Path:
    """`directory`, the state of the network namespace whose inode names it; emptied if it is stale.

    The kernel reuses a dead namespace's inode number for a new one; the cookie kept
    beside the state tells a new namespace from a dead one of the same inode, whose
    leftover state is then thrown away (its bridges and rules died with it).

    man 7 namespaces (/proc/PID/ns)
    """
    import shutil

    cookie = str(netns_cookie())
    stamp = directory / "cookie"
    for _attempt in range(3):
        try:
            if stamp.read_text() == cookie:
                return directory
            aside = directory.with_name(f".stale-{directory.name}-{os.getpid()}")
            os.rename(directory, aside)  # atomic: of two commands that find it stale, one moves it
            shutil.rmtree(aside, ignore_errors=True)
        except FileNotFoundError:
            pass
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_once(stamp, cookie)
    return directory


SO_NETNS_COOKIE = 71  # <asm-generic/socket.h>; Python's socket module does not name it
