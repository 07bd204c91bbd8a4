"""gophernetes-runtime's command line: the argv containerd and podman pass, parsed as runc parses
them; errors reported as runc reports them; spec and features documents.

The lifecycle behind the CLI is replaced by a recorder here (these tests are about the command
line, not containers); the real lifecycle is driven by containerd and podman in tests/system/oci.
"""

from __future__ import annotations

import json
import signal

import pytest
from click.testing import CliRunner

from gophernetes.cli import oci_runtime
from gophernetes.cli.oci_runtime import cli, exec_process, format_table, parse_user
from gophernetes.errors import UsageError
from gophernetes.linux import signals
from gophernetes.runtime.default_spec import default_spec
from gophernetes.runtime.features import features


class Recorder:
    """Stands in for the lifecycle: remembers the one call a command makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return {"state": {"ociVersion": "1.0.2-dev", "id": args[0], "status": "created", "pid": 42,
                              "bundle": "/b", "annotations": {}},
                    "pids": [42, 43], "list": [], "run": 3, "exec": 5}.get(name)
        return call


@pytest.fixture
def recorded(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(oci_runtime.Options, "runtime", lambda self: recorder)
    return recorder


def invoke(*argv: str):
    return CliRunner().invoke(cli, list(argv), standalone_mode=False, catch_exceptions=True)


# ---------------------------------------------------------------------- what the engines pass


def test_containerd_create_is_parsed_as_runc_parses_it(recorded, tmp_path):
    bundle = tmp_path / "bundle"
    result = invoke("--root", str(tmp_path / "root"), "--log", str(tmp_path / "log.json"), "--log-format", "json",
                    "create", "--bundle", str(bundle), "--pid-file", str(bundle / "init.pid"),
                    "--console-socket", "/tmp/pty.sock", "web")
    assert result.exception is None, result.output
    assert recorded.calls == [("create", ("web",), {"bundle": str(bundle), "pid_file": str(bundle / "init.pid"),
                                                     "console_socket": "/tmp/pty.sock", "no_pivot": False,
                                                     "no_new_keyring": False, "preserve_fds": 0})]


def test_podman_global_options_use_the_equals_form(recorded, tmp_path):
    result = invoke(f"--root={tmp_path}", "--debug", "create", "--bundle", "b", "--pid-file", "p", "--no-new-keyring",
                    "c1")
    assert result.exception is None, result.output
    name, args, kwargs = recorded.calls[0]
    assert (name, args, kwargs["no_new_keyring"]) == ("create", ("c1",), True)
    assert kwargs["bundle"].endswith("/b")  # made absolute: the state records where the bundle is


def test_exec_as_containerd_calls_it_passes_the_process_file(recorded, tmp_path):
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["/bin/echo", "hi"], "cwd": "/", "terminal": False}))
    result = invoke("exec", "--process", str(process), "--detach", "--pid-file", "/x/e1.pid", "web")
    assert result.exception is None or result.exception.code == 0, result.output
    assert recorded.calls == [("exec", ("web", {"args": ["/bin/echo", "hi"], "cwd": "/", "terminal": False}),
                               {"detach": True, "pid_file": "/x/e1.pid", "console_socket": None, "whole": True})]


def test_exec_options_end_at_the_container_id_as_runcs_do(recorded):
    """`exec --user 1000 ID sh -c SCRIPT`: the command's own -c is not exec's --cap."""
    invoke("exec", "--user", "1000", "web", "/bin/sh", "-c", "id")
    process = recorded.calls[0][1][1]
    assert process["args"] == ["/bin/sh", "-c", "id"] and "capabilities" not in process
    assert process["user"] == {"uid": 1000, "gid": 0}


def test_exec_with_tty_and_console_socket_as_podman_calls_it(recorded, tmp_path):
    process = tmp_path / "p.json"
    process.write_text(json.dumps({"args": ["sh"]}))
    invoke("exec", "--pid-file", "/x/pid", "--process", str(process), "--detach", "--tty", "--console-socket",
           "/tmp/conmon-term.X", "c1")
    assert recorded.calls[0][1][1] == {"args": ["sh"], "terminal": True}
    assert recorded.calls[0][2]["console_socket"] == "/tmp/conmon-term.X"


def test_kill_takes_names_with_or_without_sig_and_numbers(recorded):
    for text in ("15", "TERM", "SIGTERM", "sigterm"):
        invoke("kill", "web", text)
    invoke("kill", "--all", "web", "9")
    invoke("kill", "web")
    assert [(c[2]["all_processes"], c[1][1]) for c in recorded.calls] == [
        (False, 15), (False, 15), (False, 15), (False, 15), (True, 9), (False, 15)]


def test_ps_json_prints_the_pids_as_containerd_reads_them(recorded):
    result = invoke("ps", "--format", "json", "web")
    assert json.loads(result.output) == [42, 43]


def test_state_prints_the_spec_state_json(recorded):
    result = invoke("state", "web")
    assert json.loads(result.output)["status"] == "created"


def test_run_exits_with_the_container_status(recorded):
    assert invoke("run", "--bundle", "/b", "web").exit_code == 3
    assert invoke("run", "--detach", "--bundle", "/b", "web").exit_code == 0


# ---------------------------------------------------------------------- errors, as runc reports them


def test_an_error_is_one_line_on_stderr_and_the_last_error_entry_of_the_json_log(tmp_path, capsys):
    log = tmp_path / "log.json"
    with pytest.raises(SystemExit) as leaving:
        oci_runtime.main(["--log", str(log), "--log-format", "json", "kill", "web", "SIGNOPE"])
    assert leaving.value.code == 1
    assert capsys.readouterr().err == "gophernetes-runtime: unknown signal 'SIGNOPE'\n"
    entry = json.loads(log.read_text().splitlines()[-1])
    assert (entry["level"], entry["msg"]) == ("error", "unknown signal 'SIGNOPE'")
    assert entry["time"].endswith("Z")


def test_the_text_log_is_logrus_text(tmp_path, capsys):
    log = tmp_path / "log"
    with pytest.raises(SystemExit):
        oci_runtime.main(["--log", str(log), "kill", "web", "0"])
    assert log.read_text().startswith('time="') and ' level=error msg="unknown signal' in log.read_text()


def test_systemd_cgroup_is_refused_with_one_line_that_says_what_to_use(capsys):
    with pytest.raises(SystemExit) as leaving:
        oci_runtime.main(["--systemd-cgroup", "state", "web"])
    err = capsys.readouterr().err
    assert leaving.value.code == 1 and len(err.splitlines()) == 1 and "cgroupfs" in err


def test_unsupported_commands_are_refused_by_name(capsys):
    with pytest.raises(SystemExit) as leaving:
        oci_runtime.main(["checkpoint", "--image-path", "/x", "web"])
    assert leaving.value.code == 1
    assert capsys.readouterr().err == "gophernetes-runtime: checkpoint: not supported by gophernetes-runtime: no CRIU\n"


def test_an_unknown_option_is_a_usage_error_exit_1(capsys):
    with pytest.raises(SystemExit) as leaving:
        oci_runtime.main(["create", "--frobnicate", "web"])
    assert leaving.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("gophernetes-runtime: No such option") and "--frobnicate" in err and err.count("\n") == 1


# ---------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(("text", "number"), [("9", 9), ("KILL", 9), ("SIGKILL", 9), ("sigkill", 9), ("HUP", 1),
                                              ("CHLD", signal.SIGCHLD), ("RTMIN+2", signal.SIGRTMIN + 2),
                                              ("SIGRTMAX-1", signal.SIGRTMAX - 1), ("64", 64)])
def test_signal_names_and_numbers(text, number):
    assert signals.parse(text) == number


@pytest.mark.parametrize("text", ["0", "65", "SIGFOO", "", "RTMIN+40", "-9"])
def test_signals_the_kernel_does_not_have_are_refused(text):
    with pytest.raises(ValueError):
        signals.parse(text)


def test_exec_process_from_arguments_carries_only_what_was_given():
    assert exec_process(None, ["sh", "-c", "id"], {}) == {"args": ["sh", "-c", "id"], "terminal": False}
    built = exec_process(None, ["id"], {"cwd": "/tmp", "env": ("A=1",), "user": "1000:100", "additional_gids": (5,),
                                        "tty": True, "cap": ("net_admin",), "no_new_privs": True})
    assert built == {"args": ["id"], "terminal": True, "cwd": "/tmp", "env": ["A=1"],
                     "user": {"uid": 1000, "gid": 100, "additionalGids": [5]},
                     "capabilities": {"add": ["CAP_NET_ADMIN"]}, "noNewPrivileges": True}


def test_exec_needs_exactly_one_of_process_file_and_command(tmp_path):
    with pytest.raises(UsageError):
        exec_process(None, [], {})
    (tmp_path / "p.json").write_text('{"args": ["x"]}')
    with pytest.raises(UsageError):
        exec_process(str(tmp_path / "p.json"), ["y"], {})
    (tmp_path / "bad.json").write_text('{"args": []}')
    with pytest.raises(UsageError, match="non-empty args"):
        exec_process(str(tmp_path / "bad.json"), [], {})


def test_exec_user_is_numeric():
    assert parse_user("0") == {"uid": 0, "gid": 0}
    with pytest.raises(UsageError):
        parse_user("nobody")


def test_list_table_has_runc_columns():
    table = format_table([{"id": "web", "pid": 7, "status": "running", "bundle": "/b", "created": "t"}])
    assert table.splitlines()[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert table.splitlines()[1].split() == ["web", "7", "running", "/b", "t", "root"]


# ---------------------------------------------------------------------- spec and features


def test_spec_writes_runcs_default_and_refuses_to_overwrite(tmp_path):
    result = invoke("spec", "--bundle", str(tmp_path))
    assert result.exception is None
    written = json.loads((tmp_path / "config.json").read_text())
    assert written == default_spec()
    assert written["process"]["args"] == ["sh"] and written["root"] == {"path": "rootfs", "readonly": True}
    assert {n["type"] for n in written["linux"]["namespaces"]} == {"pid", "network", "ipc", "uts", "mount"}
    again = invoke("spec", "--bundle", str(tmp_path))
    assert isinstance(again.exception, UsageError) and "exists" in str(again.exception)


def test_rootless_spec_maps_root_to_the_caller_and_drops_what_needs_privilege():
    spec = default_spec(rootless=True, uid=1000, gid=1001)
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert spec["linux"]["gidMappings"] == [{"containerID": 0, "hostID": 1001, "size": 1}]
    kinds = [n["type"] for n in spec["linux"]["namespaces"]]
    assert "user" in kinds and "network" not in kinds and "resources" not in spec["linux"]
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert (sys_mount["type"], sys_mount["source"], sys_mount["options"][0]) == ("none", "/sys", "rbind")
    assert "gid=5" not in next(m for m in spec["mounts"] if m["type"] == "devpts")["options"]
    assert default_spec()["linux"]["resources"]  # the rootless copy did not change the default


def test_features_claim_only_what_the_modules_implement():
    document = features()
    assert document["ociVersionMin"] == "1.0.0" and document["ociVersionMax"].startswith("1.")
    assert set(document["hooks"]) == {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                                      "poststop"}
    linux = document["linux"]
    assert "CAP_SYS_ADMIN" in linux["capabilities"] and "CAP_CHECKPOINT_RESTORE" in linux["capabilities"]
    assert linux["cgroup"]["systemd"] is False  # --systemd-cgroup is refused
    assert "SCMP_ACT_NOTIFY" not in linux["seccomp"]["actions"]  # no seccomp agent
    assert {"bind", "rbind", "ro", "nosuid", "nodev", "noexec", "rprivate"} <= set(document["mountOptions"])


# ---------------------------------------------------------------------- runc's rules around the lifecycle


def test_a_terminal_needs_a_console_socket_and_only_a_terminal_takes_one(tmp_path):
    from gophernetes.runtime.oci import _console

    with pytest.raises(UsageError, match="give --console-socket"):
        _console({"process": {"terminal": True}}, None)
    with pytest.raises(UsageError, match="process.terminal is false"):
        _console({"process": {"terminal": False}}, str(tmp_path / "s"))
    assert _console({"process": {}}, None) is None  # the caller's stdio, inherited


def test_without_resources_devices_all_are_allowed_and_deny_all_gets_runcs_defaults():
    from gophernetes.linux.devices import ALLOWED_DEVICE_RULES
    from gophernetes.runtime.launcher import device_rules

    assert device_rules([]) is None
    only_deny = device_rules([{"allow": False, "access": "rwm"}])
    assert only_deny == ALLOWED_DEVICE_RULES
    assert {"c 1:3 rwm", "c 5:2 rwm", "c 136:* rwm", "c *:* m"} <= set(only_deny)  # /dev/null, ptmx, pts, mknod
    fuse = device_rules([{"allow": False, "access": "rwm"},
                         {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}])
    assert fuse[0] == "c 10:229 rw" and fuse[1:] == ALLOWED_DEVICE_RULES


def test_an_exec_process_takes_its_user_and_capabilities_over_the_containers():
    from gophernetes.runtime.exec_process import exec_process_config

    container = {"args": ["sleep", "300"], "cwd": "/srv", "env": ["A=1"], "user": {"uid": 0, "gid": 0},
                 "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}}
    given = exec_process_config(container, {"args": ["id"], "env": ["B=2"], "user": {"uid": 1000, "gid": 100},
                                            "capabilities": {"ambient": ["CAP_NET_BIND_SERVICE"]},
                                            "consoleSize": {"height": 10, "width": 20}})
    assert (given.args, given.cwd, given.env, given.user.uid, given.user.gid) == (["id"], "/srv", ["A=1"], 1000, 100)
    assert given.capabilities.ambient == ["CAP_NET_BIND_SERVICE"] and given.capabilities.bounding == []
    assert (given.console_size.height, given.console_size.width) == (10, 20)
    kept = exec_process_config(container, {"args": ["id"]})
    assert kept.user.uid == 0 and kept.capabilities.effective == ["CAP_CHOWN"]
    added = exec_process_config(container, {"args": ["id"], "capabilities": {"add": ["CAP_NET_RAW"]}})
    assert added.capabilities.bounding == added.capabilities.permitted == ["CAP_CHOWN", "CAP_NET_RAW"]
    assert added.capabilities.ambient == []  # runc's exec --cap: ambient only when inheritable ones are given


def test_a_process_file_brings_its_whole_environment():
    """`exec --process`: the file's env is the whole environment; what it leaves out is the container's."""
    from gophernetes.runtime.exec_process import exec_process_config

    container = {"args": ["sleep", "300"], "cwd": "/srv", "env": ["A=1"], "user": {"uid": 0, "gid": 0},
                 "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}}
    whole = exec_process_config(container, {"args": ["id"], "env": ["B=2"]}, whole=True)
    assert (whole.args, whole.cwd, whole.env) == (["id"], "/srv", ["B=2"])
    assert whole.capabilities.effective == ["CAP_CHOWN"]  # runc 1.1 keeps the container's too
