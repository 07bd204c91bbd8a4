"""Both engines filter the same calls: docker's default seccomp profile, a custom profile in
docker's JSON format, and unconfined, each through the native runtime and through containerd."""

from __future__ import annotations

import json


def test_docker_default_profile_refuses_a_user_namespace_on_both_engines(engine, image):
    result = engine("run", "--net", "none", image, "sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true")
    assert result.stdout.split() == ["Seccomp:", "2"], result.stdout + result.stderr
    assert result.returncode != 0 and "Operation not permitted" in result.stderr
    unconfined = engine("run", "--net", "none", "--security-opt", "seccomp=unconfined", image,
                        "sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true")
    assert (unconfined.returncode, unconfined.stdout.split()) == (0, ["Seccomp:", "0"]), unconfined.stderr


def test_a_custom_profile_means_the_same_on_both_engines(engine, image, tmp_path):
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}))  # EACCES
    result = engine("run", "--net", "none", "--security-opt", f"seccomp={profile}", image,
                    "sh", "-c", "mkdir /made; unshare -U true && echo unshared")
    assert "Permission denied" in result.stderr and result.stdout == "unshared\n", result.stdout + result.stderr
