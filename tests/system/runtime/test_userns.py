"""--userns auto: root in the container is an unprivileged uid range of the host (issue 13, class 7).

Each test makes its own subordinate id range in temporary /etc/subuid and /etc/subgid
copies (GOPHERNETES_SUBUID, GOPHERNETES_SUBGID): the host's files are never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from support import build_busybox_rootfs

from gophernetes.linux import syscalls, userns

BASE = 2_100_000_000  # far above any real user, inside podman's suggested range
SIZE = 65536


@pytest.fixture
def state_root():
    """A state root the container's root can walk to (pytest's tmp_path sits in 0700 folders).

    The init of a remapped container binds its root and /etc/hosts as the container's root,
    which has no capability over host root's folders: every folder above must be o+x.
    """
    root = Path(tempfile.mkdtemp(prefix="gophernetes-userns-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def ids(tmp_path) -> dict:
    """Subid files granting `containers` room for four containers; the environment that names them."""
    for name in ("subuid", "subgid"):
        (tmp_path / name).write_text(f"alice:100000:65536\ncontainers:{BASE}:{4 * SIZE}\n")
    return {"GOPHERNETES_SUBUID": str(tmp_path / "subuid"), "GOPHERNETES_SUBGID": str(tmp_path / "subgid")}


@pytest.fixture
def rootfs(tmp_path) -> Path:
    """A busybox root with one file owned by uid/gid 1000, as images have."""
    root = tmp_path / "rootfs"
    root.mkdir()
    build_busybox_rootfs(root)
    (root / "home" / "user").mkdir(parents=True)
    (root / "home" / "user" / "notes").write_text("mine\n")
    os.chown(root / "home" / "user" / "notes", 1000, 1000)
    return root


def start(cli, ids, rootfs, *options: str, script: str = "sleep 300") -> dict:
    """A detached remapped container; its `inspect` as a dict."""
    result = cli("run", "-d", "--net", "none", "--userns", "auto", *options, "--rootfs", str(rootfs),
                 "/bin/sh", "-c", script, env=ids)
    assert result.returncode == 0, result.stderr
    return json.loads(cli("inspect", result.stdout.strip()).stdout)


def in_container(cli, info: dict, script: str, ids: dict | None = None) -> subprocess.CompletedProcess:
    return cli("exec", info["id"], "/bin/sh", "-c", script, env=ids)


def test_root_inside_is_an_unprivileged_uid_outside(cli, ids, rootfs):
    info = start(cli, ids, rootfs)
    inside = in_container(cli, info, "cat /proc/self/uid_map /proc/self/gid_map; id -u")
    assert inside.stdout.split() == ["0", str(BASE), str(SIZE), "0", str(BASE), str(SIZE), "0"], inside.stderr
    outside = subprocess.run(["ps", "-o", "user=", "-p", str(info["pid"])], capture_output=True, text=True)
    assert outside.stdout.strip() == str(BASE)
    assert info["details"]["userns"] == {"mode": "auto", "uid_map": f"0 {BASE} {SIZE}",
                                         "gid_map": f"0 {BASE} {SIZE}"}


def test_the_images_files_appear_owned_as_in_the_image_and_stay_untouched_on_disk(cli, ids, rootfs):
    result = cli("run", "--net", "none", "--userns", "auto", "--rootfs", str(rootfs), "/bin/sh", "-c",
                 "stat -c %u:%g /bin/busybox /home/user/notes; chown 0:0 /home/user/notes && echo chowned",
                 env=ids)
    assert result.stdout.split() == ["0:0", "1000:1000", "chowned"], result.stderr
    notes = (rootfs / "home" / "user" / "notes").stat()
    assert (notes.st_uid, notes.st_gid) == (1000, 1000)  # the change went to the overlay's upper layer
    assert (rootfs / "bin" / "busybox").stat().st_uid == 0


def test_what_the_containers_root_writes_belongs_to_the_range_on_the_host(cli, ids, rootfs, gophernetes):
    info = start(cli, ids, rootfs, script="echo hi > /made-by-root; chown 1000:1000 /home/user/notes; sleep 300")
    upper = gophernetes.state_root / "run" / "containers" / info["id"] / "upper"
    made = upper / "made-by-root"
    assert in_container(cli, info, "cat /made-by-root").stdout == "hi\n"
    assert (made.stat().st_uid, made.stat().st_gid) == (BASE, BASE)
    notes = (upper / "home" / "user" / "notes").stat()
    assert (notes.st_uid, notes.st_gid) == (BASE + 1000, BASE + 1000)


def bind_into(pid: int, source: Path, target: str) -> None:
    """Make the host folder `source` appear at `target` inside the container of `pid` (a test-made bind).

    A detached copy of the folder's mount (open_tree), carried into the container's mount
    namespace (setns) and attached there (move_mount): no idmap, so the files keep their host owners.
    """
    child = os.fork()
    if child == 0:
        try:
            mount = userns.open_tree(source)
            syscalls.setns(os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY), syscalls.CLONE_NEWNS)
            userns.move_mount(mount, target)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "could not bind the folder into the container"


@pytest.mark.parametrize("mode, readable", [("host", True), ("auto", False)])
def test_a_host_root_only_file_is_out_of_the_containers_roots_reach(cli, ids, rootfs, tmp_path, mode, readable):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("host root only\n")
    os.chmod(secret / "key", 0o600)
    result = cli("run", "-d", "--net", "none", "--userns", mode, "--rootfs", str(rootfs), "/bin/sh", "-c",
                 "mkdir /secret; sleep 300", env=ids)
    assert result.returncode == 0, result.stderr
    info = json.loads(cli("inspect", result.stdout.strip()).stdout)
    assert in_container(cli, info, "for i in 1 2 3 4 5 6 7 8 9 10; do [ -d /secret ] && break; sleep 0.1; done; "
                        "test -d /secret").returncode == 0
    bind_into(info["pid"], secret, "/secret")
    attempt = in_container(cli, info, "ls -ln /secret/key | awk '{print $3}'; cat /secret/key; "
                           "echo more >> /secret/key || echo refused")
    if readable:  # the default: the container's root is the host's root, capabilities and all
        assert "host root only" in attempt.stdout
    else:  # remapped: host root's files belong to nobody (65534), and root's capabilities stop at its namespace
        assert attempt.stdout.split()[0] == "65534"
        assert "host root only" not in attempt.stdout and "refused" in attempt.stdout
        assert "Permission denied" in attempt.stderr
        assert (secret / "key").read_text() == "host root only\n"


def test_running_containers_get_disjoint_ranges_and_rm_frees_one(cli, ids, rootfs):
    first, second = start(cli, ids, rootfs), start(cli, ids, rootfs)
    maps = [in_container(cli, info, "cat /proc/self/uid_map").stdout.split() for info in (first, second)]
    bases = sorted(int(m[1]) for m in maps)
    assert bases == [BASE, BASE + SIZE]
    assert cli("rm", "-f", first["id"]).returncode == 0
    third = start(cli, ids, rootfs)
    assert in_container(cli, third, "cat /proc/self/uid_map").stdout.split()[1] == maps[0][1]


def test_the_default_is_the_hosts_user_namespace(cli, rootfs):
    result = cli("run", "--net", "none", "--rootfs", str(rootfs), "/bin/sh", "-c",
                 "cat /proc/self/uid_map; readlink /proc/self/ns/user")
    assert result.stdout.split() == ["0", "0", "4294967295", os.readlink("/proc/self/ns/user")], result.stderr


def test_devices_and_terminals_work_in_a_remapped_container(cli, ids, rootfs):
    result = cli("run", "--net", "none", "--userns", "auto", "--rootfs", str(rootfs), "/bin/sh", "-c",
                 "echo gone > /dev/null && head -c 4 /dev/zero | wc -c; test -c /dev/pts/ptmx && echo ptmx",
                 env=ids)
    assert result.stdout.split() == ["4", "ptmx"], result.stderr


def test_the_default_image_runs_remapped_on_a_bridge(cli, ids):
    """The bridge, its rules and the veth are made in a network namespace of the test's own."""
    netns = f"gnu-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        result = subprocess.run(
            ["nsenter", f"--net=/run/netns/{netns}", sys.executable, "-m", "gophernetes", "run", "--userns", "auto",
             "busybox", "/bin/sh", "-c",
             "id -u; stat -c %u /bin/busybox; cat /etc/hostname >/dev/null && ip -o -4 addr | grep -c eth0"],
            capture_output=True, text=True, timeout=60, env={**cli.env, **ids})
    finally:
        subprocess.run(["ip", "netns", "delete", netns], check=False)
    assert result.stdout.split() == ["0", "0", "1"], result.stderr


