"""How the CLI writes durations and ages: as docker does (go-units' HumanDuration)."""

from __future__ import annotations

import pytest

from gophernetes.cli.output import format_duration, format_since, table


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (90, "About a minute"),
    (600, "10 minutes"), (3600, "About an hour"), (36 * 3600, "36 hours"), (3 * 86400, "3 days"),
    (20 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_durations_read_as_dockers(seconds, text):
    assert format_duration(seconds) == text


def test_an_image_time_that_cannot_be_read_is_na():
    assert format_since("not a time", 0) == "N/A"
    assert format_since("2024-01-02T03:04:05Z", 1704164645 + 3 * 3600) == "3 hours ago"


def test_tables_are_left_aligned_three_spaces_apart():
    assert table([("A", "BB"), ("ccc", "d")]) == "A     BB\nccc   d"
