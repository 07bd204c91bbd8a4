"""The same bundle, run by runc and by gophernetes-runtime, gives the same observable result.

Each case edits the default config.json (`spec`) in one direction the runtime-spec describes
— namespaces, mounts, capabilities, user, cwd, env, rlimits, masked paths, hooks — and runs
a script that prints what a program in the container can observe. runc's output is the
reference; gophernetes' must be identical (line by line, so a difference names itself).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from gophernetes.runtime.default_spec import default_spec

# What the container reports about itself, one fact per line.
OBSERVE = r"""
echo "id: $(id)"
echo "cwd: $(pwd)"
echo "hostname: $(hostname)"
echo "umask: $(umask)"
env | grep -v '^_=' | sort | sed 's/^/env: /'
grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status | sed 's/^/status: /'
echo "nofile: $(ulimit -Sn) $(ulimit -Hn)"
echo "oom_score_adj: $(cat /proc/self/oom_score_adj)"
echo "uid_map: $(cat /proc/self/uid_map | tr -s ' ')"
echo "pid1: $(tr '\0\n' '  ' < /proc/1/cmdline | cut -c1-20)"
echo "net devices: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ')"
awk '$2 !~ "^/sys/fs/cgroup/" {print "mount:", $2, $3, $4}' /proc/self/mounts
for node in null zero full random urandom; do
  head -c 1 /dev/$node >/dev/null 2>&1 && echo "open /dev/$node: yes" || echo "open /dev/$node: no"
