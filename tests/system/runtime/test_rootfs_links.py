"""Hostile root filesystems: links and ".." in the image must never lead the runtime out of the root.

Before pivot_root the runtime writes /etc files, makes the working directory and mounts
/proc, /sys and /dev inside the root — while it still sees the host. Each test builds a
root whose paths point at a host folder, runs it, and checks the host folder stays empty.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def hostile(busybox_rootfs, tmp_path) -> tuple[Path, Path]:
    """A private copy of the busybox root (to spoil at will) and an empty host folder to aim at."""
    root = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    host = tmp_path / "host-folder"
    host.mkdir()
    return root, host


def run(gophernetes, root: Path, script: str, *options: str):
    return gophernetes("run", "--net", "none", *options, "--rootfs", str(root), "/bin/sh", "-c", script)


def climb(root: Path, target: Path) -> str:
    """A relative link target from ROOT/etc that climbs out of the root to `target`."""
    return "../" * (len(root.parts) + 2) + str(target).lstrip("/")


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_etc_linking_to_a_host_folder_gets_its_files_inside_the_root(gophernetes, hostile, kind):
    root, host = hostile
    shutil.rmtree(root / "etc")
    (root / "etc").symlink_to(host if kind == "absolute" else climb(root, host))
    result = run(gophernetes, root, "cat /etc/hostname", "--hostname", "inside")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "inside\n"
    assert list(host.iterdir()) == []


def test_etc_hosts_linking_out_of_the_root_is_replaced_not_written_through(gophernetes, hostile):
    root, host = hostile
    victim = host / "victim"
    victim.write_text("host data\n")
    (root / "etc" / "hosts").symlink_to(climb(root, victim))
    result = run(gophernetes, root, "grep -c localhost /etc/hosts")
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "host data\n"


def test_working_directory_with_dot_dot_stays_inside_the_root(gophernetes, hostile, tmp_path):
    root, host = hostile
    workdir = "/.." * (len(root.parts) + 2) + str(host / "made-by-workdir")
    result = run(gophernetes, root, "pwd", "--workdir", workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(host / "made-by-workdir")  # the same name, inside the container
    assert list(host.iterdir()) == []


def test_working_directory_through_a_link_stays_inside_the_root(gophernetes, hostile):
    root, host = hostile
    (root / "app").symlink_to(host)
    result = run(gophernetes, root, "pwd", "--workdir", "/app/sub/dir")
    assert result.returncode == 0, result.stderr
    assert list(host.iterdir()) == []


@pytest.mark.parametrize("name", ["dev", "proc", "sys"])
def test_a_kernel_mount_point_that_is_a_link_is_refused_in_one_line(gophernetes, hostile, name):
    root, host = hostile
    marker = host / "keep"
    marker.write_text("x")
    if (root / name).exists():
        os.rmdir(root / name)
    (root / name).symlink_to(host)
    result = run(gophernetes, root, "echo ran")
    assert result.returncode == 125
    assert "ran" not in result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and f"/{name}" in result.stderr
    assert sorted(p.name for p in host.iterdir()) == ["keep"]
