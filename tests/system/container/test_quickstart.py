"""The README's quick start, word for word, on a bare Debian 12 machine.

The machine is a privileged podman container on a debootstrap minbase bookworm (the base
tarball of test_container_image.py, cached) plus what a Debian cloud image adds: sudo,
git, ca-certificates. No make, no pip, no nftables. In it, as a newcomer would:

1. the README's apt line, then `sudo make demo`: it installs gophernetes from Debian's
   mirror only (a /etc/pip.conf points pip at a dead index, as in an offline classroom)
   and ends with the demo container's greeting;
2. the README's next commands that need no internet: `run --net none`, `run --memory 64m
   --pids-limit 50 busybox` and `run -d --name web busybox httpd` on the default bridge
   network, `ps`, `rm -f web`.

Step 1 needs the Debian mirror, so its container shares the host's network namespace (no
bridge, no NAT rules on the host); step 2 makes a bridge and firewall rules, so it runs in a
second container with `--network none` (a network namespace of its own) on the same root
filesystem (`podman run --rootfs`, a folder under this test's temporary directory) and the
same /var/lib/gophernetes volume (overlayfs cannot stack on the container's own overlay
root). Everything podman made is removed afterwards, also on failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from test_container_image import REPO, Podman, base_tarball, mounts_under
from test_container_image import pytestmark as image_test_marks

pytestmark = list(image_test_marks)  # slow; skipped without podman or debootstrap

# What a Debian cloud image has beyond minbase (../shared/recipes/fresh-debian)
CLOUD_IMAGE_PACKAGES = "sudo git ca-certificates"
# Makes pip fail if anything asks PyPI: the quick start must need only the Debian mirror
OFFLINE_PIP_CONF = "[global]\nindex-url = http://127.0.0.1:9/simple\n"


def quick_start_commands() -> list[str]:
    """The shell lines of the README's Quick start section, in order."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def readme_line(prefix: str) -> str:
    lines = [line for line in quick_start_commands() if line.startswith(prefix)]
    assert lines, f"the README's quick start has no line starting with {prefix!r}"
    return lines[0]


class Machine:
    """The bare Debian 12 machine: a root filesystem folder that podman containers run on."""

    def __init__(self, podman: Podman) -> None:
        self.podman = podman
        self.rootfs = podman.home / "rootfs"
        self.volume = f"gophernetes-quickstart-{uuid.uuid4().hex[:6]}"
        self.name = ""

    def boot(self, network: str) -> None:
        self.name = f"gophernetes-quickstart-{uuid.uuid4().hex[:6]}"
        started = self.podman("run", "-d", "--name", self.name, "--privileged", "--network", network,
                              "--cgroup-parent", self.podman.cgroup_parent,
                              "-v", f"{self.volume}:/var/lib/gophernetes",
                              "--rootfs", str(self.rootfs), "sleep", "3000")
        assert started.returncode == 0, started.stderr

    def shutdown(self) -> None:
        stopped = self.podman("rm", "--force", "--time", "0", self.name, timeout=60)
        assert stopped.returncode == 0, stopped.stderr

    def sh(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """A command line as the user types it, in the clone."""
        return self.podman("exec", "-w", "/root/gophernetes", self.name, "bash", "-c", command, timeout=timeout)


@pytest.fixture
def machine(tmp_path) -> Machine:
    if os.geteuid() != 0:
        pytest.skip("rootful podman: run as root")
    (tmp_path / "podman").mkdir()
    podman = Podman(tmp_path / "podman")
    machine = Machine(podman)
    try:
        machine.rootfs.mkdir()
        subprocess.run(["tar", "-C", str(machine.rootfs), "-xf", str(base_tarball())], check=True, timeout=300)
        # the clone: the files git knows in this checkout, as they are in the working tree
        files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                                "--exclude-standard"], capture_output=True, check=True).stdout.split(b"\0")
        clone = machine.rootfs / "root/gophernetes"
        clone.mkdir(parents=True)
        present = b"\0".join(name for name in files if name and (REPO / os.fsdecode(name)).exists())
        subprocess.run(["tar", "-C", str(REPO), "--null", "-T", "-", "-cf", "-"], input=present,
                       stdout=open(podman.home / "clone.tar", "wb"), check=True, timeout=120)
        subprocess.run(["tar", "-C", str(clone), "-xf", str(podman.home / "clone.tar")], check=True, timeout=120)
        (machine.rootfs / "etc/pip.conf").write_text(OFFLINE_PIP_CONF)
        yield machine
    finally:
        podman.remove_everything()
        assert not mounts_under(podman.home), "podman left mounts behind"
        assert not list(Path("/sys/fs/cgroup").glob(f"*/{podman.cgroup_parent.lstrip('/')}")), "cgroups left behind"


def test_the_readme_quick_start_works_on_a_bare_debian_12(machine):
    apt_line = readme_line("sudo apt-get")
    demo = readme_line("sudo make demo")
    assert demo == "sudo make demo"

    # 1. on the host's network, for the Debian mirror
    machine.boot(network="host")
    prepared = machine.sh(f"apt-get update -q && apt-get install -y -q --no-install-recommends {CLOUD_IMAGE_PACKAGES}",
                          timeout=300)
    assert prepared.returncode == 0, prepared.stderr[-3000:] + prepared.stdout[-2000:]
    assert machine.sh("command -v make pip pip3 nft iptables gophernetes").stdout == ""  # bare indeed

    got_make = machine.sh(apt_line, timeout=300)
    assert got_make.returncode == 0, got_make.stderr[-3000:] + got_make.stdout[-2000:]

    demo_run = machine.sh(demo, timeout=400)
    assert demo_run.returncode == 0, demo_run.stderr[-3000:] + demo_run.stdout[-2000:]
    assert re.search(r"^hello from \w+, PID 1 in a container$", demo_run.stdout, re.M), demo_run.stdout[-3000:]
    assert machine.sh("command -v gophernetes").stdout == "/usr/local/bin/gophernetes\n"
    machine.shutdown()

    # 2. offline, in a network namespace of its own: the commands after the demo
    machine.boot(network="none")
    readme_line("sudo gophernetes run /bin/sh")
    no_network = machine.sh("sudo gophernetes run --net none /bin/sh -c 'echo hello'")
    assert (no_network.returncode, no_network.stdout) == (0, "hello\n"), no_network.stderr

    limits = readme_line("sudo gophernetes run --memory 64m --pids-limit 50 busybox sh")
    limited = machine.sh(f"{limits} -c 'echo ok'")  # on the default bridge network: needs nft or iptables
    assert (limited.returncode, limited.stdout) == (0, "ok\n"), limited.stderr

    web = machine.sh(readme_line("sudo gophernetes run -d --name web busybox httpd -f -p 8080"))
    assert web.returncode == 0, web.stderr
    assert re.fullmatch(r"[0-9a-f]{12,64}\n", web.stdout), web.stdout
    listed = machine.sh("sudo gophernetes ps")
    assert re.search(r"\bweb\b", listed.stdout), listed.stdout + listed.stderr

    removed = machine.sh(readme_line("sudo gophernetes rm -f web"))
    assert (removed.returncode, removed.stdout) == (0, "web\n"), removed.stderr
    assert not re.search(r"\bweb\b", machine.sh("sudo gophernetes ps -a").stdout)
    machine.shutdown()
