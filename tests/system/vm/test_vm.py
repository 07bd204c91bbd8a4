"""The lab VM for real: `vagrant up` with the project's Vagrantfile, checks inside, idempotent
re-provisioning, every lab proven on cgroup v2, destroy (tests/system/vm/run-e2e.sh does the
work; this test asserts on it).

Slow (30-40 minutes on a 2-core CI machine: QEMU without KVM) and heavy: root, libvirt, qemu and
vagrant-libvirt from Debian (.ci/packages/ansible.txt). Run it alone:
    python3 -m pytest -m slow tests/system/vm -s

molecule's vagrant scenario (molecule/vm) proves the same labs in a VM converged from this
machine instead of from inside the VM. It boots a second VM (~15 minutes of CI for the same
proof), so it runs only when asked: GOPHERNETES_MOLECULE_VM=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the VM test needs root (libvirt, loop devices)")
def test_vagrant_up_gives_a_student_a_working_lab_vm():
    for needed in ("vagrant", "virsh", "libvirtd", "qemu-system-x86_64", "debootstrap"):
        if not shutil.which(needed):
            pytest.skip(f"{needed} is not installed (.ci/packages/ansible.txt)")
    result = subprocess.run([str(HERE / "run-e2e.sh")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=5400)
    out = result.stdout
    failures = "\n".join(line for line in out.splitlines() if line.startswith(("FAIL ", "FAILED ")))
    assert result.returncode == 0, failures + "\n" + out[-20000:]
    # what the run proved, stated again so a silent skip cannot pass for success
    assert "PASS cgroup v2 is mounted" in out, out[-30000:]
    assert "PASS 256 MB over a 64 MB limit: exit 137" in out, out[-30000:]
    assert "PASS containerd is active" in out, out[-30000:]
    assert "PASS device filter: reading the disk" in out, out[-30000:]
    assert "PASS --pids-limit 10 stops the 10th fork" in out, out[-30000:]
    assert "PASS pause: the cgroup is frozen" in out, out[-30000:]
    assert "PASS gophernetes images shows busybox" in out, out[-30000:]
    assert "PASS second provisioning reports changed=0" in out, out[-30000:]
    assert "PASS root's ~/labs leads to /home/vagrant/labs" in out, out[-30000:]
    labs = lab_numbers()
    for lab in labs:
        assert f"PROVED lab {lab}:" in out, failures + "\n" + out[-30000:]
    for lab in exercise_numbers():
        assert f"PROVED exercise {lab}:" in out, failures + "\n" + out[-30000:]
    assert f"{len(labs)} labs proved on cgroup v2" in out, out[-30000:]
    assert "E2E PASSED" in out


def lab_numbers() -> list[str]:
    return sorted(p.name[:2] for p in (HERE.parents[2] / "labs").glob("[0-9][0-9]-*"))


def exercise_numbers() -> list[str]:
    return sorted(p.parent.parent.name[:2] for p in (HERE.parents[2] / "labs").glob("[0-9][0-9]-*/exercise/check_*.py"))


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the VM test needs root (libvirt, loop devices)")
@pytest.mark.skipif(os.environ.get("GOPHERNETES_MOLECULE_VM") != "1",
                    reason="a second VM for the proof the e2e VM already makes: set GOPHERNETES_MOLECULE_VM=1")
def test_every_lab_is_solvable_in_the_lab_vm_on_cgroup_v2():
    """molecule's vagrant driver (molecule/vm): site.yml converged in a fresh VM from this machine,
    then every lab proven there by labs/prove.sh: checks fail, solution, checks pass, reset."""
    for needed in ("vagrant", "virsh", "libvirtd", "qemu-system-x86_64", "debootstrap", "molecule"):
        if not shutil.which(needed):
            pytest.skip(f"{needed} is not installed (.ci/packages/ansible.txt, the [ansible] extra)")
    result = subprocess.run([str(HERE.parents[2] / "molecule" / "run.sh"), "test", "-s", "vm"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=2400)
    out = result.stdout
    assert result.returncode == 0, out[-30000:]
    labs = lab_numbers()
    for lab in labs:
        assert f"PROVED lab {lab}:" in out, out[-30000:]
    assert f"{len(labs)} labs proved on cgroup v2" in out, out[-30000:]
