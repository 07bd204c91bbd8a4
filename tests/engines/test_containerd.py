"""What only the containerd engine has: a daemon that can be gone, images in containerd's
store, and `gophernetes info` telling whether it is reachable."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.engines.conftest import Containerd, cli_for, unmount_under

UNREACHABLE = "gophernetes: cannot reach containerd at {socket}: is it running?"


@pytest.fixture
def containerd_cli(tmp_path, containerd, netns, cgroup_parent):
    """The containerd engine's CLI against the session's daemon."""
    return cli_for("containerd", tmp_path / "state", containerd, netns, cgroup_parent)


@pytest.fixture
def doomed(tmp_path_factory, image):
    """A second containerd, for the test to stop; cleaned up whatever the test did to it."""
    daemon = Containerd(tmp_path_factory.mktemp("doomed")).start()
    try:
        daemon.ctr("images", "pull", "--plain-http", image)
        yield daemon
    finally:
        if daemon.process.poll() is not None:
            daemon.start()  # back up, so that stop() can kill what is still running through it
        daemon.stop()


def test_a_containerd_stopped_mid_test_gives_one_clear_line_not_a_hang(doomed, image, tmp_path, netns,
                                                                        cgroup_parent):
    cli = cli_for("containerd", tmp_path / "state", doomed, netns, cgroup_parent)
    started = cli("run", "-d", "--net", "none", "--name", "web", image, "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        doomed.kill(signal.SIGKILL)  # a crash: the socket file stays, nobody answers on it
        for args in (["list"], ["logs", "web"], ["stop", "web"], ["run", "--net", "none", image, "true"]):
            began = time.monotonic()
            result = cli(*args, timeout=30)
            assert time.monotonic() - began < 10, args
            assert result.returncode == 125, (args, result.stderr)
            assert result.stderr.startswith(UNREACHABLE.format(socket=doomed.socket)), (args, result.stderr)
            assert len(result.stderr.splitlines()) == 1
        doomed.start()  # containerd finds its shims again: the container is still there
        assert cli.container("web")["status"] == "running"
    finally:
        if doomed.process.poll() is not None:
            doomed.start()
        removed = cli("rm", "--force", "web")
        unmount_under(tmp_path / "state")
    assert removed.returncode == 0, removed.stderr


def test_without_a_socket_the_error_is_immediate(tmp_path, netns, cgroup_parent, containerd):
    cli = cli_for("containerd", tmp_path / "state", containerd, netns, cgroup_parent)
    cli.env["GOPHERNETES_CONTAINERD_ADDRESS"] = str(tmp_path / "no.sock")
    began = time.monotonic()
    result = cli("list")
    assert time.monotonic() - began < 5
    assert (result.returncode, result.stderr.splitlines()[0]) == (
        125, f"{UNREACHABLE.format(socket=tmp_path / 'no.sock')} (start it with `containerd --address "
             f"{tmp_path / 'no.sock'} &`, or set GOPHERNETES_CONTAINERD_ADDRESS)")


def test_info_shows_both_engines_the_cgroup_mode_and_the_firewall(containerd_cli, containerd):
    result = containerd_cli("info", "--format", "json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    engine = facts["engines"]["containerd"]
    assert engine["available"] and engine["version"].startswith("1.")
    assert (engine["namespace"], engine["socket"]) == ("gophernetes", containerd.socket)
    assert "runc" in engine["runtime"]
    assert facts["engines"]["native"]["version"].startswith("gophernetes ")
    assert facts["cgroups"] in ("v1", "hybrid", "v2") and facts["firewall"] in ("nft", "iptables")


def test_info_says_when_containerd_is_not_reachable(containerd_cli, tmp_path):
    containerd_cli.env["GOPHERNETES_CONTAINERD_ADDRESS"] = str(tmp_path / "no.sock")
    result = containerd_cli("info")
    assert result.returncode == 0, result.stderr
    assert f"containerd:  not reachable at {tmp_path / 'no.sock'}" in result.stdout


NOT_ROUTED = pytest.mark.xfail(strict=True, reason="cli/images.py still calls the native store, not the engine; "
                                                  "remove this mark once it routes pull/images/rmi")


@pytest.fixture
def engine_api(tmp_path, containerd):
    """The engine itself, for the image verbs the CLI does not route to it yet."""
    from gophernetes.engines.containerd import ContainerdEngine
    from gophernetes.paths import StateRoot

    return ContainerdEngine(StateRoot.from_option(tmp_path / "state"), containerd.socket)


def test_images_have_docker_style_ids_and_sizes(engine_api, image, containerd):
    listed = {i.name: i for i in engine_api.images()}
    busybox = listed[image]
    manifest = json.loads(containerd.ctr("content", "get", containerd.ctr("images", "ls").stdout.split()[
        containerd.ctr("images", "ls").stdout.split().index(image) + 2]).stdout)
    assert busybox.id == manifest["config"]["digest"]
    assert busybox.size == manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
    assert busybox.created == "2024-01-02T03:04:05Z"


def test_pull_rmi_and_missing_images_through_the_engine(engine_api, containerd, registry, image):
    from gophernetes.errors import NotFound

    copy = f"{registry.address}/lab/busybox-copy:1"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{image}", f"docker://{copy}"], check=True, capture_output=True, timeout=60)
    assert engine_api.pull(copy) == copy
    assert copy in {i.name for i in engine_api.images()}
    engine_api.remove_image(copy)
    assert copy not in {i.name for i in engine_api.images()}
    with pytest.raises(NotFound, match="not found"):
        engine_api.pull(f"{registry.address}/lab/nothing:here")
    with pytest.raises(NotFound, match=r"no such image"):
        engine_api.remove_image(copy)


@NOT_ROUTED
def test_images_on_the_command_line_lists_containerds_images(containerd_cli, image):
    result = containerd_cli("images", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert image in json.dumps(json.loads(result.stdout))


@NOT_ROUTED
def test_pull_on_the_command_line_goes_to_containerd(containerd_cli, containerd, image, registry):
    missing = containerd_cli.on_host("pull", f"{registry.address}/lab/nothing:here")
    assert missing.returncode == 125 and "not found in containerd" in missing.stderr


def test_running_an_image_containerd_lacks_says_to_pull_it(containerd_cli, registry):
    run = containerd_cli("run", "--net", "none", f"{registry.address}/lab/nothing:here", "true")
    assert run.returncode == 125
    assert run.stderr.strip().endswith(f"pull it first (gophernetes --engine containerd pull "
                                       f"{registry.address}/lab/nothing:here)")
