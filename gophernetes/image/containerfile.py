"""Read a Containerfile (a Dockerfile): instructions, their line numbers, words and variables.

    # comment
    ARG BASE=busybox
    FROM $BASE
    ENV GREETING="hello world" LANG=C
    COPY --chown=1000:1000 app/ /srv/app/
    RUN echo "$GREETING" > /greeting \\
     && chmod 600 /greeting
    CMD ["sh", "-c", "cat /greeting"]

The parser follows docker's rules in a few passes:

1. lines: a comment line (`#` first) is dropped, even in the middle of a continued
   instruction; a line ending in the escape character (`\\`, or the one a first-line
   `# escape=` directive names) continues on the next; empty lines end nothing;
2. instructions: the first word (any case) is the instruction, the rest its arguments,
   and the line it started on is kept for errors ("Containerfile:7: ...");
3. forms: RUN, CMD and ENTRYPOINT (and COPY/ADD) take a JSON array (*exec form*, no shell)
   or plain text (*shell form*, run by `/bin/sh -c`); COPY and ADD take `--flags` first;
4. words and variables, when the step runs (the values depend on earlier ENV and ARG):
   `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}` are replaced, except
   in single quotes or after the escape character; quotes group words and are removed.
   RUN, CMD and ENTRYPOINT are not expanded here: the shell in the container does it.

Everything is refused with the line number and one sentence: an unknown instruction,
an unterminated quote, a flag we do not support, JSON that is not a list of strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gophernetes.errors import UsageError

INSTRUCTIONS = ("FROM", "RUN", "COPY", "ADD", "ENV", "WORKDIR", "USER", "CMD", "ENTRYPOINT", "LABEL", "EXPOSE",
                "ARG", "SHELL", "VOLUME", "HEALTHCHECK", "STOPSIGNAL", "ONBUILD")
EXEC_FORM = ("RUN", "CMD", "ENTRYPOINT", "COPY", "ADD", "SHELL", "VOLUME")
FLAGS = {"COPY": ("chown", "chmod", "from"), "ADD": ("chown", "chmod"),
         "HEALTHCHECK": ("interval", "timeout", "start-period", "start-interval", "retries")}
NOT_A_TRIGGER = ("FROM", "ONBUILD", "MAINTAINER")  # docker refuses these after ONBUILD
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STAGE = re.compile(r"[a-z][a-z0-9_.-]*")


@dataclass(frozen=True)
class Instruction:
    """One instruction: where it is, what it is, its argument text and (if given) its JSON form."""

    line: int
    keyword: str                        # upper case: RUN, COPY, ...
    text: str                           # the arguments as written (continuations joined), flags removed
    exec_form: list[str] | None = None  # ["sh", "-c", "..."] when written as a JSON array
    flags: dict[str, str] = field(default_factory=dict)  # --chown=... for COPY/ADD
    source: str = ""                    # the whole instruction, for history and the cache key

    def where(self, filename: str = "Containerfile") -> str:
        return f"{filename}:{self.line}"


def parse(text: str, filename: str = "Containerfile") -> list[Instruction]:
    """Parse a whole Containerfile; the first instruction (after ARGs) must be FROM."""
    escape = "\\"
    lines = text.lstrip("\ufeff").splitlines()
    for line in lines:  # parser directives: only at the very top, before any instruction or comment
        match = re.fullmatch(r"\s*#\s*(\w+)\s*=\s*(\S+)\s*", line)
        if not match:
            break
        if match.group(1).lower() == "escape":
            if match.group(2) not in ("\\", "`"):
                raise UsageError(f"{filename}: the escape directive takes \\ or `, not {match.group(2)!r}")
            escape = match.group(2)
    instructions = [_instruction(number, logical, escape, filename)
                    for number, logical in _logical_lines(lines, escape)]
    keywords = [i.keyword for i in instructions if i.keyword != "ARG"]
    if not keywords:
        raise UsageError(f"{filename}: no instructions: a Containerfile starts with FROM IMAGE (or FROM scratch)")
    if keywords[0] != "FROM":
        first = next(i for i in instructions if i.keyword != "ARG")
        raise UsageError(f"{first.where(filename)}: {first.keyword} before FROM: a Containerfile starts with FROM")
    seen: set[str] = set()
    for stage in (i for i in instructions if i.keyword == "FROM" and "as" in i.flags):
        if stage.flags["as"] in seen:
            raise UsageError(f"{stage.where(filename)}: a stage called {stage.flags['as']!r} already exists")
        seen.add(stage.flags["as"])
    return instructions


def trigger(text: str, line: int, filename: str = "Containerfile") -> Instruction:
    """An ONBUILD trigger as the base image stores it ("RUN make"), parsed to run after FROM."""
    return _instruction(line, text, "\\", filename)


def _logical_lines(lines: list[str], escape: str) -> list[tuple[int, str]]:
    """(first line number, text) of each instruction, continuations joined, comments dropped."""
    result: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and current):
            continue  # a comment, or an empty line inside a continued instruction
        if not stripped:
            continue
        if not current:
            start = number
        body = raw.rstrip()
        if body.endswith(escape) and not body.endswith(escape * 2):
            current.append(body[:-1])
            continue
        current.append(body)
        result.append((start, " ".join(part.strip() for part in current if part.strip())))
        current = []
    if current:
        result.append((start, " ".join(part.strip() for part in current if part.strip())))
    return result


def _instruction(number: int, logical: str, escape: str, filename: str) -> Instruction:
    keyword, _, rest = logical.partition(" ")
    keyword = keyword.upper()
    where = f"{filename}:{number}"
    if keyword not in INSTRUCTIONS:
        supported = ", ".join(INSTRUCTIONS)
        raise UsageError(f"{where}: unknown or unsupported instruction {keyword!r} (supported: {supported})")
    rest = rest.strip()
    flags: dict[str, str] = {}
    while keyword in FLAGS and rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        name, equals, setting = flag[2:].partition("=")
        if name not in FLAGS[keyword] or not equals or not setting:
            raise UsageError(f"{where}: {keyword} --{name}: not supported (supported: "
                             f"{', '.join('--' + f + '=...' for f in FLAGS[keyword])})")
        flags[name] = setting
        rest = rest.strip()
    if keyword == "FROM":
        rest, flags = _stage_name(rest, where)
    elif keyword == "ONBUILD":
        inner = _instruction(number, rest, escape, filename) if rest else None
        if inner is not None and inner.keyword in NOT_A_TRIGGER:
            raise UsageError(f"{where}: ONBUILD {inner.keyword} is not allowed")
    exec_form = None
    if keyword in EXEC_FORM and rest.startswith("["):
        value: object = None
        try:
            value = json.loads(rest)
        except ValueError:
            pass  # not JSON: docker treats it as shell form
        if value is not None:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{where}: {keyword}'s JSON form must be an array of strings")
            exec_form = [str(v) for v in value]
    if not rest and keyword not in ("CMD", "ENTRYPOINT"):
        raise UsageError(f"{where}: {keyword} needs arguments")
    if keyword == "SHELL" and not exec_form:
        raise UsageError(f'{where}: SHELL takes a JSON array, e.g. SHELL ["/bin/bash", "-c"]')
    return Instruction(number, keyword, rest, exec_form, flags, logical)


def _stage_name(rest: str, where: str) -> tuple[str, dict[str, str]]:
    """FROM IMAGE [AS NAME]: the image, and the stage's name (lower case, as docker keeps it)."""
    parts = rest.split()
    if len(parts) == 3 and parts[1].lower() == "as":
        name = parts[2].lower()
        if not _STAGE.fullmatch(name):
            raise UsageError(f"{where}: {parts[2]!r} is not a valid stage name (a letter, then letters, digits, "
                             "'_', '.', '-')")
        return parts[0], {"as": name}
    if len(parts) != 1:
        raise UsageError(f"{where}: FROM takes IMAGE [AS NAME]")
    return rest, {}


