"""Container networking: bridges, veth pairs, IP leases, NAT and published ports.

The runtime calls this module in a fixed order:

    att = network.allocate(root, container_id, "bridge", publish=["8080:80"], hostname="web")
        # before fork: validate everything, lease an address (nothing in the kernel yet)
    att.plug(pid)      # the container's first process has unshared its network namespace:
                       # bridge (if needed), veth pair, eth0 + address + default route, lo up,
                       # masquerade and DNAT rules
    att.etc_files()    # /etc/hosts and /etc/resolv.conf for the container
    att.hosts_path     # the network's shared /etc/hosts, kept current: bind-mount it read-only
    att.release()      # the container exited (or the run failed half-way): undo all of it

    network.attach(root, id, pid, "lab") / network.detach(root, id, "lab")   # eth1, ... hot-plugged
    network.release_container(root, id)                                       # prune after a crash

Everything the kernel is asked to do happens in the CALLER's network namespace and in
the container's; leases live under the state root (ipam.py), keyed by container id, so
`release_container(root, id)` can undo a container that crashed without cleaning up.

Network state belongs to the network namespace it was made in, like the bridges and
rules it describes: `root.networks` is `lib/networks` in the host's namespace (PID 1's)
and `run/netns/INODE/networks` in any other (paths.py; INODE as `readlink
/proc/self/ns/net` shows it, checked against the namespace's cookie because inodes are
reused). So a network made and a port published inside lab 05's namespace are invisible
to the host's `network ls` and never block the host's `-p 8080`, and the same name or
port can be used in both. We chose this over one state root per namespace because the
namespace is what really owns a bridge, a veth and a DNAT rule: a second root would
have to be remembered by the user, while the kernel already tells us where we are.
Containers and images stay shared by all namespaces.
A network's bridge and its masquerade rules are made with its first container and stay,
as docker0 does, until `delete_network`.
pyroute2 is imported only by `plug`/`release`/`attach`/`detach`: `run --net none`
never pays for it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from gophernetes.errors import Conflict, NotFound, UsageError
from gophernetes.network import backends, definitions, firewall, hosts, ipam, ports, store
from gophernetes.network.definitions import DEFAULT_NETWORK, Network
from gophernetes.network.ipam import Endpoint, Lease
from gophernetes.paths import StateRoot

__all__ = ["Attachment", "allocate", "attach", "detach", "release_container", "rename_container", "create_network",
           "delete_network", "list_networks", "inspect_network", "NetworkInfo", "DEFAULT_NETWORK"]


@dataclass
class Attachment:
    """A container's lease on one network, and the means to plug and unplug it."""

    root: StateRoot
    container_id: str
    network: Network
    endpoint: Endpoint
    directory: Path  # root.networks as it was in the namespace the lease was made in

    @property
    def address(self) -> str:
        """The container's address with its prefix length: "10.77.0.2/16"."""
        return f"{self.endpoint.address}/{self.network.prefixlen}"

    @property
    def ifname(self) -> str:
        return self.endpoint.ifname

    @property
    def hosts_path(self) -> Path:
        """The network's /etc/hosts as gophernetes keeps it current (bind-mount it read-only, see hosts.py)."""
        return _hosts_path(self.directory, self.network.name)

    def etc_files(self) -> dict[str, str]:
        """{"/etc/hosts": ..., "/etc/resolv.conf": ...} for the container, as text."""
        return {"/etc/hosts": hosts.read(self.hosts_path), "/etc/resolv.conf": hosts.resolv_conf()}

    def plug(self, pid: int) -> None:
        """Wire the network namespace of process `pid` to the network, as `self.endpoint` says."""
        _plug(self.root.networks, self.container_id, self.network, self.endpoint, pid)

    def release(self) -> None:
        """Undo everything of this container (rules, veths, leases); idempotent."""
        _release(self.directory, self.container_id)


