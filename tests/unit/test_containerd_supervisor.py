"""The supervisor of a detached containerd container, with a stand-in for `ctr run`: a
Python process that exits, fails or is killed as ctr would."""

from __future__ import annotations

import sys

from gophernetes.engines.containerd.folders import Folder
from gophernetes.engines.containerd.supervisor import Order, supervise


def stand_in(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_the_containers_status_is_kept_once_ctr_returns(tmp_path):
    status = supervise(Order(tmp_path, stand_in("import sys; print('out'); sys.exit(7)")))
    assert status == 7
    assert (Folder(tmp_path).exit_status(), Folder(tmp_path).ctr_errors.read_text()) == (7, "")


def test_ctrs_own_failure_is_kept_for_run_d_to_report(tmp_path):
    supervise(Order(tmp_path, stand_in("import sys; sys.stderr.write('ctr: image not found\\n'); sys.exit(1)")))
    assert Folder(tmp_path).exit_status() == 1
    assert Folder(tmp_path).ctr_errors.read_text() == "ctr: image not found\n"


def test_a_killed_ctr_is_128_plus_the_signal(tmp_path):
    supervise(Order(tmp_path, stand_in("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")))
    assert Folder(tmp_path).exit_status() == 137


def test_after_rm_a_failed_start_is_left_for_run_d_to_clean_up(tmp_path):
    folder = tmp_path / "run" / "containerd" / ("a" * 64)
    folder.mkdir(parents=True)
    order = Order(folder, stand_in("import sys; sys.stderr.write('ctr: no\\n'); sys.exit(1)"),
                  (str(tmp_path / "lib"), str(tmp_path / "run")))
    supervise(order)
    assert folder.is_dir() and Folder(folder).exit_status() == 1
