"""Lab 08 checks: the containers' capability sets, seccomp filter and user namespace, read
from /proc/PID/status and uid_map on the host (the same on cgroup v1 and v2), and what
their processes may do."""

import json

import labkit

CAP_NET_ADMIN, CAP_NET_RAW = 12, 13


def status(name: str) -> dict[str, str]:
    return labkit.status(labkit.running_container(name)["pid"])


def has_capability(mask: str, number: int) -> bool:
    return bool(int(mask, 16) >> number & 1)


def test_step_1_a_container_without_net_raw(host):
    """Container lab08-noraw runs as root without CAP_NET_RAW, in neither its effective nor its bounding set.

    Hint: `gophernetes run --help` has an option that drops one capability; NET_RAW is
    the one ping needs. Run it detached, off the network, with a long sleep.
    """
    found = status("lab08-noraw")
    assert found.get("Uid", "").split()[:1] == ["0"], "lab08-noraw's process is not root"
    for mask in ("CapEff", "CapBnd"):
        assert not has_capability(found[mask], CAP_NET_RAW), f"lab08-noraw still has CAP_NET_RAW in {mask}"


def test_step_2_a_container_with_net_admin_that_used_it(host):
    """Container lab08-netadmin has CAP_NET_ADMIN and put 10.8.8.8/32 on the loopback of its own network namespace.

    Hint: the option that adds a capability, then `ip addr add` inside the container
    (gophernetes exec); a default container is refused the same command.
    """
    container = labkit.running_container("lab08-netadmin")
    pid = container["pid"]
    assert has_capability(labkit.status(pid)["CapEff"], CAP_NET_ADMIN), "lab08-netadmin lacks CAP_NET_ADMIN"
    assert labkit.in_new_namespace(pid, "net"), "lab08-netadmin shares the host's network namespace"
    shown = host.run(f"nsenter --target {pid} --net ip -j addr show dev lo")
    addresses = [a["local"] for link in json.loads(shown.stdout or "[]") for a in link.get("addr_info", [])]
    assert "10.8.8.8" in addresses, f"lab08-netadmin's lo has {addresses}, not 10.8.8.8"


def test_step_3_a_container_whose_seccomp_profile_refuses_mkdir(host):
    """Container lab08-seccomp runs under a seccomp filter from /srv/lab08/no-mkdir.json that fails mkdir with EPERM.

    Hint: a profile in docker's JSON format: allow by default, and an SCMP_ACT_ERRNO rule
    for mkdir and mkdirat; `gophernetes run --help` names the option that loads it.
    """
    profile = json.loads(open("/srv/lab08/no-mkdir.json").read())
    refused = {name for rule in profile.get("syscalls", []) if rule.get("action") == "SCMP_ACT_ERRNO"
               for name in rule.get("names", [])}
    assert {"mkdir", "mkdirat"} <= refused, f"/srv/lab08/no-mkdir.json fails {sorted(refused)}, not mkdir and mkdirat"
    assert status("lab08-seccomp").get("Seccomp") == "2", "lab08-seccomp has no seccomp filter"
    tried = labkit.gophernetes("exec", "lab08-seccomp", "mkdir", "/tmp/lab08-check")
    assert tried.returncode != 0 and "Operation not permitted" in tried.stderr, \
        f"mkdir in lab08-seccomp was not refused with EPERM: {(tried.stderr or tried.stdout).strip()}"


def test_step_4_a_container_whose_root_is_nobody_on_the_host(host):
    """Container lab08-userns runs as root inside a user namespace that maps it to an unprivileged uid of the host.

    Hint: `gophernetes run --help`: the user-namespace option with `auto`; then compare
    `id` inside with /proc/PID/uid_map and the owner of the process on the host.
    """
    pid = labkit.running_container("lab08-userns")["pid"]
    assert labkit.in_new_namespace(pid, "user"), "lab08-userns shares the host's user namespace"
    mapping = open(f"/proc/{pid}/uid_map").read().split()
    assert mapping[:1] == ["0"] and mapping[1] != "0", f"uid 0 inside lab08-userns is not remapped: {mapping}"
    uid = labkit.status(pid).get("Uid", "").split()[0]
    assert uid == mapping[1], f"lab08-userns's process is uid {uid} on the host"


def test_step_5_a_setuid_binary_ran_with_and_without_no_new_privs(host):
    """/srv/lab08/suid-python is setuid root; started by uid 65534 it made out/plain as root, with no_new_privs out/no-new-privs as 65534.

    Hint: install a copy of the python3 binary with mode 4755 owned by root, then run it
    as uid 65534 with setpriv (man 1 setpriv), once plainly and once with the option
    that sets no_new_privs, each creating its file in an out/ folder anyone may write.
    """
    binary = labkit.stat("/srv/lab08/suid-python")
    assert binary and binary.st_uid == 0 and binary.st_mode & 0o4000, "/srv/lab08/suid-python is not setuid root"
    owners = {}
    for name in ("plain", "no-new-privs"):
        made = labkit.stat(f"/srv/lab08/out/{name}")
        assert made, f"no /srv/lab08/out/{name}"
        owners[name] = made.st_uid
    assert owners["plain"] == 0, f"out/plain is owned by {owners['plain']}: the setuid bit did not work (run it as 65534)"
    assert owners["no-new-privs"] == 65534, \
        f"out/no-new-privs is owned by {owners['no-new-privs']}: no_new_privs should have kept uid 65534"


def test_step_6_the_runtime_refuses_to_be_the_interpreter_of_a_container_program(host):
    """Container lab08-escape holds /tmp/evil, a #!/proc/self/exe script, and exec'ing it is refused (CVE-2019-5736).

    Hint: write a file whose first line is #!/proc/self/exe inside the container
    (gophernetes exec ... sh -c), make it executable, and exec it with gophernetes.
    """
    pid = labkit.running_container("lab08-escape")["pid"]
    evil = labkit.read(f"/proc/{pid}/root/tmp/evil")
    assert evil.startswith("#!/proc/self/exe"), "lab08-escape has no /tmp/evil starting with #!/proc/self/exe"
    tried = labkit.gophernetes("exec", "lab08-escape", "/tmp/evil")
    assert tried.returncode == 126 and "refused" in tried.stderr, \
        f"exec of /tmp/evil was not refused: status {tried.returncode}, {tried.stderr.strip()}"
