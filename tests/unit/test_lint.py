"""The code stays ruff-clean (the rules are in pyproject.toml)."""

import shutil
import subprocess

import pytest
from support import REPO


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by `make install` (.ci/install)")
def test_ruff_finds_nothing():
    result = subprocess.run(["ruff", "check", "gophernetes", "tests", "bench"], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
