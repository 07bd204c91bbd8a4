"""`gophernetes build`: real RUN steps in real containers, layers read back, the cache, podman's verdict."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from gophernetes.image.store import ImageStore

CONTAINERFILE = """\
FROM busybox
ARG GREETING=hello
ENV LAB=1 MSG="$GREETING world"
WORKDIR /srv/app
COPY app/ ./
COPY --chown=1000:1000 --chmod=0600 secret.txt /srv/
ADD files.tar.gz /opt/
RUN echo "$MSG" > greeting && rm /etc/group && mkdir -p /var/x && touch /var/x/y
USER 1000
LABEL org.lab.name="Lab App" org.lab.version=1
EXPOSE 8080 53/udp
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /srv/app/greeting"]
"""


def make_context(folder: Path, containerfile: str = CONTAINERFILE) -> Path:
    (folder / "app" / "lib").mkdir(parents=True)
    (folder / "app" / "main.txt").write_text("main\n")
    (folder / "app" / "lib" / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    (folder / "app" / "lib" / "tool.sh").chmod(0o755)
    (folder / "secret.txt").write_text("s3cret\n")
    with tarfile.open(folder / "files.tar.gz", "w:gz") as tar:
        for name, data in (("unpacked/a.txt", b"from the tar\n"), ("unpacked/b.txt", b"b\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), 0o640, 33, 33
            tar.addfile(info, io.BytesIO(data))
    (folder / "Containerfile").write_text(containerfile)
    return folder


def layer_members(root: Path, name: str) -> list[list[str]]:
    """The entry names of each layer blob of image `name`, bottom first."""
    store = ImageStore(root / "lib/images")
    manifest = json.loads(store.read_blob(store.get(name).manifest_digest))
    result = []
    for layer in manifest["layers"]:
        with tarfile.open(store.blob_path(layer["digest"])) as tar:
            result.append(tar.getnames())
    return result


def image_config(root: Path, name: str) -> dict:
    store = ImageStore(root / "lib/images")
    return json.loads(store.read_blob(store.get(name).id))


def test_build_makes_an_image_that_runs(gophernetes, tmp_path):
    context = make_context(tmp_path / "ctx")
    built = gophernetes("build", "-t", "lab/app:1.0", str(context), timeout=180)
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == ImageStore(gophernetes.state_root / "lib/images").get("lab/app:1.0").id
    assert "STEP 8/13: RUN echo" in built.stderr and "Successfully tagged lab/app:1.0" in built.stderr

    ran = gophernetes("run", "--net", "none", "lab/app:1.0")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hello world\n"
    looked = gophernetes("run", "--net", "none", "--user", "0", "lab/app:1.0",
                         "id -u; pwd; cat main.txt lib/tool.sh /opt/unpacked/a.txt; ls /etc; "
                         "stat -c '%u:%g %a' /srv/secret.txt /opt/unpacked/a.txt lib/tool.sh")
    assert looked.returncode == 0, looked.stderr
    assert looked.stdout.splitlines() == ["0", "/srv/app", "main", "#!/bin/sh", "echo tool", "from the tar",
                                          "hostname", "hosts", "passwd",  # group: deleted by RUN
                                          "1000:1000 600", "33:33 640", "0:0 755"]

    config = image_config(gophernetes.state_root, "lab/app:1.0")
    run = config["config"]
    assert run["Env"][1:] == ["LAB=1", "MSG=hello world"]
    assert (run["WorkingDir"], run["User"], run["Entrypoint"], run["Cmd"]) == \
        ("/srv/app", "1000", ["/bin/sh", "-c"], ["cat /srv/app/greeting"])
    assert run["Labels"] == {"org.lab.name": "Lab App", "org.lab.version": "1"}
    assert run["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    layers = layer_members(gophernetes.state_root, "lab/app:1.0")
    assert len(layers) == 1 + 5  # busybox, WORKDIR's folder, COPY, COPY, ADD, RUN
    assert [h.get("empty_layer", False) for h in config["history"]].count(False) == len(layers)
    assert "etc/.wh.group" in layers[-1]
    assert "etc/hosts" not in layers[-1] and "etc/hostname" not in layers[-1]  # the runtime's, not the step's

    shown = gophernetes("image", "history", "lab/app:1.0")
    assert shown.returncode == 0, shown.stderr
    rows = shown.stdout.splitlines()[1:]
    assert len(rows) == len(config["history"])
    assert rows[0].split()[0] == "<missing>" and "CMD" in rows[0]  # newest first, no layer
    run_row = next(row for row in rows if "RUN echo" in row)
    newest_layer = json.loads(gophernetes("image", "inspect", "lab/app:1.0").stdout)[0]["Layers"][-1]
    assert rows.index(run_row) == 5 and run_row.split()[0] == newest_layer["Digest"][7:19]


def test_a_second_build_uses_the_cache_until_a_file_changes(gophernetes, tmp_path):
    context = make_context(tmp_path / "ctx")
    assert gophernetes("build", "-t", "lab/app:1", str(context), timeout=180).returncode == 0
    again = gophernetes("build", "-t", "lab/app:2", str(context), timeout=180)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("--> Using cache") == 4  # COPY, COPY, ADD, RUN
    (context / "secret.txt").write_text("changed\n")
    changed = gophernetes("build", "-t", "lab/app:3", str(context), timeout=180)
    assert changed.returncode == 0, changed.stderr
    assert changed.stderr.count("--> Using cache") == 1  # only the first COPY: the rest sit on a new parent
    first = layer_members(gophernetes.state_root, "lab/app:1")
    third = layer_members(gophernetes.state_root, "lab/app:3")
    assert first[:3] == third[:3]
    no_cache = gophernetes("build", "--no-cache", "-t", "lab/app:4", str(context), timeout=180)
    assert no_cache.returncode == 0 and "Using cache" not in no_cache.stderr


def test_a_directory_made_again_is_opaque(gophernetes, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Containerfile").write_text("FROM busybox\nRUN mkdir -p /d && touch /d/old\n"
                                           "RUN rm -rf /d && mkdir /d && touch /d/new\nCMD [\"ls\", \"/d\"]\n")
    assert gophernetes("build", "-t", "lab/opaque", str(context), timeout=180).returncode == 0
    assert "d/.wh..wh..opq" in layer_members(gophernetes.state_root, "lab/opaque")[-1]
    ran = gophernetes("run", "--net", "none", "lab/opaque")
    assert ran.stdout == "new\n"


def test_from_scratch_with_copy_only(gophernetes, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    shutil.copy("/bin/busybox", context / "busybox")
    (context / "Containerfile").write_text('FROM scratch\nCOPY busybox /bin/\nENTRYPOINT ["/bin/busybox"]\n'
                                           'CMD ["echo", "from scratch"]\n')
    built = gophernetes("build", "-t", "lab/scratch", str(context), timeout=180)
    assert built.returncode == 0, built.stderr
    assert layer_members(gophernetes.state_root, "lab/scratch") == [["bin", "bin/busybox"]]
    assert gophernetes("run", "--net", "none", "lab/scratch").stdout == "from scratch\n"


@pytest.mark.parametrize("containerfile, message", [
    ("FROM busybox\nRUN true\nRUN echo out; exit 3\n",
     "Containerfile:3: RUN /bin/sh -c echo out; exit 3 returned exit code 3"),
    ("FROM busybox\n\nCOPY ../outside /x\n", "Containerfile:3: ../outside is outside the build context"),
    ("FROM busybox\nCOPY escape /x\n", "Containerfile:2: escape leads outside the build context"),
    ("FROM busybox\nCOPY missing /x\n", "Containerfile:2: missing: no such file in the build context"),
    ("FROM busybox\nADD http://example.com/x /x\n", "Containerfile:2: ADD of a URL"),
    ("FROM nosuch/image:1\n", "Containerfile:1: image 'nosuch/image:1' not found"),
    ("FROM busybox\nMAINTAINER me\n", "Containerfile:2: unknown or unsupported instruction 'MAINTAINER'"),
    ("FROM busybox AS one\nFROM busybox AS one\n", "Containerfile:2: a stage called 'one' already exists"),
    ("FROM busybox\nCOPY --from=3 /etc/passwd /x\n", "Containerfile:2: COPY --from=3: there are only 0 earlier"),
    ("FROM busybox AS a\nRUN true\nFROM busybox\nCOPY --from=a /nope /x\n",
     "Containerfile:4: /nope: no such file in the COPY --from image"),
    ("FROM busybox\nHEALTHCHECK --interval=often CMD true\n", "Containerfile:2: HEALTHCHECK --interval=often: "
     "give a duration"),
    ("FROM busybox\nONBUILD FROM busybox\n", "Containerfile:2: ONBUILD FROM is not allowed"),
])
def test_a_failing_build_says_where_and_leaves_nothing(gophernetes, tmp_path, containerfile, message):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "escape").symlink_to("/etc/passwd")
    (context / "Containerfile").write_text(containerfile)
    result = gophernetes("build", "-t", "lab/broken", str(context), timeout=180)
    assert result.returncode == 125
    errors = [line for line in result.stderr.splitlines() if line.startswith("gophernetes:")]
    assert errors == [f"gophernetes: {message}"] or message in errors[0], result.stderr
    listed = gophernetes("images").stdout
    assert "lab/broken" not in listed
    assert gophernetes("ps", "-a", "-q").stdout == ""  # the RUN container is gone
    tmp = gophernetes.state_root / "lib/images/tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []


MULTISTAGE = """\
ARG BASE=busybox
FROM $BASE AS build
WORKDIR /src
COPY app/ ./
RUN mkdir -p /out && cat main.txt lib/tool.sh > /out/app.txt && ln -s /out/app.txt /out/link \\
 && ln -s /etc/passwd /out/abs && ln -s /../../../etc /out/up && echo container > /etc/only-here \\
 && mkdir /out/tree && echo leaf > /out/tree/leaf && chown -R 1000:1000 /out/tree
