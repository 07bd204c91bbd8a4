"""bench/oci.py in quick mode, as root: it runs every runtime's lifecycle and `run` of one
bundle, prints one row per runtime with ratios to runc, and leaves nothing behind (no
cgroup, mount, state or orphaned container init). Nothing is timed: the figures go to
bench/RESULTS.md, not into an assertion."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from support import REPO

pytestmark = [pytest.mark.skipif(not shutil.which("runc"), reason="runc (apt-get install runc)"),
              pytest.mark.skipif(not os.path.exists("/usr/bin/time"), reason="GNU time: apt-get install time")]


def test_the_oci_bench_compares_the_runtimes_and_leaves_nothing_behind(tmp_path):
    markdown = tmp_path / "results.md"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "oci.py"), "--rounds", "1", "--seed", "7",
                           "--markdown", str(markdown)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    section = markdown.read_text()
    assert "Left behind: nothing" in section, section
    rows = {row.split("|")[1].strip(): row for row in section.splitlines() if row.startswith("| ")}
    expected = {"runc", "gophernetes-runtime"} | ({"crun"} if shutil.which("crun") else set())
    assert expected <= set(rows), f"rows: {sorted(rows)}"
    runc = [cell.strip() for cell in rows["runc"].split("|")[1:-1]]
    assert runc[5] == "1.00" and runc[9] == "1.00", f"runc's own ratio is not 1: {runc}"
    for name in expected:
        cells = [cell.strip() for cell in rows[name].split("|")[1:-1]]
        assert all(re.fullmatch(r"\d+\.\d+", cells[i]) for i in (1, 2, 3, 4, 7, 8)), cells
    assert "OCI runtime create+start+delete" in (tmp_path / "results.md.summary.jsonl").read_text()
    assert not [line for line in open("/proc/self/mountinfo") if "gnbench-" in line and "-oci" in line]