# --- words and variables ------------------------------------------------------------------


def words(text: str, variables: Mapping[str, str], where: str, escape: str = "\\") -> list[str]:
    """Split `text` into words as docker does for COPY, ENV, LABEL...: quotes group and are
    removed, the escape character protects the next one, variables are expanded (not in
    single quotes). An expansion never splits a word."""
    result: list[str] = []
    word: list[str] = []
    in_word = False
    index = 0
    quote = ""
    while index < len(text):
        char = text[index]
        if quote == "'":
            if char == "'":
                quote = ""
            else:
                word.append(char)
            index += 1
            continue
        if char == escape and index + 1 < len(text):
            word.append(text[index + 1])
            in_word = True
            index += 2
            continue
        if char == "$":
            value, index = _expand(text, index, variables, where)
            word.append(value)
            in_word = True
            continue
        if quote == '"':
            if char == '"':
                quote = ""
            else:
                word.append(char)
            index += 1
            continue
        if char in "'\"":
            quote = char
            in_word = True
        elif char.isspace():
            if in_word:
                result.append("".join(word))
                word, in_word = [], False
        else:
            word.append(char)
            in_word = True
        index += 1
    if quote:
        raise UsageError(f"{where}: unterminated {quote} quote")
    if in_word:
        result.append("".join(word))
    return result


def expand(text: str, variables: Mapping[str, str], where: str) -> str:
    """`text` with its variables replaced and quotes kept as one word (WORKDIR, USER, FROM...)."""
    found = words(text, variables, where)
    return " ".join(found)


