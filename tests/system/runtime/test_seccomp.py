"""Seccomp and session keyrings, attacked for real: what docker's default profile refuses
(user namespaces, cgroup mounts, the keyring), what it must keep working (ping, chown), and
the switches (--security-opt seccomp=unconfined|PROFILE.json, --privileged)."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "gophernetes-test-secret"
ATTACKS_SOURCE = Path(__file__).with_name("attacks.c")


def run_sh(cli, rootfs, script, *options):
    return cli("run", "--net", "none", *options, "--rootfs", str(rootfs), "/bin/sh", "-c", script)


@pytest.fixture(scope="module")
def attack_rootfs(busybox_rootfs, tmp_path_factory) -> Path:
    """The busybox root with /attacks, a static C program that calls what busybox cannot."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc (and libc6-dev for -static) builds the attack helper: apt-get install gcc libc6-dev")
    root = tmp_path_factory.mktemp("attacks") / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    built = subprocess.run(["gcc", "-static", "-O2", "-o", str(root / "attacks"), str(ATTACKS_SOURCE)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"cannot build the static attack helper (libc6-dev missing?): {built.stderr.strip()[:200]}")
    return root


def seccomp_mode(output: str) -> str:
    return next(line.split()[1] for line in output.splitlines() if line.startswith("Seccomp:"))


def test_the_default_profile_filters_run_and_exec(cli, busybox_rootfs):
    result = run_sh(cli, busybox_rootfs, "grep Seccomp: /proc/self/status")
    assert seccomp_mode(result.stdout) == "2", result.stdout + result.stderr  # 2 = SECCOMP_MODE_FILTER
    started = cli("run", "-d", "--net", "none", "--name", "filtered", "--rootfs", str(busybox_rootfs),
                  "/bin/sleep", "60")
    assert started.returncode == 0, started.stderr
    entered = cli("exec", "filtered", "grep", "Seccomp:", "/proc/self/status")
    assert seccomp_mode(entered.stdout) == "2", entered.stdout + entered.stderr
    spec = json.loads(cli("inspect", "filtered").stdout)["details"]["spec"]
    assert spec["seccomp"] == "default"
    listing = Path(spec["seccomp_program"]).with_suffix(".txt").read_text()
    assert "clone3" in listing and "ERRNO(38" in listing


def test_a_user_namespace_is_refused_unless_unconfined(cli, busybox_rootfs):
    confined = run_sh(cli, busybox_rootfs, "unshare -U true")
    assert confined.returncode != 0 and "Operation not permitted" in confined.stderr
    unconfined = run_sh(cli, busybox_rootfs, "unshare -U true", "--security-opt", "seccomp=unconfined")
    assert unconfined.returncode == 0, unconfined.stderr


def test_exec_gets_the_containers_filter(cli, busybox_rootfs):
    cli("run", "-d", "--net", "none", "--name", "target", "--rootfs", str(busybox_rootfs), "/bin/sleep", "60")
    entered = cli("exec", "target", "unshare", "-U", "true")
    assert entered.returncode != 0 and "Operation not permitted" in entered.stderr


def test_a_cgroup_v1_hierarchy_cannot_be_mounted(cli, attack_rootfs):
    # The way in: a user namespace (root inside it) with a cgroup namespace of its own.
    script = "mkdir -p /tmp/cg && /attacks cgroup-mount /tmp/cg"
    confined = run_sh(cli, attack_rootfs, script)
    assert confined.stdout.strip() == "unshare: Operation not permitted", confined.stdout + confined.stderr
    # Without the filter the namespaces are made (on this cgroup v1 host the mount then works
    # too; a cgroup v2 kernel refuses the v1 hierarchy itself).
    unconfined = run_sh(cli, attack_rootfs, script, "--security-opt", "seccomp=unconfined")
    assert unconfined.stdout.startswith(("mounted", "mount:")), unconfined.stdout + unconfined.stderr


def _in_a_session_keyring_with_a_secret() -> None:
    """preexec_fn: a new anonymous session keyring holding the key SECRET, as a host shell might."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    machine = os.uname().machine
    keyctl, add_key = {"x86_64": (250, 248), "aarch64": (219, 217)}[machine]
    if libc.syscall(keyctl, 1, None) < 0:  # KEYCTL_JOIN_SESSION_KEYRING, no name: a new anonymous one
        raise OSError(ctypes.get_errno(), "join")
    if libc.syscall(add_key, b"user", SECRET.encode(), b"s3cret", 6, -3) < 0:  # KEY_SPEC_SESSION_KEYRING
        raise OSError(ctypes.get_errno(), "add_key")


def test_the_hosts_session_keyring_is_out_of_reach(cli, attack_rootfs):
    def gophernetes(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gophernetes", *args], capture_output=True, text=True,
                              timeout=60, env=cli.env, preexec_fn=_in_a_session_keyring_with_a_secret)

    # Even where keyctl is allowed, init and exec see a session keyring of the container's own.
    started = gophernetes("run", "-d", "--net", "none", "--name", "keys", "--security-opt", "seccomp=unconfined",
                          "--rootfs", str(attack_rootfs), "/bin/sh", "-c", "/attacks keyring; sleep 60")
    assert started.returncode == 0, started.stderr
    container_id = started.stdout.strip()
    ours = f"_ses.{container_id}"
    assert cli("logs", "keys").stdout.splitlines()[0].endswith(f";{ours}")
    entered = gophernetes("exec", "keys", "/attacks", "keyring")
    assert entered.stdout.splitlines()[0].endswith(f";{ours}"), entered.stdout + entered.stderr
    assert entered.stdout.splitlines()[1].startswith("not found"), entered.stdout
    assert cli("logs", "keys").stdout.splitlines()[1].startswith("not found")
    # Under docker's default profile, keyctl itself is refused.
    confined = gophernetes("run", "--net", "none", "--rootfs", str(attack_rootfs), "/attacks", "keyring")
    assert confined.stdout.strip() == "keyctl: Operation not permitted", confined.stdout + confined.stderr


def test_a_custom_profile_applies_and_unknown_calls_only_warn(cli, busybox_rootfs, tmp_path):
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]}))
    result = run_sh(cli, busybox_rootfs, "touch /file && echo touched; mkdir /dir", "--security-opt",
                    f"seccomp={profile}")
    assert result.stdout.strip() == "touched"
    assert "mkdir: can't create directory '/dir': Operation not permitted" in result.stderr
    assert "warning: seccomp profile" in result.stderr and "no_such_call" in result.stderr
    # That profile allows what docker's default refuses.
    assert run_sh(cli, busybox_rootfs, "unshare -U true", "--security-opt", f"seccomp={profile}").returncode == 0


def test_privileged_runs_unconfined(cli, busybox_rootfs):
    result = run_sh(cli, busybox_rootfs, "grep Seccomp: /proc/self/status", "--privileged")
    assert seccomp_mode(result.stdout) == "0"


def test_ping_and_chown_still_work_under_the_default_profile(cli, busybox_rootfs):
    result = run_sh(cli, busybox_rootfs, "ping -c 1 -W 2 127.0.0.1 >/dev/null && echo pinged; "
                                         "touch /owned && chown 1000:1000 /owned && stat -c %u:%g /owned")
    assert result.stdout.split() == ["pinged", "1000:1000"], result.stderr


@pytest.mark.parametrize("option, message", [
    ("seccomp=/no/such/profile.json", "No such file or directory"),
    ("apparmor=unconfined", "only seccomp=unconfined or seccomp=PROFILE.json"),
])
def test_a_bad_security_option_is_refused_in_one_line(cli, busybox_rootfs, option, message):
    result = run_sh(cli, busybox_rootfs, "true", "--security-opt", option)
    assert result.returncode == 125
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
