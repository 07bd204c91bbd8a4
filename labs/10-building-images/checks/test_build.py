"""Lab 10 checks: an image built from /srv/lab10/context/Containerfile, taken apart under
/srv/lab10, pushed to the registry and pulled back by digest.

The registry is $REGISTRY (default 127.0.0.1:5000), as in the README. The checks compare
what the Containerfile says with the image's own blobs (layers, config, manifest), in the
store, in the saved layout and in the registry.
"""

import functools
import gzip
import hashlib
import json
import os
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import labkit

LAB = Path("/srv/lab10")
REGISTRY = os.environ.get("REGISTRY", "127.0.0.1:5000")
REPOSITORY = f"{REGISTRY}/lab10/hello"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER_STEPS = ("RUN", "COPY", "ADD")
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def sha256_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_path(root: Path, digest: str) -> Path:
    return root / "blobs" / "sha256" / digest.removeprefix("sha256:")


def containerfile() -> list:
    """The instructions of /srv/lab10/context/Containerfile, as gophernetes build reads them."""
    from gophernetes.image import containerfile as parser

    path = LAB / "context" / "Containerfile"
    assert path.exists(), f"no {path}"
    instructions = parser.parse(path.read_text(), str(path))
    assert instructions and instructions[0].keyword == "FROM", f"{path} does not start with FROM"
    return instructions


def store():
    from gophernetes.paths import StateRoot

    return StateRoot.from_option().images


@functools.cache
def images() -> list[dict]:
    """`gophernetes images`, asked once per check (each runs in a process of its own; they only read)."""
    return json.loads(labkit.gophernetes("images", "--format", "json").stdout or "[]")


def lab_images() -> list[dict]:
    """The store's images named $REGISTRY/lab10/hello (by tag or by digest)."""
    return [i for i in images() if i.get("repository") == REPOSITORY]


def lab_image() -> dict:
    found = lab_images()
    assert found, f"gophernetes has no image {REPOSITORY} (tag 1 or a digest)"
    return found[0]


def store_config(image: dict) -> dict:
    """The image's config blob (its ID is the config's digest), from the store."""
    return json.loads(blob_path(store(), image["id"]).read_bytes())


def saved_manifest() -> tuple[str, dict]:
    """(digest, manifest) of the image in /srv/lab10/oci, checked against its own digest."""
    index = LAB / "oci" / "index.json"
    assert index.exists(), f"no {index}: unpack the saved OCI archive there"
    digest = json.loads(index.read_text())["manifests"][0]["digest"]
    path = blob_path(LAB / "oci", digest)
    assert path.exists(), f"the manifest {digest} that index.json names is not in {LAB / 'oci'}"
    assert sha256_of(path.read_bytes()) == digest, f"{path} does not hash to its name"
    return digest, json.loads(path.read_bytes())


def tar_names(path: Path) -> list[str]:
    with tarfile.open(path) as archive:  # tarfile finds the gzip by itself, as GNU tar does
        return [member.name.lstrip("./").rstrip("/") for member in archive.getmembers()]


def registry_get(path: str, method: str = "GET") -> tuple[dict, bytes]:
    request = urllib.request.Request(f"http://{REGISTRY}/v2/{path}", method=method,
                                     headers={"Accept": OCI_MANIFEST})
    with NO_PROXY.open(request, timeout=10) as response:
        return dict(response.headers), response.read()


