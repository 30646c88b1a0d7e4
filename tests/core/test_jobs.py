"""core.jobs: runs in parallel processes, finished runs skipped, stale runs refused."""

import json
from pathlib import Path

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
        overwrite = False

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


def test_a_run_made_by_other_code_or_settings_is_stale(tmp_path):
    """A finished run is reused only when the same code and settings made it; otherwise the
    reproduction stops and names it, unless told to reuse or to retrain it."""
    import dataclasses

    import pytest

    from milestones.core.jobs import ReproduceConfig, StaleRuns, prepare, provenance, staleness
    from milestones.resnet import train as T

    run = dataclasses.replace(T.smoke(), out=str(tmp_path / "runs" / "a"), resume=True)
    T.main(run)
    assert staleness(run) is None and prepare(ReproduceConfig(), [run]) == [run]
    assert "settings" in staleness(dataclasses.replace(run, lr=0.05))

    path = Path(run.out) / "metrics.jsonl"  # as if an older version of the code had made it
    header, *rest = path.read_text().splitlines(keepends=True)
    record = json.loads(header)
    record["env"]["code_sha256"] = "0123456789abcdef"
    path.write_text(json.dumps(record) + "\n" + "".join(rest))
    assert staleness(run).startswith("code 0123456789abcdef")
    with pytest.raises(StaleRuns, match="--retrain-stale.*--reuse-stale"):
        prepare(ReproduceConfig(), [run])
    assert prepare(ReproduceConfig(reuse_stale=True), [run]) == [run]
    (again,) = prepare(ReproduceConfig(retrain_stale=True), [run])
    assert again.overwrite and not again.resume
    record = provenance(tmp_path)
    assert record["stale_runs"] == ["runs/a"] and record["run_code"][0]["code_sha256"] == \
        "0123456789abcdef"
