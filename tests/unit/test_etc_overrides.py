"""--add-host and --dns: the lines they put in a container's /etc files."""

from __future__ import annotations

import pytest

from gophernetes.errors import UsageError
from gophernetes.network.etc_overrides import apply, check, parse_add_host

FILES = {"/etc/hostname": "web\n", "/etc/hosts": "127.0.0.1\tlocalhost\n",
         "/etc/resolv.conf": "nameserver 192.0.2.53\nsearch lab.example\noptions ndots:2\n"}


def test_add_host_takes_dockers_forms():
    assert parse_add_host("db:10.0.0.5") == ("db", "10.0.0.5")
    assert parse_add_host("db=10.0.0.5") == ("db", "10.0.0.5")
    assert parse_add_host("v6:fd00::1") == ("v6", "fd00::1")
    assert parse_add_host("v6:[fd00::2]") == ("v6", "fd00::2")


@pytest.mark.parametrize("text", ["db", "db:not-an-ip", ":10.0.0.5", "bad name:10.0.0.5"])
def test_a_bad_add_host_is_refused(text):
    with pytest.raises(UsageError):
        parse_add_host(text)


def test_hosts_lines_are_appended_and_name_servers_replaced_keeping_search_and_options():
    changed = apply(FILES, ["db:10.0.0.5", "cache:10.0.0.6"], ["198.51.100.1", "198.51.100.2"])
    assert changed["/etc/hosts"] == "127.0.0.1\tlocalhost\n10.0.0.5\tdb\n10.0.0.6\tcache\n"
    assert changed["/etc/resolv.conf"] == ("nameserver 198.51.100.1\nnameserver 198.51.100.2\n"
                                           "search lab.example\noptions ndots:2\n")
    assert changed["/etc/hostname"] == "web\n" and FILES["/etc/hosts"] == "127.0.0.1\tlocalhost\n"
    assert apply(FILES, [], []) == FILES


def test_bad_dns_and_host_networking_are_refused():
    with pytest.raises(UsageError, match="invalid --dns 'dns.google'"):
        check([], ["dns.google"], "bridge")
    with pytest.raises(UsageError, match="--net host"):
        check(["db:10.0.0.5"], [], "host")
    check(["db:10.0.0.5"], ["192.0.2.1"], "none")
