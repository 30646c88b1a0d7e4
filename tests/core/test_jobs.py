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


def test_train_or_reuse_trains_once_and_stops_on_preemption(tmp_path):
    import pytest

    from milestones.core.config import EXIT_PREEMPTED
    from milestones.core.jobs import train_or_reuse

    class Run:
        out = str(tmp_path)

    calls = []

    def main(run):
        calls.append(run)
        (tmp_path / "summary.json").write_text(json.dumps({"step": 5, "stopped": None}))
        return {"step": 5, "stopped": None}

    assert train_or_reuse(main, Run, lambda s: s["step"] == 5)["step"] == 5
    assert train_or_reuse(main, Run, lambda s: s["step"] == 5)["step"] == 5
    assert len(calls) == 1  # the second call reused the summary
    with pytest.raises(SystemExit) as e:
        train_or_reuse(lambda run: {"stopped": "SIGTERM"}, Run, lambda s: False)
    assert e.value.code == EXIT_PREEMPTED
