"""apt works in a Debian container under docker's default seccomp profile.

apt is the hardest ordinary program for a seccomp profile: it forks its download methods,
drops them to the `_apt` user (setgroups, setresgid, setresuid), and dpkg then unpacks,
renames, chowns and runs maintainer scripts. A profile that refuses one of those calls
breaks every `apt-get install` in every Dockerfile, which is why docker's profile allows
them all. This test installs a package for real, from a Debian repository served on
127.0.0.1 by the test (no internet), in a container built from a debootstrap minbase
bookworm (the cached base of test_container_image.py).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from support import serve_on_loopback, stop_serving
from test_container_image import base_tarball

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("debootstrap") or not shutil.which("dpkg-deb"),
                       reason="debootstrap and dpkg-deb are needed (.ci/packages/container.txt)"),
]

PACKAGE = "gophernetes-hello"
GREETING = "installed by apt under the default seccomp profile"


def build_repository(folder: Path) -> None:
    """A flat Debian repository (`deb [trusted=yes] URL ./`) with one package whose
    postinst creates a user and chowns a file: what maintainer scripts really do."""
    source = folder / "source"
    (source / "DEBIAN").mkdir(parents=True)
    (source / "usr/share" / PACKAGE).mkdir(parents=True)
    (source / "usr/share" / PACKAGE / "greeting").write_text(GREETING + "\n")
    (source / "DEBIAN/control").write_text(
        f"Package: {PACKAGE}\nVersion: 1.0\nArchitecture: all\nMaintainer: Gophernetes tests <tests@localhost>\n"
        "Description: a package installed by the seccomp test\n")
    postinst = source / "DEBIAN/postinst"
    postinst.write_text("#!/bin/sh\nset -e\n"
                        "useradd --system --no-create-home gophernetes-hello\n"
                        f"chown gophernetes-hello /usr/share/{PACKAGE}/greeting\n")
    postinst.chmod(0o755)
    deb = folder / f"{PACKAGE}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(source), str(deb)], check=True,
                   capture_output=True)
    data = deb.read_bytes()
    (folder / "Packages").write_text(
        (source / "DEBIAN/control").read_text()
        + f"Filename: ./{deb.name}\nSize: {len(data)}\nSHA256: {hashlib.sha256(data).hexdigest()}\n\n")


@pytest.fixture
def repository(tmp_path):
    """The repository served over HTTP on 127.0.0.1 (a free port), stopped afterwards."""
    folder = tmp_path / "repo"
    folder.mkdir()
    build_repository(folder)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = serve_on_loopback(handler)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stop_serving(server)


@pytest.fixture
def debian_rootfs(tmp_path) -> Path:
    root = tmp_path / "debian"
    root.mkdir()
    with tarfile.open(base_tarball()) as archive:
        archive.extractall(root, filter="fully_trusted")  # our own debootstrap output, device nodes included
    return root


def test_apt_installs_a_package_under_the_default_seccomp_profile(gophernetes, debian_rootfs, repository):
    script = (
        "grep Seccomp: /proc/self/status && "
        f"echo 'deb [trusted=yes] {repository} ./' > /etc/apt/sources.list.d/test.list && "
        "rm -f /etc/apt/sources.list /etc/apt/sources.list.d/debian.sources && "
        "apt-get update && "
        f"DEBIAN_FRONTEND=noninteractive apt-get install -y {PACKAGE} && "
        f"stat -c 'owner %U' /usr/share/{PACKAGE}/greeting && cat /usr/share/{PACKAGE}/greeting")
    # --net host: the repository is on the host's 127.0.0.1; nothing else is reached
    result = gophernetes("run", "--net", "host", "--rootfs", str(debian_rootfs), "/bin/sh", "-c", script,
                         timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Seccomp:\t2" in result.stdout  # filtered: the profile was on while apt ran
    assert "owner gophernetes-hello" in result.stdout and GREETING in result.stdout
    # apt's download method ran as _apt (privileges dropped under the filter), not as root
    assert "as root as file" not in output and "Operation not permitted" not in output, output[-4000:]


def test_a_profile_that_refuses_dropping_privileges_breaks_apt(gophernetes, debian_rootfs, repository, tmp_path):
    """The same apt under a profile refusing setresuid/setgroups: what a too-strict profile
    costs (and the proof that the test above can fail)."""
    profile = tmp_path / "no-setresuid.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["setresuid", "setgroups"], '
                       '"action": "SCMP_ACT_ERRNO"}]}')
    script = (f"echo 'deb [trusted=yes] {repository} ./' > /etc/apt/sources.list.d/test.list && "
              "rm -f /etc/apt/sources.list /etc/apt/sources.list.d/debian.sources && apt-get update")
    result = gophernetes("run", "--net", "host", "--security-opt", f"seccomp={profile}", "--rootfs",
                         str(debian_rootfs), "/bin/sh", "-c", script, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert "Operation not permitted" in output, output[-4000:]
