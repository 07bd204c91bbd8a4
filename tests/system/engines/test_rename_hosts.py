"""rename on a bridge network (made inside the test's own network namespace): the
neighbours' /etc/hosts follow, so they reach the container by its new name, and no more by
the old one — as docker's DNS and podman's hosts files do. Both engines."""

from __future__ import annotations

from tests.support import wait_until


def hosts_of(engine, container: str) -> str:
    return engine("exec", container, "cat", "/etc/hosts").stdout


def test_rename_gives_the_neighbours_the_new_name(engine, image):
    assert engine("run", "-d", "--name", "db", image, "sleep", "600").returncode == 0
    assert engine("run", "-d", "--name", "app", image, "sleep", "600").returncode == 0
    assert engine("run", "-d", "--name", "pinned", "--add-host", "cache:10.0.0.9", image,
                  "sleep", "600").returncode == 0  # a hosts file of its own, copied at its start
    address = engine("exec", "db", "hostname", "-i").stdout.split()[0]
    assert wait_until(lambda: engine("exec", "app", "ping", "-c", "1", "-W", "1", "db").returncode == 0)
    assert engine("rename", "db", "database").returncode == 0
    for neighbour in ("app", "pinned", "database"):
        lines = [line.split() for line in hosts_of(engine, neighbour).splitlines()]
        mine = [names for names in lines if names[0] == address]
        assert len(mine) == 1 and "database" in mine[0] and "db" not in mine[0], (neighbour, lines)
    assert "10.0.0.9\tcache\n" in hosts_of(engine, "pinned")  # its own extras stay
    assert engine("exec", "app", "ping", "-c", "1", "-W", "1", "database").returncode == 0
    assert engine("exec", "app", "ping", "-c", "1", "-W", "1", "db").returncode != 0
    started_later = engine("run", "--rm", image, "ping", "-c", "1", "-W", "1", "database")
    assert started_later.returncode == 0, started_later.stderr


def test_renaming_back_and_forth_keeps_one_line(engine, image):
    assert engine("run", "-d", "--name", "one", image, "sleep", "600").returncode == 0
    assert engine("run", "-d", "--name", "two", image, "sleep", "600").returncode == 0
    for new, old in (("uno", "one"), ("one", "uno"), ("eins", "one")):
        assert engine("rename", old, new).returncode == 0
    names = " ".join(hosts_of(engine, "two").split())
    assert " eins " in names + " " and " one " not in names + " " and " uno " not in names + " "
