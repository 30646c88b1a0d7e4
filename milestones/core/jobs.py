"""Many training runs for a ``reproduce.py``: a few at a time in separate processes, each skipped
when its run folder holds a finished summary, so an interrupted reproduction picks up where it
stopped. :class:`ReproduceConfig` holds the options every reproduction shares.

A run folder is reused (or resumed) only when it was made by the same code (the package's files
its run had loaded, ``core.metrics.code_files``, hashed again now) and the same settings;
otherwise it is *stale* and :func:`prepare` refuses it, unless ``--reuse-stale`` (use it as it
is: results.json lists it) or ``--retrain-stale`` (train it again). :func:`provenance` is the
record results.json keeps: the command, the code, the machine and, for every run, the code that
made it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

from milestones.core.config import ConfigError, require

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
    reuse_stale: bool = False
    """Use the runs in --out that other code or other settings made (stale runs) as they are,
    finished or not; results.json lists them. Without it such runs stop the reproduction."""
    retrain_stale: bool = False
    """Train stale runs again from the start, replacing their folders."""

    def __post_init__(self) -> None:
        require(len(self.seeds) > 0, self, "seeds", "give at least one")
        require(self.jobs > 0, self, "jobs", "must be > 0")
        require(not (self.reuse_stale and self.retrain_stale), self, "retrain_stale",
                "--reuse-stale keeps stale runs, --retrain-stale replaces them: choose one")


class StaleRuns(ConfigError):
    """Run folders made by other code or settings, found where a reproduction would reuse them."""

    def __init__(self, stale: list[tuple[str, str]]):
        shown = "\n".join(f"  {out}: {why}" for out, why in stale[:10])
        more = f"\n  ... and {len(stale) - 10} more" if len(stale) > 10 else ""
        ValueError.__init__(self, f"{len(stale)} run(s) were made by other code or settings "
                            f"than this command's:\n{shown}{more}\nAdd --retrain-stale to train "
                            "them again, or --reuse-stale to use them as they are (results.json "
                            "then lists them as stale).")
        self.field = "reuse_stale"


def staleness(run: Any) -> str | None:
    """Why the folder of ``run`` (a training config) was made by other code or settings than
    ``run`` and this code; None when it was not, or holds no run yet."""
    from milestones.core.config import to_dict
    from milestones.core.metrics import code_sha256, read_metrics
    from milestones.core.run import RUNTIME_FIELDS

    path = Path(run.out) / "metrics.jsonl"
    if not path.is_file():
        return None
    try:
        header = read_metrics(path)[0]
    except (ValueError, IndexError):
        return "its metrics.jsonl cannot be read"
    env = header.get("env", {})
    made, files = env.get("code_sha256"), env.get("code_files")
    now = code_sha256(files) if files else None
    if made is None or made != now:  # the same files hashed again: did any of them change?
        return f"code {made or '(not recorded)'}, now {now}"
    now = json.loads(json.dumps(to_dict(run)))  # as JSON has it: tuples are lists
    changed = {k: (header["config"].get(k), v) for k, v in now.items()
               if k not in RUNTIME_FIELDS and header["config"].get(k) != v}
    return f"settings {changed}" if changed else None


def prepare(cfg: ReproduceConfig, runs: list[R]) -> list[R]:
    """The runs to hand to :func:`map_runs`: stale folders refused (:class:`StaleRuns`), reused
    (``cfg.reuse_stale``) or set to start over (``cfg.retrain_stale``). Says what it reuses."""
    stale = [(run, why) for run in runs if (why := staleness(run))]
    if stale and not (cfg.reuse_stale or cfg.retrain_stale):
        raise StaleRuns([(str(run.out), why) for run, why in stale])
    if cfg.retrain_stale:
        again = {id(run) for run, _ in stale}
        runs = [dataclasses.replace(run, resume=False, overwrite=True) if id(run) in again
                else run for run in runs]
    finished = sum(not run.overwrite and (Path(run.out) / "summary.json").is_file()
                   for run in runs)
    if finished or stale:
        print(f"reproduce: {len(runs)} runs; {finished} finished before (reused)"
              + (f"; {len(stale)} stale, {'retrained' if cfg.retrain_stale else 'reused'}"
                 if stale else ""), file=sys.stderr)
    return runs


def provenance(out: str | Path) -> dict:
    """What results.json records about how it was made: the command, this code
    (``core.metrics.code_version``), the machine, the date, and for every run folder under
    ``out`` the code that made it (``stale``: other code than this)."""
    from milestones.core.metrics import code_sha256, code_version, read_metrics
    from milestones.core.run import _prog

    code = code_version()
    runs = []
    for path in sorted(Path(out).rglob("metrics.jsonl")):
        env = read_metrics(path)[0].get("env", {})
        files = env.get("code_files")
        runs.append({"run": path.parent.relative_to(out).as_posix(),
                     "git_sha": env.get("git_sha"), "git_dirty": env.get("git_dirty"),
                     "code_sha256": env.get("code_sha256"),
                     "stale": not files or env.get("code_sha256") != code_sha256(files),
                     "device": env.get("device_name"), "threads": env.get("threads")})
    return {**made_by(" ".join([_prog() or sys.argv[0], *sys.argv[1:]]), code),
            "runs": len(runs), "stale_runs": [r["run"] for r in runs if r["stale"]],
            "run_code": runs}


def made_by(command: str, code: dict | None = None) -> dict:
    """The command, the code (``core.metrics.code_version``, unless given), the machine and the
    date: what every committed result file records about how it was made."""
    import platform

    from milestones.core.metrics import _cpu_name, code_version

    return {"command": command, **(code if code is not None else code_version()),
            "machine": f"{_cpu_name()} ({os.cpu_count()} cores), {platform.platform()}",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def finished_summary(out: str | Path, done: Callable[[dict], bool]) -> dict | None:
    """<out>/summary.json when it exists and ``done(summary)``; else None."""
    path = Path(out) / "summary.json"
    if not path.exists():
        return None
    summary = json.loads(path.read_text())
    return summary if done(summary) else None


def train_or_reuse(main: Callable[[Any], dict], run: Any, done: Callable[[dict], bool], *,
                   divergence: bool = False) -> dict:
    """The summary of ``run`` if it finished before (``done``), else ``main(run)``'s. A run that a
    signal stopped ends the whole reproduction (EXIT_PREEMPTED): rerunning resumes it.

    ``divergence``: a run whose loss became NaN or inf is a result, not an error (a learning rate
    too large for the net, say): its summary is ``{"diverged": <the message>, ...}``, written to
    its summary.json, and reused as a finished run."""
    from milestones.core.config import EXIT_PREEMPTED
    from milestones.core.metrics import NonFiniteLoss

    finished = (lambda s: s.get("diverged") or done(s)) if divergence else done
    summary = None if run.overwrite else finished_summary(run.out, finished)  # --retrain-stale
    if summary is None:
        try:
            summary = main(run)
        except NonFiniteLoss as e:
            if not divergence:
                raise
            summary = {"diverged": str(e), "step": None, "steps": None, "stopped": "diverged",
                       "train_time_s": 0.0}
            Path(run.out).mkdir(parents=True, exist_ok=True)
            (Path(run.out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
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
    if jobs == 1:  # in this process: fn sets torch's threads, which must not outlive the call
        import torch

        before = torch.get_num_threads()
        try:
            return [fn(run, threads) for run in runs]
        finally:
            torch.set_num_threads(before)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_exit_with,
                             initargs=(os.getpid(),)) as pool:
        return list(pool.map(fn, runs, [threads] * len(runs)))


def _exit_with(parent: int) -> None:
    """In each worker of :func:`map_runs`: exit when ``parent`` has gone. A parent killed by a
    signal it cannot clean up after (SIGTERM, SIGKILL) would otherwise leave its workers
    training on, unseen, taking the cores."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
