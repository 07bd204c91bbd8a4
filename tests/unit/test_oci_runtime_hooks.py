"""OCI hooks as config.md defines them: which entries are valid, what each stage does with a
failure, and what the hook is given. (Real hook programs, with real timeouts, run in
tests/system/oci/test_hooks.py.)"""

from __future__ import annotations

import json
import subprocess

import pytest

from gophernetes.errors import UsageError
from gophernetes.runtime.hooks import Hook, HookFailed, Hooks, run_hook, run_stage

STATE = {"ociVersion": "1.0.2-dev", "id": "web", "status": "created", "pid": 42, "bundle": "/b", "annotations": {}}


class Programs:
    """Plays the hook programs: each path exits with the status given; every call is recorded."""

    def __init__(self, **statuses: int) -> None:
        self.statuses = statuses
        self.calls: list[dict] = []

    def __call__(self, argv, **kwargs):
        self.calls.append({"argv": argv, **kwargs})
        name = kwargs["executable"].rsplit("/", 1)[-1]
        if self.statuses.get(name) == "timeout":
            raise subprocess.TimeoutExpired(argv, kwargs["timeout"])
        return subprocess.CompletedProcess(argv, self.statuses.get(name, 0), b"", b"no network for you\n")


def test_hooks_parse_from_config_json():
    hooks = Hooks.from_spec({"createRuntime": [{"path": "/bin/net", "args": ["net", "up"], "env": ["A=1"],
                                                "timeout": 5}],
                             "poststop": [{"path": "/bin/clean"}]})
    assert hooks["createRuntime"] == (Hook("/bin/net", ("net", "up"), ("A=1",), 5),)
    assert hooks["poststop"][0].argv == ["/bin/clean"]  # no args: argv is [path]
    assert hooks["startContainer"] == ()


@pytest.mark.parametrize(("document", "complaint"), [
    ({"prestart": [{"path": "relative"}]}, "absolute"),
    ({"prestart": [{"path": "/x", "timeout": 0}]}, "positive"),
    ({"prestart": [{"path": "/x", "timeout": True}]}, "positive"),
    ({"prestart": [{"path": "/x", "args": "x"}]}, "list of strings"),
    ({"prestart": {"path": "/x"}}, "must be a list"),
    ({"preStart": []}, "unknown hook stage"),
])
def test_malformed_hooks_are_refused_with_their_place(document, complaint):
    with pytest.raises(UsageError, match=complaint):
        Hooks.from_spec(document)


def test_a_hook_gets_the_state_on_stdin_its_args_and_only_its_env():
    programs = Programs()
    run_hook(Hook("/bin/net", ("net", "up"), ("A=1", "B=x=y"), 5), STATE, programs)
    call = programs.calls[0]
    assert call["argv"] == ["net", "up"] and call["executable"] == "/bin/net"
    assert json.loads(call["input"]) == STATE
    assert call["env"] == {"A": "1", "B": "x=y"} and call["timeout"] == 5


def test_a_hook_without_env_inherits_the_runtimes_as_runc_does():
    programs = Programs()
    run_hook(Hook("/bin/x"), STATE, programs)
    assert programs.calls[0]["env"] is None


def test_a_failing_create_hook_is_an_error_and_stops_the_stage():
    programs = Programs(first=3)
    hooks = Hooks.from_spec({"createRuntime": [{"path": "/h/first"}, {"path": "/h/second"}]})
    with pytest.raises(HookFailed, match=r"createRuntime hook #0: hook /h/first: exit status 3, stderr: no network"):
        run_stage(hooks, "createRuntime", STATE, programs)
    assert [c["executable"] for c in programs.calls] == ["/h/first"]


def test_a_failing_poststop_hook_is_a_warning_and_the_rest_still_run():
    programs = Programs(first=1)
    hooks = Hooks.from_spec({"poststop": [{"path": "/h/first"}, {"path": "/h/second"}]})
    warnings = run_stage(hooks, "poststop", STATE, programs)
    assert [c["executable"] for c in programs.calls] == ["/h/first", "/h/second"]
    assert len(warnings) == 1 and warnings[0].startswith("poststop hook #0: hook /h/first: exit status 1")


def test_a_hook_past_its_timeout_fails_and_says_so():
    programs = Programs(slow="timeout")
    with pytest.raises(HookFailed, match="timed out after 2 s"):
        run_stage(Hooks.from_spec({"startContainer": [{"path": "/h/slow", "timeout": 2}]}), "startContainer", STATE,
                  programs)
