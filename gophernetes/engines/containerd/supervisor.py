"""The supervisor of a detached containerd container: `ctr run` that waits, and its exit status.

    /bin/sh -c WAITER FOLDER CTR-ARGV...      (while the container runs: ~0.2 MB)
    python -m gophernetes.engines.containerd.supervisor --finished STATUS FOLDER [--clean-up LIB RUN]

What it supervises: one `ctr run` *without* --detach, which waits for the task (the
container's init, whose parent is containerd's shim) and exits with its status. Why we
need it: containerd keeps a task's exit status only until the task is deleted, and
`ctr run --rm` deletes it at once. So this process outlives the `gophernetes run -d`
that started it (it runs in a session of its own, stdio on /dev/null), and when ctr
returns the status goes to FOLDER/exit-status (atomically; the file's mtime is when
the container finished), which `list` and `inspect` read.

Why two halves: the waiting lasts as long as the container, so it is done by the
smallest thing that can wait — a POSIX shell, one line (WAITER below): ~0.2 MB of PSS,
where a Python interpreter waiting the same way measured 9.2 MB per container. When ctr
returns, the shell *execs* this module (`--finished`), which does the work worth
reading in Python for a few milliseconds and exits. The shell's `$?` is ctr's status,
or 128 + the signal that killed it, docker's convention already.

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

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gophernetes.engines.containerd.folders import Folder

MODULE = "gophernetes.engines.containerd.supervisor"
# $0 is the folder, "$@" the ctr command; FINISH is this module's --finished command line
WAITER = '"$@" </dev/null >/dev/null 2>"$0/ctr-errors"; exec {finish} --finished "$?" "$0"{clean}'


@dataclass(frozen=True)
class Order:
    """What one supervisor is asked to do."""

    folder: Path
    ctr_argv: list[str]
    clean_up: tuple[str, str] | None = None   # the state root (lib, run) to clean up in, after --rm

    def argv(self, python: str = sys.executable) -> list[str]:
        """The command line that starts a supervisor with this order: the shell that waits."""
        clean = " " + shlex.join(["--clean-up", *self.clean_up]) if self.clean_up else ""
        script = WAITER.format(finish=shlex.join([python, "-m", MODULE]), clean=clean)
        return ["/bin/sh", "-c", script, str(self.folder), *self.ctr_argv]


@dataclass(frozen=True)
class Finished:
    """What the finishing half is told: ctr's status, the folder, and where to clean up."""

    status: int
    folder: Path
    clean_up: tuple[str, str] | None = None


def parse(argv: list[str]) -> Finished:
    """`--finished STATUS FOLDER [--clean-up LIB RUN]`, as the waiting shell execs it."""
    usage = f"usage: python -m {MODULE} --finished STATUS FOLDER [--clean-up LIB RUN]"
    if len(argv) not in (3, 6) or argv[0] != "--finished" or not argv[1].isdigit():
        raise SystemExit(usage)
    if len(argv) == 6 and argv[3] != "--clean-up":
        raise SystemExit(usage)
    return Finished(int(argv[1]), Path(argv[2]), (argv[4], argv[5]) if len(argv) == 6 else None)


def finish(finished: Finished) -> None:
    """Keep ctr's status; clean up after --rm when the container did run."""
    folder = Folder(finished.folder)
    folder.write_exit_status(finished.status)
    if finished.clean_up and folder.ctr_errors.stat().st_size == 0:
        clean_up(finished.clean_up, folder.path.name)


def supervise(order: Order) -> int | None:
    """Both halves in the foreground (what the tests run): the exit status kept, or None if cleaned up."""
    subprocess.run(order.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False)
    return Folder(order.folder).exit_status()


def clean_up(root: tuple[str, str], container_id: str) -> None:
    """Remove what gophernetes made around the container once ctr run --rm has removed it."""
    from gophernetes.engines.containerd.folders import Folders
    from gophernetes.paths import StateRoot

    Folders(StateRoot(Path(root[0]), Path(root[1]))).clean_up(container_id)


def main(argv: list[str] | None = None) -> int:
    finished = parse(sys.argv[1:] if argv is None else argv)
    finish(finished)
    return 0 if finished.status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