FROM busybox AS second
RUN echo second > /second.txt
FROM build
RUN echo "from the build stage" > /src/again.txt
FROM busybox
COPY --from=build /out/app.txt /srv/
COPY --from=0 /out/link /srv/via-link
COPY --from=second /second.txt /srv/
COPY --from=build /out/abs /srv/image-passwd
COPY --from=build /out/up/only-here /srv/
COPY --from=build /out/tree /srv/tree
COPY --from=2 /src/again.txt /srv/
COPY shell.sh /bin/logging-shell
SHELL ["/bin/logging-shell", "-c"]
RUN echo hi > /srv/ran
HEALTHCHECK --interval=30s --timeout=5s --start-period=1s --retries=3 CMD wget -q -O- localhost || exit 1
VOLUME /data /logs
VOLUME ["/cache"]
STOPSIGNAL SIGQUIT
ONBUILD RUN echo triggered > /triggered
ONBUILD COPY main.txt /onbuild/
CMD echo hi
"""
SHELL_SCRIPT = "#!/bin/sh\necho \"$0 $*\" >> /shell.log\nshift\nexec /bin/sh -c \"$*\"\n"


def make_multistage(folder: Path) -> Path:
    make_context(folder, MULTISTAGE)
    (folder / "shell.sh").write_text(SHELL_SCRIPT)
    (folder / "shell.sh").chmod(0o755)
    return folder


def test_a_multi_stage_build_takes_only_what_it_copies(gophernetes, tmp_path):
    context = make_multistage(tmp_path / "ctx")
    built = gophernetes("build", "-t", "lab/multi", str(context), timeout=300)
    assert built.returncode == 0, built.stderr
    looked = gophernetes("run", "--net", "none", "--entrypoint", "/bin/sh", "lab/multi", "-c",
                         "cat /srv/app.txt /srv/via-link /srv/second.txt /srv/only-here /srv/again.txt /shell.log; "
                         "stat -c '%u:%g %n' /srv/tree/leaf; ls /src /out 2>&1; cmp /srv/image-passwd /etc/passwd "
                         "&& echo same-passwd")
    assert looked.returncode == 0, looked.stderr
    lines = looked.stdout.splitlines()
    assert lines[:8] == ["main", "#!/bin/sh", "echo tool", "main", "#!/bin/sh", "echo tool", "second", "container"]
    assert lines[8:10] == ["from the build stage", "/bin/logging-shell -c echo hi > /srv/ran"]  # SHELL ran RUN
    assert lines[10] == "1000:1000 /srv/tree/leaf"  # COPY --from keeps the owners (from the context: root)
    assert "No such file" in lines[11] and lines[-1] == "same-passwd"  # nothing else of the stages
    config = image_config(gophernetes.state_root, "lab/multi")["config"]
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q -O- localhost || exit 1"],
                                     "Interval": 30_000_000_000, "Timeout": 5_000_000_000,
                                     "StartPeriod": 1_000_000_000, "Retries": 3}
    assert config["Shell"] == ["/bin/logging-shell", "-c"]
    assert config["Cmd"] == ["/bin/logging-shell", "-c", "echo hi"]
    assert config["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}}
    assert config["StopSignal"] == "SIGQUIT"
    assert config["OnBuild"] == ["RUN echo triggered > /triggered", "COPY main.txt /onbuild/"]
    history = image_config(gophernetes.state_root, "lab/multi")["history"]
    assert not any("RUN echo second" in h["created_by"] for h in history)  # the other stages' steps stay out


def test_onbuild_triggers_run_when_the_image_is_a_base(gophernetes, tmp_path):
    base = make_multistage(tmp_path / "base")
    assert gophernetes("build", "-t", "lab/base", str(base), timeout=300).returncode == 0
    child = tmp_path / "child"
    child.mkdir()
    (child / "main.txt").write_text("the child's own\n")
    (child / "Containerfile").write_text("FROM lab/base\nRUN cat /triggered /onbuild/main.txt\n")
    built = gophernetes("build", "-t", "lab/child", str(child), timeout=300)
    assert built.returncode == 0, built.stderr
    assert "--> ONBUILD RUN echo triggered > /triggered" in built.stderr
    ran = gophernetes("run", "--net", "none", "lab/child", "sh", "-c", "cat /triggered /onbuild/main.txt")
    assert ran.stdout == "triggered\nthe child's own\n", ran.stderr
    assert "OnBuild" not in image_config(gophernetes.state_root, "lab/child")["config"]  # not inherited


# --- podman builds the same Containerfile ----------------------------------------------------------

BUILDAH_MOUNT_POINTS = {"etc/hostname", "etc/hosts", "etc/resolv.conf", "run"}  # empty, left by buildah's RUN


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root: kind, mode, owner and content digest or link target (not times)."""
    found = {}
    for directory, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(directory) / name
            st = os.lstat(path)
            extra = os.readlink(path) if stat.S_ISLNK(st.st_mode) else \
                hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else ""
            found[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                                                  st.st_gid, extra)
    return found


