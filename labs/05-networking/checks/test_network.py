"""Lab 05 checks: everything is looked for inside the lab's namespaces, never on the host."""

import json

import labkit


def links(host, netns: str, *args: str) -> list[dict]:
    """`ip -n NETNS -j link show ARGS` as a list ([] if the namespace or link is missing)."""
    result = host.run(f"ip -n {netns} -j -d link show {' '.join(args)}")
    return json.loads(result.stdout) if result.rc == 0 and result.stdout.strip() else []


def addresses(host, netns: str, device: str) -> list[str]:
    result = host.run(f"ip -n {netns} -j addr show dev {device}")
    if result.rc != 0 or not result.stdout.strip():
        return []
    return [f"{a['local']}/{a['prefixlen']}" for link in json.loads(result.stdout)
            for a in link.get("addr_info", []) if a.get("family") == "inet"]


def pings(host, netns: str, address: str) -> bool:
    return host.run(f"ip netns exec {netns} busybox ping -c 1 -W 2 {address}").rc == 0


def test_step_1_a_veth_pair_between_lab05_and_lab05_c1(host):
    """veth-c1 in namespace lab05 is cabled to eth0 in lab05-c1, which has 10.55.0.2/24; both ends are up.

    Hint: create both namespaces first; `ip link add ... type veth peer name ... netns
    ...` makes the pair and puts one end in the other namespace at once. An interface
    needs an address and must be set up.
    """
    veth = links(host, "lab05", "veth-c1")
    assert veth and veth[0].get("linkinfo", {}).get("info_kind") == "veth", "no veth named veth-c1 in lab05"
    peer = links(host, "lab05-c1", "eth0")
    assert peer and peer[0].get("linkinfo", {}).get("info_kind") == "veth", "no veth end named eth0 in lab05-c1"
    assert "10.55.0.2/24" in addresses(host, "lab05-c1", "eth0"), "eth0 in lab05-c1 lacks 10.55.0.2/24"
    for name, link in (("veth-c1", veth[0]), ("eth0 of lab05-c1", peer[0])):
        assert "UP" in link.get("flags", []), f"{name} is down"


def test_step_2_a_bridge_with_two_ports_and_c1_reaches_c2(host):
    """Bridge br-lab05 (10.55.0.1/24, up) in lab05 has veth-c1 and veth-c2; lab05-c1 pings lab05-c2 at 10.55.0.3.

    Hint: a bridge is a link type; an interface joins it by getting the bridge as its
    master. The second container is built like the first, with the next address.
    """
    bridge = links(host, "lab05", "br-lab05")
    assert bridge and bridge[0].get("linkinfo", {}).get("info_kind") == "bridge", "no bridge br-lab05 in lab05"
    assert "UP" in bridge[0].get("flags", []), "br-lab05 is down"
    assert "10.55.0.1/24" in addresses(host, "lab05", "br-lab05"), "br-lab05 lacks 10.55.0.1/24"
    ports = {link["ifname"] for link in links(host, "lab05", "master", "br-lab05")}
    assert {"veth-c1", "veth-c2"} <= ports, f"br-lab05's ports are {sorted(ports)}"
    assert pings(host, "lab05-c1", "10.55.0.3"), "lab05-c1 cannot ping 10.55.0.3"


def test_step_3_c1_reaches_the_world_through_nat(host):
    """lab05-c1 pings 203.0.113.2 in lab05-world, which has no route back to 10.55.0.0/24: NAT at work.

    Hint: the containers need a default route via the bridge; lab05 must forward
    packets (a per-namespace sysctl) and masquerade 10.55.0.0/24 out of its uplink.
    Run those commands *in* lab05, never on the host.
    """
    assert addresses(host, "lab05-world", "eth0") == ["203.0.113.2/24"], "lab05-world's eth0 is not 203.0.113.2/24"
    unrouted = host.run("ip -n lab05-world route get 10.55.0.2")
    assert unrouted.rc != 0, "lab05-world has a route to 10.55.0.0/24: the point is to need NAT"
    assert pings(host, "lab05-c1", "203.0.113.2"), "lab05-c1 cannot ping 203.0.113.2"


def test_step_4_two_containers_on_lab05net_talk_by_name(host):
    """Containers lab05-web and lab05-client run on network lab05net in lab05; the client gets the web page by name.

    Hint: run gophernetes itself inside lab05 (nsenter --net); create the network
    first, give the web container a hostname its neighbours can use, and serve a page
    with busybox httpd.
    """
    web = labkit.running_container("lab05-web", netns="lab05")
    labkit.running_container("lab05-client", netns="lab05")
    assert "lab05net" in web.get("networks", []), "lab05-web is not on network lab05net"
    network = labkit.gophernetes("network", "inspect", "lab05net", netns="lab05")
    assert network.returncode == 0, "there is no network lab05net"
    bridge = json.loads(network.stdout)[0]["bridge"]
    assert len(links(host, "lab05", "master", bridge)) >= 2, f"the bridge {bridge} is not in lab05 with two ports"
    page = labkit.gophernetes("exec", "lab05-client", "wget", "-qO-", "http://lab05-web/", netns="lab05")
    assert page.returncode == 0 and "hello" in page.stdout, \
        f"lab05-client cannot fetch http://lab05-web/: {page.stderr.strip()}"


def test_step_5_the_published_port_answers_from_the_world(host):
    """From lab05-world, port 8080 of lab05 (203.0.113.1) answers with container lab05-public's page.

    Hint: publishing is decided when a container is created (`gophernetes run -p
    HOST:CONTAINER`): start lab05-public like lab05-web, plus the port; then ask
    203.0.113.1:8080 from inside lab05-world.
    """
    labkit.running_container("lab05-public", netns="lab05")
    page = host.run("ip netns exec lab05-world curl -s -m 5 http://203.0.113.1:8080/")
    assert page.rc == 0 and "lab05-public" in page.stdout, "lab05-public's page is not on 203.0.113.1:8080"
