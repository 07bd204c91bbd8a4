"""attach, detach, rmi, image prune, login and pull: the same answers from both engines.

Each test runs once per engine (the `engine` fixture) and asserts what a user sees, so
a difference between the engines fails one of the two runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.support import wait_until
from tests.system.engines.conftest import busybox_layer
from tests.system.images import oci
from tests.system.images.conftest import start_registry

USER, PASSWORD = "alice", "wonderland"


def run_detached(engine, name: str, image: str, *command: str, net: str = "none") -> None:
    result = engine("run", "-d", "--net", net, "--name", name, image, *command)
    assert result.returncode == 0, result.stderr


def images(engine) -> dict[str, dict]:
    listed = engine("images", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return {image["name"]: image for image in json.loads(listed.stdout)}


def one_line_error(result, starts: str) -> None:
    assert result.returncode == 125, result
    assert result.stderr.startswith(f"gophernetes: {starts}"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


def push_copy(source: str, target: str) -> None:
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{source}", f"docker://{target}"], check=True, capture_output=True, timeout=60)


def test_attach_and_detach_refuse_the_same_things_on_both_engines(engine, image):
    run_detached(engine, "hub", image, "sleep", "600")
    run_detached(engine, "done", image, "true")
    assert wait_until(lambda: engine.container("done")["status"] == "exited")
    assert engine("network", "create", "side", "--subnet", "10.94.0.0/24").returncode == 0

    one_line_error(engine("attach", "nobody", "side"), "no such container: nobody")
    one_line_error(engine("attach", "done", "side"), "container done is not running: cannot attach it")
    done_id = engine.container("done")["id"]
    one_line_error(engine("attach", done_id[:12], "side"), "container done is not running: cannot attach it")
    one_line_error(engine("attach", "hub", "nowhere"), "network 'nowhere' not found")
    attached = engine("attach", "hub", "side")  # --net none: its first interface
    assert (attached.returncode, attached.stdout.split()) == (0, ["eth0", "10.94.0.2/24"]), attached.stderr
    one_line_error(engine("attach", "hub", "side"), "container ")  # already on it
    assert "already on network 'side'" in engine("attach", "hub", "side").stderr
    assert engine("detach", "hub", "side").returncode == 0
    one_line_error(engine("detach", "hub", "side"), "container ")
    assert "is not attached to network 'side'" in engine("detach", "hub", "side").stderr

    assert engine("rm", "-f", "hub", "done").returncode == 0
    assert engine("network", "delete", "side").returncode == 0


def test_an_attached_network_is_listed_and_goes_with_the_container(engine, image):
    """`list` shows a network attached later; rm -f frees its lease: the network can be deleted at once."""
    run_detached(engine, "hub", image, "sleep", "600")
    assert engine("network", "create", "spare", "--subnet", "10.95.0.0/24").returncode == 0
    assert engine("attach", "hub", "spare").returncode == 0
    assert engine.container("hub")["networks"] == ["spare"]
    assert engine("rm", "-f", "hub").returncode == 0
    deleted = engine("network", "delete", "spare")
    assert deleted.returncode == 0, deleted.stderr


def push_own_image(registry, tmp_path, name: str, text: str) -> str:
    """An image no other test has (its own config, so its own IMAGE ID), pushed under `name`."""
    layout = oci.Layout(tmp_path / name.replace("/", "-").replace(":", "-"))
    layout.tag(layout.image([busybox_layer()], cmd=["sh", "-c", f"echo {text}"], env=["PATH=/bin"]), "latest")
    target = f"{registry.address}/{name}"
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout.path}:latest",
                    f"docker://{target}"], check=True, capture_output=True, timeout=60)
    return target


def test_rmi_refuses_the_last_name_of_an_image_a_container_was_made_from(engine, registry, tmp_path):
    used = push_own_image(registry, tmp_path, f"lab/used:{engine.engine}", "used")
    second = f"{registry.address}/lab/used-too:{engine.engine}"
    push_copy(used, second)
    assert engine.on_host("pull", used).returncode == 0 and engine.on_host("pull", second).returncode == 0
    run_detached(engine, "user", used, "true")
    assert wait_until(lambda: engine.container("user")["status"] == "exited")

    untagged = engine("rmi", second)  # another name of the same image: only the name goes
    refused = engine("rmi", used)

    assert (untagged.returncode, untagged.stdout) == (0, f"Untagged: {second}\n"), untagged.stderr
    one_line_error(refused, f"image {used} is used by container user; remove the container first")
    assert used in images(engine)
    assert engine("rm", "user").returncode == 0
    removed = engine("rmi", used)
    assert (removed.returncode, removed.stdout) == (0, f"Untagged: {used}\n"), removed.stderr
    assert used not in images(engine)


def test_image_prune_leaves_no_image_behind_a_moved_name(engine, image, registry, tmp_path):
    """A second pull of a tag that now names another image: afterwards, and after `image
    prune`, the name shows the new image and the old one is listed under no name."""
    moving = f"{registry.address}/lab/moving:{engine.engine}"
    push_copy(image, moving)
    assert engine.on_host("pull", moving).returncode == 0
    old_id = images(engine)[moving]["id"]
    layout = oci.Layout(tmp_path / "other")
    layout.tag(layout.image([busybox_layer()], cmd=["sh", "-c", "echo other"], env=["PATH=/bin"]), "latest")
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout.path}:latest",
                    f"docker://{moving}"], check=True, capture_output=True, timeout=60)
    assert engine.on_host("pull", moving).returncode == 0

    pruned = engine("image", "prune")

    assert pruned.returncode == 0, pruned.stderr
    listed = images(engine)
    assert listed[moving]["id"] != old_id
    assert [name for name, found in listed.items() if found["id"] == old_id and name != image] == []
    assert engine("rmi", moving).returncode == 0


@pytest.fixture(scope="session")
def basic_registry(registry, tmp_path_factory):
    """The session registry's content again, behind HTTP basic auth (htpasswd, bcrypt)."""
    if shutil.which("htpasswd") is None:
        pytest.skip("htpasswd is not installed (apt-get install apache2-utils)")
    workdir = tmp_path_factory.mktemp("basic-registry")
    entry = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True)
    (workdir / "htpasswd").write_text(entry.stdout)
    started = start_registry(workdir, registry.storage,
                             f"auth:\n  htpasswd:\n    realm: gophernetes-tests\n    path: {workdir / 'htpasswd'}\n")
    yield started
    started.process.terminate()
    started.process.wait(10)


