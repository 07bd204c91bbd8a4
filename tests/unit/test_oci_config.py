"""config.json: what the native engine writes for a request, and what the runtime accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gophernetes.engines.native import bundle as native_bundle
from gophernetes.engines.native.spec import RunSpec
from gophernetes.errors import GophernetesError
from gophernetes.linux import mounts
from gophernetes.linux.cgroups.base import DEFAULT_DEVICE_RULES, Limits
from gophernetes.runtime import oci_config
from gophernetes.runtime.launcher import device_rules, limits_of
from gophernetes.runtime.oci_config import ConfigError
from gophernetes.runtime.subids import IdMapping

FOLDER = Path("/run/gophernetes/containers/abc")


def spec(**fields) -> RunSpec:
    return RunSpec(id="0123456789ab" + "0" * 52, command=["sh", "-c", "true"], lower_dirs=[], **fields)


def config(the_spec: RunSpec | None = None, etc: dict | None = None, mapping=None) -> dict:
    made = native_bundle.make_config(the_spec or spec(), FOLDER, etc or {}, None, "/gophernetes/x", mapping)
    return json.loads(made.to_json())


def test_the_document_starts_like_runc_spec_and_reads_back_the_same():
    written = config(spec(capabilities=["CHOWN"], hostname="lab"))
    assert list(written)[:3] == ["ociVersion", "process", "root"]
    assert written["root"] == {"path": "rootfs", "readonly": False}
    assert oci_config.from_dict(written).to_dict() == written


def test_namespaces_follow_the_request_with_the_specs_names():
    assert [n["type"] for n in config()["linux"]["namespaces"]] == ["pid", "uts", "mount", "network", "ipc", "cgroup"]
    host_net = spec(namespaces=["pid", "uts", "mnt", "ipc", "cgroup"])
    assert "network" not in [n["type"] for n in config(host_net)["linux"]["namespaces"]]


def test_userns_auto_adds_a_user_namespace_and_its_single_mapping():
    linux = config(spec(userns="auto"), mapping=IdMapping(100000, 200000, 65536))["linux"]
    assert linux["namespaces"][-1] == {"type": "user"}
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": 200000, "size": 65536}]


def test_capabilities_fill_three_sets_and_leave_inheritable_and_ambient_empty():
    caps = config(spec(capabilities=["NET_RAW", "CHOWN"]))["process"]["capabilities"]
    assert caps == {"bounding": ["CAP_CHOWN", "CAP_NET_RAW"], "effective": ["CAP_CHOWN", "CAP_NET_RAW"],
                    "permitted": ["CAP_CHOWN", "CAP_NET_RAW"]}


def test_a_non_root_user_gets_only_the_bounding_set_as_docker_writes_it():
    caps = config(spec(capabilities=["NET_RAW", "CHOWN"], user="1000"))["process"]["capabilities"]
    assert caps == {"bounding": ["CAP_CHOWN", "CAP_NET_RAW"]}


def test_the_five_capability_sets_are_read_without_the_cap_prefix(tmp_path):
    from gophernetes.runtime.bundle import Container

    document = config()
    document["process"]["capabilities"] = {"bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"], "effective": ["CAP_CHOWN"],
                                           "permitted": ["CAP_CHOWN", "CAP_SYS_ADMIN"], "inheritable": ["CAP_CHOWN"],
                                           "ambient": ["CAP_CHOWN"]}
    sets = Container("c", tmp_path, oci_config.from_dict(document)).capability_sets()
    assert sets.bounding == sets.permitted == {"CHOWN", "SYS_ADMIN"}
    assert sets.effective == sets.inheritable == sets.ambient == {"CHOWN"}
    del document["process"]["capabilities"]
    assert Container("c", tmp_path, oci_config.from_dict(document)).capability_sets().bounding == frozenset()


def test_oom_score_adj_and_umask_are_read_and_written_back():
    document = config()
    document["process"]["oomScoreAdj"] = -500
    document["process"]["user"]["umask"] = 0o027
    parsed = oci_config.from_dict(document)
    assert parsed.process.oom_score_adj == -500 and parsed.process.user.umask == 0o027
    assert oci_config.from_dict(parsed.to_dict()).to_dict() == parsed.to_dict()


def test_privileged_gets_every_capability_no_masks_all_devices_and_may_gain_privileges():
    written = config(spec(privileged=True))
    assert "CAP_SYS_ADMIN" in written["process"]["capabilities"]["bounding"]
    assert written["process"]["noNewPrivileges"] is False
    assert "maskedPaths" not in written["linux"] and "readonlyPaths" not in written["linux"]
    assert written["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]


def test_an_ordinary_container_has_dockers_masked_and_read_only_paths():
    linux = config()["linux"]
    assert linux["maskedPaths"] == list(mounts.MASKED_PATHS)
    assert linux["readonlyPaths"] == list(mounts.READONLY_PATHS)
    assert config()["process"]["noNewPrivileges"] is True


def test_limits_become_linux_resources_and_back():
    limits = Limits(memory=64 << 20, memory_swap=-1, cpus=0.5, cpu_shares=512, pids=20, blkio_weight=300)
    resources = config(spec(limits=limits))["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 << 20, "swap": -1}
    assert resources["cpu"] == {"quota": 50_000, "shares": 512, "period": 100_000}
    assert resources["pids"] == {"limit": 20} and resources["blockIO"] == {"weight": 300}
    assert limits_of(resources) == limits


def test_device_rules_deny_all_first_then_dockers_list_which_the_runtime_reads_back():
    rules = config()["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in rules
    assert device_rules(rules) == DEFAULT_DEVICE_RULES


def test_mounts_are_the_kernel_filesystems_then_the_etc_files_bound_from_the_folder():
    etc = {"/etc/hostname": str(FOLDER / "hostname"), "/etc/hosts": "/var/lib/gophernetes/networks/hosts/lab"}
    written = config(etc=etc)["mounts"]
    assert [m["destination"] for m in written] == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                                                   "/etc/hostname", "/etc/hosts"]
    assert written[-2]["options"] == ["rbind", "rw"]  # the container's own file
    assert written[-1]["options"] == ["rbind", "ro"]  # the network's shared /etc/hosts
    assert "ro" in written[5]["options"]  # /sys


def test_env_has_dockers_defaults_then_the_images_then_the_users_variables():
    env = config(spec(env=["PATH=/opt/bin", "A=1", "A=2"], tty=True, hostname="lab"))["process"]["env"]
    assert env == ["PATH=/opt/bin", "HOSTNAME=lab", "HOME=/root", "TERM=xterm", "A=2"]


def test_cwd_is_cleaned_and_hostname_defaults_to_the_short_id():
    written = config(spec(working_dir="/a/../b/"))
    assert written["process"]["cwd"] == "/b"
    assert written["hostname"] == "0123456789ab"


def test_user_names_are_looked_up_in_the_top_most_layer(tmp_path):
    bottom, top = tmp_path / "bottom", tmp_path / "top"
    (bottom / "etc").mkdir(parents=True)
    (top / "etc").mkdir(parents=True)
    (bottom / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nold:x:5:5::/:/bin/sh\n")
    (top / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    (top / "etc" / "group").write_text("root:x:0:\nstaff:x:50:\n")
    assert native_bundle.resolve_user("nobody", [bottom, top]) == oci_config.User(65534, 65534, [65534])
    assert native_bundle.resolve_user("nobody:staff", [bottom, top]) == oci_config.User(65534, 50, [50])
    assert native_bundle.resolve_user("1000:1000", [bottom, top]) == oci_config.User(1000, 1000, [1000])
    with pytest.raises(GophernetesError, match="unable to find user old"):
        native_bundle.resolve_user("old", [bottom, top])


RUNC_SPEC = {  # the shape `runc spec` prints (runc 1.1), shortened
    "ociVersion": "1.0.2-dev",
    "process": {"terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                "cwd": "/", "capabilities": {"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL"]},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}], "noNewPrivileges": True},
    "root": {"path": "rootfs", "readonly": True}, "hostname": "runc",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"resources": {"devices": [{"allow": False, "access": "rwm"}]},
              "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}],
              "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]},
}


def test_runc_specs_default_document_is_accepted():
    read = oci_config.from_dict(RUNC_SPEC)
    assert read.process.rlimits == [oci_config.Rlimit("RLIMIT_NOFILE", 1024, 1024)]
    assert read.root.readonly and read.namespace_types() == ["pid", "network", "mount"]


def _with(path: str, value) -> dict:
    document = json.loads(json.dumps(RUNC_SPEC))
    *parents, last = path.split(".")
    target = document
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[int(last) if last.isdigit() else last] = value
    return document


@pytest.mark.parametrize(("path", "value", "message"), [
    ("process.user.uid", "root", "process.user.uid: expected an integer, got \"root\""),
    ("process.terminal", "yes", "process.terminal: expected true or false"),
    ("process.args", "sh", "process.args: expected a list"),
    ("process.args", [], "process.args is empty"),
    ("process.cwd", "home", "process.cwd: 'home' is relative"),
    ("mounts.0.destination", "proc", "mounts[0].destination: 'proc' is relative"),
    ("linux.maskedPaths.0", "proc/kcore", "linux.maskedPaths[0]: 'proc/kcore' is relative"),
    ("linux.namespaces.0.type", "pids", "linux.namespaces[0].type: unknown namespace type 'pids'"),
    ("linux.namespaces.1.type", "pid", "pid is named twice"),
    ("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}], "need a user namespace"),
    ("ociVersion", "0.9", "gophernetes reads runtime-spec 1.x"),
    ("root", None, "root is missing"),
    ("annotations", {"a": 1}, "annotations: every value must be a string"),
])
def test_a_wrong_document_fails_with_one_line_naming_the_field(path, value, message):
    with pytest.raises(ConfigError) as failure:
        oci_config.from_dict(_with(path, value))
    assert message in str(failure.value) and "\n" not in str(failure.value)
    assert failure.value.exit_code == 125


def test_load_names_the_file_when_it_is_not_json(tmp_path):
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(ConfigError, match="config.json: not JSON"):
        oci_config.load(tmp_path)
    with pytest.raises(ConfigError, match="cannot read"):
        oci_config.load(tmp_path / "missing")
