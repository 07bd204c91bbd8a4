"""Containerfile parsing: continuations, comments, forms, flags, words and variables, errors with lines."""

from __future__ import annotations

import pytest

from gophernetes.errors import UsageError
from gophernetes.image.containerfile import command, key_values, parse, ports, words

TEXT = """\
# syntax is ignored, comments too
ARG BASE=busybox
FROM $BASE

ENV GREETING="hello world" LANG=C
copy --chown=1000:1000 app/ /srv/app/
RUN echo "$GREETING" > /greeting \\
    # a comment inside a continuation is dropped
 && chmod 600 /greeting
CMD ["sh", "-c", "cat /greeting"]
ENTRYPOINT
"""


def test_instructions_keep_their_first_line_and_upper_case_keyword():
    found = parse(TEXT)
    assert [(i.line, i.keyword) for i in found] == [
        (2, "ARG"), (3, "FROM"), (5, "ENV"), (6, "COPY"), (7, "RUN"), (10, "CMD"), (11, "ENTRYPOINT")]


def test_continuations_join_and_comments_inside_them_vanish():
    run = parse(TEXT)[4]
    assert run.text == 'echo "$GREETING" > /greeting && chmod 600 /greeting'
    assert command(run) == ["/bin/sh", "-c", run.text]


def test_exec_form_is_json_and_shell_form_is_not():
    cmd = parse(TEXT)[5]
    assert cmd.exec_form == ["sh", "-c", "cat /greeting"]
    assert command(cmd) == ["sh", "-c", "cat /greeting"]
    not_json = parse("FROM scratch\nRUN [ -f /x ] && echo yes\n")[1]
    assert not_json.exec_form is None  # a shell test, not a JSON array
    assert command(parse("FROM scratch\nENTRYPOINT\n")[1]) == []


def test_copy_flags_are_taken_off_the_arguments():
    copy = parse(TEXT)[3]
    assert copy.flags == {"chown": "1000:1000"}
    assert copy.text == "app/ /srv/app/"


@pytest.mark.parametrize("text, message", [
    ("RUN echo\n", "Containerfile:1: RUN before FROM"),
    ("FROM a\nFROBNICATE x\n", "Containerfile:2: unknown or unsupported instruction 'FROBNICATE'"),
    ("FROM a\nCOPY --from=builder /a /b\n", "Containerfile:2: COPY --from: not supported"),
    ("FROM a\n\nFROM b\n", "Containerfile:3: multi-stage builds"),
    ("FROM a\nRUN [\"sh\", 1]\n", "Containerfile:2: RUN's JSON form must be an array of strings"),
    ("FROM a\nWORKDIR\n", "Containerfile:2: WORKDIR needs arguments"),
    ("# only a comment\n", "no instructions"),
])
def test_errors_name_the_line(text, message):
    with pytest.raises(UsageError) as error:
        parse(text)
    assert message in str(error.value)


def test_the_escape_directive_changes_the_continuation_character():
    found = parse("# escape=`\nFROM scratch\nRUN echo a `\n  b\n")
    assert found[1].text == "echo a b"


VARIABLES = {"NAME": "lab", "EMPTY": "", "SPACED": "a b"}


@pytest.mark.parametrize("text, expected", [
    ("$NAME ${NAME}/x", ["lab", "lab/x"]),
    ("'$NAME' \"$NAME\"", ["$NAME", "lab"]),
    ("${EMPTY:-fallback} ${NAME:-fallback} ${NAME:+alt} ${EMPTY:+alt}", ["fallback", "lab", "alt", ""]),
    ("$SPACED", ["a b"]),                   # an expansion never splits a word
    ("\\$NAME a\\ b", ["$NAME", "a b"]),    # the escape protects the next character
    ("$UNSET-x $", ["-x", "$"]),
    ('"" x', ["", "x"]),
])
def test_words_expand_variables_like_docker(text, expected):
    assert words(text, VARIABLES, "here") == expected


def test_an_unterminated_quote_is_refused():
    with pytest.raises(UsageError, match="here: unterminated \" quote"):
        words('"open', {}, "here")


def test_env_takes_both_forms_and_label_quotes():
    assert key_values('A=1 B="two words" C=$NAME', VARIABLES, "w", "ENV") == [
        ("A", "1"), ("B", "two words"), ("C", "lab")]
    assert key_values("PATH /usr/bin:/bin", VARIABLES, "w", "ENV") == [("PATH", "/usr/bin:/bin")]
    assert key_values('"org.lab.name"="Lab App"', VARIABLES, "w", "LABEL") == [("org.lab.name", "Lab App")]
    assert key_values("VERSION", VARIABLES, "w", "ARG") == [("VERSION", "")]
    with pytest.raises(UsageError, match="w: ENV: '=x' is not KEY=VALUE"):
        key_values("A=1 =x", {}, "w", "ENV")


def test_expose_normalizes_protocols_and_refuses_nonsense():
    assert ports("80 443/TCP 53/udp", {}, "w") == ["80/tcp", "443/tcp", "53/udp"]
    with pytest.raises(UsageError, match="EXPOSE '70000'"):
        ports("70000", {}, "w")
