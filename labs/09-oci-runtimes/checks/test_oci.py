"""Lab 09 checks: the bundle's files read as JSON, the containers asked of the runtimes that
made them (runc, gophernetes-runtime, ctr, gophernetes) and verified in the kernel: the
process's hostname (its UTS namespace), its mounts (/proc/PID/mountinfo) and its memory
cgroup (v1 or v2, as labkit finds it)."""

import json
from pathlib import Path

import labkit

LAB = Path("/srv/lab09")
BUNDLE = LAB / "bundle"
MEMORY = 64 * 1024 * 1024


def spec(path: Path) -> dict:
    assert path.exists(), f"no {path}"
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise AssertionError(f"{path} is not JSON: {error}") from None


def runtime_state(runtime: str, *args: str) -> dict:
    """`RUNTIME ARGS` (a `state ID`) as a dict; fails the check if the runtime does not know it."""
    asked = labkit.gophernetes_runtime(*args) if runtime == "gophernetes-runtime" else labkit.run(runtime, *args)
    assert asked.returncode == 0, f"`{runtime} {' '.join(args)}`: {(asked.stderr or asked.stdout).strip()}"
    return json.loads(asked.stdout)


def hostname(pid: int) -> str:
    return labkit.run("nsenter", "--target", str(pid), "--uts", "hostname").stdout.strip()


def memory_limit(pid: int) -> int | None:
    folder = labkit.cgroup_dir(pid, "memory")
    if folder is None:
        return None
    value = labkit.read(folder / ("memory.max" if labkit.cgroup_version() == 2 else "memory.limit_in_bytes"))
    return int(value) if value.isdigit() else None


def assert_runs_the_bundle(name: str, pid: int) -> None:
    """The edited bundle's container: sleep 3600, hostname lab09, /etc read-only, 64 MiB."""
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2]
    assert args == [b"sleep", b"3600"], f"{name}'s process runs {b' '.join(args).decode()!r}, not sleep 3600"
    assert labkit.in_new_namespace(pid, "uts") and hostname(pid) == "lab09", \
        f"{name}'s hostname is {hostname(pid)!r}, not lab09"
    etc, root = labkit.mounted_at("/etc", pid), labkit.mounted_at("/", pid)
    assert etc is not None and "ro" in etc.options.split(","), f"{name}'s /etc is not a read-only mount"
    assert root is not None and "rw" in root.options.split(","), f"{name}'s root is read-only (root.readonly)"
    assert memory_limit(pid) == MEMORY, f"{name}'s memory cgroup allows {memory_limit(pid)} bytes, not 64 MiB"


def test_step_1_two_default_specs(host):
    """/srv/lab09/runc-spec and /srv/lab09/gophernetes-spec hold the default config.json of runc and of gophernetes-runtime.

    Hint: both runtimes have a `spec` command; `--bundle DIR` says where it writes
    config.json (and it refuses to overwrite one).
    """
    runc = spec(LAB / "runc-spec" / "config.json")
    ours = spec(LAB / "gophernetes-spec" / "config.json")
    assert runc.get("hostname") == "runc", "runc-spec/config.json is not runc's template (hostname runc)"
    assert ours.get("hostname") == "gophernetes", \
        "gophernetes-spec/config.json is not gophernetes-runtime's template (hostname gophernetes)"
    for made in (runc, ours):
        assert made.get("ociVersion", "").startswith("1.") and made.get("process", {}).get("args") == ["sh"]


def test_step_2_a_root_filesystem_unpacked_from_the_image(host):
    """/srv/lab09/bundle/rootfs is a plain folder holding the busybox image's files (bin/busybox, etc/passwd).

    Hint: `gophernetes save --help` writes an OCI layout in a tar; unpack the tar, then
    `umoci raw unpack --help` (its --image takes PATH:TAG, the tag from index.json).
    """
    rootfs = BUNDLE / "rootfs"
    assert (rootfs / "bin" / "busybox").is_file(), f"no bin/busybox in {rootfs}"
    assert (rootfs / "etc" / "passwd").is_file(), f"no etc/passwd in {rootfs}"
    assert (rootfs / "bin" / "sh").is_symlink(), f"{rootfs}/bin/sh is not busybox's link"
    assert labkit.mounted_at(str(rootfs)) is None, f"{rootfs} is a mount point: unpack the image, do not mount it"


