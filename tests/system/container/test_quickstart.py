"""The README's quick start, word for word, on a bare Debian 12 and a bare Ubuntu 24.04 machine.

Each machine is a privileged podman container on a root filesystem that debootstrap makes
(minbase, slimmed as in test_container_image.py, cached under the same CI cache folder):
bookworm from the host's Debian mirror, noble from archive.ubuntu.com (Ubuntu's archive key
checked against a pinned fingerprint: ubuntu_archive_keyring), plus what the distribution's
cloud image has of what the quick start touches: sudo, git, ca-certificates (and python3 on
Ubuntu). No make, no pip, no nftables. In it, as a newcomer would:

1. the README's apt line; its clone line, with `<repository URL>` the one word replaced: the
   machine has no network to clone from, so it clones a repository put in it beforehand
   (publish_checkout: one commit of this checkout's working tree, as a clone of this branch
   would be once its changes were committed); then `sudo make demo`: it installs
   gophernetes from the distribution's mirror only (a /etc/pip.conf points pip at a dead
   index, as in an offline classroom) and ends with the demo container's greeting;
   then `sudo make test`, with PyPI reachable (the dead index replaced by this host's: its
   index and the CA its pip trusts), on a subset: `sudo make test INSTALL=python
   TESTS=tests/unit` (Makefile). On the distribution's python3, which refuses pip (PEP 668),
   it makes a venv, .venv, installs gophernetes and the [test,ansible] extras from PyPI into
   it and runs tests/unit from it, none skipped: ruff and mypy are found on the venv's PATH.
   The distribution's Python gets nothing from PyPI, and the clone stays clean (git status).
   What this does not prove: `make test`'s full apt install (INSTALL empty: qemu, libvirt,
   vagrant, podman, gcc... from .ci/packages/*.txt) and the system tests on these
   distributions; INSTALL=python installs core.txt and python.txt only, to keep CI time small
   (the full lists add ~240 packages, ~155 MB, to what make demo installed on Debian 12). This
   step adds ~70 s per distribution (measured: 67 s Debian 12, 69 s Ubuntu 24.04; the whole
   test 100-180 s each on a 2-core host, depending on its load);
2. the README's next commands that need no internet: `run --net none`, `run --memory 64m
   --pids-limit 50 busybox` and `run -d --name web busybox httpd` on the default bridge
   network, `ps`, `rm -f web`.

Step 1 needs the mirror, so its container shares the host's network namespace (no bridge,
no NAT rules on the host); step 2 makes a bridge and firewall rules, so it runs in a second
container with `--network none` (a network namespace of its own) on the same root
filesystem (`podman run --rootfs`, a folder under this test's temporary directory) and the
same /var/lib/gophernetes volume (overlayfs cannot stack on the container's own overlay
root). Two boots per machine, one per network mode. Everything podman made is removed
afterwards, also on failure.

Inside, the machine sees this host's kernel and cgroups (hybrid here, where a real Ubuntu
24.04 boots with cgroup v2 only): what the test proves on Ubuntu is its packages, its
Python 3.12 and its pip (PEP 668), not its kernel.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import urllib.request
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from test_container_image import BOOKWORM, REPO, Podman, Suite, base_tarball, mounts_under, remove_tree
from test_container_image import pytestmark as image_test_marks

pytestmark = list(image_test_marks)  # slow; skipped without podman or debootstrap

# Makes pip fail if anything asks PyPI: the quick start must need only the distribution's mirror
OFFLINE_PIP_CONF = "[global]\nindex-url = http://127.0.0.1:9/simple\n"
# make test's subset in the machine (Makefile: INSTALL, TESTS): the Python side of make test only
MAKE_TEST_SUBSET = "INSTALL=python TESTS=tests/unit"

README = REPO / "README.md"
# where the machine finds "the repository" the README's clone line names (publish_checkout)
ORIGIN = "/srv/gophernetes.git"

UBUNTU_ARCHIVE = "http://archive.ubuntu.com/ubuntu"
# "Ubuntu Archive Automatic Signing Key (2018) <ftpmaster@ubuntu.com>", the key noble's
# Release files are signed with: the trust anchor of the Ubuntu machine (see ubuntu_archive_keyring)
UBUNTU_ARCHIVE_KEY = "F6ECB3762474EDA9D21B7022871920D1991BC93C"
UBUNTU_KEYRING_DEB = "pool/main/u/ubuntu-keyring/ubuntu-keyring_2023.11.28.1_all.deb"  # noble's, in its release pocket
UBUNTU_KEY_FILE = "etc/apt/trusted.gpg.d/ubuntu-keyring-2018-archive.gpg"
# as in Ubuntu 24.04's cloud images (one host here: archive.ubuntu.com serves noble-security too)
NOBLE_SOURCES = f"""\
Types: deb
URIs: {UBUNTU_ARCHIVE}
Suites: noble noble-updates noble-backports noble-security
Components: main restricted universe multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
"""


def ubuntu_archive_keyring(folder: Path) -> Path:
    """A keyring of the one key noble's Release files are signed with, for debootstrap.

    What is trusted: UBUNTU_ARCHIVE_KEY, the fingerprint written above, and nothing fetched.
    Debian 12 has no ubuntu-keyring package, so the key comes from Ubuntu's own package,
    downloaded over plain HTTP: anyone on the path could hand over a package of theirs with a
    key of theirs, or with Ubuntu's key and one of theirs next to it. So the key file is used
    only if it holds exactly one key, without subkeys, whose fingerprint is the pinned one (a
    v4 fingerprint is a hash of the key itself: making another key with the same fingerprint
    is a second preimage of SHA-1, out of reach), and the test fails otherwise. From there
    debootstrap checks InRelease's signature with this key alone, each Packages file against
    Release's SHA256 sums and each .deb against Packages — so every package in the root,
    ubuntu-keyring included (whose keys apt in the machine trusts afterwards), is Ubuntu's.
    """
    if not shutil.which("gpg"):
        pytest.skip("gpg is needed to check Ubuntu's archive key (.ci/packages/container.txt)")
    deb = folder / "ubuntu-keyring.deb"
    try:
        with urllib.request.urlopen(f"{UBUNTU_ARCHIVE}/{UBUNTU_KEYRING_DEB}", timeout=60) as response:
            deb.write_bytes(response.read())
    except OSError as error:  # URLError, a timeout: the archive is out of this machine's reach
        pytest.skip(f"{UBUNTU_ARCHIVE} is not reachable from here ({error}): Ubuntu 24.04 cannot be tried")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(folder / "deb")], check=True, timeout=60)
    keyring = folder / "deb" / UBUNTU_KEY_FILE
    (folder / "gnupg").mkdir(mode=0o700)  # gpg's home: nothing of root's is read or written
    shown = subprocess.run(["gpg", "--homedir", str(folder / "gnupg"), "--batch", "--no-autostart", "--with-colons",
                            "--show-keys", str(keyring)], capture_output=True, text=True, check=True, timeout=60)
    records = [line.split(":") for line in shown.stdout.splitlines()]
    keys = [record[0] for record in records if record[0] in ("pub", "sub")]
    fingerprints = [record[9] for record in records if record[0] == "fpr"]
    assert (keys, fingerprints) == (["pub"], [UBUNTU_ARCHIVE_KEY]), (
        f"{UBUNTU_KEYRING_DEB} does not hold Ubuntu's archive key {UBUNTU_ARCHIVE_KEY} alone:\n{shown.stdout}")
    return keyring


NOBLE = Suite("noble", mirror=UBUNTU_ARCHIVE, script="gutsy",  # Ubuntu's debootstrap links noble to gutsy too
              keyring=ubuntu_archive_keyring, sources=NOBLE_SOURCES)


@dataclass(frozen=True)
class Distribution:
    """A distribution the README's quick start names, as a bare cloud machine of it."""

    name: str  # as the README writes it
    suite: Suite  # minbase plus what its cloud image has, of what the quick start touches
    python: str  # the version of its python3


