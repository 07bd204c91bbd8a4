"""RunSpec's plain-dict form (what `ps --format json` and inspect show) and its JSON round trip."""

from __future__ import annotations

import json

from gophernetes.engines.native.spec import RunSpec
from gophernetes.linux.cgroups.base import Limits


def full_spec() -> RunSpec:
    return RunSpec(id="a" * 64, command=["sh", "-c", "echo hi"], lower_dirs=["/l1", "/l2"], image="busybox",
                   env=["A=1"], hostname="web", net="bridge", publish=["8080:80"], capabilities=["CAP_CHOWN"],
                   seccomp_profile={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]},
                   limits=Limits(memory=64 << 20, cpus=0.5, pids=10), add_hosts=["db:10.0.0.2"], dns=["1.1.1.1"])


def test_to_dict_is_what_the_json_round_trip_gives():
    spec = full_spec()
    assert spec.to_dict() == json.loads(spec.to_json())


def test_from_dict_rebuilds_the_spec_and_ignores_fields_older_records_had():
    spec = full_spec()
    data = json.loads(spec.to_json())
    assert RunSpec.from_dict({**data, "etc_files": {"/etc/hosts": "x"}}) == spec
    assert RunSpec.from_json(spec.to_json()) == spec
    assert "etc_files" not in data and isinstance(data["limits"], dict)  # the caller's dict is left alone
