"""cp and top with a remapped container (--userns auto): what is copied in belongs to the
container's root, which is an unprivileged uid on the host, and top shows that uid."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from support import build_busybox_rootfs

BASE = 2_100_000_000
SIZE = 65536


@pytest.fixture
def state_root():
    """A state root the remapped root can walk to (pytest's tmp_path sits in 0700 folders)."""
    root = Path(tempfile.mkdtemp(prefix="gophernetes-userns-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cli(gophernetes, tmp_path):
    """The CLI with subid files of the test's own; every container removed afterwards."""
    for name in ("subuid", "subgid"):
        (tmp_path / name).write_text(f"containers:{BASE}:{SIZE}\n")
    ids = {"GOPHERNETES_SUBUID": str(tmp_path / "subuid"), "GOPHERNETES_SUBGID": str(tmp_path / "subgid")}

    def run(*args: str, **options):
        return gophernetes(*args, env=ids, **options)

    run.env = {**gophernetes.env, **ids}
    yield run
    listed = run("list", "--all", "--quiet").stdout.split()
    if listed:
        run("rm", "--force", *listed)


def test_files_copied_in_belong_to_the_containers_root(cli, tmp_path):
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    build_busybox_rootfs(rootfs)
    started = cli("run", "-d", "--net", "none", "--userns", "auto", "--name", "mapped", "--rootfs", str(rootfs),
                  "/bin/sleep", "600")
    assert started.returncode == 0, started.stderr
    note = tmp_path / "note"
    note.write_text("hello\n")
    assert cli("cp", str(note), "mapped:/tmp/note").returncode == 0
    seen = cli("exec", "mapped", "/bin/sh", "-c", "stat -c '%u %g' /tmp/note; echo more >> /tmp/note && echo ok")
    assert seen.stdout == "0 0\nok\n", seen.stderr  # its root owns it, and may change it
    assert cli("top", "mapped").stdout.splitlines()[1].split()[1] == str(BASE)  # no host name for that uid


def test_files_copied_into_a_stopped_remapped_container_belong_to_its_root(cli, tmp_path):
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    build_busybox_rootfs(rootfs)
    script = "stat -c '%u %g' /tmp/note 2>/dev/null && echo more >> /tmp/note && cat /tmp/note; true"
    made = cli("run", "-d", "--net", "none", "--userns", "auto", "--name", "mapped", "--rootfs", str(rootfs),
               "/bin/sh", "-c", script)
    assert made.returncode == 0, made.stderr
    cli("wait", "mapped")
    note = tmp_path / "note"
    note.write_text("hello\n")
    copied = cli("cp", str(note), "mapped:/tmp/note")
    assert copied.returncode == 0, copied.stderr
    assert cli("start", "mapped").returncode == 0
    cli("wait", "mapped")
    assert cli("logs", "mapped").stdout == "0 0\nhello\nmore\n"  # its root owns the file, and may change it
    assert not (rootfs / "tmp" / "note").exists()  # the --rootfs folder is a lower layer: never written