def test_step_1_the_containerfile_built_into_layers(host):
    """$REGISTRY/lab10/hello is built from /srv/lab10/context/Containerfile: the base's layers, then one per RUN/COPY.

    Hint: `gophernetes build --help`; the image's name starts with the registry's address
    (127.0.0.1:5000 on the VM), the folder you build holds the Containerfile and the
    files its COPY names.
    """
    instructions = containerfile()
    config = store_config(lab_image())
    base_name = instructions[0].text.split()[0]
    base = [i for i in images() if i["name"] in (base_name, f"{base_name}:latest")]
    assert base, f"the FROM image {base_name} is not in the store"
    base_layers = store_config(base[0])["rootfs"]["diff_ids"]
    layers = config["rootfs"]["diff_ids"]
    assert layers[:len(base_layers)] == base_layers, "the image does not start with its FROM image's layers"
    steps = [i for i in instructions if i.keyword in LAYER_STEPS]
    assert len(layers) - len(base_layers) == len(steps), \
        f"{len(steps)} RUN/COPY/ADD steps in the Containerfile, {len(layers) - len(base_layers)} new layers"
    made = [h["created_by"] for h in config.get("history", []) if not h.get("empty_layer")][-len(steps):]
    assert [by.split()[0] for by in made] == [i.keyword for i in steps], \
        f"the image's history {made} does not follow the Containerfile's steps"
    assert any(i.keyword == "RUN" and " rm " in f" {i.text} " for i in steps), "no RUN step deletes a file"


def test_step_2_a_layer_with_a_whiteout(host):
    """/srv/lab10/oci is the image saved as an OCI layout; a later layer whites out a file an earlier one added.

    Hint: `gophernetes save --help` (one of its formats is an OCI layout in a tar); unpack
    it into /srv/lab10/oci and list each layer blob with `tar -tvf`. A deleted file is an
    entry named .wh.NAME.
    """
    _, manifest = saved_manifest()
    built = {image["id"] for image in lab_images()}
    assert manifest["config"]["digest"] in built, f"the saved image is none of gophernetes' {REPOSITORY}"
    entries = []
    for layer in manifest["layers"]:
        path = blob_path(LAB / "oci", layer["digest"])
        assert path.exists() and sha256_of(path.read_bytes()) == layer["digest"], \
            f"layer {layer['digest']} is missing in {LAB / 'oci'} or does not hash to its digest"
        entries.append(tar_names(path))
    found = []
    for number, names in enumerate(entries):
        for name in names:
            folder, _, base = name.rpartition("/")
            if base.startswith(".wh.") and base != ".wh..wh..opq":
                hidden = f"{folder}/{base[4:]}" if folder else base[4:]
                if any(hidden in earlier for earlier in entries[:number]):
                    found.append(name)
    assert found, "no layer holds a whiteout (.wh.NAME) for a file an earlier layer added"


def test_step_3_the_config_says_what_the_containerfile_set(host):
    """/srv/lab10/config.json is the image's config: the Containerfile's ENV and CMD, a history line per step, diff_ids of the uncompressed layers.

    Hint: the manifest names the config by its digest; it is a blob like the layers.
    jq reads it; gunzip -c LAYER | sha256sum gives a layer's diff_id.
    """
    from gophernetes.image import containerfile as parser

    _, manifest = saved_manifest()
    path = LAB / "config.json"
    assert path.exists(), f"no {path}"
    assert sha256_of(path.read_bytes()) == manifest["config"]["digest"], f"{path} is not the saved image's config"
    config = json.loads(path.read_text())
    instructions = containerfile()
    env = config["config"].get("Env") or []
    for step in (i for i in instructions if i.keyword == "ENV"):
        for key, value in parser.key_values(step.text, {}, "Containerfile", "ENV"):
            assert f"{key}={value}" in env, f"the config's Env {env} lacks {key}={value} (ENV)"
    cmds = [i for i in instructions if i.keyword == "CMD"]
    assert cmds, "the Containerfile has no CMD"
    assert config["config"].get("Cmd") == parser.command(cmds[-1]), \
        f"the config's Cmd {config['config'].get('Cmd')} is not the Containerfile's CMD"
    history = config.get("history", [])
    assert len([h for h in history if not h.get("empty_layer")]) == len(config["rootfs"]["diff_ids"]), \
        "the history's non-empty lines do not match the layers one to one"
    empty = [h["created_by"] for h in history if h.get("empty_layer")]
    assert any("ENV" in by for by in empty) and any("CMD" in by for by in empty), \
        "ENV and CMD are not history lines without a layer"
    assert len(manifest["layers"]) == len(config["rootfs"]["diff_ids"]), "not one diff_id per layer"
    for layer, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
        data = blob_path(LAB / "oci", layer["digest"]).read_bytes()
        if layer["mediaType"].endswith("+gzip"):
            data = gzip.decompress(data)
        assert sha256_of(data) == diff_id, f"layer {layer['digest'][:19]} unpacked does not hash to its diff_id"


