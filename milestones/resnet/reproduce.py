"""The degradation problem and its fix (Fig. 1, Fig. 6), in miniature on a CPU.

    python -m milestones.resnet.reproduce                      # CIFAR-10 if found, see --help
    python -m milestones.resnet.reproduce --data-dir ~/cifar10  # an image-folder copy
    python -m milestones.resnet.reproduce --preset paper        # the full §4.2 runs (GPU)

The paper's claim: a deeper *plain* net has higher training error than a shallower one (plain-56
vs plain-20, Fig. 1 and Fig. 6 left) - an optimisation failure, not overfitting - while with
residual shortcuts depth helps (ResNet-56 vs ResNet-20, Fig. 6 middle, Table 6). We train the four
nets with the §4.2 recipe on the same data, several seeds each, and compare training error (the
claim is about optimisation) and held-out error. Runs reuse ``train.main``; each lands in
``<out>/runs/<model>-s<seed>`` and a finished run is not trained again.

Dataset (``--dataset auto``): CIFAR-10 when found (torchvision's files or an image folder), else
Fashion-MNIST, else the built-in shapes. The CPU preset halves the width (8-16-32 filters instead
of 16-32-64) and compresses the 64k-iteration schedule to 2,000 iterations (lr /10 at 50% and 75%,
as 32k and 48k are of 64k): both are stated with the results.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Literal

from milestones.core.config import require
from milestones.core.data import DataUnavailable
from milestones.core.jobs import map_runs, train_or_reuse
from milestones.core.metrics import read_metrics
from milestones.core.plots import plot_curves
from milestones.core.run import cli
from milestones.resnet import data as D
from milestones.resnet import train as T
from milestones.resnet.model import CIFAR_MODELS

NAMES = {"plain20": "plain-20", "plain56": "plain-56", "resnet20": "ResNet-20",
         "resnet56": "ResNet-56"}
# What the paper reports for the same comparison (He et al. 2015).
PAPER = {
    "cifar10_test_error": {"resnet20": 8.75, "resnet56": 6.97},  # Table 6, %
    "imagenet_top1_error": {"plain-18": 27.94, "plain-34": 28.54, "ResNet-18": 27.88,
                            "ResNet-34": 25.03},  # Table 2, 10-crop, %
    "fig6": "plain-56 has higher training (and test) error than plain-20 throughout training "
            "(Fig. 1, Fig. 6 left); ResNet-56 has lower error than ResNet-20 (Fig. 6 middle).",
}


@dataclasses.dataclass
class Config:
    """Reproduce Fig. 1 / Fig. 6: plain vs residual nets at depth 20 and 56."""

    preset: str = "cpu"
    """cpu (about an hour on 2 cores), smoke (seconds, for tests), paper (the full §4.2 runs)."""
    dataset: Literal["auto", "cifar10", "fashion-mnist", "shapes"] = "auto"
    """auto = CIFAR-10 if found, else Fashion-MNIST, else the built-in shapes."""
    data_dir: str | None = None
    """A CIFAR-10 (or Fashion-MNIST) folder; default <data root>/cifar10."""
    data_root: str | None = None
    """Data root; default $MILESTONES_DATA, else ~/.cache/milestones."""
    models: tuple[str, ...] = ("plain20", "plain56", "resnet20", "resnet56")
    seeds: tuple[int, ...] = (0, 1, 2)
    width: int = 8
    """First-stage filters (paper: 16)."""
    steps: int = 2000
    """Iterations per run (paper: 64,000); lr /10 at 50% and 75% of them."""
    batch_size: int = 128
    train_size: int | None = None
    test_size: int | None = None
    val_size: int = 5000
    log_every: int = 25
    eval_every: int = 250
    jobs: int = 2
    """Runs trained at once, in separate processes, threads split among them."""
    out: str = "runs/resnet/reproduce"
    device: str = "auto"

    def __post_init__(self) -> None:
        require(set(self.models) <= set(CIFAR_MODELS) - {"resnet_tiny"}, self, "models",
                "CIFAR nets only (plain20 ... resnet110)")
        require(len(self.seeds) > 0, self, "seeds", "give at least one")
        for field in ("width", "steps", "batch_size", "log_every", "eval_every", "jobs"):
            require(getattr(self, field) > 0, self, field, "must be > 0")


def cpu() -> Config:
    """DEVIATION(D11): half width, 2,000 iterations (paper: 16 filters, 64k iterations)."""
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", dataset="shapes", seeds=(0,), width=4, steps=6, batch_size=32,
                  train_size=400, val_size=100, test_size=100, log_every=2, eval_every=3, jobs=1)


def paper() -> Config:
    return Config(preset="paper", seeds=(0, 1, 2, 3, 4), width=16, steps=64_000, log_every=100,
                  eval_every=1000, jobs=1)


PRESETS = {"cpu": cpu, "smoke": smoke, "paper": paper}


def pick_dataset(cfg: Config) -> str:
    """The first dataset of CIFAR-10, Fashion-MNIST, shapes that is here (or the one asked for)."""
    if cfg.dataset != "auto":
        return cfg.dataset
    for name in ("cifar10", "fashion-mnist"):
        try:
            D.load_in_memory(name, data_dir=cfg.data_dir, root=cfg.data_root, val_size=0,
                             train_size=1, test_size=1)
            return name
        except DataUnavailable:
            continue
    return "shapes"


def run_config(cfg: Config, dataset: str, model: str, seed: int) -> T.Config:
    s = cfg.steps
    return T.Config(preset=f"reproduce-{cfg.preset}", model=model, width=cfg.width, seed=seed,
                    dataset=dataset, data_dir=cfg.data_dir, data_root=cfg.data_root,
                    train_size=cfg.train_size, test_size=cfg.test_size, val_size=cfg.val_size,
                    batch_size=cfg.batch_size, steps=s, lr_steps=(s // 2, s * 3 // 4),
                    warmup="off", log_every=cfg.log_every, eval_every=cfg.eval_every,
                    ckpt_every=cfg.eval_every, out=str(Path(cfg.out) / "runs" / f"{model}-s{seed}"),
                    resume=True, progress=False, device=cfg.device)


def _train(run: T.Config, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run, lambda s: s["step"] == run.steps and not s["stopped"])


def curves(run: T.Config) -> dict[str, tuple[list, list]]:
    records = read_metrics(Path(run.out) / "metrics.jsonl")
    out = {}
    for split in ("train", "val"):
        rows = [r for r in records if r["split"] == split and r["step"] <= run.steps]
        rows = list({r["step"]: r for r in rows}.values())  # one record per step
        out[split] = ([r["step"] for r in rows], [100 * r["error"] for r in rows])
    return out


def main(cfg: Config) -> dict:
    t0 = time.time()
    dataset = pick_dataset(cfg)
    runs = {(m, s): run_config(cfg, dataset, m, s) for m in cfg.models for s in cfg.seeds}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(cfg.jobs, len(runs)))
    print(f"reproduce: {len(runs)} runs on {dataset}, {jobs} at a time")
    summaries = dict(zip(runs, map_runs(_train, list(runs.values()), jobs), strict=True))

    # Training error at the end: the mean over the last 10% of iterations (as the curves show it).
    results = {"dataset": dataset, "source": None, "config": dataclasses.asdict(cfg),
               "paper": PAPER, "models": {}}
    all_curves = {}
    for (model, seed), run in runs.items():
        c = curves(run)
        all_curves[(model, seed)] = c
        steps, errors = c["train"]
        tail = [e for s, e in zip(steps, errors, strict=True) if s > 0.9 * cfg.steps] or errors[-1:]
        summary = summaries[(model, seed)]
        entry = results["models"].setdefault(model, {"name": NAMES.get(model, model), "runs": []})
        entry["runs"].append({"seed": seed, "final_train_error": statistics.mean(tail),
                              "final_val_error": 100 * summary.get("final_val_error", float("nan")),
                              "final_test_error": 100 * summary["final_test_error"],
                              "params": summary["params"], "train_time_s": summary["train_time_s"]})
        header = read_metrics(Path(run.out) / "metrics.jsonl")[0]
        results["source"] = header["data"]["source"]
        results["env"] = header["env"]
    for entry in results["models"].values():
        for key in ("final_train_error", "final_val_error", "final_test_error"):
            values = [r[key] for r in entry["runs"]]
            entry[key] = {"mean": statistics.mean(values),
                          "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    results["claims"] = claims(results)
    results["train_time_s"] = round(sum(s["train_time_s"] for s in summaries.values()), 1)
    results["jobs"] = jobs
    results["wall_time_s"] = round(time.time() - t0, 1)  # small when the runs were cached
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plots(cfg, runs, all_curves, out)
    (out / "results.md").write_text(markdown(cfg, results))
    print((out / "results.md").read_text())
    return results


def claims(results: dict) -> dict:
    """The paper's two statements, checked seed by seed on the final training error."""
    m = results["models"]

    def per_seed(a: str, b: str) -> list[float] | None:
        if a not in m or b not in m:
            return None
        return [ra["final_train_error"] - rb["final_train_error"]
                for ra, rb in zip(m[a]["runs"], m[b]["runs"], strict=True)]

    out = {}
    d = per_seed("plain56", "plain20")
    if d is not None:
        out["plain56_trains_worse_than_plain20"] = {"holds": all(x > 0 for x in d),
                                                    "seeds": sum(x > 0 for x in d), "of": len(d),
                                                    "gap_pp": d}
    d = per_seed("resnet56", "resnet20")
    if d is not None:
        out["resnet56_at_least_as_good_as_resnet20"] = {"holds": all(x <= 0 for x in d),
                                                        "seeds": sum(x <= 0 for x in d),
                                                        "of": len(d), "gap_pp": d}
    return out