def test_login_then_pull_from_a_registry_that_wants_a_password(engine, image, registry, basic_registry):
    behind = f"{basic_registry.address}/lab/busybox-private:{engine.engine}"
    push_copy(image, f"{registry.address}/lab/busybox-private:{engine.engine}")  # the same storage

    refused = engine.on_host("pull", behind)
    one_line_error(refused, "")
    assert f"requires a login; run: gophernetes login {basic_registry.address}" in refused.stderr
    wrong = engine.on_host("login", basic_registry.address, "-u", USER, "--password-stdin", input="wrong\n")
    assert wrong.returncode == 125 and "answered 401" in wrong.stderr, wrong.stderr
    login = engine.on_host("login", basic_registry.address, "-u", USER, "--password-stdin", input=PASSWORD + "\n")
    assert (login.returncode, login.stdout) == (0, "Login Succeeded\n"), login.stderr

    pulled = engine.on_host("pull", behind)

    assert (pulled.returncode, pulled.stdout.strip().splitlines()[-1]) == (0, behind), pulled.stderr
    assert behind in images(engine)
    assert engine("rmi", behind).returncode == 0


def test_build_busybox_makes_the_same_image_on_both_engines(engine):
    built = engine("image", "build-busybox", "--name", f"lab/bb:{engine.engine}")
    assert (built.returncode, built.stdout) == (0, f"lab/bb:{engine.engine}\n"), built.stderr
    ran = engine("run", "--net", "none", f"lab/bb:{engine.engine}", "sh", "-c", "echo built; exit 3")
    assert (ran.returncode, ran.stdout) == (3, "built\n"), ran.stderr
    assert engine("rmi", f"lab/bb:{engine.engine}").returncode == 0
