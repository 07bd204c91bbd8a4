"""What `gophernetes-runtime features` reports: the runtime-spec features document.

Engines ask a runtime what it can do before they build a config.json for it (runtime-spec
features.md; `runc features`): which OCI versions, hook stages, mount options,
namespaces, capabilities, cgroup versions and seccomp actions it understands. A field
that is absent means "unknown"; a feature we do not have is left out, never claimed.
The lists are read from the modules that implement them (capabilities, seccomp), so they
cannot drift from the code.
"""

from __future__ import annotations

from gophernetes import __version__
from gophernetes.linux import capabilities, seccomp_profile
from gophernetes.runtime import hooks
from gophernetes.runtime.oci_config import OCI_VERSION

# Mount options a config.json may carry: the mount(2) flags, propagation, and the
# recursive forms; anything else is passed to the filesystem as data (size=, mode=, ...).
MOUNT_OPTIONS = (
    "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime", "nodev",
    "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime",
    "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave", "strictatime",
    "suid", "sync", "unbindable",
)
NAMESPACES = ("cgroup", "ipc", "mount", "network", "pid", "user", "uts")


def features() -> dict:
    """The features document (runtime-spec features.md), as `runc features` prints it."""
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(hooks.STAGES),
        "mountOptions": sorted(MOUNT_OPTIONS),
        "linux": {
            "namespaces": list(NAMESPACES),
            "capabilities": [f"CAP_{name}" for name in capabilities.CAPABILITIES],
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True, "actions": sorted(seccomp_profile.ACTIONS),
                        "operators": sorted(seccomp_profile.OPERATORS), "archs": sorted(seccomp_profile.ABIS)},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.gophernetes.runtime.version": __version__},
    }
