"""What every engine checks in a `run` request before it makes anything: pure logic."""

from __future__ import annotations

import os

import pytest

from gophernetes.engine import RunRequest, check_request, container_command, parse_limits, parse_signal
from gophernetes.errors import UsageError
from gophernetes.linux import capabilities
from gophernetes.names import check_name, generate_name
from gophernetes.runtime import units


def request(**options) -> RunRequest:
    return RunRequest(image="busybox", **options)


def test_limits_become_kernel_units():
    limits = parse_limits(request(memory="64m", memory_swap="-1", cpus="0.5", cpu_shares=512, pids_limit=20))
    assert (limits.memory, limits.memory_swap, limits.cpu_quota_us(), limits.cpu_shares, limits.pids) == \
        (64 * 1024**2, -1, 50_000, 512, 20)


@pytest.mark.parametrize(("options", "message"), [
    ({"memory": "1k"}, "minimum memory limit"),
    ({"memory": "99999999999999999999g"}, "at most 9223372036854775807 bytes"),
    ({"memory_swap": "1g"}, "--memory-swap needs --memory"),
    ({"memory": "1g", "memory_swap": "512m"}, "at least --memory"),
    ({"cpus": "abc"}, "invalid value 'abc' for --cpus"),
    ({"cpus": str((os.cpu_count() or 1) + 1)}, "range of CPUs"),
    ({"cpu_shares": 1}, "at least 2"),
    ({"blkio_weight": 5}, "between 10 and 1000"),
])
def test_bad_limits_are_refused(options, message):
    with pytest.raises(UsageError, match=message):
        parse_limits(request(**options))


def test_entrypoint_and_cmd_combine_as_docker_does():
    config = {"entrypoint": ["/entry"], "cmd": ["default"]}
    assert container_command(request(), config) == ["/entry", "default"]
    assert container_command(request(command=["given"]), config) == ["/entry", "given"]
    assert container_command(request(entrypoint="/other"), config) == ["/other"]
    assert container_command(request(entrypoint="", command=["sh"]), config) == ["sh"]
    with pytest.raises(UsageError, match="no command given"):
        container_command(request(), {})


@pytest.mark.parametrize("text", ["TERM", "SIGTERM", "term", "15"])
def test_signals_by_name_or_number(text):
    assert parse_signal(text) == 15


def test_an_unknown_signal_is_refused():
    with pytest.raises(UsageError, match="invalid signal 'NOPE'"):
        parse_signal("NOPE")


@pytest.mark.parametrize("bad", [["=x"], ["\0=1"]])
def test_an_environment_variable_needs_a_name(bad):
    with pytest.raises(UsageError, match="invalid environment variable"):
        check_request(request(env=bad))


@pytest.mark.parametrize("name", ["", "-x", "a b", "ü", "a/b"])
def test_names_follow_dockers_rule(name):
    with pytest.raises(UsageError, match="invalid container name"):
        check_name(name)


def test_generated_names_avoid_taken_ones():
    taken = {generate_name(set()) for _ in range(50)}
    assert generate_name(taken) not in taken


def test_sizes_use_powers_of_1024():
    assert [units.parse_size(t, "-m") for t in ("512", "1k", "64m", "1g", "64MiB")] == \
        [512, 1024, 64 * 1024**2, 1024**3, 64 * 1024**2]


def test_capabilities_start_from_dockers_default():
    assert capabilities.effective_set([], []) == capabilities.DOCKER_DEFAULT
    assert capabilities.effective_set(["net_admin"], ["CAP_CHOWN"]) == \
        capabilities.DOCKER_DEFAULT - {"CHOWN"} | {"NET_ADMIN"}
    assert capabilities.effective_set([], ["ALL"]) == frozenset()
    with pytest.raises(UsageError, match="unknown capability 'FLY'"):
        capabilities.parse_name("FLY")
