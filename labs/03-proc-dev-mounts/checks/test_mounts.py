"""Lab 03 checks: propagation, masked /proc files, a hand-made /dev."""

import os
import stat
from pathlib import Path

import labkit

MASKED = ("/proc/timer_list", "/proc/keys", "/proc/kcore")


def test_step_1_a_shared_and_a_private_mount_point(host):
    """/srv/lab03/shared is a shared mount point, /srv/lab03/private a private one.

    Hint: a folder becomes a mount point when something is bind-mounted on it, even
    itself; mount has --make-* options for the propagation type.
    """
    shared, private = labkit.mounted_at("/srv/lab03/shared"), labkit.mounted_at("/srv/lab03/private")
    assert shared is not None, "/srv/lab03/shared is not a mount point"
    assert private is not None, "/srv/lab03/private is not a mount point"
    assert "shared:" in shared.propagation, "/srv/lab03/shared is not shared"
    assert "shared:" not in private.propagation and "master:" not in private.propagation, \
        "/srv/lab03/private is not private"


def test_step_2_a_namespace_that_got_only_the_shared_mount(host):
    """A process in another mount namespace sees tmpfs lab03-shared (mounted after it started), not lab03-private.

    Hint: start the namespace first, keeping the propagation types as they are
    (unshare has an option for that), and only then mount a tmpfs below each of the
    two mount points on the host.
    """
    on_host = {m.source for m in labkit.mounts()}
    assert {"lab03-shared", "lab03-private"} <= on_host, "mount tmpfs lab03-shared and lab03-private on the host"
    seen = [{m.source for m in labkit.mounts(pid)} for pid in labkit.pids() if labkit.in_new_namespace(pid, "mnt")]
    assert any("lab03-shared" in sources for sources in seen), "no other namespace received lab03-shared"
    assert any("lab03-shared" in sources and "lab03-private" not in sources for sources in seen), \
        "the namespace that got lab03-shared got lab03-private too: was /srv/lab03/private private?"


def test_step_3_a_masked_container_and_a_privileged_one(host):
    """Container lab03 has host files in /proc masked and /proc/sys read-only; lab03-priv has neither.

    Hint: two detached containers off the network, one with the option that turns
    every protection off (`gophernetes run --help`).
    """
    masked = [path for path in MASKED if os.path.exists(path)]
    plain, privileged = labkit.running_container("lab03"), labkit.running_container("lab03-priv")
    targets = {m.target: m for m in labkit.mounts(plain["pid"])}
    for path in masked:
        assert path in targets, f"{path} is not masked in container lab03"
    assert "/proc/sys" in targets and targets["/proc/sys"].options.startswith("ro"), "lab03's /proc/sys is writable"
    privileged_targets = {m.target for m in labkit.mounts(privileged["pid"])}
    assert not privileged_targets & set(masked), "lab03-priv has masked paths: is it --privileged?"


def test_step_4_a_dev_made_by_hand(host):
    """/srv/lab03/dev is a tmpfs with null (1:3), zero (1:5) and urandom (1:9), mode 666, and fd -> /proc/self/fd.

    Hint: mount a tmpfs there, then make character devices with mknod and the right
    major/minor numbers (Documentation/admin-guide/devices.txt), readable and writable
    by everyone.
    """
    dev = labkit.mounted_at("/srv/lab03/dev")
    assert dev is not None and dev.fstype == "tmpfs", "no tmpfs is mounted on /srv/lab03/dev"
    for name, numbers in (("null", (1, 3)), ("zero", (1, 5)), ("urandom", (1, 9))):
        path = Path("/srv/lab03/dev") / name
        assert path.exists(), f"{path} is missing"
        info = path.lstat()
        assert stat.S_ISCHR(info.st_mode), f"{path} is not a character device"
        assert (os.major(info.st_rdev), os.minor(info.st_rdev)) == numbers, f"{path} is not {numbers[0]}:{numbers[1]}"
        assert stat.S_IMODE(info.st_mode) == 0o666, f"{path} has mode {stat.S_IMODE(info.st_mode):o}, not 666"
    fd = Path("/srv/lab03/dev/fd")
    assert fd.is_symlink() and os.readlink(fd) == "/proc/self/fd", "/srv/lab03/dev/fd is not a link to /proc/self/fd"
