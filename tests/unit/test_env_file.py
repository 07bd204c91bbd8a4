"""--env-file in docker's format."""

from __future__ import annotations

import pytest

from gophernetes.errors import UsageError
from gophernetes.runtime.envfile import parse, read

TEXT = """# settings of the app
GREETING=hello world
QUOTED="kept as is"
EMPTY=
  INDENTED=yes
HOME
NOT_SET_ANYWHERE

URL=http://x/?a=b
"""


def test_lines_are_taken_as_docker_takes_them():
    assert parse(TEXT, {"HOME": "/root"}) == ["GREETING=hello world", 'QUOTED="kept as is"', "EMPTY=",
                                              "INDENTED=yes", "HOME=/root", "URL=http://x/?a=b"]


def test_a_line_that_is_not_a_variable_names_its_file_and_line():
    with pytest.raises(UsageError, match=r"--env-file app.env, line 2: 'BAD KEY=1' is not KEY=VALUE"):
        parse("OK=1\nBAD KEY=1\n", {}, "--env-file app.env")
    with pytest.raises(UsageError, match="line 1"):
        parse("=value\n", {})


def test_files_are_read_in_order_and_a_missing_one_is_one_line(tmp_path):
    (tmp_path / "a").write_text("X=1\n")
    (tmp_path / "b").write_text("X=2\n")
    assert read([str(tmp_path / "a"), str(tmp_path / "b")], {}) == ["X=1", "X=2"]
    with pytest.raises(UsageError, match="--env-file .*/nope: No such file or directory"):
        read([str(tmp_path / "nope")], {})
