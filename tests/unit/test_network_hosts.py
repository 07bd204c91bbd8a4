"""The shared /etc/hosts of a network: lines added and taken out, nothing else touched (pure text and a tmp file)."""

from __future__ import annotations

from gophernetes.network import hosts


def test_the_first_container_brings_the_localhost_header_and_later_ones_one_line_each(tmp_path):
    path = tmp_path / "bridge"

    hosts.add(path, "10.77.0.2", ["web", "1a2b3c4d5e6f"])
    hosts.add(path, "10.77.0.3", ["db"])

    assert path.read_text() == hosts.HEADER + "10.77.0.2\tweb 1a2b3c4d5e6f\n10.77.0.3\tdb\n"


def test_removing_a_line_keeps_the_inode_and_the_last_one_out_removes_the_file(tmp_path):
    path = tmp_path / "bridge"
    hosts.add(path, "10.77.0.2", ["web"])
    hosts.add(path, "10.77.0.3", ["db"])
    inode = path.stat().st_ino

    hosts.remove(path, "10.77.0.2")

    assert path.read_text() == hosts.HEADER + "10.77.0.3\tdb\n"
    assert path.stat().st_ino == inode  # bind mounts hold the inode: never a new file
    hosts.remove(path, "10.77.0.3")
    assert not path.exists()
    hosts.remove(path, "10.77.0.3")  # gone already: nothing to do


def test_an_address_is_matched_whole_not_as_a_prefix():
    text = "10.77.0.2\ta\n10.77.0.20\tb\n"

    assert hosts.without(text, "10.77.0.2") == "10.77.0.20\tb\n"


def test_a_network_nobody_is_on_yet_reads_as_the_header(tmp_path):
    assert hosts.read(tmp_path / "nobody") == hosts.HEADER


def test_renaming_rewrites_only_that_addresss_line_in_place(tmp_path):
    path = tmp_path / "hosts"
    hosts.add(path, "10.77.0.2", ["db", "1a2b3c4d5e6f"])
    hosts.add(path, "10.77.0.20", ["db2", "0f0f0f0f0f0f"])
    inode = path.stat().st_ino
    hosts.rename(path, "10.77.0.2", ["database", "1a2b3c4d5e6f"])
    assert path.read_text() == hosts.HEADER + "10.77.0.2\tdatabase 1a2b3c4d5e6f\n10.77.0.20\tdb2 0f0f0f0f0f0f\n"
    assert path.stat().st_ino == inode  # the containers' bind mounts hold this inode
    hosts.rename(tmp_path / "missing", "10.77.0.2", ["x"])
    assert not (tmp_path / "missing").exists()
