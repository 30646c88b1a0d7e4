"""Record a milestone's numbers as committed JSON, then re-render its README from them.

    python -m milestones.record quick resnet       # the quick preset -> resnet/results/quick.json
    python -m milestones.record quick dqn --seeds 0 1 2  # one run per seed
    python -m milestones.record benchmark resnet   # benchmarks/resnet.py -> .../benchmark.json
    python -m milestones.record results resnet     # a reproduce's --out -> .../results.json, .md
                                                   # and its figures
    python -m milestones.record figures resnet     # redraw the figures the committed
                                                   # results.json holds the numbers of

Each file holds what made it: the command, the code (git SHA, a clean tree, the source hash),
the machine and the date. A dirty working tree is refused (``--allow-dirty`` overrides it, and
the file says so): a committed number must name a commit that holds the code behind it. Measure
on a quiet machine: another job on the same cores distorts timings many times over.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import milestones

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent


def provenance(command: str) -> dict:
    from milestones.core.jobs import made_by

    return made_by(command)


EVALUATIONS = ("val", "valid", "eval", "test")  # the splits of metrics.jsonl kept in quick.json


def record_quick(name: str, seeds: list[int]) -> dict:
    """The quick preset, trained from scratch once per seed: each run's summary and evaluations
    (its validation / evaluation / test lines of metrics.jsonl), the data and the first run's
    header."""
    import dataclasses
    import importlib

    from milestones.core.metrics import read_metrics

    T = importlib.import_module(f"milestones.{name}.train")
    runs, header = [], None
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = dataclasses.replace(T.quick(), seed=seed, out=str(Path(tmp) / "run"),
                                      progress=False)
            started = time.perf_counter()
            summary = T.main(cfg)
            wall_s = round(time.perf_counter() - started, 1)  # data, training, evaluations
            records = read_metrics(Path(tmp) / "run" / "metrics.jsonl")
        summary.pop("out", None)
        summary.pop("gif", None)
        header = header or records[0]
        runs.append({"seed": seed, "summary": summary, "wall_s": wall_s,
                     "evaluations": [r for r in records[1:] if r.get("split") in EVALUATIONS]})
    env = header["env"]
    return {"runs": runs, "config": header["config"],
            "data": header.get("data") or header.get("environment"), "params": header.get("params"),
            "threads": env["threads"], "device": env["device_name"], "torch": env["torch"]}


def record_benchmark(name: str, args: list[str]) -> dict:
    script = REPO / "benchmarks" / f"{name}.py"
    # the benchmark imports this tree's package (not whichever one is installed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    res = subprocess.run([sys.executable, str(script), *args], cwd=REPO, capture_output=True,
                         text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"error: {script.name} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout[res.stdout.index("{"):])


def record_results(name: str, source: Path, target: Path, stem: str = "results") -> dict:
    """The reproduction's results.json; its results.md (as ``<stem>.md``) and figures are
    copied beside it."""
    results = json.loads((source / "results.json").read_text())
    shutil.copy2(source / "results.md", target / f"{stem}.md")
    for path in [*source.glob("*.png"), *source.glob("*.gif")]:
        shutil.copy2(path, target / path.name)
    return results


def redraw_figures(name: str, target: Path) -> list[Path]:
    """The figures a reproduction draws from recorded numbers alone, redrawn from the committed
    files: ``figures(results, out)`` from results.json, ``quick_figures(record, out)`` from
    quick.json (each where the milestone's reproduce module has it). A figure changes without a
    rerun, and shows only numbers those files hold."""
    import importlib

    module = importlib.import_module(f"milestones.{name}.reproduce")
    drawn, paths = False, []
    for function, source in (("figures", "results.json"), ("quick_figures", "quick.json")):
        if hasattr(module, function) and (target / source).is_file():
            drawn = True
            paths += getattr(module, function)(json.loads((target / source).read_text()), target)
    if not drawn:
        raise SystemExit(f"error: milestones.{name}.reproduce draws no figure from its recorded "
                         "numbers alone (no figures(results, out) with a results.json, no "
                         "quick_figures(record, out) with a quick.json)")
    return paths


def main(argv: list[str] | None = None) -> int:
    from milestones.core.metrics import code_version
    from milestones.core.readme import main as render_readmes

    parser = argparse.ArgumentParser(prog="python -m milestones.record",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("quick", "benchmark", "results", "figures"))
    parser.add_argument("milestone", choices=[m.name for m in milestones.REGISTRY
                                              if m.implemented])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="quick: the runs' seeds (default: 0)")
    parser.add_argument("--from", dest="source", type=Path, default=None,
                        help="results: the reproduce's --out (default runs/<m>/reproduce)")
    parser.add_argument("--as", dest="stem", default=None, metavar="NAME",
                        help="results, benchmark: record as results/NAME.json (and NAME.md) "
                             "instead, for a second study or benchmark (dqn's minatar)")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="record even with uncommitted changes (the file says so)")
    args, extra = parser.parse_known_args(argv)
    if args.stem is not None and (args.what not in ("results", "benchmark")
                                  or not args.stem.isidentifier()):
        print("error: --as NAME goes with `results` or `benchmark`, NAME a plain word (e.g. "
              "minatar)", file=sys.stderr)
        return 2
    # results carry the provenance of the reproduction that made them (checked below)
    if args.what in ("quick", "benchmark") and code_version()["git_dirty"] and not args.allow_dirty:
        print("error: the working tree has uncommitted changes, so no commit would hold the code "
              "behind these numbers; commit first (or --allow-dirty)", file=sys.stderr)
        return 2
    target = PACKAGE / args.milestone / "results"
    target.mkdir(exist_ok=True)
    if args.what == "figures":
        try:
            paths = redraw_figures(args.milestone, target)
        except SystemExit as stop:  # bad input: one message, exit 2
            print(stop, file=sys.stderr)
            return 2
        for path in paths:
            print(f"wrote {path}")
        return 0
    command = " ".join(["python -m milestones.record", *(argv or sys.argv[1:])])
    if args.what == "quick":
        record = record_quick(args.milestone, args.seeds)
        seeds = ",".join(map(str, args.seeds))  # one run per seed: --seed {0,1,2}
        seeds = f"{{{seeds}}}" if len(args.seeds) > 1 else seeds
        record["provenance"] = provenance(f"python -m milestones.{args.milestone}.train "
                                          f"--preset quick --seed {seeds} (via {command})")
    elif args.what == "benchmark":
        record = {"result": record_benchmark(args.milestone, extra)}
        record["provenance"] = provenance(" ".join([f"python benchmarks/{args.milestone}.py",
                                                    *extra]) + f" (via {command})")
    else:
        source = args.source or Path("runs") / args.milestone / "reproduce"
        if not (source / "results.json").is_file():
            print(f"error: no results.json in {source}: run python -m milestones."
                  f"{args.milestone}.reproduce --out {source} first (or give --from)",
                  file=sys.stderr)
            return 2
        record = record_results(args.milestone, source, target, args.stem or "results")
        if record.get("provenance", {}).get("git_dirty") and not args.allow_dirty:
            print(f"error: {source}/results.json was made from uncommitted code", file=sys.stderr)
            return 2
    from milestones.core.report import _strict

    path = target / f"{args.stem or args.what}.json"
    path.write_text(json.dumps(_strict(record), indent=2, allow_nan=False) + "\n")
    print(f"wrote {path}")
    return render_readmes([str(PACKAGE / args.milestone / "README.md")])


if __name__ == "__main__":
    raise SystemExit(main())
