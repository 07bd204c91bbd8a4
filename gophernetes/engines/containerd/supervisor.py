"""The supervisor of a detached containerd container: `ctr run` that waits, and its exit status.

    python -m gophernetes.engines.containerd.supervisor FOLDER [--clean-up LIB RUN] -- CTR-ARGV...

What it supervises: one `ctr run` *without* --detach, which waits for the task (the
container's init, whose parent is containerd's shim) and exits with its status. Why we
need it: containerd keeps a task's exit status only until the task is deleted, and
`ctr run --rm` deletes it at once. So this process outlives the `gophernetes run -d`
that started it (it runs in a session of its own, stdio on /dev/null), and when ctr
returns it writes the status to FOLDER/exit-status (atomically; the file's mtime is when
the container finished), which `list` and `inspect` read.

What ctr prints on stderr goes to FOLDER/ctr-errors: a non-empty file means ctr itself
failed (bad image, runc refused the command), which `run -d` reports to the user.

With --clean-up (run -d --rm) and a container that did run (ctr said nothing), it then
removes what gophernetes made around containerd (folders.Folders.clean_up): the network
lease, the pinned namespaces, the cgroup, the folder; ctr run --rm removed the rest. A
failed start is cleaned up by the `run -d` that is waiting for it instead.

The container's output does not pass through here: `ctr run --log-uri file://LOG` makes
the shim itself append it to LOG, so logs survive this process too.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gophernetes.engines.containerd.folders import Folder

MODULE = "gophernetes.engines.containerd.supervisor"


@dataclass(frozen=True)
class Order:
    """What one supervisor is asked to do (its command line, parsed)."""

    folder: Path
    ctr_argv: list[str]
    clean_up: tuple[str, str] | None = None   # the state root (lib, run) to clean up in, after --rm

    def argv(self, python: str = sys.executable) -> list[str]:
        """The command line that starts a supervisor with this order."""
        clean = ["--clean-up", *self.clean_up] if self.clean_up else []
        return [python, "-m", MODULE, str(self.folder), *clean, "--", *self.ctr_argv]


def parse(argv: list[str]) -> Order:
    """The inverse of Order.argv (without the interpreter and -m MODULE)."""
    if "--" not in argv or argv.index("--") == 0:
        raise SystemExit(f"usage: python -m {MODULE} FOLDER [--clean-up LIB RUN] -- CTR-ARGV...")
    split = argv.index("--")
    head, ctr_argv = argv[:split], argv[split + 1:]
    if not ctr_argv:
        raise SystemExit(f"{MODULE}: no ctr command after --")
    if len(head) == 4 and head[1] == "--clean-up":
        return Order(Path(head[0]), ctr_argv, (head[2], head[3]))
    if len(head) == 1:
        return Order(Path(head[0]), ctr_argv)
    raise SystemExit(f"{MODULE}: expected FOLDER [--clean-up LIB RUN] before --, got {head}")


def supervise(order: Order) -> int:
    """Run ctr until the task ends; keep its status; clean up after --rm. Returns ctr's status."""
    folder = Folder(order.folder)
    with open(folder.ctr_errors, "wb") as errors:
        status = subprocess.run(order.ctr_argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errors).returncode
    folder.write_exit_status(128 - status if status < 0 else status)
    if order.clean_up and folder.ctr_errors.stat().st_size == 0:
        clean_up(order.clean_up, folder.path.name)
    return status


def clean_up(root: tuple[str, str], container_id: str) -> None:
    """Remove what gophernetes made around the container once ctr run --rm has removed it."""
    from gophernetes.engines.containerd.folders import Folders
    from gophernetes.paths import StateRoot

    Folders(StateRoot(Path(root[0]), Path(root[1]))).clean_up(container_id)


def main(argv: list[str] | None = None) -> int:
    return 0 if supervise(parse(sys.argv[1:] if argv is None else argv)) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