def test_without_a_subuid_range_run_says_which_line_to_add(cli, rootfs, tmp_path):
    (tmp_path / "empty").write_text("")
    env = {"GOPHERNETES_SUBUID": str(tmp_path / "empty"), "GOPHERNETES_SUBGID": str(tmp_path / "empty")}
    result = cli("run", "--net", "none", "--userns", "auto", "--rootfs", str(rootfs), "/bin/true", env=env)
    assert result.returncode == 125
    assert result.stderr.count("\n") == 1 and "containers:2147483647:2147483648" in result.stderr


def test_a_state_root_the_containers_root_cannot_reach_is_refused_in_one_line(cli, ids, rootfs, tmp_path):
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    result = cli("--root", str(hidden / "state"), "run", "--net", "none", "--userns", "auto", "--rootfs", str(rootfs),
                 "/bin/true", env=ids)
    assert result.returncode == 125 and result.stderr.count("\n") == 1, result.stderr
    assert f"cannot pass {hidden}" in result.stderr or "cannot pass /tmp" in result.stderr
    assert not list((hidden / "state").glob("run/containers/[0-9a-f]*"))


def test_sharing_the_hosts_pid_namespace_is_refused_in_one_line(cli, ids, rootfs):
    result = cli("run", "--pid", "host", "--userns", "auto", "--rootfs", str(rootfs), "/bin/true", env=ids)
    assert result.returncode == 125 and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.skipif(shutil.which("ps") is None, reason="ps (procps) shows the container's user from outside")
