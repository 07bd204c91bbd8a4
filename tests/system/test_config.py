"""The configuration file sets the global options' defaults; flags and environment win."""

from __future__ import annotations

import os
import subprocess
import sys

from support import REPO


def gophernetes(*args: str, config: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GOPHERNETES_")}
    environment.update({"GOPHERNETES_CONFIG": config, "PYTHONPATH": str(REPO)}, **(env or {}))
    return subprocess.run([sys.executable, "-m", "gophernetes", *args], capture_output=True, text=True,
                          env=environment)


def test_the_config_file_chooses_the_engine_and_its_socket(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'engine = "containerd"\naddress = "{tmp_path}/no.sock"\nroot = "{tmp_path}/state"\n')
    result = gophernetes("list", config=str(config))
    assert result.returncode == 125
    assert result.stderr.startswith(f"gophernetes: cannot reach containerd at {tmp_path}/no.sock")


def test_the_environment_wins_over_the_file(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('engine = "containerd"\n')
    result = gophernetes("list", config=str(config),
                         env={"GOPHERNETES_ENGINE": "native", "GOPHERNETES_ROOT": str(tmp_path / "state")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CONTAINER ID")


def test_an_unknown_setting_is_one_line(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("colour = 1\n")
    result = gophernetes("list", config=str(config))
    assert (result.returncode, result.stderr.strip()) == (
        125, f"gophernetes: unknown setting 'colour' in {config}: use engine, address or root")
