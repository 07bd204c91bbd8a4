"""push, save and load on both engines (containerd: through `ctr images push/export/import`);
build on the native engine only, and a one-line refusal on containerd."""

from __future__ import annotations

import json
import subprocess

from support import wait_until


def test_push_to_a_registry_that_skopeo_then_reads(engine, image, registry):
    target = f"{registry.address}/lab/pushed-by:{engine.engine}"
    result = engine.on_host("push", image, target)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == target
    inspected = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{target}"],
                               capture_output=True, text=True, timeout=60)
    assert inspected.returncode == 0, inspected.stderr
    assert len(json.loads(inspected.stdout)["Layers"]) == 1


def test_save_rmi_load_and_run(engine, image, tmp_path):
    archive = tmp_path / "saved.tar"
    saved = engine("save", "-o", str(archive), image)
    assert saved.returncode == 0, saved.stderr
    assert engine("rmi", image).returncode == 0
    loaded = engine("load", "-i", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    assert f"Loaded image: {image}" in loaded.stdout.splitlines()
    started = engine("run", "-d", "--name", "loaded", "--net", "none", image, "echo", "back")
    assert started.returncode == 0, started.stderr
    assert wait_until(lambda: engine.container("loaded")["status"] == "exited", 20)
    assert engine("logs", "loaded").stdout == "back\n"


def test_build_is_native_only(engine, image, tmp_path):
    (tmp_path / "Containerfile").write_text(f"FROM {image}\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n")
    result = engine("build", "-t", "lab/built", str(tmp_path), timeout=120)
    if engine.engine == "containerd":
        assert result.returncode == 125
        assert result.stderr == "gophernetes: build is not supported with --engine containerd: use the native engine\n"
        return
    assert result.returncode == 0, result.stderr
    ran = engine("run", "--net", "none", "lab/built")
    assert (ran.returncode, ran.stdout) == (0, "built\n"), ran.stderr


def test_image_inspect_and_history_show_the_layers(engine, image):
    shown = engine("image", "inspect", image)
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)[0]
    assert found["RepoTags"] == [image] and len(found["Layers"]) == len(found["RootFS"]["Layers"]) == 1
    assert found["Config"]["Cmd"] == ["sh"]
    history = engine("image", "history", image)
    assert history.returncode == 0, history.stderr
    assert found["Layers"][0]["Digest"][7:19] in history.stdout
