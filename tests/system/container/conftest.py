"""Fixtures of the container commands' tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli(gophernetes):
    """The CLI, and every container removed afterwards even when the test fails."""
    yield gophernetes
    ids = gophernetes("list", "--all", "--quiet").stdout.split()
    if ids:
        gophernetes("rm", "--force", *ids)
