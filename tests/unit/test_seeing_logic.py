"""The pure logic behind stats, top, cp, port and --format: rates, sizes, parsing, templates."""

from __future__ import annotations

import itertools

import click
import pytest

from gophernetes.cli.output import (
    Format,
    format_binary_size,
    format_decimal_size,
    format_items,
    render_template,
)
from gophernetes.errors import NotFound, UsageError
from gophernetes.linux.cgroups.base import Cgroup, CgroupStats
from gophernetes.network import published
from gophernetes.runtime import copy, stats
from gophernetes.runtime.top import format_cpu_time

# /proc/PID/net/dev, its columns squeezed to fit (the kernel pads them with spaces)
NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed
    lo: 12345 10 0 0 0 0 0 0 12345 10 0 0 0 0 0 0
  eth0:  1166 13 0 0 0 0 0 0   516  6 0 0 0 0 0 0
  eth1:    34  1 0 0 0 0 0 0    10  1 0 0 0 0 0 0
"""


# ------------------------------------------------------------------ stats


def test_cpu_percent_is_cpu_time_over_wall_time():
    assert stats.cpu_percent(0, 500_000_000, 1.0) == pytest.approx(50.0)
    assert stats.cpu_percent(1_000_000_000, 3_000_000_000, 1.0) == pytest.approx(200.0)  # two CPUs busy


def test_cpu_percent_of_no_time_or_a_counter_that_went_back_is_zero():
    assert stats.cpu_percent(0, 100, 0.0) == 0.0
    assert stats.cpu_percent(100, 50, 1.0) == 0.0  # a new cgroup under the same ID


def test_net_dev_sums_every_interface_but_lo():
    assert stats.parse_net_dev(NET_DEV) == (1200, 526)
    assert stats.parse_net_dev(NET_DEV.split("\n  eth0")[0]) == (0, 0)


class FixedCgroup(Cgroup):
    """A cgroup whose counters the test sets (only stats() is read by runtime/stats.py)."""

    name = "fixed"

    def __init__(self, readings: list[CgroupStats]) -> None:
        self.readings = readings

    def stats(self) -> CgroupStats:
        return self.readings.pop(0)

    def restrict_devices(self, rules=()):
        raise AssertionError

    directories = apply = add_process = pids = freeze = thaw = is_frozen = oom_kills = stat = restrict_devices


def test_watch_gives_rates_from_two_readings_and_the_host_memory_as_missing_limit(monkeypatch):
    clock = iter([10.0, 12.0])
    monkeypatch.setattr(stats.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(stats, "host_memory", lambda: 1000)
    cgroup = FixedCgroup([CgroupStats(cpu_ns=1_000_000_000, memory=100),
                          CgroupStats(cpu_ns=2_000_000_000, memory=250, pids=3, read_bytes=7, write_bytes=9)])
    target = stats.Target("id1", "web", None, cgroup)
    (lines,) = list(stats.watch(lambda: [target], stream=False, sleep=lambda seconds: None))
    assert lines == [stats.ContainerStats(id="id1", name="web", cpu_percent=pytest.approx(50.0), memory=250,
                                          memory_limit=1000, memory_percent=25.0, pids=3, net_rx=0, net_tx=0,
                                          block_read=7, block_write=9)]


def test_streaming_follows_containers_that_come_and_go(monkeypatch):
    monkeypatch.setattr(stats, "host_memory", lambda: 1000)
    first = stats.Target("a", "first", None, FixedCgroup([CgroupStats()] * 3))
    second = stats.Target("b", "second", None, FixedCgroup([CgroupStats()] * 3))
    rounds = iter([[first], [first, second], [second]])
    watching = stats.watch(lambda: next(rounds), sleep=lambda seconds: None)
    names = [[line.name for line in lines] for lines in itertools.islice(watching, 3)]
    assert names == [["first"], ["first", "second"], ["second"]]


def test_a_limit_above_the_hosts_memory_shows_the_hosts():
    target = stats.Target("id1", "web", None, FixedCgroup([]))
    before = stats.Reading(0.0, CgroupStats(), (0, 0))
    after = stats.Reading(1.0, CgroupStats(memory=10, memory_limit=10**15), (5, 6))
    line = stats.compare(target, before, after, host_total=100)
    assert (line.memory_limit, line.memory_percent, line.net_rx, line.net_tx) == (100, 10.0, 5, 6)


@pytest.mark.parametrize(("size", "binary", "decimal"), [
    (0, "0B", "0B"), (648, "648B", "648B"), (1234, "1.205KiB", "1.23kB"),
    (1572864, "1.5MiB", "1.57MB"), (64 * 1024 * 1024, "64MiB", "67.1MB"), (25 * 1024 ** 3, "25GiB", "26.8GB"),
])
def test_sizes_read_as_docker_stats_writes_them(size, binary, decimal):
    assert (format_binary_size(size), format_decimal_size(size)) == (binary, decimal)


# ------------------------------------------------------------------ top


@pytest.mark.parametrize(("seconds", "text"), [(0, "00:00:00"), (7, "00:00:07"), (3723, "01:02:03"),
                                               (2 * 86400 + 3 * 3600 + 4 * 60 + 5, "2-03:04:05")])
def test_cpu_time_reads_as_ps_writes_it(seconds, text):
    assert format_cpu_time(seconds) == text


# ------------------------------------------------------------------ cp


@pytest.mark.parametrize(("text", "endpoint"), [
    ("web:/etc/hosts", copy.Endpoint("web", "/etc/hosts")),
    ("web:etc", copy.Endpoint("web", "/etc")),
    ("/tmp/a:b", copy.Endpoint(None, "/tmp/a:b")),
    ("./web:x", copy.Endpoint(None, "./web:x")),
    ("file", copy.Endpoint(None, "file")),
])
def test_a_container_path_is_name_colon_path_with_no_slash_before_the_colon(text, endpoint):
    assert copy.parse_endpoint(text) == endpoint


def test_exactly_one_side_of_a_copy_is_a_container():
    with pytest.raises(UsageError, match="between containers"):
        copy.parse_copy("a:/x", "b:/y")
    with pytest.raises(UsageError, match="CONTAINER:PATH"):
        copy.parse_copy("/x", "/y")
    with pytest.raises(UsageError, match="which path"):
        copy.parse_copy("web:", "/y")


# ------------------------------------------------------------------ port


def test_published_ports_of_both_engines_read_alike():
    native = ["8080:80", "127.0.0.1:5353:53/udp"]
    containerd = ["8080->80/tcp", "127.0.0.1:5353->53/udp"]
    for ports in (native, containerd):
        assert [published.describe(m) for m in published.select(ports, None)] == [
            "80/tcp -> 0.0.0.0:8080", "53/udp -> 127.0.0.1:5353"]
        assert [published.describe(m) for m in published.select(ports, "53/udp")] == ["53/udp -> 127.0.0.1:5353"]


def test_a_port_not_published_is_not_found():
    with pytest.raises(NotFound, match="no public port '81/tcp'"):
        published.select(["8080:80"], "81")
    with pytest.raises(UsageError):
        published.select(["8080:80"], "eighty")


# ------------------------------------------------------------------ --format


def test_template_fields_match_without_case_and_nest_with_dots():
    data = {"id": "abc", "name": "web", "details": {"state": {"pid": 42}}, "ports": ["a", "b"]}
    assert render_template("{{.ID}} {{.Names}} {{.Details.State.Pid}}", data) == "abc web 42"
    assert render_template("{{.ports}}|{{json .ports}}|{{ .name }}", data) == 'a,b|["a", "b"]|web'
    assert render_template("{{.name}}\\t{{.id}}", data) == "web\tabc"


def test_an_unknown_template_field_is_one_clear_error():
    with pytest.raises(UsageError, match="no field '.Nope'.*id, name"):
        render_template("{{.Nope}}", {"id": "x", "name": "y"})


def test_json_is_an_array_or_one_object_a_line_and_table_templates_get_a_header():
    items = [{"name": "a", "size": 1}, {"name": "b", "size": 2}]
    assert format_items(items, "{{.name}}={{.size}}") == "a=1\nb=2"
    assert format_items(items, "json", json_lines=True) == '{"name": "a", "size": 1}\n{"name": "b", "size": 2}'
    assert format_items(items, "table {{.name}}\\t{{.size}}") == "NAME\tSIZE\na\t1\nb\t2"


def test_format_accepts_table_json_and_templates_only():
    kind = Format()
    assert [kind.convert(v, None, None) for v in ("table", "json", "{{.Name}}")] == ["table", "json", "{{.Name}}"]
    with pytest.raises(click.BadParameter, match="not table, json or a template"):
        kind.convert("yaml", None, None)