@pytest.fixture
def podman(tmp_path):
    if shutil.which("podman") is None:
        pytest.skip("needs podman to compare: apt-get install podman")
    state = tmp_path / "podman"
    state.mkdir()
    (state / "storage.conf").write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{state}/storage"\n'
                                        f'runroot = "{state}/run"\n')
    (state / "containers.conf").write_text('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
                                           '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n'
                                           'events_logger = "file"\n')
    env = {**os.environ, "CONTAINERS_CONF": str(state / "containers.conf"),
           "CONTAINERS_STORAGE_CONF": str(state / "storage.conf")}

    def run(*args: str) -> str:
        result = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout

    yield run
    subprocess.run(["podman", "image", "unmount", "--all"], capture_output=True, env=env, timeout=60)
    subprocess.run(["podman", "rmi", "--all", "--force"], capture_output=True, env=env, timeout=120)
    subprocess.run(["umount", "-R", str(state / "storage" / "overlay")], capture_output=True, timeout=60)


def load_into_podman(gophernetes, podman, tmp_path, *images: str) -> None:
    """Our images, saved as OCI archives and loaded into the test's podman."""
    for number, image in enumerate(images):
        archive = tmp_path / f"ours-{number}.tar"
        assert gophernetes("save", "--format", "oci-archive", "-o", str(archive), image).returncode == 0
        podman("load", "-i", str(archive))


