"""Bind mounts, volumes and tmpfs with real containers: each is one mount in the container's own
mount namespace, its target resolved inside the root. The host's folders used here are the
test's own temporary ones; /etc is only ever checked for what must NOT appear in it."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
from support import build_busybox_rootfs


@pytest.fixture
def shared(tmp_path) -> Path:
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "note").write_text("from the host\n")
    return folder


def run(cli, *args: str):
    return cli("run", "--net", "none", *args)


def test_a_bind_mount_shows_the_host_folder_and_writes_reach_it(cli, shared):
    result = run(cli, "-v", f"{shared}:/data", "busybox", "sh", "-c", "cat /data/note; echo back > /data/reply")
    assert (result.returncode, result.stdout) == (0, "from the host\n"), result.stderr
    assert (shared / "reply").read_text() == "back\n"


def test_a_read_only_bind_cannot_be_written_nor_remounted_writable(cli, shared):
    script = ("touch /data/x; echo touch=$?; mount -o remount,rw /data; echo remount=$?; "
              "mount -o remount,rw,bind /data; echo rebind=$?; touch /data/x; echo again=$?")
    result = run(cli, "-v", f"{shared}:/data:ro", "busybox", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    assert "Read-only file system" in result.stderr
    codes = dict(line.split("=") for line in result.stdout.split())
    assert codes["touch"] != "0" and codes["remount"] != "0" and codes["rebind"] != "0" and codes["again"] != "0"
    assert sorted(os.listdir(shared)) == ["note"]


def test_mount_readonly_is_the_same_read_only_bind(cli, shared):
    result = run(cli, "--mount", f"type=bind,source={shared},target=/data,readonly", "busybox",
                 "sh", "-c", "cat /data/note && ! touch /data/x 2>/dev/null && grep ' /data ' /proc/mounts")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("from the host\n") and " ro," in result.stdout


def test_a_missing_host_path_is_refused_in_one_line_and_nothing_is_made(cli, tmp_path):
    missing = tmp_path / "not-there"
    result = run(cli, "-v", f"{missing}:/data", "busybox", "true")
    assert result.returncode == 125
    assert result.stderr.strip().splitlines() == [
        f"gophernetes: bind mount source {missing} does not exist on the host: create it first "
        "(gophernetes does not create it, unlike docker's -v)"]
    assert not missing.exists()
    assert cli("list", "--all", "--quiet").stdout == ""


def test_an_image_link_to_etc_never_leads_the_mount_to_the_hosts_etc(cli, shared, tmp_path):
    """The image says /evil -> /etc and /up -> ../../../../etc: the mount lands in the container's
    own /etc, never the host's, and the host's mount table does not change."""
    rootfs = tmp_path / "evil-rootfs"
    build_busybox_rootfs(rootfs)
    (rootfs / "evil").symlink_to("/etc")
    (rootfs / "up").symlink_to("../../../../etc")
    name = f"gophernetes-attack-{uuid.uuid4().hex[:8]}"
    with open("/proc/self/mountinfo") as file:
        before = file.read()
    try:
        result = cli("run", "--net", "none", "--rootfs", str(rootfs), "-v", f"{shared}:/evil/{name}",
                     "-v", f"{shared}:/up/{name}-up", "/bin/sh", "-c", f"cat /etc/{name}/note /etc/{name}-up/note")
        assert (result.returncode, result.stdout) == (0, "from the host\n" * 2), result.stderr
        assert not Path("/etc", name).exists() and not Path("/etc", f"{name}-up").exists()
        with open("/proc/self/mountinfo") as file:
            assert file.read().count(name) == before.count(name) == 0
        assert not (rootfs / "etc" / name).exists()  # the image's folder is a lower layer: never written
    finally:
        for leftover in (Path("/etc", name), Path("/etc", f"{name}-up")):  # only if the test failed
            if leftover.is_dir() and not os.path.ismount(leftover):
                shutil.rmtree(leftover)


def test_a_mount_made_inside_the_container_does_not_reach_the_host(cli, shared):
    """Private propagation: even a privileged container's mount on the bound folder stays its own."""
    (shared / "sub").mkdir()
    result = run(cli, "--privileged", "-v", f"{shared}:/data", "busybox", "sh", "-c",
                 "mount -t tmpfs none /data/sub && echo inside > /data/sub/f && cat /data/sub/f")
    assert (result.returncode, result.stdout) == (0, "inside\n"), result.stderr
    assert os.listdir(shared / "sub") == []
    with open("/proc/self/mountinfo") as file:
        assert str(shared) not in file.read()


