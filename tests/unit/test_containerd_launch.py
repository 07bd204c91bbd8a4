"""A `run` request as `ctr run` flags, a supervisor's command line, and the files beside
containerd: the containerd engine's pure parts."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from gophernetes.engine import RunRequest
from gophernetes.engines.containerd import launch, supervisor
from gophernetes.engines.containerd.client import Ctr
from gophernetes.engines.containerd.folders import Folder
from gophernetes.engines.containerd.images import full_reference, import_base_name, is_oci_layout, short_name
from gophernetes.errors import CannotRun, CommandNotFound, GophernetesError, UsageError
from gophernetes.linux import capabilities, pinned_namespaces, syscalls
from gophernetes.linux.cgroups import Limits

PINS = Path("/state/run/containerd/ID/ns")


def request(**options) -> RunRequest:
    return RunRequest(image="busybox", **options)


@pytest.mark.parametrize(("options", "refused"), [
    ({"rootfs": "/srv/root"}, "--rootfs is for the native engine"),
    ({"user": "nobody"}, "--user: ctr 1.6 cannot choose the user"),
    ({"net": "host", "publish": ["8080:80"]}, "--publish needs a bridge network"),
    ({"userns": "auto"}, "--userns auto is for the native engine"),
])
def test_what_ctr_cannot_express_is_refused_before_anything_is_made(options, refused):
    with pytest.raises(UsageError, match=refused):
        launch.check_supported(request(**options))
    launch.check_supported(request())


def test_a_bridge_container_joins_its_pinned_network_and_uts_namespaces():
    asked = request()
    assert launch.namespaces_to_pin(asked) == ["net", "uts"]
    assert launch.namespace_flags(asked, PINS) == ["--with-ns", f"network:{PINS}/net", "--with-ns", f"uts:{PINS}/uts"]


def test_host_namespaces_are_inits_and_the_cgroup_namespace_is_never_asked_of_ctr():
    asked = request(net="none", share_namespaces=["pid", "uts", "cgroup"])
    assert launch.namespaces_to_pin(asked) == ["net"]
    assert launch.namespace_flags(asked, PINS) == [
        "--with-ns=pid:/proc/1/ns/pid", "--with-ns=uts:/proc/1/ns/uts", "--with-ns", f"network:{PINS}/net"]


def test_the_hosts_network_pins_nothing():
    asked = request(net="host", share_namespaces=["ipc"])
    assert launch.namespaces_to_pin(asked) == []
    assert launch.namespace_flags(asked, PINS) == ["--with-ns=ipc:/proc/1/ns/ipc", "--net-host"]


def test_capabilities_are_the_difference_from_dockers_default_set():
    caps = capabilities.effective_set(["SYS_ADMIN"], ["NET_RAW", "MKNOD"])
    assert launch.capability_flags(caps, privileged=False) == [
        "--cap-add", "CAP_SYS_ADMIN", "--cap-drop", "CAP_MKNOD", "--cap-drop", "CAP_NET_RAW"]
    assert launch.capability_flags(capabilities.DOCKER_DEFAULT, privileged=False) == []
    assert launch.capability_flags(caps, privileged=True) == ["--privileged"]


def test_only_the_limits_ctr_has_flags_for_become_flags():
    limits = Limits(memory=64 * 1024**2, cpus=0.5, cpu_shares=512)
    assert launch.limit_flags(limits) == ["--memory-limit", "67108864", "--cpus", "0.5", "--cpu-shares", "512"]
    assert not launch.needs_cgroup_beforehand(limits)
    for other in (Limits(pids=20), Limits(memory=1, memory_swap=-1), Limits(blkio_weight=300)):
        assert launch.limit_flags(other) == ([] if other.memory is None else ["--memory-limit", "1"])
        assert launch.needs_cgroup_beforehand(other)


def test_the_process_gets_dockers_path_unless_the_image_or_the_user_sets_one():
    assert launch.process_flags(request(env=["A=1"], working_dir="/srv", tty=True, read_only=True), []) == [
        "--env", "A=1", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--cwd", "/srv", "--tty", "--read-only"]
    assert launch.process_flags(request(), ["PATH=/bin"]) == []
    assert launch.process_flags(request(env=["PATH=/opt"], use_chroot=True), []) == [
        "--env", "PATH=/opt", "--no-pivot"]


def test_the_record_carries_our_name_and_image_and_the_cgroup_path():
    planned = launch.Launch("ID", "web", "busybox:latest", "docker.io/library/busybox:latest", ["sh"])
    assert launch.record_flags(planned, "gophernetes", None) == [
        "--label", "gophernetes.name=web", "--label", "gophernetes.image=busybox:latest",
        "--cgroup", "/gophernetes/ID"]
    assert launch.record_flags(planned, "p", Path("/f/log"))[-2:] == ["--log-uri", "file:///f/log"]
    planned.flags = ["--tty"]
    assert planned.ctr_args == ["--tty", "docker.io/library/busybox:latest", "ID", "sh"]


def test_etc_files_are_bound_read_only_in_a_stable_order():
    assert launch.etc_mount_flags({"/etc/hosts": Path("/f/etc/hosts"), "/etc/hostname": Path("/f/etc/hostname")}) == [
        "--mount", "type=bind,src=/f/etc/hostname,dst=/etc/hostname,options=rbind:ro",
        "--mount", "type=bind,src=/f/etc/hosts,dst=/etc/hosts,options=rbind:ro"]


def test_seccomp_follows_the_native_engines_choice():
    caps = capabilities.DOCKER_DEFAULT
    profile = launch.seccomp_profile(request(), caps)
    assert profile is not None and profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert launch.seccomp_profile(request(security_opt=["seccomp=unconfined"]), caps) is None
    assert launch.seccomp_profile(request(privileged=True), caps) is None
    assert launch.seccomp_flags(Path("/f/seccomp.json")) == ["--seccomp", "--seccomp-profile", "/f/seccomp.json"]
    assert launch.seccomp_flags(None) == []


@pytest.mark.parametrize(("message", "kind", "text"), [
    ('failed to create shim task: OCI runtime create failed: runc create failed: unable to start container '
     'process: exec: "nope": executable file not found in $PATH: unknown', CommandNotFound,
     'exec: "nope": executable file not found in $PATH'),
    ('failed to create shim task: OCI runtime create failed: runc create failed: unable to start container '
     'process: exec: "/etc/passwd": permission denied: unknown', CannotRun, 'exec: "/etc/passwd": permission denied'),
    ("failed to create shim task: cgroup busy", GophernetesError,
     "containerd: container web: failed to create shim task: cgroup busy"),
])
def test_a_failed_start_exits_as_docker_does(message, kind, text):
    error = launch.start_error(message, "container web", Ctr("/run/c.sock"))
    assert type(error) is kind and str(error).startswith(text)


def test_a_supervisor_waits_in_a_shell_then_execs_the_module():
    order = supervisor.Order(Path("/f/ID"), ["ctr", "--address", "/s", "run", "--rm", "img", "ID", "sh", "--", "x"],
                             ("/lib", "/run"))
    argv = order.argv(python="/usr/bin/python3")
    assert argv[:2] == ["/bin/sh", "-c"] and argv[3:] == ["/f/ID", *order.ctr_argv]
    assert argv[2].endswith('exec /usr/bin/python3 -m gophernetes.engines.containerd.supervisor --finished "$?" "$0"'
                            " --clean-up /lib /run")
    assert supervisor.parse(["--finished", "137", "/f/ID", "--clean-up", "/lib", "/run"]) == \
        supervisor.Finished(137, Path("/f/ID"), ("/lib", "/run"))
    assert supervisor.parse(["--finished", "0", "/f/ID"]) == supervisor.Finished(0, Path("/f/ID"))


@pytest.mark.parametrize("argv", [[], ["/f"], ["--finished", "x", "/f"], ["--finished", "1"],
                                  ["--finished", "1", "/f", "--clean", "/lib", "/run"]])
def test_a_malformed_supervisor_command_line_is_refused(argv):
    with pytest.raises(SystemExit):
        supervisor.parse(argv)


def test_the_exit_status_is_whole_or_absent(tmp_path):
    folder = Folder(tmp_path)
    assert (folder.exit_status(), folder.finished()) == (None, None)
    folder.write_exit_status(137)
    assert folder.exit_status() == 137 and folder.finished() is not None
    assert [p.name for p in tmp_path.iterdir()] == ["exit-status"]  # written beside, then renamed over
    folder.exit_file.write_text("")
    assert folder.exit_status() is None


def test_references_are_full_for_containerd_and_short_for_people():
    assert full_reference("busybox") == "docker.io/library/busybox:latest"
    assert full_reference("127.0.0.1:5000/lab/x:1") == "127.0.0.1:5000/lab/x:1"
    assert short_name("docker.io/library/busybox:latest") == "busybox:latest"
    assert short_name("not a reference") == "not a reference"


def test_an_oci_archive_is_named_after_its_file_as_the_native_engine_does(tmp_path):
    layout = tmp_path / "My-Image.v2"
    layout.mkdir()
    (layout / "oci-layout").write_text("{}")
    archive = tmp_path / "bb-oci.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(layout / "oci-layout", "./oci-layout")
    docker_save = tmp_path / "saved.tar"
    with tarfile.open(docker_save, "w") as tar:
        tar.add(layout / "oci-layout", "manifest.json")
    assert is_oci_layout(layout) and is_oci_layout(archive) and not is_oci_layout(docker_save)
    assert import_base_name(layout, None) == "docker.io/library/my-image"
    assert import_base_name(archive, None) == "docker.io/library/bb-oci"
    assert import_base_name(docker_save, None) is None
    assert import_base_name(docker_save, "lab/web:2") == "docker.io/lab/web"


def test_pinned_namespaces_are_the_kinds_the_caller_enters_at_once():
    assert pinned_namespaces.unshare_flags(["net", "uts"]) == syscalls.CLONE_NEWNET | syscalls.CLONE_NEWUTS
    for refused in (["pid"], ["mnt"], [], ["net", "user"]):
        with pytest.raises(GophernetesError, match="cannot pin namespaces"):
            pinned_namespaces.unshare_flags(refused)