def plots(cfg: Config, runs: dict, all_curves: dict, out: Path) -> None:
    """Fig. 6 style: thin dashed = training error, bold = held-out (validation) error."""
    colors = {"20": "tab:orange", "56": "tab:red"}
    for family, title in (("plain", "Plain networks (Fig. 6 left)"),
                          ("resnet", "ResNets (Fig. 6 middle)")):
        series, styles = {}, {}
        for model in cfg.models:
            if not model.startswith(family):
                continue
            depth, name = model.removeprefix(family), NAMES.get(model, model)
            for split, style in (("train", {"linestyle": "--", "linewidth": 1}),
                                 ("val", {"linewidth": 2.2})):
                label = f"{name} {'train' if split == 'train' else 'val'}"
                series[label] = [all_curves[(model, s)][split] for s in cfg.seeds]
                styles[label] = {**style, "color": colors.get(depth)}
        if series:
            plot_curves(series, out / f"fig6_{family}.png", xlabel="iteration", ylabel="error (%)",
                        title=f"{title}: {runs[next(iter(runs))].dataset}, width {cfg.width}",
                        styles=styles, ylim=(0, None))


def markdown(cfg: Config, r: dict) -> str:
    env = r.get("env", {})
    lines = [
        "# ResNet: the degradation problem in miniature (Fig. 1, Fig. 6)", "",
        f"Command: `python -m milestones.resnet.reproduce --preset {cfg.preset}"
        + (f" --dataset {cfg.dataset}" if cfg.dataset != "auto" else "")
        + (f" --data-dir {cfg.data_dir}" if cfg.data_dir else "") + "`  ",
        f"Data: {r['dataset']} ({r['source']})  ",
        f"Setup: width {cfg.width} (paper 16), {cfg.steps} iterations of batch {cfg.batch_size} "
        f"(paper 64k), lr 0.1 /10 at {cfg.steps // 2} and {cfg.steps * 3 // 4}, SGD momentum 0.9, "
        f"wd 1e-4, pad-crop-flip, {cfg.val_size} held out; seeds {list(cfg.seeds)}  ",
        f"Hardware: {env.get('device_name')} ({env.get('device')}), {r['jobs']} runs at a time "
        f"with {env.get('threads')} thread(s) each; torch {env.get('torch')}, git "
        f"{str(env.get('git_sha'))[:10]}, {env.get('started')}; "
        f"{r['train_time_s'] / 60:.0f} min of training summed over runs", "",
        "| net | params | training error (%, last 10%) | val error (%) | test error (%) |",
        "|---|---|---|---|---|"]
    for e in r["models"].values():
        lines.append(f"| {e['name']} | {e['runs'][0]['params'] / 1e6:.3f}M | "
                     f"{_fmt(e['final_train_error'])} | {_fmt(e['final_val_error'])} | "
                     f"{_fmt(e['final_test_error'])} |")
    lines += ["", "mean ± std over seeds.", "", "## The claims", ""]
    for name, c in r["claims"].items():
        gaps = ", ".join(f"{g:+.2f}" for g in c["gap_pp"])
        lines.append(f"- **{name.replace('_', ' ')}**: {'yes' if c['holds'] else 'no'} "
                     f"({c['seeds']} of {c['of']} seeds; training-error gap per seed, pp: {gaps})")
    p = r["paper"]
    lines += ["", "## The paper", "", f"- {p['fig6']}",
              f"- CIFAR-10 test error, Table 6: ResNet-20 {p['cifar10_test_error']['resnet20']}%, "
              f"ResNet-56 {p['cifar10_test_error']['resnet56']}% (full width, 64k iterations).",
              "- ImageNet top-1 error, Table 2 (10-crop): " + ", ".join(
                  f"{k} {v}%" for k, v in p["imagenet_top1_error"].items()) + ".", "",
              "![plain](fig6_plain.png) ![resnet](fig6_resnet.png)", ""]
    return "\n".join(lines)


def _fmt(stat: dict) -> str:
    return f"{stat['mean']:.2f} ± {stat['std']:.2f}"


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