def test_podman_builds_the_same_files_and_config(gophernetes, podman, tmp_path):
    context = make_context(tmp_path / "ctx")
    assert gophernetes("build", "-t", "lab/app:1", str(context), timeout=180).returncode == 0
    load_into_podman(gophernetes, podman, tmp_path, "busybox", "lab/app:1")
    (context / "Containerfile.podman").write_text(CONTAINERFILE.replace("FROM busybox",
                                                                        "FROM docker.io/library/busybox:latest"))
    podman("build", "--pull=never", "--network", "none", "-t", "theirs", "-f",
           str(context / "Containerfile.podman"), str(context))

    theirs_tree = tree(Path(podman("image", "mount", "localhost/theirs:latest").strip()))
    ours_tree = tree(Path(podman("image", "mount", "docker.io/lab/app:1").strip()))
    leftovers = {path: theirs_tree.pop(path) for path in BUILDAH_MOUNT_POINTS & set(theirs_tree) - set(ours_tree)}
    assert all(entry[4] in ("", hashlib.sha256(b"").hexdigest()) for entry in leftovers.values())
    assert ours_tree == theirs_tree

    fields = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts")
    theirs_config = json.loads(podman("image", "inspect", "--format", "{{json .Config}}", "localhost/theirs:latest"))
    ours_config = json.loads(podman("image", "inspect", "--format", "{{json .Config}}", "docker.io/lab/app:1"))
    theirs_config["Labels"].pop("io.buildah.version", None)
    assert {f: ours_config.get(f) for f in fields} == {f: theirs_config.get(f) for f in fields}