def test_tmpfs_has_its_size_and_is_noexec(cli):
    script = ("grep ' /scratch ' /proc/mounts; stat -c %a /scratch; "
              "dd if=/dev/zero of=/scratch/big bs=1k count=5000 2>&1 | grep -o 'No space left on device'; "
              "rm -f /scratch/big; cp /bin/busybox /scratch/bb; /scratch/bb true; echo exec=$?")
    result = run(cli, "--tmpfs", "/scratch:size=4m,mode=750", "busybox", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    mount_line, mode = result.stdout.splitlines()[:2]
    assert mount_line.startswith("tmpfs /scratch tmpfs ") and "size=4096k" in mount_line
    assert "noexec" in mount_line and "nosuid" in mount_line and mode == "750"
    assert "No space left on device" in result.stdout
    assert result.stdout.strip().endswith("exec=126")


def test_read_only_container_writes_only_where_a_tmpfs_is(cli):
    result = run(cli, "--read-only", "--tmpfs", "/tmp", "busybox", "sh", "-c",
                 "touch /root-file; echo root=$?; touch /tmp/ok; echo tmp=$?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["root=1", "tmp=0"]
    assert "Read-only file system" in result.stderr


def test_a_named_volume_is_made_filled_from_the_image_shared_and_kept(cli):
    assert run(cli, "-d", "--name", "writer", "-v", "conf:/etc", "busybox", "sh", "-c",
               "echo shared > /etc/note; sleep 600").returncode == 0
    inspect = json.loads(cli("volume", "inspect", "conf").stdout)[0]
    data = Path(inspect["Mountpoint"])
    assert data == cli.state_root / "lib" / "volumes" / "conf" / "_data"
    assert (data / "passwd").read_text().startswith("root:")  # the image's /etc, copied in (docker's copy-up)
    reader = run(cli, "-v", "conf:/mnt:ro", "busybox", "sh", "-c", "sleep 0.2; cat /mnt/note")
    assert (reader.returncode, reader.stdout) == (0, "shared\n"), reader.stderr
    assert inspect["Containers"] == ["writer"]
    refused = cli("volume", "rm", "conf")
    assert refused.returncode != 0 and "in use by container writer" in refused.stderr
    assert cli("rm", "-f", "-v", "writer").returncode == 0  # -v: anonymous volumes only
    assert (data / "note").read_text() == "shared\n"
    assert cli("volume", "ls", "-q").stdout == "conf\n"
    assert cli("volume", "rm", "conf").stdout == "conf\n"
    assert not data.exists() and cli("volume", "ls", "-q").stdout == ""


def test_nocopy_leaves_a_new_volume_empty(cli):
    result = run(cli, "--mount", "type=volume,source=empty,target=/etc,volume-nocopy", "busybox", "ls", "-A", "/etc")
    assert (result.returncode, result.stdout) == (0, "hostname\nhosts\n"), result.stderr  # ours, bound over it


def test_anonymous_volumes_go_with_rm_v_or_prune_and_named_ones_stay(cli):
    assert run(cli, "-d", "--name", "one", "-v", "/cache", "busybox", "true").returncode == 0
    assert run(cli, "-d", "--name", "two", "-v", "/cache", "-v", "keep:/keep", "busybox", "true").returncode == 0
    volumes = {v["Name"]: v for v in json.loads(cli("volume", "inspect", *cli("volume", "ls", "-q").stdout.split())
                                                    .stdout)}
    anonymous = sorted(name for name, v in volumes.items() if v["Anonymous"])
    assert len(anonymous) == 2 and "keep" in volumes
    cli("wait", "one")
    cli("wait", "two")
    assert cli("rm", "-v", "one").returncode == 0
    assert cli("rm", "two").returncode == 0
    left = set(cli("volume", "ls", "-q").stdout.split())
    assert "keep" in left and len(left & set(anonymous)) == 1  # two's survived its plain rm
    pruned = cli("volume", "prune", "-f").stdout.split()
    assert pruned == sorted(left & set(anonymous))
    assert cli("volume", "ls", "-q").stdout == "keep\n"
    assert cli("volume", "prune", "-f", "--all").stdout == "keep\n"


def test_a_foreground_run_takes_its_anonymous_volume_with_it(cli):
    assert run(cli, "-v", "/scratch", "busybox", "touch", "/scratch/x").returncode == 0
    assert cli("volume", "ls", "-q").stdout == ""


def test_volume_commands_say_what_is_wrong(cli):
    missing = cli("volume", "inspect", "nope")
    assert (missing.returncode, missing.stderr) == (125, "gophernetes: no such volume: nope\n")
    bad = cli("volume", "create", "a/b")
    assert bad.returncode == 125 and "not a volume name" in bad.stderr
