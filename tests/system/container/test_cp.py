"""cp between the host and a running or stopped container, and the attacks on it: a link the container
made, "..", and a directory swapped for a link while we copy. Every container path must
resolve inside the container's root; the host's files are decoys under the test's own
temporary folder (only /etc/shadow is ever named, and only to be read)."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.fixture
def box(cli) -> str:
    """A running container called box."""
    result = cli("run", "-d", "--net", "none", "--name", "box", "busybox", "sleep", "600")
    assert result.returncode == 0, result.stderr
    return "box"


@pytest.fixture
def decoy(tmp_path) -> Path:
    """A host folder with a secret that no copy may read or change."""
    folder = tmp_path / "host-only"
    folder.mkdir()
    (folder / "secret").write_text("host\n")
    return folder


def sh(cli, container: str, script: str) -> str:
    result = cli("exec", container, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_file_goes_in_and_comes_back_with_its_mode(cli, box, tmp_path):
    source = tmp_path / "tool.sh"
    source.write_text("#!/bin/sh\necho hi\n")
    source.chmod(0o750)
    assert cli("cp", str(source), "box:/usr/").returncode == 0
    assert sh(cli, box, "/usr/tool.sh; stat -c '%a %u' /usr/tool.sh") == "hi\n750 0\n"
    assert cli("cp", "box:/usr/tool.sh", str(tmp_path / "back.sh")).returncode == 0
    assert (tmp_path / "back.sh").read_text() == source.read_text()
    assert stat.S_IMODE((tmp_path / "back.sh").stat().st_mode) == 0o750


def test_a_folder_is_copied_whole_and_its_links_stay_links(cli, box, tmp_path):
    tree = tmp_path / "site"
    (tree / "css").mkdir(parents=True)
    (tree / "index.html").write_text("<h1>hi</h1>\n")
    (tree / "css" / "main.css").write_text("h1 {}\n")
    (tree / "home.html").symlink_to("index.html")
    assert cli("cp", str(tree), "box:/srv").returncode == 0  # /srv does not exist: the folder becomes /srv
    assert sh(cli, box, "cat /srv/home.html /srv/css/main.css; readlink /srv/home.html") == \
        "<h1>hi</h1>\nh1 {}\nindex.html\n"
    out = tmp_path / "out"
    out.mkdir()
    assert cli("cp", "box:/srv", str(out)).returncode == 0  # an existing folder: copied into it
    assert (out / "srv" / "css" / "main.css").read_text() == "h1 {}\n"
    assert os.readlink(out / "srv" / "home.html") == "index.html"


def test_what_the_container_wrote_in_its_own_mounts_can_be_copied_out(cli, box, tmp_path):
    sh(cli, box, "echo in-a-mount > /dev/shm/note")  # /dev is a tmpfs of the container's mount namespace
    assert cli("cp", "box:/dev/shm/note", str(tmp_path)).returncode == 0
    assert (tmp_path / "note").read_text() == "in-a-mount\n"


def test_a_link_to_the_hosts_shadow_file_is_followed_inside_the_container(cli, box, tmp_path):
    sh(cli, box, "ln -s /etc/shadow /leak; ln -s ../../../../../../etc/shadow /tmp/leak2")
    for link in ("box:/leak", "box:/tmp/leak2"):
        result = cli("cp", link, str(tmp_path / "stolen"))
        assert result.returncode == 125
        assert "no such file or directory" in result.stderr and "(in the container)" in result.stderr
        assert not (tmp_path / "stolen").exists()


def test_dot_dot_never_climbs_out_of_the_root(cli, box, decoy, tmp_path):
    climb = "box:" + "/.." * 20 + str(decoy / "secret")
    result = cli("cp", climb, str(tmp_path / "stolen"))
    assert result.returncode == 125 and "no such file or directory" in result.stderr
    assert not (tmp_path / "stolen").exists()


def test_writing_through_a_link_lands_in_the_container_never_on_the_host(cli, box, decoy, tmp_path):
    before = hashlib.sha256((decoy / "secret").read_bytes()).hexdigest()
    sh(cli, box, f"ln -s {decoy}/secret /target; ln -s {decoy} /folder")
    payload = tmp_path / "payload"
    payload.write_text("owned\n")
    assert cli("cp", str(payload), "box:/target").returncode == 0  # the link is replaced, not followed
    result = cli("cp", str(payload), "box:/folder/secret")  # /folder leads nowhere inside the root
    assert result.returncode == 125 and "no such directory" in result.stderr
    assert hashlib.sha256((decoy / "secret").read_bytes()).hexdigest() == before
    assert sh(cli, box, "cat /target; test -L /target || echo not-a-link") == "owned\nnot-a-link\n"


def test_a_directory_swapped_for_a_link_during_the_copies_never_leads_out(cli, box, decoy, tmp_path):
    """The container flips /tmp/race between a real folder and a link to the host folder,
    as fast as it can, while we copy out of and into it many times. Whatever the timing,
    a copy either uses the container's folder or fails; the host's secret is never read
    nor written (a copy that joined the path as text would hit it whenever the link is
    in place)."""
    sh(cli, box, "mkdir /tmp/race && echo container > /tmp/race/secret")
    flipper = subprocess.Popen(
        [sys.executable, "-m", "gophernetes", "exec", "box", "sh", "-c",
         f"while :; do mv /tmp/race /tmp/hold; ln -s {decoy} /tmp/race; rm /tmp/race; mv /tmp/hold /tmp/race; "
         "done"], env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    payload = tmp_path / "payload"
    payload.write_text("owned\n")
    outcomes = []
    try:
        time.sleep(0.5)
        for attempt in range(25):
            out = tmp_path / f"out{attempt}"
            if cli("cp", "box:/tmp/race/secret", str(out)).returncode == 0:
                outcomes.append(out.read_text())
            cli("cp", str(payload), "box:/tmp/race/secret")
    finally:
        flipper.kill()
        flipper.wait()
    assert "host\n" not in outcomes
    assert set(outcomes) <= {"container\n", "owned\n"}
    assert (decoy / "secret").read_text() == "host\n" and sorted(os.listdir(decoy)) == ["secret"]


def test_a_setuid_program_comes_out_without_its_setuid_bit(cli, box, tmp_path):
    sh(cli, box, "cp /bin/busybox /suid && chmod 4755 /suid")
    assert cli("cp", "box:/suid", str(tmp_path / "suid")).returncode == 0
    assert stat.S_IMODE((tmp_path / "suid").stat().st_mode) == 0o755


def test_a_fifo_is_refused_without_hanging(cli, box, tmp_path):
    sh(cli, box, "mkfifo /pipe")
    result = cli("cp", "box:/pipe", str(tmp_path / "pipe"), timeout=20)
    assert result.returncode == 125
    assert result.stderr.strip() == "gophernetes: /pipe (in the container) is not a regular file or a directory"


def test_bad_copies_are_one_line(cli, box, tmp_path):
    both = cli("cp", "box:/a", "box:/b")
    assert (both.returncode, both.stderr.strip()) == (125, "gophernetes: copying between containers is not "
                                                           "supported: copy to the host, then into the other")
    neither = cli("cp", str(tmp_path), str(tmp_path / "x"))
    assert neither.returncode == 125 and "CONTAINER:PATH" in neither.stderr
    missing = cli("cp", str(tmp_path / "nope"), "box:/tmp")
    assert missing.returncode == 125 and f"no such file or directory: {tmp_path / 'nope'}" in missing.stderr


@pytest.fixture
def stopped(cli) -> str:
    """A container that wrote a file and a hostile link in its writable layer, then exited."""
    script = "echo written > /note; ln -s /etc/shadow /leak; ln -s .. /up; rm /bin/true"
    result = cli("run", "-d", "--net", "none", "--name", "done", "busybox", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    assert cli("wait", "done").stdout == "0\n"
    return "done"


def test_a_stopped_containers_files_come_out_with_what_it_wrote(cli, stopped, tmp_path):
    assert cli("cp", "done:/note", str(tmp_path / "note")).returncode == 0
    assert (tmp_path / "note").read_text() == "written\n"  # its upper layer
    assert cli("cp", "done:/etc/passwd", str(tmp_path)).returncode == 0  # the image's layer
    assert (tmp_path / "passwd").read_text().startswith("root:")
    missing = cli("cp", "done:/bin/true", str(tmp_path))  # deleted: overlay's whiteout hides it
    assert missing.returncode == 125 and "no such file or directory: /bin/true (in the container)" in missing.stderr
    container_id = cli("inspect", "-f", "{{.Id}}", "done").stdout.strip()
    assert container_id and f"{container_id}/rootfs" not in Path("/proc/self/mountinfo").read_text()


def test_a_file_copied_into_a_stopped_container_is_there_when_it_starts(cli, tmp_path):
    script = "cat /etc/greeting 2>/dev/null || echo none; stat -c '%a %u' /etc/greeting 2>/dev/null; true"
    assert cli("run", "-d", "--net", "none", "--name", "later", "busybox", "sh", "-c", script).returncode == 0
    cli("wait", "later")
    payload = tmp_path / "greeting"
    payload.write_text("hello\n")
    payload.chmod(0o640)
    assert cli("cp", str(payload), "later:/etc/").returncode == 0
    assert cli("start", "later").returncode == 0
    cli("wait", "later")
    assert cli("logs", "later").stdout == "none\nhello\n640 0\n"
    fresh = cli("run", "--rm", "--net", "none", "busybox", "sh", "-c", script)
    assert fresh.stdout == "none\n"  # the image itself is not changed


def test_a_stopped_containers_links_never_lead_to_the_host(cli, stopped, tmp_path):
    stolen = cli("cp", "done:/leak", str(tmp_path / "stolen"))  # /etc/shadow of the container: it has none
    assert stolen.returncode == 125 and "(in the container)" in stolen.stderr
    assert not (tmp_path / "stolen").exists()
    climbed = cli("cp", "done:/up/up/up/etc/passwd", str(tmp_path / "passwd"))  # ".." stops at its root
    assert climbed.returncode == 0
    assert (tmp_path / "passwd").read_text() == cli("run", "--rm", "--net", "none", "busybox",
                                                    "cat", "/etc/passwd").stdout
    payload = tmp_path / "payload"
    payload.write_text("owned\n")
    assert cli("cp", str(payload), "done:/leak").returncode == 0  # the link is replaced, not followed
    assert Path("/etc/shadow").read_text() != "owned\n"


def test_a_read_only_stopped_container_takes_nothing_in(cli, tmp_path):
    assert cli("run", "-d", "--read-only", "--net", "none", "--name", "ro", "busybox", "true").returncode == 0
    cli("wait", "ro")
    (tmp_path / "x").write_text("x\n")
    result = cli("cp", str(tmp_path / "x"), "ro:/tmp/")
    assert (result.returncode, result.stderr.strip()) == (
        125, "gophernetes: container ro has a read-only root filesystem (run --read-only): nothing can be "
             "copied into it")
    assert cli("cp", "ro:/etc/passwd", str(tmp_path)).returncode == 0