def _expand(text: str, index: int, variables: Mapping[str, str], where: str) -> tuple[str, int]:
    """Expand the variable at text[index] == "$"; returns (value, index after it)."""
    rest = text[index + 1:]
    if rest.startswith("{"):
        close = rest.find("}")
        if close < 0:
            raise UsageError(f"{where}: missing '}}' in {text[index:index + 40]!r}")
        inner = rest[1:close]
        match = _NAME.match(inner)
        if not match:
            raise UsageError(f"{where}: bad variable {'${' + inner + '}'!r}")
        name, modifier = match.group(), inner[match.end():]
        value = variables.get(name, "")
        if modifier.startswith(":-"):
            value = value or modifier[2:]
        elif modifier.startswith(":+"):
            value = modifier[2:] if value else ""
        elif modifier:
            raise UsageError(f"{where}: unsupported variable form {'${' + inner + '}'!r} (use ${{NAME:-default}} "
                             "or ${NAME:+alternative})")
        return value, index + 2 + close
    match = _NAME.match(rest)
    if not match:
        return "$", index + 1
    return variables.get(match.group(), ""), index + 1 + match.end()


def key_values(text: str, variables: Mapping[str, str], where: str, keyword: str) -> list[tuple[str, str]]:
    """ENV, LABEL and ARG arguments: `KEY=VALUE ...`, or (ENV, LABEL) the old `KEY VALUE...`."""
    found = words(text, variables, where)
    if not found:
        raise UsageError(f"{where}: {keyword} needs KEY=VALUE")
    if "=" not in found[0]:
        if keyword == "ARG":
            return [(found[0], "")] if len(found) == 1 else _bad(where, keyword)
        if len(found) < 2:
            raise UsageError(f"{where}: {keyword} {found[0]} needs a value (KEY=VALUE or KEY VALUE)")
        key, _, value = text.strip().partition(" ")
        return [(key, expand(value.strip(), variables, where))]
    pairs = []
    for item in found:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise UsageError(f"{where}: {keyword}: {item!r} is not KEY=VALUE")
        pairs.append((key, value))
    return pairs


def _bad(where: str, keyword: str) -> list[tuple[str, str]]:
    raise UsageError(f"{where}: {keyword} takes NAME or NAME=DEFAULT")


def command(instruction: Instruction, shell: list[str] | None = None) -> list[str]:
    """RUN, CMD or ENTRYPOINT as an argv: the exec form as it is, the shell form under the
    SHELL instruction's shell (by default /bin/sh -c)."""
    if instruction.exec_form is not None:
        return list(instruction.exec_form)
    return [*(shell or ["/bin/sh", "-c"]), instruction.text] if instruction.text else []


def healthcheck(instruction: Instruction, where: str) -> dict:
    """HEALTHCHECK [--interval=D --timeout=D --start-period=D --start-interval=D --retries=N] CMD ...
    (or NONE) as docker's image config keeps it: Test, then the durations in nanoseconds and
    Retries, only those given (docker omits the zero ones)."""
    kind, _, rest = instruction.text.partition(" ")
    rest = rest.strip()
    if kind.upper() == "NONE" and not rest:
        return {"Test": ["NONE"]}
    if kind.upper() != "CMD" or not rest:
        raise UsageError(f"{where}: HEALTHCHECK takes CMD COMMAND or NONE")
    exec_form = None
    if rest.startswith("["):
        try:
            exec_form = json.loads(rest)
        except ValueError:
            pass
    if isinstance(exec_form, list) and all(isinstance(v, str) for v in exec_form):
        check: dict = {"Test": ["CMD", *exec_form]}
    else:
        check = {"Test": ["CMD-SHELL", rest]}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):
        if flag in instruction.flags:
            check[key] = duration(instruction.flags[flag], f"{where}: HEALTHCHECK --{flag}")
    if "retries" in instruction.flags:
        retries = instruction.flags["retries"]
        if not retries.isdigit() or int(retries) < 1:
            raise UsageError(f"{where}: HEALTHCHECK --retries={retries}: give a whole number, at least 1")
        check["Retries"] = int(retries)
    return check


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
          "h": 3_600_000_000_000}


def duration(text: str, what: str) -> int:
    """Go's time.ParseDuration, as docker reads --interval: "1m30s", "500ms" -> nanoseconds."""
    parts = re.findall(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise UsageError(f"{what}={text}: give a duration such as 30s, 1m30s or 500ms")
    return round(sum(float(number) * _UNITS[unit] for number, unit in parts))


def ports(text: str, variables: Mapping[str, str], where: str) -> list[str]:
    """EXPOSE 80 443/tcp 53/udp -> ["80/tcp", "443/tcp", "53/udp"]."""
    result = []
    for item in words(text, variables, where):
        port, _, protocol = item.partition("/")
        protocol = (protocol or "tcp").lower()
        if not port.isdigit() or not 0 < int(port) < 65536 or protocol not in ("tcp", "udp", "sctp"):
            raise UsageError(f"{where}: EXPOSE {item!r}: give PORT or PORT/tcp|udp|sctp")
        result.append(f"{int(port)}/{protocol}")
    return result