def test_step_3_config_json_edited(host):
    """/srv/lab09/bundle/config.json runs `sleep 3600` without a terminal, hostname lab09, a writable root, /etc read-only, 64 MiB of memory.

    Hint: start from runc's template and change it with jq: .hostname, .process.terminal,
    .process.args, .root.readonly, .linux.readonlyPaths and .linux.resources.memory.limit
    (in bytes).
    """
    config = spec(BUNDLE / "config.json")
    process, linux = config.get("process", {}), config.get("linux", {})
    found = {"hostname": config.get("hostname"), "terminal": process.get("terminal"), "args": process.get("args"),
             "root": config.get("root"), "/etc read-only": "/etc" in (linux.get("readonlyPaths") or []),
             "memory": (linux.get("resources", {}).get("memory") or {}).get("limit")}
    wanted = {"hostname": "lab09", "terminal": False, "args": ["sleep", "3600"],
              "root": {"path": "rootfs", "readonly": False}, "/etc read-only": True, "memory": MEMORY}
    assert found == wanted, f"found: {found}"


def test_step_4_runc_runs_the_bundle(host):
    """runc's container lab09-runc runs the bundle: sleep 3600, hostname lab09, /etc read-only, 64 MiB.

    Hint: `runc run --help`: detached, from the bundle folder (or with --bundle).
    """
    state = runtime_state("runc", "state", "lab09-runc")
    assert state.get("status") == "running", f"lab09-runc is {state.get('status')}"
    assert Path(state.get("bundle", "")) == BUNDLE, f"lab09-runc runs the bundle {state.get('bundle')}"
    assert_runs_the_bundle("lab09-runc", state["pid"])


def test_step_5_gophernetes_runtime_created_and_started_the_bundle(host):
    """gophernetes-runtime's container lab09-gn was created, then started: it runs the bundle as runc's does.

    Hint: `gophernetes-runtime create --help`, then `state` (created: its init waits on
    exec.fifo), then `start`.
    """
    state = runtime_state("gophernetes-runtime", "state", "lab09-gn")
    assert state.get("status") == "running", f"lab09-gn is {state.get('status')}"
    assert Path(state.get("bundle", "")) == BUNDLE, f"lab09-gn runs the bundle {state.get('bundle')}"
    assert not (Path("/run/gophernetes-runtime/lab09-gn/exec.fifo")).exists(), "lab09-gn's exec.fifo is still there"
    assert_runs_the_bundle("lab09-gn", state["pid"])


def test_step_6_containerd_runs_lab09_ctr_with_gophernetes_runtime(host):
    """containerd's task lab09-ctr (namespace lab09) runs under a shim that used gophernetes-runtime: its state is under /run/containerd/runc/lab09.

    Hint: `ctr run --help`: --runc-binary takes the runtime's path (command -v), --rootfs
    the bundle's root folder; detached, with an ID and a long sleep.
    """
    listed = labkit.run("ctr", "--connect-timeout", "3s", "-n", "lab09", "tasks", "ls")
    assert listed.returncode == 0, f"ctr cannot reach containerd: {listed.stderr.strip()}"
    tasks = {row[0]: row[1:] for row in (line.split() for line in listed.stdout.splitlines()[1:]) if len(row) >= 3}
    assert "lab09-ctr" in tasks, "containerd has no task lab09-ctr in namespace lab09"
    pid, status = int(tasks["lab09-ctr"][0]), tasks["lab09-ctr"][1]
    assert status == "RUNNING", f"lab09-ctr is {status}"
    parent = int(labkit.status(pid).get("PPid", 0))
    assert labkit.comm(parent).startswith("containerd-shim"), f"lab09-ctr's parent is {labkit.comm(parent)!r}"
    asked = labkit.gophernetes_runtime("--root", "/run/containerd/runc/lab09", "state", "lab09-ctr")
    assert asked.returncode == 0, "/run/containerd/runc/lab09/lab09-ctr holds no state of gophernetes-runtime: " \
        f"did the shim use runc? ({asked.stderr.strip()})"
    assert json.loads(asked.stdout).get("pid") == pid, "gophernetes-runtime's lab09-ctr is another process"


def test_step_7_the_native_engines_own_bundle(host):
    """gophernetes' container lab09-native runs, and its config.json (inspect's details.bundle) is the bundle it runs.

    Hint: `gophernetes run -d` with the name lab09-native, then `gophernetes inspect`:
    jq finds the path of its config.json.
    """
    container = labkit.running_container("lab09-native")
    config = spec(Path(container.get("details", {}).get("bundle", "")))
    assert config.get("process", {}).get("args") == container.get("command"), \
        "lab09-native's config.json runs another command"
    pid = container["pid"]
    assert hostname(pid) == config.get("hostname"), \
        f"lab09-native's hostname is {hostname(pid)!r}, its config.json says {config.get('hostname')!r}"
