"""overlayfs with many layers: the mount's option string must fit in one page."""

from __future__ import annotations

import subprocess
import sys

from support import REPO

SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from gophernetes.linux import mounts
base = Path({base!r})
lowers = []
for index in range(50):
    layer = base / "layers" / f"{{index:064x}}" / "diff"
    layer.mkdir(parents=True)
    (layer / f"file{{index}}").write_text(str(index))
    lowers.append(layer)
for name in ("upper", "work", "merged"):
    (base / name).mkdir()
mounts.make_all_private()
mounts.mount_overlay(list(reversed(lowers)), base / "upper", base / "work", base / "merged")
print(len(list((base / "merged").iterdir())), (base / "merged" / "file0").read_text())
"""


def test_fifty_layers_fit_in_one_overlay_mount(tmp_path):
    script = SCRIPT.format(repo=str(REPO), base=str(tmp_path))
    result = subprocess.run(["unshare", "--mount", sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["50", "0"]