def allocate(state_root: StateRoot, container_id: str, network_name: str = DEFAULT_NETWORK,
             publish: list[str] | tuple[str, ...] = (), hostname: str = "",
             aliases: list[str] | tuple[str, ...] = ()) -> Attachment:
    """Check the request and lease an address on `network_name`; nothing in the kernel yet."""
    ipam.check_container_id(container_id)
    hosts.check_names([hostname, *aliases])
    mappings = ports.parse_all(list(publish))
    directory = state_root.networks
    with store.locked(directory):
        network = definitions.load(directory, network_name)
        if ipam.load(directory, container_id) is not None:
            raise Conflict(f"container {container_id} already holds a network lease; release it first")
        leases = ipam.all_leases(directory)
        _refuse_published_twice(mappings, leases)
        for mapping in mappings:
            ports.check_free_on_host(mapping)
        endpoint = _new_endpoint(network, container_id, 0, leases)
        endpoint.ports = mappings
        lease = Lease(container_id, hostname, list(aliases), endpoints=[endpoint])
        ipam.save(directory, lease)
        hosts.add(_hosts_path(directory, network.name), endpoint.address, lease.names())
    return Attachment(state_root, container_id, network, endpoint, directory)


def release_container(state_root: StateRoot, container_id: str) -> None:
    """Remove a container's rules, veths and leases, e.g. after it crashed; never raises for what is gone."""
    _release(state_root.networks, container_id)


def _release(directory: Path, container_id: str) -> None:
    lease = ipam.load(directory, container_id)
    if lease is None:
        return
    if _namespace_is_gone(lease.pid):
        for endpoint in lease.endpoints:  # the kernel deletes the veths with the namespace
            _unplug(None, container_id, endpoint)
    else:
        from gophernetes.network import netlink

        with netlink.here() as ipr:
            for endpoint in lease.endpoints:
                _unplug(ipr, container_id, endpoint)
    with store.locked(directory):
        for endpoint in lease.endpoints:
            hosts.remove(_hosts_path(directory, endpoint.network), endpoint.address)
        ipam.drop(directory, container_id)


def _namespace_is_gone(pid: int) -> bool:
    """True when the plugged process (and so its network namespace) is gone, or none ever was.

    A network namespace dies with its last process (unless something pins it, as the
    containerd engine does until right after this), and the kernel then deletes every
    interface in it; deleting a veth deletes its peer too. Letting the kernel do it saves
    a synchronous `ip link del` (~22 ms of RCU waits) and pyroute2's import on the way
    out. A zombie has no namespaces any more: /proc/PID/ns/net is gone for it too.
    """
    return not pid or not os.path.exists(f"/proc/{pid}/ns/net")


def attach(state_root: StateRoot, container_id: str, pid: int, network_name: str) -> Attachment:
    """Hot-plug one more interface (eth1, eth2, ...) on `network_name` into running process `pid`."""
    ipam.check_container_id(container_id)
    directory = state_root.networks
    with store.locked(directory):
        network = definitions.load(directory, network_name)
        lease = ipam.load(directory, container_id) or Lease(container_id)
        if lease.endpoint(network.name):
            raise Conflict(f"container {container_id} is already on network {network.name!r}")
        used = {int(ep.ifname[3:]) for ep in lease.endpoints}
        index = next(i for i in range(len(used) + 1) if i not in used)
        endpoint = _new_endpoint(network, container_id, index, ipam.all_leases(directory))
        lease.endpoints.append(endpoint)
        ipam.save(directory, lease)
        hosts.add(_hosts_path(directory, network.name), endpoint.address, lease.names())
    try:
        _plug(directory, container_id, network, endpoint, pid)
    except BaseException:
        with contextlib.suppress(Exception):
            detach(state_root, container_id, network_name)
        raise
    return Attachment(state_root, container_id, network, endpoint, directory)


def detach(state_root: StateRoot, container_id: str, network_name: str) -> None:
    """Unplug a container from `network_name`: its interface there disappears, its lease is freed."""
    directory = state_root.networks
    lease = ipam.load(directory, container_id)
    endpoint = lease.endpoint(network_name) if lease else None
    if endpoint is None:
        raise NotFound(f"container {container_id} is not attached to network {network_name!r}")
    from gophernetes.network import netlink

    with netlink.here() as ipr:
        _unplug(ipr, container_id, endpoint)
    with store.locked(directory):
        lease = ipam.load(directory, container_id) or Lease(container_id)
        lease.endpoints = [ep for ep in lease.endpoints if ep.network != network_name]
        hosts.remove(_hosts_path(directory, network_name), endpoint.address)
        if lease.endpoints:
            ipam.save(directory, lease)
        else:
            ipam.drop(directory, container_id)


