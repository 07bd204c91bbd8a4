"""What a student finds on a freshly provisioned lab host (run by molecule's verifier)."""

import json

import pytest


@pytest.mark.parametrize("package", ["iproute2", "nftables", "busybox-static", "tmux", "containerd", "runc",
                                     "docker-registry", "skopeo", "umoci", "python3-click", "python3-pyroute2",
                                     "tcpdump"])
def test_the_lab_packages_are_installed(host, package):
    assert host.package(package).is_installed


def test_containerd_runs_with_our_configuration(host):
    assert host.service("containerd").is_running
    assert host.service("containerd").is_enabled
    assert 'disabled_plugins = ["io.containerd.grpc.v1.cri"]' in host.file("/etc/containerd/config.toml").content_string
    version = host.run("ctr version")
    assert version.rc == 0, version.stderr
    assert "Server:" in version.stdout


def test_gophernetes_is_installed_for_root_with_debians_python(host):
    assert host.file("/usr/local/bin/gophernetes").exists
    shown = host.run("/usr/bin/python3 -m pip show gophernetes")
    assert shown.rc == 0 and "Name: gophernetes" in shown.stdout
    helped = host.run("gophernetes --help")
    assert helped.rc == 0, helped.stderr
    assert "Usage" in helped.stdout


def test_tab_completes_gophernetes_commands_in_bash(host):
    script = host.file("/usr/share/bash-completion/completions/gophernetes")
    assert script.exists and "_GOPHERNETES_COMPLETE" in script.content_string
    # what bash asks when the student types `gophernetes sta<TAB>`
    offered = host.run("COMP_WORDS='gophernetes sta' COMP_CWORD=1 _GOPHERNETES_COMPLETE=bash_complete gophernetes")
    assert offered.rc == 0 and "plain,stats" in offered.stdout.splitlines()


@pytest.mark.parametrize("path", ["/etc/subuid", "/etc/subgid"])
def test_remapped_containers_have_subordinate_ids(host, path):
    assert "containers:2147483647:2147483648" in host.file(path).content_string.splitlines()


def test_the_busybox_root_filesystem_runs_a_shell(host):
    # the link is resolved inside the image, not on the host
    assert host.check_output("readlink /var/lib/gophernetes/rootfs/busybox/bin/sh") == "/bin/busybox"
    echoed = host.run("chroot /var/lib/gophernetes/rootfs/busybox /bin/sh -c 'echo hello from busybox'")
    assert echoed.rc == 0 and echoed.stdout.strip() == "hello from busybox"


def test_the_busybox_oci_layout_has_a_latest_tag(host):
    index = json.loads(host.file("/var/lib/gophernetes/oci/busybox/index.json").content_string)
    refs = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
    assert refs == ["latest"]


def test_the_registry_listens_on_loopback_only(host):
    assert host.service("docker-registry").is_running
    assert host.socket("tcp://127.0.0.1:5000").is_listening
    assert not host.socket("tcp://0.0.0.0:5000").is_listening


def test_the_registry_serves_busybox(host):
    catalog = host.run("curl -sf http://127.0.0.1:5000/v2/_catalog")
    assert catalog.rc == 0
    assert "busybox" in json.loads(catalog.stdout)["repositories"]
    inspected = host.run("skopeo inspect --tls-verify=false docker://127.0.0.1:5000/busybox:latest")
    assert inspected.rc == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Layers"]


def test_the_runtime_lists_busybox_when_it_can_build_it(host):
    if host.run("gophernetes image build-busybox --help").rc != 0:
        pytest.skip("the installed gophernetes has no `image build-busybox` yet")
    listed = host.run("gophernetes images")
    assert listed.rc == 0, listed.stderr
    assert "busybox" in listed.stdout


def test_the_login_banner_says_where_to_start(host):
    motd = host.file("/etc/motd").content_string
    assert "~/labs" in motd
    assert "gophernetes" in motd


def test_the_student_has_a_labs_directory(host):
    # molecule connects as root without sudo, so root is the student here
    assert host.file("/root/labs").is_directory
