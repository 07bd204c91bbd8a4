"""Talking to containerd through `ctr`, its own command-line client.

containerd is a daemon that manages images, containers and tasks over a gRPC API on a
unix socket (/run/containerd/containerd.sock). `ctr` is the thin client that ships with
it: every `ctr` call below is one or two gRPC calls, so a student can type the same line
and watch the same thing happen. We chose it over speaking gRPC from Python because it
needs no new dependency (grpcio and containerd's protobuf files would be ~30 MB and a
build step), and because each step stays visible as a command.

The price is parsing: `ctr` prints tables, not JSON, for most listings. We only read
what cannot be ambiguous (the first whitespace-free columns of `ctr tasks ls` and `ctr
images ls`, the `Server:` version, the JSON of `ctr containers info` and of blobs from
`ctr content get`), and errors are recognized by containerd's own words ("not found",
"already exists", "failed to dial").

Everything happens in one containerd *namespace*, `gophernetes`: containerd keeps the
images, containers and snapshots of each namespace apart, so ours never mix with those
of Kubernetes (`k8s.io`), Docker (`moby`) or `ctr`'s own `default`.

Every call has a timeout: a dead or hung daemon gives a one-line error, never a hang.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from dataclasses import dataclass
from datetime import datetime

from gophernetes.errors import Conflict, GophernetesError, NotFound

DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
NAMESPACE = "gophernetes"
CALL_TIMEOUT = 30.0      # seconds for an ordinary call (list, info, kill, ...)
PULL_TIMEOUT = 900.0     # seconds for a pull: layers can be large


class Unreachable(GophernetesError):
    """containerd does not answer on its socket."""


@dataclass(frozen=True)
class Task:
    """A task is a container's running process tree, as containerd's shim holds it.

    A *container* in containerd is only metadata (image, snapshot, OCI spec); a *task* is
    what runs: containerd starts one `containerd-shim-runc-v2` per task, the shim asks
    runc to create the process, then stays as its parent (reaping it, keeping its exit
    status, holding its stdio) so that containerd itself can restart without killing it.
    """

    id: str
    pid: int
    status: str   # CREATED, RUNNING, PAUSED, PAUSING, STOPPED, UNKNOWN


@dataclass(frozen=True)
class ImageRecord:
    """An image as containerd's image service names it: a reference and a manifest digest."""

    ref: str      # fully qualified, e.g. docker.io/library/busybox:latest
    digest: str   # sha256:... of the manifest (or index) the reference points to