def test_exec_joins_the_user_namespace_as_its_root(cli, ids, rootfs):
    info = start(cli, ids, rootfs)
    inside = in_container(cli, info, "readlink /proc/self/ns/user; id -u; sleep 30 >/dev/null 2>&1 & echo $!")
    namespace, uid, _ = inside.stdout.split()
    assert namespace == os.readlink(f"/proc/{info['pid']}/ns/user") and uid == "0"
    users = subprocess.run(["ps", "-o", "user=", "--ppid", str(info["pid"]), "-p", str(info["pid"])],
                           capture_output=True, text=True).stdout.split()
    assert set(users) == {str(BASE)}


def test_the_chowned_copy_keeps_what_overlayfs_reads(tmp_path):
    from gophernetes.runtime.userns_root import copy_shifted

    layer = tmp_path / "layer"
    (layer / "data").mkdir(parents=True)
    os.setxattr(layer / "data", "trusted.overlay.opaque", b"y")
    os.mknod(layer / "gone", 0o600 | stat.S_IFCHR, 0)  # a whiteout
    (layer / "tool").write_text("#!/bin/sh\n")
    os.chown(layer / "tool", 1000, 1000)
    os.chmod(layer / "tool", 0o4755)
    os.link(layer / "tool", layer / "data" / "tool-link")
    os.symlink("tool", layer / "link")
    copy = tmp_path / "copy"
    copy_shifted(layer, copy, BASE, BASE + 7)
    tool = (copy / "tool").lstat()
    assert (tool.st_uid, tool.st_gid, stat.S_IMODE(tool.st_mode)) == (BASE + 1000, BASE + 7 + 1000, 0o4755)
    assert tool.st_ino == (copy / "data" / "tool-link").lstat().st_ino
    assert os.getxattr(copy / "data", "trusted.overlay.opaque") == b"y"
    gone = (copy / "gone").lstat()
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0 and gone.st_uid == BASE
    assert os.readlink(copy / "link") == "tool" and (copy / "link").lstat().st_uid == BASE
    assert (copy.stat().st_uid, (layer / "tool").stat().st_uid) == (BASE, 1000)


@pytest.mark.parametrize("layers", ["idmap", "copy"])
def test_both_ways_of_showing_the_layers_give_the_same_container(cli, ids, rootfs, layers):
    os.mknod(rootfs / "etc" / "deleted", 0o600 | stat.S_IFCHR, 0)  # a whiteout in the layer: absent inside
    result = cli("run", "--net", "none", "--userns", "auto", "--rootfs", str(rootfs), "/bin/sh", "-c",
                 "stat -c %u:%g /bin/busybox /home/user/notes; test -e /etc/deleted || echo no-whiteout; "
                 "echo x >> /home/user/notes && echo appended", env={**ids, "GOPHERNETES_USERNS_LAYERS": layers})
    assert result.stdout.split() == ["0:0", "1000:1000", "no-whiteout", "appended"], result.stderr
    assert (rootfs / "home" / "user" / "notes").read_text() == "mine\n"
