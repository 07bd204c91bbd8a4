"""What only the containerd engine has: a daemon that can be gone, images in containerd's
store, and `gophernetes info` telling whether it is reachable."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.system.engines.conftest import Containerd, cli_for, unmount_under

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


def test_running_an_image_containerd_lacks_says_to_pull_it(containerd_cli, registry):
    run = containerd_cli("run", "--net", "none", f"{registry.address}/lab/nothing:here", "true")
    assert run.returncode == 125
    assert run.stderr.strip() == (f"gophernetes: image '{registry.address}/lab/nothing:here' not found; pull it "
                                  f"with: gophernetes --engine containerd pull {registry.address}/lab/nothing:here")


def test_an_offline_classrooms_hint_names_the_lab_registry(containerd_cli, tmp_path):
    """lab_registry in the configuration (roles/labs writes it in the VM): the hint offers it
    for a Docker Hub name, which offline cannot be pulled as written."""
    config = tmp_path / "config.toml"
    config.write_text('lab_registry = "127.0.0.1:5000"\n')
    containerd_cli.env["GOPHERNETES_CONFIG"] = str(config)
    run = containerd_cli("run", "--net", "none", "alpine:3.19", "true")
    assert run.returncode == 125
    assert run.stderr.strip() == (
        "gophernetes: image 'alpine:3.19' not found; pull it with: gophernetes --engine containerd pull --insecure "
        "127.0.0.1:5000/alpine:3.19 (the lab registry), or gophernetes --engine containerd pull alpine:3.19")


def test_both_engines_share_a_bridge_network(tmp_path, containerd, image, netns, cgroup_parent):
    """A containerd container serves; a native container on the same network fetches from it
    by its name, which the shared leases put in the native container's /etc/hosts."""
    native = cli_for("native", tmp_path / "state", containerd, netns, cgroup_parent)
    through_containerd = cli_for("containerd", tmp_path / "state", containerd, netns, cgroup_parent)
    assert native.on_host("pull", image).returncode == 0
    assert native("network", "create", "lab").returncode == 0
    served = through_containerd("run", "-d", "--net", "lab", "--name", "server", image, "sh", "-c",
                                "mkdir /www && echo hello from containerd > /www/index.html && httpd -f -p 80 -h /www")
    try:
        assert served.returncode == 0, served.stderr
        fetched = native("run", "--net", "lab", image, "sh", "-c",  # httpd may still be starting
                         "for i in 1 2 3 4 5 6 7 8; do wget -qO- http://server/ && exit; sleep 0.25; done; exit 1")
        assert (fetched.returncode, fetched.stdout) == (0, "hello from containerd\n"), fetched.stderr
    finally:
        through_containerd("rm", "--force", "server")
    assert through_containerd.containers() == [] and native.containers() == []
    assert native("network", "rm", "lab").returncode == 0


def test_what_ctr_cannot_express_is_refused_in_one_line(containerd_cli, image):
    for args, option in ((["run", "--net", "none", "--user", "nobody", image, "id"], "--user"),
                         (["run", "--rootfs", "/", "/bin/true"], "--rootfs")):
        result = containerd_cli(*args)
        assert result.returncode == 125 and result.stderr.startswith(f"gophernetes: {option}"), result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert containerd_cli("run", "-d", "--net", "none", "--name", "web", image, "sleep", "30").returncode == 0
    try:
        result = containerd_cli("exec", "-e", "A=1", "web", "true")
        assert result.returncode == 125 and result.stderr.startswith("gophernetes: exec -e: ctr 1.6 cannot")
    finally:
        assert containerd_cli("rm", "-f", "web").returncode == 0
    assert containerd_cli.containers() == []


def test_a_frozen_containerd_times_out_with_one_line(doomed, tmp_path, netns, cgroup_parent):
    """SIGSTOP: the socket still accepts connections, but nobody answers them."""
    cli = cli_for("containerd", tmp_path / "state", doomed, netns, cgroup_parent)
    doomed.process.send_signal(signal.SIGSTOP)
    try:
        began = time.monotonic()
        result = cli("list", timeout=60)
        took = time.monotonic() - began
    finally:
        doomed.process.send_signal(signal.SIGCONT)
    assert result.returncode == 125 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(UNREACHABLE.format(socket=doomed.socket)), result.stderr
    assert took < 15
    assert cli("list").returncode == 0  # and it answers again once thawed
