"""The Ansible side passes its own tools: yamllint, ansible-lint, and a real molecule run.

Each test runs the tool as a subprocess from the project root, asserts on its exit
status and shows its output when it fails. molecule needs podman, debootstrap and root
(see molecule/run.sh); the slow ones are marked `slow`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[3]


def run(argv: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    """Run a tool from the project root; stdout and stderr together, as a user sees them."""
    return subprocess.run(argv, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env={**os.environ, "NO_COLOR": "1", "PY_COLORS": "0",
                                                "ANSIBLE_FORCE_COLOR": "0"})


def tool(name: str) -> str:
    """The tool next to this Python (a venv), else on PATH; skip when it is not installed."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e '.[ansible]')")
    return found


def test_yaml_files_pass_yamllint():
    result = run([tool("yamllint"), "--strict", "."], timeout=120)
    assert result.returncode == 0, result.stdout


def test_roles_and_playbooks_pass_ansible_lint_offline():
    result = run([tool("ansible-lint")], timeout=600)
    assert result.returncode == 0, result.stdout
    assert "Passed" in result.stdout, result.stdout


def test_every_role_has_the_shape_of_a_well_kept_role():
    roles = sorted(p for p in (PROJECT / "roles").iterdir() if p.is_dir())
    assert [r.name for r in roles] == ["base", "containerd", "gophernetes", "images", "labs", "registry"]
    for role in roles:
        for part in ("defaults/main.yml", "tasks/main.yml", "handlers/main.yml", "meta/main.yml", "README.md"):
            assert (role / part).is_file(), f"{role.name} lacks {part}"


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="molecule's podman driver here runs rootful podman")
def test_molecule_converges_idempotently_and_verifies():
    """create, converge, idempotence (zero changes), verify (testinfra), destroy."""
    tool("molecule")
    if not shutil.which("podman") or not shutil.which("debootstrap"):
        pytest.skip("podman and debootstrap are needed (.ci/packages/ansible.txt)")
    result = run([str(PROJECT / "molecule" / "run.sh"), "test"], timeout=1800)
    assert result.returncode == 0, result.stdout[-20000:]
    assert "idempotence" in result.stdout


@pytest.mark.parametrize("env", [
    {},                                                        # students: ansible_local
    {"GOPHERNETES_PROVISIONER": "ansible"},                    # the host's ansible
    {"GOPHERNETES_VAGRANT_OVERLAY": "tests/system/vm/Vagrantfile.ci", "GOPHERNETES_EXTRA_VARS": '{"x": 1}'},  # CI
], ids=["ansible_local", "host-ansible", "ci-overlay"])
def test_the_vagrantfile_is_valid_in_each_mode(env, tmp_path):
    vagrant = shutil.which("vagrant")
    if not vagrant:
        pytest.skip("vagrant is not installed (.ci/packages/ansible.txt)")
    # the CI overlay's libvirt settings would make validate connect to libvirtd: they are
    # proven by the VM test; here only the Ruby is evaluated
    ignore = ["--ignore-provider"] if "GOPHERNETES_VAGRANT_OVERLAY" in env else []
    result = subprocess.run([vagrant, "validate", *ignore], cwd=PROJECT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=120,
                            env={**os.environ, **env, "VAGRANT_HOME": str(tmp_path / "home"),
                                 "VAGRANT_DOTFILE_PATH": str(tmp_path / "dot"), "VAGRANT_CHECKPOINT_DISABLE": "1",
                                 "VAGRANT_CWD": str(PROJECT)})
    assert result.returncode == 0, result.stdout
    assert "Vagrantfile validated successfully" in result.stdout, result.stdout
