"""Pure pieces of the firewall and veth code: the container's MAC, and finding our iptables rules to delete."""

from __future__ import annotations

from gophernetes.network import iptables
from gophernetes.network.veth import mac_for


def test_a_containers_mac_is_made_from_its_address_and_is_locally_administered():
    assert mac_for("10.77.0.2") == "02:42:0a:4d:00:02"
    assert mac_for("10.90.255.254") == "02:42:0a:5a:ff:fe"
    assert int(mac_for("10.77.0.2")[:2], 16) & 0b11 == 0b10  # unicast, locally administered


def test_deleting_a_containers_rules_repeats_exactly_its_own_lines_with_minus_d():
    saved = {
        "nat": [':GOPHERNETES-PUBLISHED ',
                '-A GOPHERNETES-PUBLISHED -p tcp -m tcp --dport 8080 -m comment --comment "container:web" '
                '-j DNAT --to-destination 10.77.0.2:80',
                '-A GOPHERNETES-PUBLISHED -p tcp -m tcp --dport 9090 -m comment --comment "container:web2" '
                '-j DNAT --to-destination 10.77.0.3:90',
                '-A PREROUTING -m comment --comment "container:web" -j ACCEPT'],  # not our chain: never touched
        "filter": [],
    }

    script = iptables._deletions(saved, "container:web")

    assert script == {"nat": [["-D", "GOPHERNETES-PUBLISHED", "-p", "tcp", "-m", "tcp", "--dport", "8080", "-m",
                               "comment", "--comment", "container:web", "-j", "DNAT", "--to-destination",
                               "10.77.0.2:80"]], "filter": []}
