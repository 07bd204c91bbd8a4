"""-v, --mount and --tmpfs as the user writes them, and the config.json mounts they become;
--restart policies and when they start a container again. Pure logic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gophernetes import restart_policy
from gophernetes.engine import RunRequest, check_request
from gophernetes.engines.native import bundle as native_bundle
from gophernetes.engines.native.spec import RunSpec
from gophernetes.errors import UsageError
from gophernetes.linux import syscalls
from gophernetes.mount_specs import MountSpec, parse_all, parse_mount, parse_tmpfs, parse_volume
from gophernetes.runtime.oci_mounts import COPY_UP, flags_and_data


@pytest.mark.parametrize(("text", "expected"), [
    ("/srv/site:/www", MountSpec("bind", "/srv/site", "/www")),
    ("/srv/site/:/www/:ro", MountSpec("bind", "/srv/site", "/www", readonly=True)),
    ("/srv:/srv:rw,rprivate", MountSpec("bind", "/srv", "/srv")),
    ("data:/var/lib/db", MountSpec("volume", "data", "/var/lib/db")),
    ("data:/var/lib/db:ro,nocopy", MountSpec("volume", "data", "/var/lib/db", readonly=True, copy_up=False)),
    ("/var/cache", MountSpec("volume", "", "/var/cache")),
    ("/a/../b:/c/./d", MountSpec("bind", "/b", "/c/d")),
])
def test_volume_option_forms(text, expected):
    assert parse_volume(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("/srv:www", "must be absolute"),
    ("/srv:/", "cannot mount over the container's root"),
    ("/srv:/x:z", "unknown option 'z'"),
    ("/srv:/x:shared", "unknown option 'shared'"),
    ("a:/x", "not a volume name"),
    ("my vol:/x", "not a volume name"),
    ("/a:/b:ro:x", "a path with ':'"),
])
def test_bad_volume_options_are_refused_in_one_line(text, message):
    with pytest.raises(UsageError, match=message):
        parse_volume(text)


def test_mount_option_bind_volume_and_tmpfs():
    assert parse_mount("type=bind,source=/srv,target=/srv,readonly") == MountSpec("bind", "/srv", "/srv", True)
    assert parse_mount("type=bind,src=/srv,dst=/x,ro=false") == MountSpec("bind", "/srv", "/x")
    assert parse_mount("source=data,target=/data,volume-nocopy") == MountSpec("volume", "data", "/data",
                                                                                 copy_up=False)
    assert parse_mount("type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1777") == MountSpec(
        "tmpfs", "", "/run", options=("nosuid", "nodev", "noexec", f"size={64 * 1024 * 1024}", "mode=1777"))


@pytest.mark.parametrize(("text", "message"), [
    ("type=bind,source=relative,target=/x", "absolute host path"),
    ("type=bind,source=/x", "target=/PATH"),
    ("type=nfs,target=/x", "type 'nfs' is not supported"),
    ("type=volume,target=/x,tmpfs-size=1m", "only for type=tmpfs"),
    ("type=tmpfs,source=/x,target=/x", "a tmpfs has no source"),
    ("type=bind,source=/x,target=/x,bind-propagation=shared", "only private propagation"),
    ("type=bind,source=/x,target=/x,readonly=maybe", "not true or false"),
    ("type=bind,source=/x,target=/x,consistency=cached", "unknown field 'consistency'"),
    ("type=tmpfs,target=/x,tmpfs-mode=rwx", "octal"),
])
def test_bad_mount_options_are_refused(text, message):
    with pytest.raises(UsageError, match=message):
        parse_mount(text)


def test_tmpfs_defaults_and_what_undoes_them():
    assert parse_tmpfs("/tmp").options == ("nosuid", "nodev", "noexec")
    spec = parse_tmpfs("/tmp:size=1m,mode=755,exec,ro")
    assert spec.readonly and spec.options == ("nosuid", "nodev", "size=1048576", "mode=755")
    with pytest.raises(UsageError, match="unknown tmpfs option 'uid=5'"):
        parse_tmpfs("/tmp:uid=5")
    with pytest.raises(UsageError, match="invalid size"):
        parse_tmpfs("/tmp:size=lots")


def test_two_mounts_on_one_path_are_refused():
    with pytest.raises(UsageError, match="duplicate mount point /data"):
        parse_all(["/srv:/data"], [], ["/data/"])


def spec_with(mounts: list[dict]) -> RunSpec:
    return RunSpec(id="0123456789ab" + "0" * 52, command=["true"], lower_dirs=[], mounts=mounts)


def entry(kind: str, source: str, target: str, readonly: bool = False, **extra) -> dict:
    return {"type": kind, "source": source, "target": target, "readonly": readonly, "volume": "",
            "copy_up": False, "options": [], **extra}


def test_binds_volumes_and_tmpfs_become_config_json_mounts_shallowest_first():
    mounts = [entry("bind", "/srv/site", "/www/static", True),
              entry("volume", "/var/lib/gophernetes/volumes/db/_data", "/etc", volume="db", copy_up=True),
              entry("tmpfs", "", "/tmp", options=["nosuid", "size=1024"])]
    config = json.loads(native_bundle.make_config(spec_with(mounts), Path("/run/c"),
                                                  {"/etc/hosts": "/run/c/hosts"}, None, "/x").to_json())
    user = [m for m in config["mounts"] if m["destination"] in ("/www/static", "/etc", "/tmp", "/etc/hosts")]
    assert user == [
        {"destination": "/etc", "type": "bind", "source": "/var/lib/gophernetes/volumes/db/_data",
         "options": ["rbind", "rprivate"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1024"]},
        {"destination": "/etc/hosts", "type": "bind", "source": "/run/c/hosts", "options": ["rbind", "rw"]},
        {"destination": "/www/static", "type": "bind", "source": "/srv/site", "options": ["rbind", "rprivate", "ro"]},
    ]
    assert json.loads(config["annotations"][COPY_UP]) == ["/etc"]


def test_a_users_mount_on_etc_hosts_replaces_ours():
    config = native_bundle.make_config(spec_with([entry("bind", "/h", "/etc/hosts")]), Path("/run/c"),
                                       {"/etc/hosts": "/run/c/hosts"}, None, "/x")
    assert [m.source for m in config.mounts if m.destination == "/etc/hosts"] == ["/h"]
    assert COPY_UP not in config.annotations


def test_a_read_only_bind_is_a_bind_then_a_read_only_remount():
    flags, data = flags_and_data(["rbind", "rprivate", "ro"])
    assert flags == syscalls.MS_BIND | syscalls.MS_REC | syscalls.MS_RDONLY and data is None  # rprivate: no flag


@pytest.mark.parametrize(("text", "expected"), [
    ("no", restart_policy.RestartPolicy("no")),
    ("always", restart_policy.RestartPolicy("always")),
    ("on-failure", restart_policy.RestartPolicy("on-failure")),
    ("on-failure:3", restart_policy.RestartPolicy("on-failure", 3)),
])
def test_restart_policies_parse(text, expected):
    assert restart_policy.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(("text", "message"), [
    ("on-failure:0", "positive integer"),
    ("on-failure:x", "positive integer"),
    ("always:3", "use no, on-failure"),
    ("sometimes", "use no, on-failure"),
    ("unless-stopped", "no daemon"),
])
def test_bad_restart_policies_are_refused(text, message):
    with pytest.raises(UsageError, match=message):
        restart_policy.parse(text)


def test_when_a_policy_restarts():
    on_failure = restart_policy.parse("on-failure:2")
    assert [on_failure.should_restart(1, n, False) for n in range(3)] == [True, True, False]
    assert not on_failure.should_restart(0, 0, False)
    assert restart_policy.parse("on-failure").should_restart(1, 1000, False)
    always = restart_policy.parse("always")
    assert always.should_restart(0, 99, False) and not always.should_restart(0, 0, True)
    assert not restart_policy.parse("no").should_restart(1, 0, False)
    assert [restart_policy.RestartPolicy.delay(n) for n in (0, 1, 2, 10)] == [0.1, 0.2, 0.4, 5.0]


def test_restart_with_rm_and_bad_mounts_are_refused_before_anything_is_made():
    with pytest.raises(UsageError, match="cannot be used together"):
        check_request(RunRequest(image="busybox", restart="always", remove_on_exit=True))
    with pytest.raises(UsageError, match="must be absolute"):
        check_request(RunRequest(image="busybox", tmpfs=["tmp"]))


def test_volumes_with_a_remapped_root_are_refused():
    with pytest.raises(UsageError, match="volumes with --userns auto"):
        check_request(RunRequest(image="busybox", userns="auto", volumes=["data:/data"]))
    check_request(RunRequest(image="busybox", userns="auto", volumes=["/srv:/data"]))  # a bind is the user's call
