"""--env-file: environment variables from a file, in docker's format.

One variable a line: `KEY=VALUE` is taken as it is (no quotes removed, no $expansion:
the value is everything after the first "="); a bare `KEY` takes the value KEY has in
the caller's environment, and is left out when it has none; blank lines and lines
starting with "#" are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping

from gophernetes.errors import UsageError


def parse(text: str, environ: Mapping[str, str], source: str = "--env-file") -> list[str]:
    """The KEY=VALUE list of an env file's `text`."""
    variables = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        if not key or any(c.isspace() for c in key) or "\0" in line:
            raise UsageError(f"{source}, line {number}: {raw!r} is not KEY=VALUE (a variable name has no spaces)")
        if equals:
            variables.append(f"{key}={value}")
        elif key in environ:
            variables.append(f"{key}={environ[key]}")
    return variables


def read(paths: list[str], environ: Mapping[str, str]) -> list[str]:
    """Every file's variables, in order (later files, then -e, override earlier ones)."""
    variables = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except OSError as error:
            raise UsageError(f"--env-file {path}: {error.strerror}") from None
        variables += parse(text, environ, f"--env-file {path}")
    return variables
