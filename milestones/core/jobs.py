"""Many training runs for a ``reproduce.py``: a few at a time in separate processes, each skipped
when its run folder holds a finished summary, so an interrupted reproduction picks up where it
stopped. :class:`ReproduceConfig` holds the options every reproduction shares."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

from milestones.core.config import require

R = TypeVar("R")


@dataclasses.dataclass
class ReproduceConfig:
    """Fields every ``reproduce.py`` shares; its ``Config`` subclasses this and adds its own."""

    preset: str = "cpu"
    """Preset the other values start from: cpu (the miniature on CPU), smoke (seconds, for
    tests), paper (the paper's budget, where there is one)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds each configuration is trained with; the tables show mean ± std over them."""
    jobs: int = 2
    """Runs trained at once, each in its own process."""
    out: str = "runs/reproduce"
    """Folder of results.md, results.json and the plots, with every training run below it; a run
    that finished there before is reused, not trained again (so a stopped reproduction resumes)."""
    device: str = "auto"
    """Device of every run: auto = cuda > mps > cpu; or cpu, cuda, cuda:N, mps."""

    def __post_init__(self) -> None:
        require(len(self.seeds) > 0, self, "seeds", "give at least one")
        require(self.jobs > 0, self, "jobs", "must be > 0")


def finished_summary(out: str | Path, done: Callable[[dict], bool]) -> dict | None:
    """<out>/summary.json when it exists and ``done(summary)``; else None."""
    path = Path(out) / "summary.json"
    if not path.exists():
        return None
    summary = json.loads(path.read_text())
    return summary if done(summary) else None


def train_or_reuse(main: Callable[[Any], dict], run: Any, done: Callable[[dict], bool]) -> dict:
    """The summary of ``run`` if it finished before (``done``), else ``main(run)``'s. A run that a
    signal stopped ends the whole reproduction (EXIT_PREEMPTED): rerunning resumes it."""
    from milestones.core.config import EXIT_PREEMPTED

    summary = finished_summary(run.out, done)
    if summary is None:
        summary = main(run)
        if summary["stopped"] in ("SIGTERM", "SIGINT"):
            print(f"stopped ({summary['stopped']}) in {run.out}: rerun the same command to "
                  "continue (finished runs are reused, this one resumes)", file=sys.stderr)
            raise SystemExit(EXIT_PREEMPTED)
    return summary


def map_runs(fn: Callable[[R, int], Any], runs: list[R], jobs: int,
             threads: int | None = None) -> list:
    """``[fn(run, threads) for run in runs]``, ``jobs`` at a time in spawned processes.

    ``threads`` (torch threads per run) defaults to the CPU cores shared among the jobs. ``fn``
    must be a module-level function (it is pickled by name).
    """
    jobs = max(1, min(jobs, len(runs)))
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    if jobs == 1:
        return [fn(run, threads) for run in runs]
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        return list(pool.map(fn, runs, [threads] * len(runs)))
