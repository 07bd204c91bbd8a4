"""The bench's instruments (bench/common.py, bench/all.py): paired ratios, shuffled rounds,
tables, the leftover check's bookkeeping and the targets table. The benches themselves
are not run here: they measure, and tests do not time anything."""

from __future__ import annotations

import importlib.util
import json
import random
import sys

import pytest
from support import REPO

sys.path.insert(0, str(REPO / "bench"))
import common  # noqa: E402


def load_all():
    spec = importlib.util.spec_from_file_location("bench_all", REPO / "bench" / "all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paired_ratio_compares_each_run_with_runc_of_the_same_round():
    # Round 3 was slow for runc only: paired, the tool is 2x runc in 2 of 3 rounds;
    # the ratio of the two medians (3 / 2 = 1.5) would hide that.
    times = {"runc": [1.0, 2.0, 10.0], "tool": [2.0, 4.0, 3.0]}
    ratios = common.paired_ratios(times, "runc")
    assert ratios["tool"].median == 2.0
    assert (ratios["tool"].low, ratios["tool"].high) == (0.3, 2.0)
    assert (ratios["runc"].median, ratios["runc"].low, ratios["runc"].high) == (1.0, 1.0, 1.0)


def test_paired_ratio_refuses_a_tool_with_a_missing_round():
    with pytest.raises(ValueError):
        common.paired_ratios({"runc": [1.0, 2.0], "tool": [1.0]}, "runc")


def test_every_round_runs_every_tool_once_in_a_new_order():
    names = ["unshare", "crun", "runc", "ctr", "podman", "gophernetes"]
    rounds = list(common.shuffled_rounds(names, 20, random.Random(7)))
    assert len(rounds) == 20
    assert all(sorted(order) == sorted(names) for order in rounds)
    assert len({tuple(order) for order in rounds}) > 10  # not one fixed order
    assert {order[0] for order in rounds} != {names[0]}  # runc is not always after crun, etc.
    assert rounds == list(common.shuffled_rounds(names, 20, random.Random(7)))  # the seed replays it


def test_markdown_table_has_a_header_rule_and_padded_columns():
    text = common.markdown_table(["tool", "ms"], [["runc", "27.0"], ["gophernetes run", 95.5]])
    lines = text.splitlines()
    assert lines[0] == "| tool            | ms   |"
    assert lines[1] == "|-----------------|------|"
    assert lines[3] == "| gophernetes run | 95.5 |"
    assert len({len(line) for line in lines}) == 1


def test_leftovers_are_ours_only_when_named_with_our_mark():
    before = {"mount /", "cgroup /sys/fs/cgroup/pids/lab04"}
    after = before | {f"hidden cgroup /sys/fs/cgroup/unified/{common.MARK}-run/crun", "netns somebody-else",
                      f"mount /tmp/{common.MARK}-run-x/rootfs"}
    ours, others = common.leftovers(before, after)
    assert ours == [f"hidden cgroup /sys/fs/cgroup/unified/{common.MARK}-run/crun",
                    f"mount /tmp/{common.MARK}-run-x/rootfs"]
    assert others == 1


def test_each_bench_process_has_a_mark_of_its_own():
    assert common.MARK.startswith("gnbench-") and len(common.MARK) == len("gnbench-") + 6


def test_a_section_and_its_figures_go_to_the_results_files(tmp_path, capsys):
    out = tmp_path / "sections.md"
    common.write_section(str(out), "exec", "| a |", {"exec": "3.70× runc exec"})
    common.write_section(str(out), "layers", "| b |", {"layers per image": "57"})
    assert out.read_text() == "### exec\n\n| a |\n\n### layers\n\n| b |\n\n"
    lines = (tmp_path / "sections.md.summary.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [["exec", "3.70× runc exec"], ["layers per image", "57"]]
    assert "### exec" in capsys.readouterr().out


def test_the_targets_table_puts_each_figure_next_to_its_target(tmp_path):
    bench_all = load_all()
    summary = tmp_path / "s.jsonl"
    summary.write_text(json.dumps(["exec", "3.70× runc exec"]) + "\n"
                       + json.dumps(["`rm -f` 50 containers (one call)", "3.20 s"]) + "\n")
    rows = bench_all.targets_table(summary).splitlines()[2:]
    assert [cell.strip() for cell in rows[0].strip("|").split("|")] == ["exec", "3.70× runc exec", "≤ 2.2× runc exec"]
    assert rows[1].split("|")[3].strip() == "≤ 1 s"


def test_the_readme_block_is_replaced_between_its_markers(tmp_path, monkeypatch):
    bench_all = load_all()
    readme = tmp_path / "README.md"
    readme.write_text(f"## Benchmarks\n\nintro\n{bench_all.BEGIN}\nold table\n{bench_all.END}\n\n## Tests\n")
    monkeypatch.setattr(bench_all, "REPO", tmp_path)
    bench_all.update_readme("| new |", "a quiet run")
    assert readme.read_text() == (f"## Benchmarks\n\nintro\n{bench_all.BEGIN}\na quiet run\n\n| new |\n"
                                  f"{bench_all.END}\n\n## Tests\n")
