"""core.jobs: runs in parallel processes, finished runs skipped."""

import json

from milestones.core.jobs import finished_summary, map_runs


def _scaled(x: int, threads: int) -> tuple[int, int]:
    return x * 10, threads


def test_map_runs_keeps_order_in_one_and_in_several_processes():
    assert map_runs(_scaled, [1, 2, 3], jobs=1, threads=1) == [(10, 1), (20, 1), (30, 1)]
    assert [r for r, _ in map_runs(_scaled, [3, 1, 2, 5], jobs=2)] == [30, 10, 20, 50]


def test_finished_summary(tmp_path):
    assert finished_summary(tmp_path, lambda s: True) is None  # no summary.json yet
    (tmp_path / "summary.json").write_text(json.dumps({"step": 5, "stopped": None}))
    assert finished_summary(tmp_path, lambda s: s["step"] == 10) is None  # not done
    assert finished_summary(tmp_path, lambda s: s["step"] == 5) == {"step": 5, "stopped": None}