def rename_container(state_root: StateRoot, container_id: str, old: str, new: str) -> dict[str, list[str]]:
    """`rename`: the container's lease calls it `new` instead of `old`, and so does its line in
    the hosts file of every network it is on, which its neighbours have bind-mounted: they
    resolve the new name at once, and the old one no more (its hostname, which a rename does
    not change, and its short ID stay). Returns {address: names} of the lines rewritten, for
    the neighbours with a hosts file of their own (--add-host). Nothing for a container
    without a lease here (stopped, --net none, or on networks of another namespace)."""
    directory = state_root.networks
    with store.locked(directory):
        lease = ipam.load(directory, container_id)
        if lease is None:
            return {}
        aliases = [new if alias == old else alias for alias in lease.aliases]
        lease.aliases = [alias for alias in dict.fromkeys(aliases) if alias != lease.hostname]
        if new != lease.hostname and new not in lease.aliases:
            lease.aliases.append(new)
        ipam.save(directory, lease)
        for endpoint in lease.endpoints:
            hosts.rename(_hosts_path(directory, endpoint.network), endpoint.address, lease.names())
        return {endpoint.address: lease.names() for endpoint in lease.endpoints}


# ---------------------------------------------------------------- networks, for the CLI


@dataclass(frozen=True)
class NetworkInfo:
    """A network as `network ls` / `inspect` show it."""

    network: Network
    driver: str
    firewall: str
    containers: list[Lease]

    def as_dict(self) -> dict:
        return {
            "name": self.network.name, "driver": self.driver, "subnet": self.network.subnet,
            "gateway": self.network.gateway, "bridge": self.network.bridge, "firewall": self.firewall,
            "containers": [_container_dict(lease, self.network.name) for lease in self.containers],
        }


def create_network(state_root: StateRoot, name: str, subnet: str | None = None) -> Network:
    """Define a new bridge network; its bridge is made when the first container plugs in."""
    with store.locked(state_root.networks):
        return definitions.create(state_root.networks, name, subnet)


def delete_network(state_root: StateRoot, name: str) -> None:
    """Remove a network's bridge and rules (in the caller's namespace) and forget it; refused while in use.

    Deleting the default network `bridge` only resets it: it is defined anew on next use.
    """
    directory = state_root.networks
    with store.locked(directory):
        users = ipam.on_network(directory, name)
        if users:
            ids = ", ".join(lease.container_id[:12] for lease in users)
            raise Conflict(f"network {name!r} is in use by {len(users)} container(s): {ids}; detach them first")
        network = definitions.load(directory, name)
        _tear_down(network)
        definitions.delete(directory, name)


def list_networks(state_root: StateRoot) -> list[NetworkInfo]:
    directory = state_root.networks
    with store.locked(directory):
        networks = definitions.all_networks(directory)
        leases = ipam.all_leases(directory)
    backend = backends.preferred()
    return [NetworkInfo(net, "bridge", backend, [lease for lease in leases if lease.endpoint(net.name)])
            for net in networks]


def inspect_network(state_root: StateRoot, name: str) -> NetworkInfo:
    for info in list_networks(state_root):
        if info.network.name == name:
            return info
    raise NotFound(f"network {name!r} not found; see 'gophernetes network ls'")


# ---------------------------------------------------------------- the steps


def _new_endpoint(network: Network, container_id: str, index: int, leases: list[Lease]) -> Endpoint:
    return Endpoint(network=network.name, address=ipam.next_free_address(network, leases),
                    ifname=f"eth{index}", veth=ipam.veth_name(container_id, index),
                    bridge=network.bridge, firewall=backends.preferred())


