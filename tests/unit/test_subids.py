"""Subordinate id ranges for --userns auto: reading /etc/subuid, giving blocks that never overlap."""

from __future__ import annotations

import pytest

from gophernetes.linux.userns import map_text
from gophernetes.runtime import subids
from gophernetes.runtime.subids import IdMapping, IdRange, first_free, parse


def test_parse_keeps_only_the_named_users_well_formed_ranges():
    text = ("alice:100000:65536\n"
            "containers:2147483647:2147483648\n"
            "# containers:1:1\n"
            "containers:oops:10\n"
            "containers:5000000:0\n"
            "containers:300000:131072\n")
    assert parse(text, "containers") == [IdRange(2147483647, 2147483648), IdRange(300000, 131072)]
    assert parse(text, "bob") == []


def test_first_free_takes_the_lowest_block_that_overlaps_nothing():
    ranges = [IdRange(100000, 65536 * 3)]
    assert first_free(ranges, [], 65536) == 100000
    assert first_free(ranges, [IdRange(100000, 65536)], 65536) == 165536
    # a freed block in the middle is reused before the end
    assert first_free(ranges, [IdRange(100000, 65536), IdRange(231072, 65536)], 65536) == 165536


def test_first_free_never_straddles_a_taken_block_or_leaves_the_ranges():
    ranges = [IdRange(100000, 100000)]
    assert first_free(ranges, [IdRange(150000, 10)], 65536) is None  # 100000+65536 would cross it
    assert first_free(ranges, [IdRange(100000, 1)], 65536) == 100001
    assert first_free([IdRange(0, 65535)], [], 65536) is None


def test_first_free_uses_a_second_range_when_the_first_is_full():
    ranges = [IdRange(100000, 65536), IdRange(500000, 65536)]
    assert first_free(ranges, [IdRange(100000, 65536)], 65536) == 500000


def test_blocks_handed_out_one_after_another_are_disjoint():
    ranges = [IdRange(2147483647, 2147483648)]
    taken: list[IdRange] = []
    for _ in range(50):
        start = first_free(ranges, taken, 65536)
        block = IdRange(start, 65536)
        assert not any(block.overlaps(other) for other in taken)
        taken.append(block)
    assert taken[-1].end <= 2147483647 + 2147483648


def test_choose_reads_the_files_named_in_the_environment(tmp_path, monkeypatch):
    (tmp_path / "subuid").write_text("containers:100000:131072\n")
    (tmp_path / "subgid").write_text("containers:400000:131072\n")
    monkeypatch.setenv("GOPHERNETES_SUBUID", str(tmp_path / "subuid"))
    monkeypatch.setenv("GOPHERNETES_SUBGID", str(tmp_path / "subgid"))
    first = subids.choose([])
    assert first == IdMapping(100000, 400000, 65536)
    assert subids.choose([first]) == IdMapping(165536, 465536, 65536)
    with pytest.raises(subids.NoIdRange, match="no free block of 65536 ids"):
        subids.choose([first, IdMapping(165536, 465536, 65536)])


def test_a_missing_entry_says_what_line_to_add(tmp_path, monkeypatch):
    (tmp_path / "subuid").write_text("alice:100000:65536\n")
    monkeypatch.setenv("GOPHERNETES_SUBUID", str(tmp_path / "subuid"))
    monkeypatch.setenv("GOPHERNETES_SUBGID", str(tmp_path / "absent"))
    with pytest.raises(subids.NoIdRange, match="containers:2147483647:2147483648"):
        subids.choose([])


def test_allocations_live_in_each_containers_folder_and_go_with_it(tmp_path, monkeypatch):
    (tmp_path / "ids").write_text("containers:100000:1000000\n")
    monkeypatch.setenv("GOPHERNETES_SUBUID", str(tmp_path / "ids"))
    monkeypatch.setenv("GOPHERNETES_SUBGID", str(tmp_path / "ids"))
    containers = tmp_path / "containers"
    containers.mkdir()
    (containers / ".lock").touch()
    folders = [containers / name for name in ("a", "b", "c")]
    for folder in folders:
        folder.mkdir()
    assert [subids.allocate(containers, f).uid_base for f in folders] == [100000, 165536, 231072]
    assert subids.load(folders[1]) == IdMapping(165536, 165536, 65536)
    (folders[1] / "userns.json").unlink()  # what `rm` does, with the whole folder
    (containers / "d").mkdir()
    assert subids.allocate(containers, containers / "d").uid_base == 165536


def test_map_text_is_one_line_of_inside_outside_count():
    assert map_text(0, 100000, 65536) == "0 100000 65536\n"
    with pytest.raises(ValueError):
        map_text(0, 100000, 0)
