"""pytest configuration shared by every lab's checks (`gophernetes lab check NN` runs them).

The checks look at this host as it is: they need root to read other processes'
namespaces and mounts. `labkit` (next to this file) holds the small helpers they share.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_configure(config):
    if os.geteuid() != 0:
        pytest.exit("the lab checks read other processes' namespaces and cgroups: run them as root "
                    "(sudo gophernetes lab check NN)", returncode=4)
