"""Lab 09 exercise: write a bundle's config.json, the whole contract between an engine and a runtime.

Fill in the three gaps (`raise NotImplementedError`), then check your work as root:

    sudo gophernetes lab check 09 --exercise

An OCI bundle is a folder: the container's root filesystem and config.json (the OCI
runtime spec, config.md and config-linux.md). Whatever made the bundle (docker,
containerd, podman, you), any runtime (runc, crun, gophernetes-runtime) runs it the same
way. The least a config needs:

    {"ociVersion": "1.0.2",
     "process":  {"args": [...], "env": ["PATH=..."], "cwd": "/", "user": {"uid": 0, "gid": 0}},
     "root":     {"path": "rootfs", "readonly": true},
     "hostname": "...",
     "mounts":   [{"destination": "/proc", "type": "proc", "source": "proc"}, ...],
     "linux":    {"namespaces": [{"type": "pid"}, {"type": "mount"}, ...]}}

You write the three dicts/lists that are not given. The check validates your config with
gophernetes' own reader (runtime/oci_config.py), then runs the bundle on a busybox root
with `gophernetes-runtime run` (state under a temporary --root, cgroups under a parent of
the check's own) and looks at what the container saw: its hostname, that it is PID 1,
/proc, /dev and /sys mounted, the root read-only.

Afterwards, diff yours with `gophernetes-runtime spec` (gophernetes/runtime/default_spec.py,
runc's default field for field): masked paths, capabilities, rlimits and devpts are what
a real config adds for safety.
"""

OCI_VERSION = "1.0.2"
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def process(args: list[str], env: list[str], cwd: str) -> dict:
    """config.json's "process": what runs, as whom (root: uid 0, gid 0), where, with which environment.

    config.md "process": args, env (PATH first, then `env`), cwd, user {"uid", "gid"}, and
    "terminal": false (the check reads the container's output, it has no terminal to give).
    """
    raise NotImplementedError("a dict with terminal, user (uid, gid), args, env (PATH first) and cwd")


def namespaces() -> list[dict]:
    """config-linux.md "namespaces": the container's own pid, network, ipc, uts and mount namespaces.

    Each is {"type": NAME} (no "path": a new one is made); the five types are runc's default.
    """
    raise NotImplementedError("a list of {'type': NAME} for pid, network, ipc, uts and mount")


def mounts() -> list[dict]:
    """config.md "mounts": /proc (type proc), /dev (a tmpfs), /sys (sysfs, read-only), in that order.

    Each is {"destination": ..., "type": ..., "source": ..., "options": [...]}: /dev with
    ["nosuid", "mode=755"], /sys with ["nosuid", "noexec", "nodev", "ro"] (see `mount -t`).
    """
    raise NotImplementedError("three mounts: proc on /proc, tmpfs on /dev, sysfs on /sys")


def make_config(args: list[str], hostname: str, env: list[str] | None = None, cwd: str = "/") -> dict:
    """The config.json of a bundle whose root is its folder `rootfs`, read-only."""
    return {
        "ociVersion": OCI_VERSION,
        "process": process(args, env or [], cwd),
        "root": {"path": "rootfs", "readonly": True},
        "hostname": hostname,
        "mounts": mounts(),
        "linux": {"namespaces": namespaces()},
    }
