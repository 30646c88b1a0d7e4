"""The end of every ``reproduce.py``: statistics over seeds, numbers as the results tables print
them, and results.json + results.md written (and the table printed).

    entry.update(over_seeds(entry["runs"], ("test_error",)))  # {"test_error": {"mean", "std", "n"}}
    results.update(totals(summaries, started))               # training and wall-clock seconds
    row = f"| {name} | {fmt(entry['test_error'])} |"         # "| ResNet-20 | 8.75 ± 0.21 |"
    write_results(out, results, markdown(cfg, results))       # results.json, results.md, stdout

Non-finite values are kept, not dropped: a run that diverged counts as inf (Adam's reproduce), so
a diverged seed makes its arm's mean inf and can never hide behind the other seeds' mean. Tables
print such a mean as "diverged"; results.json, which is strict JSON, holds null in its place.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def mean_std(values: Iterable[float]) -> dict:
    """``{"mean", "std", "n"}`` of ``values`` (e.g. one per seed). ``std`` is the sample standard
    deviation (n - 1 in the denominator), 0 for a single value. With a non-finite value the mean is
    inf (NaN when a NaN or both infinities are there) and the std NaN (see the module doc)."""
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("mean_std needs at least one value")
    if not all(math.isfinite(x) for x in xs):
        return {"mean": sum(xs) / len(xs), "std": math.nan, "n": len(xs)}
    # statistics.mean is exactly rounded (fmean may differ in the last bit)
    return {"mean": statistics.mean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0,
            "n": len(xs)}


def over_seeds(runs: list[dict], keys: Iterable[str]) -> dict[str, dict]:
    """``{key: mean_std(run[key] for run in runs)}`` for each key. A run whose value is None (it
    did not measure it) is left out, and so is a key that no run measured."""
    out = {}
    for key in keys:
        values = [run[key] for run in runs if run.get(key) is not None]
        if values:
            out[key] = mean_std(values)
    return out


# t_{0.975, df}: the half-width of a two-sided 95% interval, in standard errors
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}


def paired_difference(a: list[dict], b: list[dict], key: str) -> dict | None:
    """``a[key] - b[key]`` paired by seed (runs are dicts with "seed" and ``key``): the mean and
    std over the common seeds, the half-width of a 95% t-interval of the mean (``ci95``, None for
    one seed) and ``resolved``: the interval excludes 0, i.e. the difference is told apart from the
    seed-to-seed noise. None when no seed has both values."""
    bs = {r["seed"]: r.get(key) for r in b}
    diffs = [r[key] - bs[r["seed"]] for r in a
             if r.get(key) is not None and bs.get(r["seed"]) is not None]
    if not diffs:
        return None
    out = mean_std(diffs)
    if out["n"] < 2 or not math.isfinite(out["std"]):
        return {**out, "ci95": None, "resolved": False}
    df = out["n"] - 1
    t = T975[max(k for k in T975 if k <= df)]  # a smaller df's (wider) quantile between rows
    half = t * out["std"] / math.sqrt(out["n"])
    return {**out, "ci95": half, "resolved": abs(out["mean"]) > half}


def totals(summaries: Iterable[dict], started: float) -> dict:
    """``train_time_s``: the runs' training time, summed (what the reproduction costs);
    ``wall_time_s``: seconds since ``started`` (a ``time.time()``; small when runs were reused)."""
    return {"train_time_s": round(sum(s["train_time_s"] for s in summaries), 1),
            "wall_time_s": round(time.time() - started, 1)}


def fmt(stat: dict | None, digits: int = 2, *, bare_single: bool = False,
        scale: float = 1) -> str:
    """A :func:`mean_std` as the results tables print it: "mean ± std" with ``digits`` decimals,
    both times ``scale`` (100: fractions as percentages); "-" for None (not measured),
    "diverged" when a value was not finite. ``bare_single`` prints a single value alone, without
    "± 0"."""
    if not stat:
        return "-"
    if not math.isfinite(stat["mean"]):
        return "diverged"
    mean, std = scale * stat["mean"], scale * stat["std"]
    if bare_single and stat["n"] == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def write_results(out: str | Path, results: dict, markdown: str) -> None:
    """Write ``<out>/results.json`` (strict JSON: a non-finite float becomes null) with its
    provenance (``core.jobs.provenance``: the command, the code, the machine, every run's code)
    and ``<out>/results.md`` ending with a line of it, and print the markdown."""
    from milestones.core.jobs import provenance

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = {**results, "provenance": provenance(out)}
    markdown = markdown.rstrip("\n") + "\n\n" + provenance_line(results["provenance"]) + "\n"
    text = json.dumps(_strict(results), indent=2, allow_nan=False)
    (out / "results.json").write_text(text + "\n")
    (out / "results.md").write_text(markdown)
    print(markdown)


def provenance_line(p: dict) -> str:
    """One line of results.md saying what made it (see ``core.jobs.provenance``)."""
    tree = ("a clean tree" if p["git_dirty"] is False else
            f"uncommitted changes (diff {p['git_diff_sha256']})" if p["git_dirty"] else "no git")
    stale = f"; {len(p['stale_runs'])} made by other code (stale)" if p["stale_runs"] else ""
    return (f"Made by `{p['command']}` at git {str(p['git_sha'])[:10]} with {tree}, code "
            f"{p['code_sha256']}; {p['runs']} runs{stale}; {p['machine']}; {p['date']}.")


def _strict(x: Any) -> Any:
    """``x`` with every NaN and infinity replaced by None, tuples by lists."""
    if isinstance(x, dict):
        return {k: _strict(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_strict(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
