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
        125, f"gophernetes: unknown setting 'colour' in {config}: use engine, address, root or lab_registry")


def test_the_lab_registry_changes_the_not_found_hint_only(tmp_path):
    """An offline classroom's hint names its registry for a Docker Hub name, not for a name with a registry."""
    config = tmp_path / "config.toml"
    config.write_text('lab_registry = "127.0.0.1:5000"\n')
    state = {"GOPHERNETES_ROOT": str(tmp_path / "state")}
    missing = gophernetes("image", "inspect", "alpine:3.19", config=str(config), env=state)
    assert (missing.returncode, missing.stderr.strip()) == (
        125, "gophernetes: image 'alpine:3.19' not found; pull it with: gophernetes pull --insecure "
             "127.0.0.1:5000/alpine:3.19 (the lab registry), or gophernetes pull alpine:3.19")
    own = gophernetes("image", "inspect", "127.0.0.1:5000/lab10/hello:1", config=str(config), env=state)
    assert own.stderr.strip() == ("gophernetes: image '127.0.0.1:5000/lab10/hello:1' not found; pull it with: "
                                  "gophernetes pull 127.0.0.1:5000/lab10/hello:1")
    plain = gophernetes("image", "inspect", "alpine:3.19", config=str(tmp_path / "none.toml"), env=state)
    assert plain.stderr.strip() == ("gophernetes: image 'alpine:3.19' not found; pull it with: "
                                    "gophernetes pull alpine:3.19")
