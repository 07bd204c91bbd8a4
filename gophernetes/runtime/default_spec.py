"""The config.json that `gophernetes-runtime spec` writes: runc's default, field for field.

An OCI bundle is a folder with a root filesystem and a config.json (runtime-spec
config.md, config-linux.md). `runc spec` writes a starting point that people then edit;
ours is the same document, so that a student can diff the two and a bundle made with one
runs under the other: `sh` on a terminal as root, a read-only root called `rootfs`, new
pid, network, ipc, uts and mount namespaces, the usual /proc, /dev, /dev/pts, /dev/shm,
/dev/mqueue, /sys and /sys/fs/cgroup mounts, three capabilities, 1024 open files, no new
privileges, every device denied, and the /proc and /sys paths that leak the host masked
or read-only.

`rootless` is runc's `spec --rootless`: a user namespace mapping root in the container to
the caller's own uid and gid, no network namespace (an unprivileged user cannot wire
one), /sys bind-mounted from the host (sysfs cannot be mounted without owning the
network namespace), no devpts gid=5 (that group is not mapped), and no cgroup limits.
"""

from __future__ import annotations

import copy

OCI_VERSION = "1.0.2-dev"

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
_NOSUID_NOEXEC_NODEV = ["nosuid", "noexec", "nodev"]

DEFAULT: dict = {
    "ociVersion": OCI_VERSION,
    "process": {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {name: list(_CAPS) for name in ("bounding", "effective", "permitted", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "gophernetes",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": [*_NOSUID_NOEXEC_NODEV, "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": list(_NOSUID_NOEXEC_NODEV)},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*_NOSUID_NOEXEC_NODEV, "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": [*_NOSUID_NOEXEC_NODEV, "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": kind} for kind in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}


def default_spec(rootless: bool = False, uid: int = 0, gid: int = 0) -> dict:
    """A fresh copy of the default config.json; `rootless` maps container root to `uid`:`gid`."""
    spec = copy.deepcopy(DEFAULT)
    if not rootless:
        return spec
    linux = spec["linux"]
    del linux["resources"]
    linux["namespaces"] = [{"type": kind} for kind in ("pid", "ipc", "uts", "mount", "user")]
    linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
    for mount in spec["mounts"]:
        if mount["type"] == "devpts":
            mount["options"].remove("gid=5")
        elif mount["type"] == "sysfs":
            mount.update(type="none", source="/sys", options=["rbind", *_NOSUID_NOEXEC_NODEV, "ro"])
    return spec
