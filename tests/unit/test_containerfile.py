"""Containerfile parsing: continuations, comments, forms, flags, words and variables, errors with lines."""

from __future__ import annotations

import pytest

from gophernetes.errors import UsageError
from gophernetes.image.containerfile import command, duration, healthcheck, key_values, parse, ports, trigger, words

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
    ("FROM a\nADD --from=builder /a /b\n", "Containerfile:2: ADD --from: not supported"),
    ("FROM a\n\nFROM b AS x y\n", "Containerfile:3: FROM takes IMAGE [AS NAME]"),
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


def test_stages_are_named_in_lower_case_and_only_once():
    found = parse("FROM busybox AS Build\nRUN true\nFROM build as final\nCOPY --from=build /a /b\n")
    assert [(i.keyword, i.text, i.flags) for i in found] == [
        ("FROM", "busybox", {"as": "build"}), ("RUN", "true", {}), ("FROM", "build", {"as": "final"}),
        ("COPY", "/a /b", {"from": "build"})]
    with pytest.raises(UsageError, match="Containerfile:2: a stage called 'one' already exists"):
        parse("FROM busybox AS one\nFROM busybox AS ONE\n")
    with pytest.raises(UsageError, match="Containerfile:1: FROM takes IMAGE \\[AS NAME\\]"):
        parse("FROM busybox build\n")
    with pytest.raises(UsageError, match="not a valid stage name"):
        parse("FROM busybox AS 1st\n")


def test_onbuild_holds_any_instruction_but_from_and_onbuild():
    found = parse("FROM busybox\nONBUILD RUN make\n")[1]
    assert (found.keyword, found.text) == ("ONBUILD", "RUN make")
    assert trigger(found.text, 1).keyword == "RUN"
    for bad in ("FROM busybox", "ONBUILD RUN x"):
        with pytest.raises(UsageError, match=f"ONBUILD {bad.split()[0]} is not allowed"):
            parse(f"FROM busybox\nONBUILD {bad}\n")


def test_shell_must_be_json_and_changes_the_shell_form_only():
    with pytest.raises(UsageError, match="SHELL takes a JSON array"):
        parse("FROM busybox\nSHELL /bin/bash -c\n")
    run, exec_run = parse('FROM busybox\nRUN echo hi\nRUN ["echo", "hi"]\n')[1:]
    assert command(run, ["/bin/bash", "-ec"]) == ["/bin/bash", "-ec", "echo hi"]
    assert command(run) == ["/bin/sh", "-c", "echo hi"]
    assert command(exec_run, ["/bin/bash", "-ec"]) == ["echo", "hi"]


def test_healthcheck_is_kept_as_docker_keeps_it():
    def check(line: str) -> dict:
        return healthcheck(parse(f"FROM busybox\n{line}\n")[1], "Containerfile:2")

    assert check("HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --retries=3 CMD wget -q x") == {
        "Test": ["CMD-SHELL", "wget -q x"], "Interval": 90_000_000_000, "Timeout": 500_000_000,
        "StartPeriod": 2_000_000_000, "Retries": 3}
    assert check('HEALTHCHECK CMD ["/bin/check", "--quick"]') == {"Test": ["CMD", "/bin/check", "--quick"]}
    assert check("HEALTHCHECK NONE") == {"Test": ["NONE"]}
    for bad, message in (("HEALTHCHECK true", "takes CMD COMMAND or NONE"),
                         ("HEALTHCHECK --retries=0 CMD true", "--retries=0"),
                         ("HEALTHCHECK --interval=5 CMD true", "give a duration")):
        with pytest.raises(UsageError, match=message):
            check(bad)
    with pytest.raises(UsageError, match="HEALTHCHECK --every: not supported"):
        parse("FROM busybox\nHEALTHCHECK --every=5s CMD true\n")


def test_durations_read_as_go_reads_them():
    assert duration("1h2m3s", "x") == 3_723_000_000_000
    assert duration("1.5s", "x") == 1_500_000_000
    assert duration("250us", "x") == 250_000
    for bad in ("", "5", "1d", "s", "1s ", "-1s"):
        with pytest.raises(UsageError):
            duration(bad, "x")