def test_copy_follows_the_images_symlinks_but_stays_in_its_root(gophernetes, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "tool").write_text("#!/bin/sh\necho tool\n")
    (context / "tool").chmod(0o755)
    (context / "Containerfile").write_text(
        "FROM busybox\nRUN mkdir -p /usr/bin && ln -s usr/bin /ubin && ln -s /etc /hostetc\n"
        "COPY tool /ubin/\nCOPY tool /hostetc\nCOPY tool /ubin/../../../../escaped\n")
    built = gophernetes("build", "-t", "lab/links", str(context), timeout=180)
    assert built.returncode == 0, built.stderr
    names = layer_members(gophernetes.state_root, "lab/links")
    assert "usr/bin/tool" in names[2] and "etc/tool" in names[3]  # the image's /etc, not the host's
    assert "escaped" in names[4]
    ran = gophernetes("run", "--net", "none", "lab/links", "sh", "-c", "ls -l /ubin /hostetc/tool /escaped")
    assert ran.returncode == 0, ran.stderr
    assert not Path("/etc/tool").exists() and not Path("/escaped").exists()


def saved_config(podman, image: str, folder: Path) -> dict:
    """The image's config JSON as podman stores it, read from `podman save` (docker-archive)."""
    archive = folder / f"{image.replace('/', '_').replace(':', '_')}.tar"
    podman("save", "--format", "docker-archive", "-o", str(archive), image)
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        return json.load(tar.extractfile(manifest[0]["Config"]))  # type: ignore[arg-type]


def test_podman_builds_the_same_multi_stage_image_and_config(gophernetes, podman, tmp_path):
    """buildah (podman build --format docker: its OCI format drops HEALTHCHECK, SHELL and ONBUILD)
    on the multi-stage Containerfile: the same files, and the same config fields."""
    context = make_multistage(tmp_path / "ctx")
    assert gophernetes("build", "-t", "lab/multi:1", str(context), timeout=300).returncode == 0
    load_into_podman(gophernetes, podman, tmp_path, "busybox", "lab/multi:1")
    upstream = "docker.io/library/busybox:latest"
    (context / "Containerfile.podman").write_text(
        MULTISTAGE.replace("ARG BASE=busybox", f"ARG BASE={upstream}").replace("FROM busybox", f"FROM {upstream}"))
    podman("build", "--format", "docker", "--pull=never", "--network", "none", "-t", "theirs", "-f",
           str(context / "Containerfile.podman"), str(context))

    theirs_tree = tree(Path(podman("image", "mount", "localhost/theirs:latest").strip()))
    ours_tree = tree(Path(podman("image", "mount", "docker.io/lab/multi:1").strip()))
    leftovers = {path: theirs_tree.pop(path) for path in BUILDAH_MOUNT_POINTS & set(theirs_tree) - set(ours_tree)}
    assert all(entry[4] in ("", hashlib.sha256(b"").hexdigest()) for entry in leftovers.values())
    assert ours_tree == theirs_tree

    fields = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Healthcheck", "Shell",
              "Volumes", "StopSignal", "OnBuild")
    theirs = saved_config(podman, "localhost/theirs:latest", tmp_path)["config"]
    mine = saved_config(podman, "docker.io/lab/multi:1", tmp_path)["config"]
    # The one difference, on purpose: docker runs CMD's shell form with SHELL's shell, buildah
    # (imagebuilder) keeps /bin/sh -c for it; we follow docker. RUN uses SHELL in both (the tree).
    assert (mine.pop("Cmd"), theirs.pop("Cmd")) == (["/bin/logging-shell", "-c", "echo hi"],
                                                    ["/bin/sh", "-c", "echo hi"])
    assert {f: mine.get(f) or None for f in fields} == {f: theirs.get(f) or None for f in fields}
    assert mine["Healthcheck"]["Test"] == ["CMD-SHELL", "wget -q -O- localhost || exit 1"]
