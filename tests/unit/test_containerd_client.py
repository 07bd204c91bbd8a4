"""Reading what `ctr` prints: its tables, its times and its errors, as ctr 1.6 prints them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gophernetes.engines.containerd.client import (
    Ctr,
    ImageRecord,
    SnapshotMount,
    Task,
    Unreachable,
    error_line,
    parse_images,
    parse_json,
    parse_snapshot_mounts,
    parse_tasks,
    parse_time,
    parse_version,
)
from gophernetes.errors import Conflict, GophernetesError, NotFound

DIGEST = "sha256:" + "ab" * 32


def test_the_servers_version_is_read_not_the_clients():
    printed = ("Client:\n  Version:  1.6.20~ds1\n  Revision: 1.6.20~ds1-1\n  Go version: go1.19.8\n\n"
               "Server:\n  Version:  1.6.21\n  Revision: 1.6.21~ds1-1\n  UUID: 5d0f\n")
    assert parse_version(printed) == "1.6.21"
    assert parse_version("Client:\n  Version:  1.6.20\n") == "unknown"


def test_tasks_are_keyed_by_container_id_with_pid_and_status():
    printed = ("TASK                                                                PID      STATUS    \n"
               f"{'a' * 64}    4242     RUNNING    \n"
               f"{'b' * 64}    0        stopped    \n"
               "garbage line\n")
    assert parse_tasks(printed) == {"a" * 64: Task("a" * 64, 4242, "RUNNING"), "b" * 64: Task("b" * 64, 0, "STOPPED")}
    assert parse_tasks("TASK    PID    STATUS\n") == {}


def test_images_keep_the_reference_and_digest_and_ignore_the_human_columns():
    printed = ("REF                                  TYPE                                                 DIGEST"
               "  SIZE     PLATFORMS   LABELS \n"
               f"docker.io/library/busybox:latest     application/vnd.oci.image.manifest.v1+json           {DIGEST}"
               " 2.1 MiB  linux/amd64 -      \n"
               "127.0.0.1:5000/lab/x:1  application/vnd.docker.distribution.manifest.list.v2+json no-digest 1 KiB\n")
    assert parse_images(printed) == [ImageRecord("docker.io/library/busybox:latest", DIGEST)]


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-01T10:22:58.123456789Z", datetime(2026, 12, 1, 10, 22, 58, 123456, tzinfo=UTC)),
    ("2026-12-01T11:22:58+01:00", datetime(2026, 12, 1, 10, 22, 58, tzinfo=UTC)),
    ("2026-12-01T10:22:58", datetime(2026, 12, 1, 10, 22, 58, tzinfo=UTC)),
])
def test_containerd_times_with_nanoseconds_become_epoch_seconds(text, expected):
    assert parse_time(text) == pytest.approx(expected.timestamp())


def test_an_unreadable_time_is_zero_not_an_error():
    assert parse_time("") == 0.0 and parse_time("yesterday") == 0.0


def test_the_error_line_is_ctrs_own_without_its_prefix():
    stderr = ("time=\"2026-12-01T10:00:00Z\" level=info msg=\"apply failure\"\n"
              "ctr: failed to resolve reference \"x\": not found\n\n")
    assert error_line(stderr) == "failed to resolve reference \"x\": not found"
    assert error_line("panic: something\n") == "panic: something"
    assert error_line("") == "failed without a message"


@pytest.mark.parametrize(("stderr", "kind", "message"), [
    ("ctr: container \"x\" in namespace \"gophernetes\": not found", NotFound,
     "container web: not found in containerd (namespace gophernetes)"),
    ("ctr: snapshot \"x\": already exists", Conflict, "container web: already exists in containerd"),
    ("ctr: failed to dial \"/run/c.sock\": context deadline exceeded", Unreachable,
     "cannot reach containerd at /run/c.sock: is it running?"),
    ("ctr: rpc error: code = Unavailable desc = connection closed", Unreachable, "cannot reach containerd"),
    ("ctr: runtime error", GophernetesError, "containerd: container web: runtime error"),
])
def test_ctrs_errors_become_the_one_exception_that_says_what_went_wrong(stderr, kind, message):
    error = Ctr("/run/c.sock").error(stderr, "container web")
    assert type(error) is kind
    assert str(error).startswith(message)


def test_every_command_names_our_socket_namespace_and_a_connect_timeout():
    assert Ctr("/tmp/c.sock", "lab").command("tasks", "ls") == [
        "ctr", "--address", "/tmp/c.sock", "--connect-timeout", "3s", "--namespace", "lab", "tasks", "ls"]


def test_json_that_is_not_json_names_the_command():
    assert parse_json('{"ID": "x"}', "ctr containers info x") == {"ID": "x"}
    with pytest.raises(GophernetesError, match="ctr containers info x: expected JSON from ctr"):
        parse_json("container not found", "ctr containers info x")


def test_snapshot_mounts_are_read_from_the_mount_command_ctr_prints():
    overlay = ("mount -t overlay overlay /run/x/rootfs -o index=off,workdir=/s/2/work,upperdir=/s/2/fs,"
               "lowerdir=/s/1/fs\n")
    assert parse_snapshot_mounts(overlay) == [SnapshotMount("overlay", "overlay", [
        "index=off", "workdir=/s/2/work", "upperdir=/s/2/fs", "lowerdir=/s/1/fs"])]
    assert parse_snapshot_mounts("mount -t bind /s/1/fs /run/x/rootfs -o rbind,rw\n") == [
        SnapshotMount("bind", "/s/1/fs", ["rbind", "rw"])]
    assert parse_snapshot_mounts("") == []