done
for node in /dev/*; do [ -c "$node" ] && [ ! -L "$node" ] && echo "device: $node $(stat -c '%t:%T %a' "$node")"; done
head -c 1 /proc/kcore >/dev/null 2>&1 && echo "kcore: readable" || echo "kcore: masked"
(echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null && echo "proc/sys: writable" || echo "proc/sys: read-only"
touch /rootfs-write 2>/dev/null && echo "root: writable" || echo "root: read-only"
"""


def base(rootfs: Path) -> dict:
    spec = default_spec()
    spec["process"].update(terminal=False, args=["/bin/sh", "-c", OBSERVE])
    spec["root"]["path"] = str(rootfs)
    return spec


def with_user(spec: dict) -> None:
    spec["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o027}
    spec["process"]["cwd"] = "/tmp"
    spec["process"]["env"] += ["GREETING=hello world", "EMPTY="]


def with_capabilities(spec: dict) -> None:
    caps = ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN"]
    spec["process"]["capabilities"] = {"bounding": caps, "effective": caps[:2], "permitted": caps,
                                       "inheritable": caps[:1], "ambient": caps[:1]}
    spec["process"]["noNewPrivileges"] = False


def with_rlimits_and_oom(spec: dict) -> None:
    spec["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]
    spec["process"]["oomScoreAdj"] = 500


def with_mounts(spec: dict, data: Path) -> None:
    spec["mounts"] += [
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700", "noexec"]},
        {"destination": "/data", "type": "bind", "source": str(data), "options": ["rbind", "ro", "nosuid", "nodev"]},
    ]


def with_namespaces(spec: dict) -> None:
    spec["hostname"] = "differential"
    spec["linux"]["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network", "cgroup")]
    spec["root"]["readonly"] = False
    spec["linux"]["maskedPaths"] = ["/proc/kcore"]
    spec["linux"]["readonlyPaths"] = []


def with_devices(spec: dict) -> None:
    spec["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600,
                                 "uid": 0, "gid": 0}]


# case -> (how the default config.json is edited, what MISSING lists against gophernetes for it)
CASES: dict[str, tuple[Callable[..., None], tuple[str, ...]]] = {
    "default": (lambda spec: None, ("default devices",)),
    "user, cwd, env, umask": (with_user, ("default devices", "user switch")),
    "capabilities": (with_capabilities, ("default devices", "inheritable and ambient caps")),
    "rlimits and oom_score_adj": (with_rlimits_and_oom, ("default devices", "oomScoreAdj")),
    "namespaces, hostname, writable root, masked paths": (with_namespaces, ("default devices", "writable root")),
    "devices": (with_devices, ("default devices", "linux.devices")),
}


def run_bundle(runtime, bundle: Path, cgroup_parent: str) -> subprocess.CompletedProcess:
    container_id = f"diff-{uuid.uuid4().hex[:8]}"
    config = json.loads((bundle / "config.json").read_text())
    config["linux"]["cgroupsPath"] = f"/{cgroup_parent}/{container_id}"
    (bundle / "config.json").write_text(json.dumps(config))
    return runtime("run", "--bundle", str(bundle), container_id, timeout=60)


def observe(runtimes, spec: dict, tmp_path: Path, cgroup_parent: str) -> dict[str, list[str]]:
    seen = {}
    for runtime_name in ("runc", "gophernetes"):
        bundle = tmp_path / runtime_name
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(copy.deepcopy(spec)))
        result = run_bundle(runtimes[runtime_name], bundle, cgroup_parent)
        seen[runtime_name] = [f"exit {result.returncode}", *result.stdout.splitlines()]
        if runtime_name == "runc":
            assert result.returncode == 0, f"the case is wrong, runc refuses it: {result.stderr}"
    return seen


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_bundle_observes_the_same(case, runtimes, rootfs, tmp_path, cgroup_parent, lifecycle_or_xfail,
                                           gophernetes_lacks):
    edit, missing = CASES[case]
    gophernetes_lacks(*missing)
    spec = base(rootfs)
    edit(spec)
    seen = observe(runtimes, spec, tmp_path, cgroup_parent)
    assert seen["gophernetes"] == seen["runc"]


def test_mounts_bind_and_tmpfs_with_their_options(runtimes, rootfs, tmp_path, cgroup_parent, lifecycle_or_xfail,
                                                  gophernetes_lacks):
    gophernetes_lacks("default devices")
    data = tmp_path / "data"
    data.mkdir()
    (data / "file").write_text("from the host\n")
    spec = base(rootfs)
    with_mounts(spec, data)
    spec["process"]["args"][2] += "cat /data/file; touch /data/new 2>/dev/null || echo 'data: read-only'\n"
    seen = observe(runtimes, spec, tmp_path, cgroup_parent)
    assert "from the host" in seen["runc"] and "data: read-only" in seen["runc"]
    assert seen["gophernetes"] == seen["runc"]


def test_hooks_run_at_their_moments_with_the_state_on_stdin(runtimes, rootfs, tmp_path, cgroup_parent,
                                                            lifecycle_or_xfail, gophernetes_lacks):
    """Each hook appends its stage, the status it was told, and whether it got a pid, to a file."""
    gophernetes_lacks("exec without CAP_SETGID")
    journals = {}
    for runtime_name in ("runc", "gophernetes"):
        journal = tmp_path / f"{runtime_name}.journal"
        hook = tmp_path / f"{runtime_name}-hook"
        hook.write_text(f"#!/bin/sh\nstate=$(cat)\nstatus=$(echo \"$state\" | grep -o '\"status\": *\"[a-z]*\"')\n"
                        f"pid=$(echo \"$state\" | grep -c '\"pid\": *[1-9]')\n"
                        f"echo \"$1 $status pid=$pid env=$HOOK_ENV\" >> {journal}\n")
        hook.chmod(0o755)
        spec = base(rootfs)
        spec["process"]["args"] = ["/bin/cat", "/dev/shm/started"]
        spec["hooks"] = {stage: [{"path": str(hook), "args": ["hook", stage], "env": [f"HOOK_ENV={stage}-env"],
                                  "timeout": 10}]
                         for stage in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                                       "poststop")}
        # startContainer runs in the container (a path there); what it leaves, the process shows
        spec["hooks"]["startContainer"][0]["path"] = "/bin/sh"
        spec["hooks"]["startContainer"][0]["args"] = [
            "sh", "-c", "grep -q '\"status\":\"created\"' && echo \"started in $(hostname)\" > /dev/shm/started"]
        bundle = tmp_path / runtime_name
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(spec))
        result = run_bundle(runtimes[runtime_name], bundle, cgroup_parent)
        journals[runtime_name] = (result.returncode, result.stdout,
                                  journal.read_text().splitlines() if journal.exists() else [])
    assert journals["runc"][:2] == (0, "started in gophernetes\n") and len(journals["runc"][2]) == 5, journals["runc"]
    assert journals["gophernetes"] == journals["runc"]


def test_create_container_hooks_run_in_the_containers_namespaces_before_pivot_root(
        runtimes, rootfs, tmp_path, cgroup_parent, lifecycle_or_xfail):
    """A createContainer hook (config.md: after the mounts, before pivot_root, in the container's
    namespaces, its path resolved in the runtime's) writes what it sees: whose namespaces it is
    in, the container's mounts under the root filesystem, its folder and the state it read."""
    views = {}
    for runtime_name in ("runc", "gophernetes"):
        view = tmp_path / f"{runtime_name}.view"
        hook = tmp_path / f"{runtime_name}-hook"
        same_namespace = "".join(f"[ \"$(readlink /proc/self/ns/{ns})\" = '{os.readlink(f'/proc/self/ns/{ns}')}' ] "
                                 f"&& echo '{ns}: as the runtime' || echo '{ns}: another'\n"
                                 for ns in ("mnt", "pid", "net", "uts", "ipc"))
        # the v1 hierarchies under /sys/fs/cgroup differ (README, known differences), as in OBSERVE
        mounts = ("awk -v root=\"$(pwd)\" 'index($2, root) == 1 && index($2, root \"/sys/fs/cgroup/\") != 1 "
                  "{print \"mount:\", substr($2, length(root) + 1), $3}' /proc/self/mounts\n")
        hook.write_text(f"#!/bin/sh\nexec > {view}\nstate=$(cat)\n"
                        "echo \"state: $(echo \"$state\" | grep -o '\"status\": *\"[a-z]*\",\"pid\":[0-9]*')\"\n"
                        f"{same_namespace}echo \"cwd: $(pwd)\"\n{mounts}")
        hook.chmod(0o755)
        spec = base(rootfs)
        spec["process"]["args"] = ["/bin/true"]
        spec["hooks"] = {"createContainer": [{"path": str(hook), "timeout": 10}]}
        bundle = tmp_path / runtime_name
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(spec))
        result = run_bundle(runtimes[runtime_name], bundle, cgroup_parent)
        views[runtime_name] = [f"exit {result.returncode}", *(view.read_text().splitlines() if view.exists() else [])]
    assert "mnt: another" in views["runc"] and "mount: /proc proc" in views["runc"], views["runc"]
    assert views["gophernetes"] == views["runc"], "\n".join(views["gophernetes"] + ["--- runc"] + views["runc"])


# What a process can do with its capabilities: its five sets, and binding a privileged port.
CAPABILITIES_OBSERVE = r"""
echo "id: $(id)"
grep -E '^Cap' /proc/self/status
nc -l -p 80 2>/dev/null & sleep 0.3
kill $! 2>/dev/null && echo "port 80: bound" || echo "port 80: refused"
"""
BIND = ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"]
NON_ROOT_WITH_CAPABILITIES = {
    "user": {"uid": 1000, "gid": 1000}, "noNewPrivileges": False,
    "capabilities": {"bounding": BIND, "effective": BIND, "permitted": BIND, "inheritable": BIND[:1],
                     "ambient": BIND[:1]}}


def test_a_non_root_init_keeps_the_capabilities_it_is_given(runtimes, rootfs, tmp_path, cgroup_parent,
                                                             lifecycle_or_xfail):
    """runc keeps the permitted set across setuid (PR_SET_KEEPCAPS) and applies the five sets:
    uid 1000 with CAP_NET_BIND_SERVICE in ambient binds port 80 in its own netns."""
    spec = base(rootfs)
    spec["process"].update(NON_ROOT_WITH_CAPABILITIES, args=["/bin/sh", "-c", CAPABILITIES_OBSERVE])
    seen = observe(runtimes, spec, tmp_path, cgroup_parent)
    assert "port 80: bound" in seen["runc"] and "CapAmb:\t0000000000000400" in seen["runc"], seen["runc"]
    assert seen["gophernetes"] == seen["runc"]


# how the exec is asked for: (options, command after the container's ID)
EXEC_WAYS = {
    "process.json": lambda process_file: (["--process", str(process_file)], []),
    "exec --user --cap": lambda _: (["--user", "1000:1000", "--cap", "CAP_NET_BIND_SERVICE"],
                                    ["/bin/sh", "-c", CAPABILITIES_OBSERVE]),
}


def exec_under_both(runtimes, rootfs, tmp_path, cgroup_parent, container_env, process, ask) -> dict:
    """Under runc, then gophernetes: a container sleeping with `container_env` (or the base
    spec's), `process` written as process.json, then `exec` with the options and command
    `ask(process_file)` gives. What each printed: exit status, stdout, stderr's last line."""
    seen = {}
    for runtime_name in ("runc", "gophernetes"):
        runtime, bundle = runtimes[runtime_name], tmp_path / runtime_name
        bundle.mkdir()
        spec = base(rootfs)
        spec["process"]["args"] = ["/bin/sleep", "300"]
        if container_env is not None:
            spec["process"]["env"] = container_env
        container_id = f"exec-{uuid.uuid4().hex[:8]}"
        spec["linux"]["cgroupsPath"] = f"/{cgroup_parent}/{container_id}"
        (bundle / "config.json").write_text(json.dumps(spec))
        (bundle / "process.json").write_text(json.dumps(process(spec)))
        started = runtime("run", "--detach", "--bundle", str(bundle), container_id)
        assert started.returncode == 0, started.stderr
        try:
            options, command = ask(bundle / "process.json")
            done = runtime("exec", *options, container_id, *command)
            seen[runtime_name] = [f"exit {done.returncode}", *done.stdout.splitlines(), *done.stderr.splitlines()[-1:]]
        finally:
            runtime("delete", "--force", container_id)
    return seen


@pytest.mark.parametrize("way", list(EXEC_WAYS))
def test_a_non_root_exec_keeps_the_capabilities_it_is_given(way, runtimes, rootfs, tmp_path, cgroup_parent,
                                                            lifecycle_or_xfail):
    """`exec` as uid 1000 of a process with CAP_NET_BIND_SERVICE: the same sets, and port 80, as under runc."""
    seen = exec_under_both(runtimes, rootfs, tmp_path, cgroup_parent, None,
                           lambda spec: {**spec["process"], **NON_ROOT_WITH_CAPABILITIES,
                                         "args": ["/bin/sh", "-c", CAPABILITIES_OBSERVE]},
                           EXEC_WAYS[way])
    # runc's `exec --cap` adds to ambient only when the container gives inheritable ones (here it
    # does not): its shell keeps no capability, and the port is refused to both
    assert ("port 80: bound" in seen["runc"]) == (way == "process.json"), seen["runc"]
    assert seen["gophernetes"] == seen["runc"], "\n".join(seen["gophernetes"] + ["--- runc"] + seen["runc"])


def test_a_process_file_is_the_whole_process(runtimes, rootfs, tmp_path, cgroup_parent, lifecycle_or_xfail):
    """`exec --process P.json` runs that process with only the env it lists (HOME added, as runc
    adds it); the capabilities it leaves out are the container's, as under runc."""
    process = {"args": ["/bin/sh", "-c", "env | sort; grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status"],
               "env": ["PATH=/bin", "FROM_FILE=1"], "cwd": "/", "user": {"uid": 0, "gid": 0}}
    seen = exec_under_both(runtimes, rootfs, tmp_path, cgroup_parent, ["PATH=/bin", "FROM_CONTAINER=1"],
                           lambda _spec: process, EXEC_WAYS["process.json"])
    assert "FROM_FILE=1" in seen["runc"] and "FROM_CONTAINER=1" not in seen["runc"], seen["runc"]
    assert seen["gophernetes"] == seen["runc"], "\n".join(seen["gophernetes"] + ["--- runc"] + seen["runc"])