# Debian's cloud images (../shared/recipes/fresh-debian); Ubuntu's have python3 too (ubuntu-minimal
# depends on it) and git (ubuntu-server). Built into the cached tarball by debootstrap, as an image
# builder does: the test does not pay an apt-get update and install for them on every run.
DEBIAN_12 = Distribution("Debian 12", replace(BOOKWORM, include=("sudo", "git", "ca-certificates")), python="3.11")
UBUNTU_24_04 = Distribution("Ubuntu 24.04", replace(NOBLE, include=("sudo", "git", "ca-certificates", "python3")),
                            python="3.12")


def quick_start_commands() -> list[str]:
    """The shell lines of the README's Quick start section, in order."""
    text = README.read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def readme_line(prefix: str) -> str:
    lines = [line for line in quick_start_commands() if line.startswith(prefix)]
    assert lines, f"the README's quick start has no line starting with {prefix!r}"
    return lines[0]


def publish_checkout(origin: Path) -> None:
    """A repository at `origin` with one commit: the files git knows in this checkout (tracked,
    and new ones not ignored), as they are in the working tree — what a clone of this branch
    would hold once its changes were committed."""
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, check=True).stdout.split(b"\0")
    present = b"\0".join(name for name in files if name and (REPO / os.fsdecode(name)).exists())
    tree = origin.with_suffix(".tree")
    tree.mkdir(parents=True)
    copied = subprocess.run(f"tar -C {REPO} --null -T - -cf - | tar -C {tree} -xf -", shell=True, input=present,
                            capture_output=True, timeout=120)
    assert copied.returncode == 0, copied.stderr
    git = ["git", "-c", "user.name=gophernetes test", "-c", "user.email=test@gophernetes.invalid",
           "-c", "init.defaultBranch=main"]
    for command in (["init", "-q", "--bare", str(origin)],
                    [f"--git-dir={origin}", f"--work-tree={tree}", "add", "-A", "-f"],
                    [f"--git-dir={origin}", f"--work-tree={tree}", "commit", "-q", "-m", "the checkout under test"]):
        done = subprocess.run(git + command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"git {command}: {done.stderr}"
    remove_tree(tree)


def online_pip_conf(rootfs: Path) -> str:
    """A pip.conf that lets the machine's pip reach PyPI as this host's does: the host's index
    (PIP_INDEX_URL, pip's global.index-url, else PyPI's) and the CA bundle the host's pip trusts
    (PIP_CERT, else OpenSSL's: the host may reach PyPI through a proxy with a CA of its own),
    copied into the machine."""
    index = os.environ.get("PIP_INDEX_URL") or subprocess.run(
        ["python3", "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True,
        timeout=60).stdout.strip() or "https://pypi.org/simple"
    cafile = os.environ.get("PIP_CERT") or ssl.get_default_verify_paths().cafile
    assert cafile and Path(cafile).is_file(), f"no CA bundle for pip on this host: {cafile}"
    shutil.copyfile(cafile, rootfs / "etc/pip-ca-bundle.crt")
    return f"[global]\nindex-url = {index}\ncert = /etc/pip-ca-bundle.crt\n"


class Machine:
    """A bare machine of one distribution: a root filesystem folder that podman containers run on."""

    def __init__(self, podman: Podman, distribution: Distribution) -> None:
        self.podman = podman
        self.distribution = distribution
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

    def sh(self, command: str, timeout: float = 120, folder: str = "/root/gophernetes") -> subprocess.CompletedProcess:
        """A command line as the user types it, in the clone (in root's home before there is one)."""
        return self.podman("exec", "-w", folder, self.name, "bash", "-c", command, timeout=timeout)


@pytest.fixture(params=[DEBIAN_12, UBUNTU_24_04], ids=["debian-12", "ubuntu-24.04"])
def machine(request, tmp_path) -> Machine:
    if os.geteuid() != 0:
        pytest.skip("rootful podman: run as root")
    (tmp_path / "podman").mkdir()
    podman = Podman(tmp_path / "podman")
    machine = Machine(podman, request.param)
    try:
        machine.rootfs.mkdir()
        subprocess.run(["tar", "-C", str(machine.rootfs), "-xf", str(base_tarball(request.param.suite))], check=True,
                       timeout=300)
        publish_checkout(machine.rootfs / ORIGIN.lstrip("/"))
        (machine.rootfs / "etc/pip.conf").write_text(OFFLINE_PIP_CONF)
        yield machine
    finally:
        podman.remove_everything()
        assert not mounts_under(podman.home), "podman left mounts behind"
        assert not list(Path("/sys/fs/cgroup").glob(f"*/{podman.cgroup_parent.lstrip('/')}")), "cgroups left behind"


def test_the_readme_quick_start_works_on_a_bare_machine(machine):
    distribution = machine.distribution
    intro = README.read_text().split("## Quick start", 1)[1].split("```", 1)[0]
    assert distribution.name in intro, intro  # the README promises this distribution
    apt_line = readme_line("sudo apt-get")
    clone = readme_line("git clone")
    assert clone.startswith("git clone <repository URL> gophernetes"), clone
    demo = readme_line("sudo make demo")
    assert demo == "sudo make demo"

    # 1. on the host's network, for the distribution's mirror
    machine.boot(network="host")
    bare = machine.sh("command -v sudo git; command -v make pip pip3 nft iptables gophernetes", folder="/root")
    assert bare.stdout == "/usr/bin/sudo\n/usr/bin/git\n", bare.stdout + bare.stderr  # bare indeed

    got_make = machine.sh(apt_line, timeout=300, folder="/root")
    assert got_make.returncode == 0, got_make.stderr[-3000:] + got_make.stdout[-2000:]
    # the one substitution: the repository is this checkout, published in the machine
    cloned = machine.sh(clone.replace("<repository URL>", f"file://{ORIGIN}"), folder="/root")
    assert cloned.returncode == 0, cloned.stderr

    demo_run = machine.sh(demo, timeout=400)
    assert demo_run.returncode == 0, demo_run.stderr[-3000:] + demo_run.stdout[-2000:]
    assert re.search(r"^hello from \w+, PID 1 in a container$", demo_run.stdout, re.M), demo_run.stdout[-3000:]
    assert not re.search(r"Traceback|Warning", demo_run.stderr), demo_run.stderr[-3000:]  # e.g. Python 3.12's
    assert machine.sh("command -v gophernetes").stdout == "/usr/local/bin/gophernetes\n"
    # the distribution's own interpreter runs it
    interpreter = machine.sh("head -1 /usr/local/bin/gophernetes; python3 --version")
    assert interpreter.stdout.startswith("#!/usr/bin/python3\nPython " + distribution.python + "."), interpreter.stdout

    # make test, on a subset, with PyPI: on the distribution's python3, through a venv
    test = readme_line("sudo make test")
    assert test == "sudo make test", test
    system_packages = machine.sh("ls /usr/local/lib/python3*/dist-packages").stdout
    (machine.rootfs / "etc/pip.conf").write_text(online_pip_conf(machine.rootfs))
    tested = machine.sh(f"{test} {MAKE_TEST_SUBSET}", timeout=900)
    assert tested.returncode == 0, tested.stderr[-3000:] + tested.stdout[-3000:]
    summary = tested.stdout.strip().splitlines()[-1]
    # none skipped: ruff and mypy (test_lint, test_types) found on the venv's PATH
    assert re.fullmatch(r"\d+ passed(, \d+ warnings?)? in [\d.]+s( \(\S+\))?", summary), tested.stdout[-3000:]
    assert "python3 -m venv --system-site-packages .venv" in tested.stdout, tested.stdout[-3000:]
    venv = machine.sh(".venv/bin/python -c 'import gophernetes, ruff, molecule; print(gophernetes.__file__)'")
    assert venv.stdout == "/root/gophernetes/gophernetes/__init__.py\n", venv.stdout + venv.stderr
    # nothing from PyPI in the distribution's Python, nothing left for git in the clone
    assert machine.sh("ls /usr/local/lib/python3*/dist-packages").stdout == system_packages
    assert machine.sh("git status --porcelain").stdout == ""
    machine.shutdown()

    # 2. offline, in a network namespace of its own: the commands after the demo
    machine.boot(network="none")
    readme_line("sudo gophernetes run /bin/sh")
    no_network = machine.sh("sudo gophernetes run --net none /bin/sh -c 'echo hello'")
    assert (no_network.returncode, no_network.stdout, no_network.stderr) == (0, "hello\n", ""), no_network.stderr

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
