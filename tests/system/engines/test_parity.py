"""One image, one set of commands, both engines: the same output and the same exit status.

The image has no PATH in its config (as many hand-made and scratch images): docker, and
both engines, then give the command the default PATH.
"""

from __future__ import annotations

import pytest

from tests.system.engines.conftest import busybox_layer, cli_for
from tests.system.images import oci

COMMANDS = [
    ("sh", "-c", "echo $PATH"),
    ("cat", "/etc/passwd"),
    ("sh", "-c", "echo out; exit 7"),
    ("id", "-u"),
    ("no-such-command",),
]


@pytest.fixture(scope="session")
def pathless_image(registry, tmp_path_factory, containerd) -> str:
    layout = oci.Layout(tmp_path_factory.mktemp("pathless-layout"))
    layout.tag(layout.image([busybox_layer()], cmd=["sh"], env=["LANG=C.UTF-8"]), "latest")
    ref = registry.push(layout.path, "latest", "lab/pathless")
    containerd.ctr("images", "pull", "--plain-http", ref)
    return ref


def test_both_engines_run_the_same_commands_the_same_way(tmp_path, containerd, pathless_image, netns, cgroup_parent):
    engines = {name: cli_for(name, tmp_path / name, containerd, netns, cgroup_parent)
               for name in ("native", "containerd")}
    pulled = engines["native"].on_host("pull", pathless_image)
    assert pulled.returncode == 0, pulled.stderr
    seen = {}
    for name, cli in engines.items():
        seen[name] = []
        for command in COMMANDS:
            result = cli("run", "--net", "none", pathless_image, *command)
            seen[name].append((command, result.returncode, result.stdout))
    assert seen["native"] == seen["containerd"]
    assert seen["native"][0][2] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    assert seen["native"][-1][1] == 127