@dataclass(frozen=True)
class Ctr:
    """The `ctr` client bound to one socket and one namespace."""

    address: str = DEFAULT_ADDRESS
    namespace: str = NAMESPACE

    @classmethod
    def from_environment(cls) -> Ctr:
        """The socket named by GOPHERNETES_CONTAINERD_ADDRESS, else containerd's default."""
        return cls(os.environ.get("GOPHERNETES_CONTAINERD_ADDRESS") or DEFAULT_ADDRESS)

    def command(self, *args: str) -> list[str]:
        """The full argv of `ctr ARGS` against our socket and namespace."""
        # --connect-timeout: without it ctr waits 10 s for a socket that does not exist.
        return ["ctr", "--address", self.address, "--connect-timeout", "3s", "--namespace", self.namespace,
                *args]

    def unreachable(self) -> Unreachable:
        return Unreachable(f"cannot reach containerd at {self.address}: is it running? (start it with "
                           f"`containerd --address {self.address} &`, or set GOPHERNETES_CONTAINERD_ADDRESS)")

    def check_socket(self) -> None:
        """Fail at once, with the clear error, when there is no socket at all."""
        try:
            mode = os.stat(self.address).st_mode
        except FileNotFoundError:
            raise self.unreachable() from None
        except PermissionError:
            raise GophernetesError(f"cannot open containerd's socket {self.address}: permission denied "
                                   "(run gophernetes with sudo)") from None
        if not stat.S_ISSOCK(mode):
            raise GophernetesError(f"{self.address} is not a unix socket: set GOPHERNETES_CONTAINERD_ADDRESS "
                                   "to containerd's socket")

    def call(self, *args: str, timeout: float = CALL_TIMEOUT, stdin=subprocess.DEVNULL
             ) -> subprocess.CompletedProcess:
        """Run `ctr ARGS`; return the finished process whatever its status (timeouts raise)."""
        self.check_socket()
        try:
            return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout,
                                  stdin=stdin)
        except subprocess.TimeoutExpired:
            raise GophernetesError(f"containerd at {self.address} did not answer `ctr {' '.join(args[:3])}` "
                                   f"within {timeout:g} s: is it hung? (see its log)") from None
        except FileNotFoundError:
            raise GophernetesError("the ctr command is not installed: apt-get install containerd") from None

    def run(self, *args: str, timeout: float = CALL_TIMEOUT, what: str = "") -> str:
        """Run `ctr ARGS` and return its output; a failure becomes one clear error.

        `what` names the object for the messages ("container web", "image busybox:latest").
        """
        result = self.call(*args, timeout=timeout)
        if result.returncode != 0:
            raise self.error(result.stderr, what or " ".join(args[:2]))
        return result.stdout

    def error(self, stderr: str, what: str) -> GophernetesError:
        """Turn ctr's error output into the one exception that says what went wrong."""
        message = error_line(stderr)
        lowered = message.lower()
        if "failed to dial" in lowered or "code = unavailable" in lowered:
            return self.unreachable()
        if "not found" in lowered:
            return NotFound(f"{what}: not found in containerd (namespace {self.namespace})")
        if "already exists" in lowered:
            return Conflict(f"{what}: already exists in containerd (namespace {self.namespace})")
        return GophernetesError(f"containerd: {what}: {message}")

    # ------------------------------------------------------------------ reading

    def version(self) -> str:
        """The daemon's version, from the `Server:` part of `ctr version`."""
        return parse_version(self.run("version"))

    def tasks(self) -> dict[str, Task]:
        """Every task of the namespace, by container ID (`ctr tasks ls`: TASK PID STATUS)."""
        return parse_tasks(self.run("tasks", "ls"))

    def container_ids(self, *filters: str) -> list[str]:
        """Container IDs, optionally filtered (e.g. 'labels."gophernetes.name"==web')."""
        return self.run("containers", "ls", "-q", *filters).split()

    def container_info(self, container_id: str) -> dict:
        """`ctr containers info`: the container's record as JSON (labels, image, spec, ...)."""
        text = self.run("containers", "info", container_id, what=f"container {container_id}")
        return parse_json(text, f"ctr containers info {container_id}")

    def images(self) -> list[ImageRecord]:
        """`ctr images ls`: REF TYPE DIGEST ...; only the first three columns are read."""
        return parse_images(self.run("images", "ls"))

    def content(self, digest: str) -> bytes:
        """A blob from containerd's content store (manifests, configs, layers), by digest."""
        self.check_socket()
        try:
            result = subprocess.run(self.command("content", "get", digest), capture_output=True,
                                    timeout=CALL_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise GophernetesError(f"containerd at {self.address} did not answer `ctr content get` "
                                   f"within {CALL_TIMEOUT:g} s") from None
        if result.returncode != 0:
            raise self.error(result.stderr.decode(errors="replace"), f"blob {digest}")
        return result.stdout


# ---------------------------------------------------------------------- what ctr prints


def parse_version(text: str) -> str:
    """The `Version:` under `Server:` in `ctr version` (the client's comes first), or "unknown"."""
    in_server = False
    for line in text.splitlines():
        if line.strip() == "Server:":
            in_server = True
        elif in_server and line.strip().startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def parse_tasks(text: str) -> dict[str, Task]:
    """`ctr tasks ls`: a header, then TASK PID STATUS per line; by container ID."""
    tasks: dict[str, Task] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[1].isdigit():
            tasks[fields[0]] = Task(fields[0], int(fields[1]), fields[2].upper())
    return tasks


def parse_images(text: str) -> list[ImageRecord]:
    """`ctr images ls`: a header, then REF TYPE DIGEST SIZE PLATFORMS LABELS. A reference
    holds no spaces and a digest starts with sha256:, so the first three columns are safe
    to split on whitespace; the rest (a size such as "2.1 MiB", platforms) is not read."""
    records = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[2].startswith("sha256:"):
            records.append(ImageRecord(fields[0], fields[2]))
    return records


def parse_time(text: str) -> float:
    """containerd's RFC 3339 time with nanoseconds -> seconds since the epoch (0.0 if unreadable).

    Python's fromisoformat takes at most microseconds, so the fraction is cut to six digits.
    """
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", text)
    if not match:
        return 0.0
    fraction = (match.group(2) or ".0")[:7]
    zone = match.group(3) or "Z"
    return datetime.fromisoformat(match.group(1) + fraction + zone.replace("Z", "+00:00")).timestamp()


def error_line(stderr: str) -> str:
    """The line of ctr's error output that says what failed ("ctr: ..."), without the prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ctr: "):
            return line.removeprefix("ctr: ")
    return lines[-1] if lines else "failed without a message"


def parse_json(text: str, where: str):
    """ctr's JSON output (containers info), or one error naming the command that printed it."""
    try:
        return json.loads(text)
    except ValueError as error:
        raise GophernetesError(f"{where}: expected JSON from ctr ({error})") from None


@dataclass(frozen=True)
class SnapshotMount:
    """One mount of a snapshot, as `ctr snapshots mounts TARGET KEY` prints it: what mount(8) would do."""

    type: str         # "overlay", or "bind" for a snapshot of one layer
    source: str
    options: list[str]


def parse_snapshot_mounts(text: str) -> list[SnapshotMount]:
    """`ctr snapshots mounts TARGET KEY`: one `mount -t TYPE SOURCE TARGET -o OPTIONS` line a mount."""
    import shlex

    found = []
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) >= 5 and words[:2] == ["mount", "-t"]:
            options = words[words.index("-o") + 1].split(",") if "-o" in words else []
            found.append(SnapshotMount(words[2], words[3], options))
    return found
