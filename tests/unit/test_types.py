"""The code type-checks: `mypy` (its settings are pyproject.toml's [tool.mypy]) reports no error."""

import shutil
import subprocess

import pytest
from support import REPO


@pytest.mark.skipif(shutil.which("mypy") is None,
                    reason="mypy is installed by `make install` (.ci/install: pyproject.toml's [test] extra)")
def test_mypy_finds_nothing():
    result = subprocess.run(["mypy"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
