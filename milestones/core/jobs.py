"""Many training runs for a ``reproduce.py``: a few at a time in separate processes, each skipped
when its run folder holds a finished summary, so an interrupted reproduction picks up where it
stopped."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")


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
