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
