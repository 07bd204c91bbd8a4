"""IP leases: distinct under concurrency, given back on release, even after a crash."""

from __future__ import annotations

import os
import signal

from gophernetes import network
from gophernetes.network import ipam


def _fork(work) -> int:
    """Run `work()` in a child process (in this test's namespace); the child's pid."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            work()
            status = 0
        finally:
            os._exit(status)
    return pid


def _wait_all(pids: list[int]) -> list[int]:
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


def test_fifty_containers_plugged_by_five_processes_at_once_get_fifty_addresses(host, root, container,
                                                                                nothing_left):
    containers = [container() for _ in range(50)]
    batches = [containers[i::5] for i in range(5)]

    def plug_batch(batch, worker):
        for n, c in enumerate(batch):
            network.allocate(root, f"w{worker}-c{n}").plug(c.pid)

    assert _wait_all([_fork(lambda b=b, w=w: plug_batch(b, w)) for w, b in enumerate(batches)]) == [0] * 5

    leased = [ep.address for lease in ipam.all_leases(root.networks) for ep in lease.endpoints]
    seen = [c.addresses("eth0")[0] for c in containers]
    assert len(set(leased)) == 50 and len(set(seen)) == 50
    assert sorted(seen) == sorted(f"{address}/16" for address in leased)
    assert containers[0].ping(containers[49].addresses("eth0")[0].split("/")[0])

    ids = [lease.container_id for lease in ipam.all_leases(root.networks)]
    assert _wait_all([_fork(lambda part=ids[i::5]: [network.release_container(root, cid) for cid in part])
                      for i in range(5)]) == [0] * 5
    nothing_left(host, root)


def test_release_removes_links_addresses_rules_and_leases(firewall_backend, host, root, container, nothing_left):
    c = container()
    att = network.allocate(root, "web", publish=["8080:80", "5353:53/udp"])
    att.plug(c.pid)
    assert "gophernetes0" in host.links()

    att.release()

    assert "eth0" not in c.run("ip", "-o", "link").stdout
    nothing_left(host, root)


def test_release_is_idempotent_and_quiet_about_what_is_gone(host, root, container, nothing_left):
    c = container()
    att = network.allocate(root, "web")
    att.plug(c.pid)
    c.kill()  # the kernel deletes the veth with the container's namespace

    att.release()
    att.release()
    network.release_container(root, "never-existed")

    nothing_left(host, root)


def test_an_address_is_given_back_on_release(host, root, container):
    first = network.allocate(root, "first")
    network.allocate(root, "second")
    first.release()

    assert network.allocate(root, "third").address == "10.77.0.2/16"


def test_release_container_cleans_up_after_a_killed_run(firewall_backend, host, root, container, nothing_left):
    c = container()

    def killed_run():
        network.allocate(root, "crashed", publish=["8080:80"]).plug(c.pid)
        os.kill(os.getpid(), signal.SIGKILL)  # the runtime dies before it can release

    assert _wait_all([_fork(killed_run)]) == [-signal.SIGKILL]
    assert "gophernetes" in host.ruleset() or "GOPHERNETES" in host.iptables_save()
    assert c.addresses("eth0") == ["10.77.0.2/16"]  # the container still has its network

    network.release_container(root, "crashed")

    assert "eth0" not in c.run("ip", "-o", "link").stdout
    nothing_left(host, root)


def test_a_lease_records_what_prune_needs(host, root, container):
    c = container()
    network.allocate(root, "web", publish=["8080:80"], hostname="www").plug(c.pid)

    lease = ipam.load(root.networks, "web")
    assert lease.pid == c.pid and lease.hostname == "www"
    assert [(ep.ifname, ep.veth, ep.bridge) for ep in lease.endpoints] == [
        ("eth0", ipam.veth_name("web", 0), "gophernetes0")]
    assert ipam.veth_name("web", 0) in host.links()
