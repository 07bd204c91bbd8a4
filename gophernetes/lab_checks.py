"""Run one lab's checks: every `test_step_N_...(host)` of its `checks/test_*.py`, called with a
testinfra host for this machine. `gophernetes lab check` starts this module as a child process:

    python -m gophernetes.lab_checks CHECKS_DIR      # one JSON line per check on stdout

The checks are pytest-testinfra tests (a teacher can still run `pytest labs/NN-*/checks`), but
they use nothing of pytest beyond the `host` fixture. So they are called here directly:
pytest's own start-up (plugins, collection, a JUnit report) was three quarters of the CPU time
of a check run (measured with Debian's python3: 0.24 s user against 0.05 s; 6-9 s per `lab
check` in the software-emulated lab VM).

Still a child process: a check that hangs is stopped by the parent's timeout, and one that
crashes cannot take `gophernetes lab check` down with it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHECK_PREFIX = "test_step_"


def check_functions(checks_dir: Path) -> list[tuple[str, Callable[[Any], None]]]:
    """The check functions of a lab's checks/ folder, by name, in file and source order.

    The labs folder (the checks' grandparent) goes on sys.path first: the checks import the
    shared helpers in labs/labkit.py, as labs/conftest.py arranges under pytest.
    """
    sys.path.insert(0, str(checks_dir.resolve().parent.parent))
    found = []
    for path in sorted(checks_dir.glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"lab_check_{checks_dir.parent.name}_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found += [(name, value) for name, value in vars(module).items()
                  if name.startswith(CHECK_PREFIX) and callable(value)]
    return found


def failure_message(error: BaseException) -> str:
    """What a student reads after `found:`: the assertion's own words (its first line).

    A bare `assert` has no words: its source line stands in. Anything else that went wrong
    in a check is named with its type, as pytest would report it.
    """
    if isinstance(error, AssertionError):
        words = str(error).strip()
        if words:
            return words.splitlines()[0]
        frames = traceback.extract_tb(error.__traceback__)
        return f"assertion failed: {frames[-1].line}" if frames else "assertion failed"
    return f"{type(error).__name__}: {error}".splitlines()[0]


def run(checks_dir: Path, host: Any) -> list[dict[str, Any]]:
    """Call every check with HOST; one {name, passed, message} per check."""
    results = []
    for name, check in check_functions(checks_dir):
        try:
            check(host)
        except Exception as error:  # noqa: BLE001 - every failure of a check is a FAIL line
            results.append({"name": name, "passed": False, "message": failure_message(error)})
        else:
            results.append({"name": name, "passed": True, "message": ""})
    return results


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m gophernetes.lab_checks CHECKS_DIR", file=sys.stderr)
        return 2
    import testinfra  # pytest-testinfra, without pytest: its local backend runs commands here

    for result in run(Path(argv[0]), testinfra.get_host("local://")):
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