def _refuse_published_twice(mappings: list[ports.PortMapping], leases: list[Lease]) -> None:
    for lease in leases:
        for endpoint in lease.endpoints:
            for taken in endpoint.ports:
                clash = next((wanted for wanted in mappings if wanted.clashes_with(taken)), None)
                if clash:
                    raise Conflict(f"port {clash.host_port}/{clash.proto} is already published by "
                                   f"container {lease.container_id[:12]} ({taken})")


def _plug(directory: Path, container_id: str, network: Network, endpoint: Endpoint, pid: int) -> None:
    """Bridge (if needed), veth into `pid`'s namespace, then the container's DNAT rules."""
    from gophernetes.network import netlink, veth

    _check_own_namespace(pid, endpoint.ifname)
    fw = backends.backend(endpoint.firewall)
    with netlink.here() as ipr:
        with store.locked(directory):
            _bring_up(ipr, network, fw)
            _record_pid(directory, container_id, pid)
        plug = veth.Plug(endpoint.ifname, endpoint.address, network.prefixlen, network.gateway,
                         default_route=endpoint.ifname == "eth0")
        # Rules first: the port is guarded from its first frame on.
        fw.plug(container_id, endpoint.veth, veth.mac_for(endpoint.address), endpoint.address, network,
                endpoint.ports)
        veth.create(ipr, endpoint.veth, network.bridge, pid, plug)


def _check_own_namespace(pid: int, ifname: str) -> None:
    """Refuse a process that is gone, or that shares our network namespace (`--net host`).

    Two processes are in the same namespace when /proc/PID/ns/net of both is the same
    inode. Plugging "eth0" into our own namespace would rename and readdress the host's.
    """
    try:
        theirs = os.stat(f"/proc/{pid}/ns/net").st_ino
    except FileNotFoundError:
        raise NotFound(f"process {pid} is gone: there is no network namespace to plug {ifname} into") from None
    if theirs == os.stat("/proc/thread-self/ns/net").st_ino:
        raise UsageError(f"process {pid} shares this host's network namespace (--net host?): "
                         "there is nothing to plug")


def _bring_up(ipr, network: Network, fw: firewall.Firewall) -> None:
    """The network's bridge and firewall rules in the caller's namespace, made with the bridge.

    Like docker0, the bridge then stays when its containers go (deleting a bridge costs the
    kernel ~80 ms): `network delete NAME` removes it and its rules.
    """
    from gophernetes.network import bridge, sysctl

    if bridge.ensure(ipr, network):
        fw.add_network(network)
    sysctl.enable_forwarding()
    sysctl.enable_route_localnet(network.bridge)


def _record_pid(directory: Path, container_id: str, pid: int) -> None:
    lease = ipam.load(directory, container_id)
    if lease is not None and lease.pid != pid:
        lease.pid = pid
        ipam.save(directory, lease)


def _unplug(ipr, container_id: str, endpoint: Endpoint) -> None:
    """The endpoint's DNAT and anti-spoofing rules and veth pair (unless `ipr` is None), whatever is still there."""
    from gophernetes.network import veth

    if endpoint.firewall:
        backends.backend(endpoint.firewall).unplug(container_id, endpoint.veth, bool(endpoint.ports))
    if ipr is not None:
        veth.remove(ipr, endpoint.veth)


def _tear_down(network: Network) -> None:
    """The network's bridge and its firewall rules, in every backend installed, if they are there."""
    from gophernetes.network import bridge, netlink

    with netlink.here() as ipr:
        bridge.remove(ipr, network)
    for name in backends.installed():
        backends.backend(name).remove_network(network)


def _hosts_path(directory: Path, network_name: str) -> Path:
    return directory / "hosts" / network_name


def _container_dict(lease: Lease, network: str) -> dict:
    endpoint = lease.endpoint(network)
    assert endpoint is not None, "list_networks lists a lease under a network only when it has an endpoint there"
    return {"id": lease.container_id, "names": lease.names(), "pid": lease.pid, "address": endpoint.address,
            "interface": endpoint.ifname, "veth": endpoint.veth, "ports": [str(p) for p in endpoint.ports]}
