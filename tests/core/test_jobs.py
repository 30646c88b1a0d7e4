"""core.jobs: runs in parallel processes, finished runs skipped, stale runs refused."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

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


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (an orphan's zombie may wait for a reaper)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_map_runs_workers_exit_when_the_parent_is_killed(tmp_path):
    """SIGTERM to the parent alone (as `pkill -f reproduce` does) must not leave its workers
    training on as orphans."""
    (tmp_path / "sleeper.py").write_text(
        "import os, time\n"
        "def sleep(path, threads):\n"
        "    open(path, 'w').write(str(os.getpid()))\n"
        "    time.sleep(120)\n")
    paths = [str(tmp_path / "a"), str(tmp_path / "b")]
    script = (f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
              "import sleeper\n"
              "from milestones.core.jobs import map_runs\n"
              f"map_runs(sleeper.sleep, {paths!r}, 2, 1)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    try:
        deadline = time.time() + 120
        while not all((tmp_path / n).is_file() and (tmp_path / n).read_text() for n in "ab"):
            assert time.time() < deadline and parent.poll() is None, "workers never started"
            time.sleep(0.2)
        workers = [int((tmp_path / n).read_text()) for n in "ab"]
        assert all(_alive(pid) for pid in workers)
        parent.send_signal(signal.SIGTERM)
        parent.wait(30)
        deadline = time.time() + 15
        while any(_alive(pid) for pid in workers) and time.time() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers)
    finally:
        parent.kill()
        for n in "ab":
            if (tmp_path / n).is_file() and (tmp_path / n).read_text():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int((tmp_path / n).read_text()), signal.SIGKILL)


def _set_threads(x: int, threads: int) -> int:
    torch.set_num_threads(threads)
    return torch.get_num_threads()


def test_map_runs_in_this_process_leaves_torchs_threads_as_they_were():
    """A reproduction's in-process runs set torch's threads; later runs in the same process (a
    test suite's) must not inherit them: 1 thread and 2 sum in a different order."""
    before = torch.get_num_threads()
    assert map_runs(_set_threads, [1], jobs=1, threads=before + 1) == [before + 1]
    assert torch.get_num_threads() == before
