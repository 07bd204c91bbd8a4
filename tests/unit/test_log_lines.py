"""Reading a log file as it grows (runtime/logs.lines): tail, unfinished lines, follow."""

from __future__ import annotations

import json

from gophernetes.runtime import logs


def writer(path, pieces: list[str]):
    """A still_running() that appends one piece per call while any are left: the container writing."""

    def still_running() -> bool:
        if not pieces:
            return False
        with open(path, "a") as file:
            file.write(pieces.pop(0))
        return True

    return still_running


def test_the_last_lines_and_an_unfinished_one_when_not_following(tmp_path):
    log = tmp_path / "log"
    log.write_text("one\ntwo\nthree\nfour")
    assert list(logs.lines(log)) == ["one\n", "two\n", "three\n", "four"]
    assert list(logs.lines(log, tail=2)) == ["three\n", "four"]
    assert list(logs.lines(log, tail=0)) == []
    assert list(logs.lines(tmp_path / "missing")) == []


def test_following_waits_for_a_line_to_be_finished(tmp_path):
    log = tmp_path / "log"
    log.write_text("first\nsec")
    followed = list(logs.lines(log, tail=1, follow=True, still_running=writer(log, ["ond\nthi", "rd\n", "cut"])))
    assert followed == ["first\n", "second\n", "third\n", "cut"]


def test_what_was_written_before_the_container_exited_is_read(tmp_path):
    log = tmp_path / "log"
    log.write_text("")
    assert list(logs.lines(log, follow=True, still_running=writer(log, ["last words\n"]))) == ["last words\n"]


def test_json_entries_are_parsed_from_the_same_lines(tmp_path):
    log = tmp_path / "log"
    entry = {"time": "2026-12-01T10:00:00.000000Z", "stream": "stdout", "log": "hi\n"}
    half = json.dumps(entry)[:20]
    log.write_text(json.dumps(entry) + "\n" + half)
    assert list(logs.read(log)) == [entry]  # a line a crash cut short is skipped
    rest = json.dumps(entry)[20:] + "\n"
    assert list(logs.read(log, follow=True, still_running=writer(log, [rest]))) == [entry, entry]


def test_an_entry_is_byte_for_byte_what_json_dumps_writes():
    for text in ["hi\n", "", "quote \" back\\slash\ttab", "\x00\x1f\x7f", "héllo ☃ \U0001f600", "\ufffd\n"]:
        for stream in ("stdout", "stderr"):
            expected = json.dumps({"time": "2026-12-01T10:00:00.000001Z", "stream": stream, "log": text}) + "\n"
            assert logs.entry(stream, text, at="2026-12-01T10:00:00.000001Z") == expected


def test_the_timestamp_is_utc_with_microseconds():
    from datetime import UTC, datetime

    stamp = logs.timestamp()
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 5


def test_the_pump_writes_lines_per_stream_and_the_unfinished_rest_at_the_end(tmp_path):
    import os

    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    os.write(out_write, b"one\ntw")
    os.write(err_write, b"oops\n")
    os.close(out_write)
    os.close(err_write)
    logs.pump({out_read: "stdout", err_read: "stderr"}, tmp_path / "log")
    entries = sorted((e["stream"], e["log"]) for e in logs.read(tmp_path / "log"))
    assert entries == [("stderr", "oops\n"), ("stdout", "one\n"), ("stdout", "tw")]


def test_the_writer_side_imports_neither_json_nor_typing():
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(logs.__file__).resolve().parents[2])
    code = (f"import sys; sys.path.insert(0, {root!r}); import gophernetes.engines.native.monitor; "
            "print(sorted(m for m in ('json', 'typing', 're', 'enum', 'datetime', 'pathlib') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