def test_step_4_pushed_to_the_registry(host):
    """The registry's lab10/hello:1 is the image built here: its manifest (saved as /srv/lab10/manifest.json) and every blob it names, by digest.

    Hint: `gophernetes push --help`; the registry's HTTP API shows what arrived:
    /v2/_catalog, /v2/NAME/tags/list, /v2/NAME/manifests/TAG (save it, with an Accept
    header for the OCI manifest type).
    """
    try:
        _, tags = registry_get("lab10/hello/tags/list")
    except urllib.error.HTTPError as error:
        raise AssertionError(f"the registry has no lab10/hello ({error.code})") from None
    assert "1" in (json.loads(tags).get("tags") or []), "the registry has no tag 1 for lab10/hello"
    headers, body = registry_get("lab10/hello/manifests/1")
    digest = headers.get("Docker-Content-Digest")
    assert digest == sha256_of(body), "the registry's digest is not the manifest's hash"
    saved_digest, _ = saved_manifest()
    assert digest == saved_digest, "the registry's lab10/hello:1 is not the image saved in /srv/lab10/oci"
    path = LAB / "manifest.json"
    assert path.exists() and sha256_of(path.read_bytes()) == digest, \
        f"{path} is not the registry's manifest of lab10/hello:1, byte for byte"
    manifest = json.loads(body)
    for blob in [manifest["config"], *manifest["layers"]]:
        _, data = registry_get(f"lab10/hello/blobs/{blob['digest']}")
        assert sha256_of(data) == blob["digest"] and len(data) == blob["size"], \
            f"the registry's blob {blob['digest']} is not what the manifest names"


def test_step_5_pulled_back_by_digest_and_run(host):
    """The tag is gone here; the image came back as $REGISTRY/lab10/hello@DIGEST, and container lab10 ran its CMD with its ENV.

    Hint: `gophernetes rmi`, then `gophernetes pull NAME@sha256:...` (the digest is the
    manifest's sha256); run it detached as lab10 (--net none), wait for it, read its logs.
    """
    path = LAB / "manifest.json"
    assert path.exists(), f"no {path}"
    digest = sha256_of(path.read_bytes())
    names = {image["name"] for image in lab_images()}
    assert f"{REPOSITORY}:1" not in names, f"{REPOSITORY}:1 is still here: remove it before pulling"
    pulled = f"{REPOSITORY}@{digest}"
    assert pulled in names, f"gophernetes has no image {pulled}"
    found = labkit.container("lab10")
    assert found is not None, "there is no container named lab10"
    assert found.get("image") == pulled, f"container lab10 was made from {found.get('image')}, not {pulled}"
    assert found.get("status") == "exited" and found.get("exit_code") == 0, \
        f"container lab10 is {found.get('status')} (exit code {found.get('exit_code')})"
    config = store_config(next(i for i in lab_images() if i["name"] == pulled))
    assert found.get("command") == config["config"]["Cmd"], "container lab10 did not run the config's Cmd"
    greeting = next((e.split("=", 1)[1] for e in config["config"].get("Env", []) if e.startswith("GREETING=")), None)
    logs = labkit.gophernetes("logs", "lab10")
    assert greeting and f"{greeting} from lab 10" in logs.stdout, \
        f"container lab10 printed {logs.stdout!r}, not its config's GREETING"
