"""runtime/hooks.py with real hook programs: the state arrives on stdin, the environment is
exactly the hook's, and a hook past its timeout is killed, not waited for."""

from __future__ import annotations

import json
import time

import pytest

from gophernetes.runtime.hooks import HookFailed, Hooks, run_stage

STATE = {"ociVersion": "1.0.2-dev", "id": "web", "status": "creating", "pid": 4242, "bundle": "/b",
         "annotations": {"a": "b"}}


def script(path, body: str):
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_a_hook_reads_the_state_and_sees_only_its_env(tmp_path):
    out = tmp_path / "out"
    hook = script(tmp_path / "hook", f"/bin/cat > {out}.state; echo \"$1\" > {out}; /usr/bin/tr '\\0' ' ' "
                                     f"< /proc/$$/environ >> {out}")
    run_stage(Hooks.from_spec({"createRuntime": [{"path": hook, "args": ["net-up", "eth0"], "env": ["ONLY=me"]}]}),
              "createRuntime", STATE)
    assert json.loads((tmp_path / "out.state").read_text()) == STATE
    assert out.read_text() == "eth0\nONLY=me "  # its args, and its env and nothing else


def test_a_hook_past_its_timeout_is_killed_within_the_timeout(tmp_path):
    hook = script(tmp_path / "slow", "exec sleep 30")
    began = time.monotonic()
    with pytest.raises(HookFailed, match="timed out after 1 s"):
        run_stage(Hooks.from_spec({"prestart": [{"path": hook, "timeout": 1}]}), "prestart", STATE)
    assert time.monotonic() - began < 5


def test_a_refusing_hook_quotes_its_stderr(tmp_path):
    hook = script(tmp_path / "refuse", "echo 'no bridge named br9' >&2; exit 2")
    with pytest.raises(HookFailed, match="exit status 2, stderr: no bridge named br9"):
        run_stage(Hooks.from_spec({"createContainer": [{"path": hook}]}), "createContainer", STATE)


def test_a_missing_hook_program_is_a_failure_of_its_stage(tmp_path):
    with pytest.raises(HookFailed, match="cannot run it"):
        run_stage(Hooks.from_spec({"prestart": [{"path": str(tmp_path / "nothing")}]}), "prestart", STATE)
    warnings = run_stage(Hooks.from_spec({"poststop": [{"path": str(tmp_path / "nothing")}]}), "poststop", STATE)
    assert len(warnings) == 1
