"""Bind mounts and tmpfs mean the same on both engines: the native runtime and containerd (runc)
both get them as config.json mounts; volumes and --restart are refused by containerd in one line."""

from __future__ import annotations


def test_a_read_only_bind_and_a_tmpfs_on_both_engines(engine, image, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "note").write_text("from the host\n")
    script = ("cat /data/note; touch /data/x 2>/dev/null || echo read-only; echo hi > /scratch/f; "
              "grep -E ' /(data|scratch) ' /proc/mounts | cut -d' ' -f2,3")
    result = engine("run", "--net", "none", "-v", f"{shared}:/data:ro", "--tmpfs", "/scratch:size=1m", image,
                    "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["from the host", "read-only"]
    assert [line.split()[0] for line in sorted(lines[2:])] == ["/data", "/scratch"]
    assert "/scratch tmpfs" in lines
    assert sorted(p.name for p in shared.iterdir()) == ["note"]


def test_a_missing_host_path_is_refused_the_same_way(engine, image, tmp_path):
    result = engine("run", "--net", "none", "-v", f"{tmp_path}/nothing:/data", image, "true")
    assert result.returncode == 125
    assert result.stderr == (f"gophernetes: bind mount source {tmp_path}/nothing does not exist on the host: "
                             "create it first (gophernetes does not create it, unlike docker's -v)\n")


def test_what_containerd_cannot_keep_is_refused_in_one_line(engine, image):
    volume = engine("run", "--net", "none", "-v", "data:/data", image, "true")
    restart = engine("run", "-d", "--net", "none", "--restart", "always", image, "true")
    if engine.engine == "native":
        assert volume.returncode == 0, volume.stderr
        return
    assert volume.returncode == 125 and "volumes are not supported with --engine containerd" in volume.stderr
    assert restart.returncode == 125 and "--restart always is not supported" in restart.stderr
