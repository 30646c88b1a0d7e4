"""AlexNet's small claims, in miniature on a CPU: ReLU vs tanh (Fig. 1), dropout (§4.2; Srivastava
et al. 2014, Fig. 10), response normalisation (§3.3) and overlapping pooling (§3.4).

    python -m milestones.alexnet.reproduce                         # CIFAR-10 / MNIST if found
    python -m milestones.alexnet.reproduce --data-dir ~/cifar10    # an image-folder CIFAR-10
    python -m milestones.alexnet.reproduce --experiments fig1      # one of the three

1. **fig1**: "A four-layer convolutional neural network with ReLUs reaches a 25% training error
   rate on CIFAR-10 six times faster than an equivalent network with tanh neurons. The learning
   rates for each network were chosen independently to make training as fast as possible. No
   regularization of any kind was employed." We train ``convnet4`` with each nonlinearity, no
   LRN, dropout, weight decay or augmentation, at every learning rate of a grid (first seed),
   keep each nonlinearity's fastest, and run the other seeds at it: epochs to a training error of
   25% (the error of each epoch's mini-batches, as training reports it), and their ratio.
2. **dropout**: Srivastava et al.'s MNIST nets (dropout 0.2 on the inputs, 0.5 on the hidden
   units) with and without dropout at several training-set sizes: training error, test error and
   their gap (Fig. 10: dropout helps little with very little data and most in between); and
   AlexNet's "dropout roughly doubles the number of iterations required to converge", measured as
   the iterations until the validation error first comes within 5% (relative) of its best.
3. **lrn_pool**: ``convnet4`` with response normalisation and overlapping pooling (§3.3, §3.4),
   without LRN, and with non-overlapping pooling, on CIFAR-10, >= 5 seeds; paired differences
   with 95% intervals say whether each effect is above the seed noise.

Dataset (``--dataset auto``): CIFAR-10 when found (torchvision's files or an image folder), else
the built-in shapes; the dropout experiment: MNIST, else Fashion-MNIST, else shapes. Runs reuse
``train.main``; each lands in ``<out>/runs/<experiment>/...`` and a finished run is reused.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from milestones.alexnet import train as T
from milestones.core.config import require
from milestones.core.data import DataUnavailable
from milestones.core.images import load_in_memory
from milestones.core.jobs import ReproduceConfig, map_runs, prepare, train_or_reuse
from milestones.core.metrics import read_metrics
from milestones.core.report import mean_std, over_seeds, paired_difference, totals, write_results
from milestones.core.run import cli

EXPERIMENTS = ("fig1", "dropout", "lrn_pool")
ABLATIONS = {"lrn+overlap": {}, "no LRN": {"lrn": False}, "non-overlapping": {
    "pool": "non-overlapping"}}
# What the papers report for the same comparisons.
PAPER = {
    "fig1_speedup": 6.0,  # Fig. 1: ReLU reaches 25% training error six times faster than tanh
    "fig1_target_error": 0.25,
    "lrn_cifar10_test_error": {"without": 13.0, "with": 11.0},  # §3.3, %, four-layer CNN
    "lrn_imagenet": "LRN reduces top-1 and top-5 error by 1.4% and 1.2% (§3.3)",
    "overlap_imagenet": "overlapping pooling reduces top-1 and top-5 error by 0.4% and 0.3%, and "
                        "makes the net slightly harder to overfit (§3.4)",
    "dropout_iterations": "dropout roughly doubles the number of iterations required to "
                          "converge (§4.2)",
    "dropout_fig10": "Srivastava et al. 2014, Fig. 10 (MNIST, 784-1024-1024-2048-10): with very "
                     "little data (100, 500 images) dropout does not help; the gain is largest "
                     "at intermediate sizes and shrinks as the data set grows",
    "dropout_mnist_test_error": {"std net": 1.60, "dropout": 1.35},  # Srivastava Table 2, %
}


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Reproduce Fig. 1, §3.3, §3.4 and §4.2 of AlexNet in miniature."""

    preset: str = "cpu"
    """cpu (about half an hour on 2 cores), smoke (seconds, for tests), paper (full width, all
    data)."""
    out: str = "runs/alexnet/reproduce"
    experiments: tuple[str, ...] = EXPERIMENTS
    """Which to run: fig1 (ReLU vs tanh), dropout (train/test gap vs data size), lrn_pool."""
    dataset: Literal["auto", "cifar10", "shapes"] = "auto"
    """fig1 and lrn_pool: auto = CIFAR-10 if found, else the built-in shapes."""
    digits: Literal["auto", "mnist", "fashion-mnist", "shapes"] = "auto"
    """dropout: auto = MNIST if found, else Fashion-MNIST, else the built-in shapes."""
    data_dir: str | None = None
    """A CIFAR-10 folder (torchvision's files or an image folder); default <data root>/cifar10."""
    data_root: str | None = None
    """Data root; default $MILESTONES_DATA, else ~/.cache/milestones."""
    width: int = 32
    """convnet4's filters per convolutional layer (a stand-in for the paper's CIFAR nets)."""
    hidden: int = 256
    """convnet4's hidden fully connected units."""
    batch_size: int = 128
    """Mini-batch size of every run (§5: 128)."""
    fig1_train_size: int = 10_000
    """fig1: training images (CIFAR-10 has 50k)."""
    fig1_lrs: tuple[float, ...] = (0.01, 0.03, 0.1)
    """fig1: the learning-rate grid each nonlinearity is tuned over (on the first seed)."""
    fig1_init_std: float | None = None
    """fig1: start both nets from N(0, std^2) weights (§5: 0.01) instead of PyTorch's default."""
    fig1_max_epochs: int = 30
    """fig1: a run that has not reached 25% training error by then is censored (> max)."""
    dropout_sizes: tuple[int, ...] = (1000, 5000, 20_000, 50_000)
    """dropout: training-set sizes (Fig. 10 uses 100 ... 50k)."""
    dropout_hidden: tuple[int, ...] = (512, 512)
    """dropout: hidden layers of the MLP (Srivastava et al.: 1024 1024 2048)."""
    dropout_steps: int = 2000
    """dropout: iterations per run, the same at every size."""
    dropout_lr: float = 0.05
    """dropout: learning rate (SGD, momentum 0.9, constant)."""
    ablation_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """lrn_pool: seeds of each variant (>= 5: the effects are about a point)."""
    ablation_train_size: int = 20_000
    """lrn_pool: training images."""
    ablation_steps: int = 1000
    """lrn_pool: iterations per run (lr /10 at 50% and 75%)."""
    ablation_lrs: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3)
    """lrn_pool: the initial learning rates each variant is tuned over, on the first seed (the
    lowest final validation error); its other seeds run at the chosen one. LRN divides the
    activities, so one rate for all would favour one variant."""
    ablation_lrn_alpha: float | None = None
    """lrn_pool: LRN's alpha; default the paper's carried over to our inputs (D7: 1e-4 x 255^2);
    1e-4 is the paper's number on [0, 1] inputs, where the layer only divides by k^beta."""
    val_size: int = 1000
    """Held-out training images of every run (its validation error)."""
    test_size: int | None = None
    """Evaluate on only N test images; default all."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.experiments) > 0 and set(self.experiments) <= set(EXPERIMENTS), self,
                "experiments", f"choose from {', '.join(EXPERIMENTS)}")
        require(self.data_dir is None or self.dataset != "shapes", self, "data_dir",
                "--dataset shapes is generated by code and reads no folder")
        for field in ("width", "hidden", "batch_size", "fig1_train_size", "fig1_max_epochs",
                      "dropout_steps", "dropout_lr", "ablation_train_size", "ablation_steps",
                      "val_size"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        for field in ("fig1_lrs", "dropout_sizes", "dropout_hidden", "ablation_seeds",
                      "ablation_lrs"):
            values = getattr(self, field)
            require(len(values) > 0 and all(v > 0 for v in values) if field != "ablation_seeds"
                    else len(values) > 0, self, field, "give at least one (positive) value")
        require(self.test_size is None or self.test_size > 0, self, "test_size", "must be > 0")
        require(self.fig1_init_std is None or self.fig1_init_std > 0, self, "fig1_init_std",
                "must be > 0")
        require(self.ablation_lrn_alpha is None or self.ablation_lrn_alpha > 0, self,
                "ablation_lrn_alpha", "must be > 0")


def cpu() -> Config:
    """DEVIATION(D6): a 32-filter convnet4 on 10k-20k CIFAR-10 images, an MLP of 512-512 on
    MNIST, a few thousand iterations per run (paper: the full data, nets of its time)."""
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", dataset="shapes", digits="shapes", seeds=(0,),
                  ablation_seeds=(0, 1), ablation_lrs=(0.01, 0.1), width=4, hidden=16,
                  batch_size=32, fig1_train_size=300,
                  fig1_lrs=(0.01, 0.1), fig1_max_epochs=2, dropout_sizes=(200, 400),
                  dropout_hidden=(16,), dropout_steps=6, ablation_train_size=300,
                  ablation_steps=6, val_size=100, test_size=100, jobs=1)


def paper() -> Config:
    return Config(preset="paper", width=64, hidden=384, fig1_train_size=50_000,
                  fig1_max_epochs=60, dropout_sizes=(100, 500, 1000, 5000, 10_000, 50_000),
                  dropout_hidden=(1024, 1024, 2048), dropout_steps=20_000,
                  ablation_train_size=50_000, ablation_steps=30_000, jobs=1)


PRESETS = {"cpu": cpu, "smoke": smoke, "paper": paper}


def pick(cfg: Config, asked: str, names: tuple[str, ...]) -> str:
    """The first of ``names`` that is here (or the one asked for), else shapes. A --data-dir
    must hold the first: its error is raised, not hidden by shapes."""
    if asked != "auto":
        return asked
    errors = []
    for name in names:
        try:
            load_in_memory(name, data_dir=cfg.data_dir if name == "cifar10" else None,
                           root=cfg.data_root, val_size=0, train_size=1, test_size=1)
            return name
        except DataUnavailable as e:
            errors.append(e)
    if cfg.data_dir and names[0] == "cifar10":
        raise errors[0]
    return "shapes"


def base_run(cfg: Config, dataset: str, out: str, seed: int, **fields) -> T.Config:
    return T.Config(preset=f"reproduce-{cfg.preset}", dataset=dataset, seed=seed,
                    data_dir=cfg.data_dir if dataset == "cifar10" else None,
                    data_root=cfg.data_root, val_size=cfg.val_size, test_size=cfg.test_size,
                    batch_size=cfg.batch_size, out=str(Path(cfg.out) / "runs" / out),
                    resume=True, progress=False, device=cfg.device, **fields)


def fig1_run(cfg: Config, dataset: str, act: str, lr: float, seed: int) -> T.Config:
    """Fig. 1: no regularisation of any kind, a constant learning rate, one record per epoch."""
    epoch = (cfg.fig1_train_size - cfg.val_size) // cfg.batch_size
    return base_run(cfg, dataset, f"fig1/{act}-lr{lr:g}-s{seed}", seed, model="convnet4",
                    width=cfg.width, hidden=(cfg.hidden,), act=act, lrn=False, dropout=0.0,
                    init_std=cfg.fig1_init_std,
                    augment=False, lighting=0.0, weight_decay=0.0, lr=lr, schedule="constant",
                    train_size=cfg.fig1_train_size, steps=epoch * cfg.fig1_max_epochs,
                    log_every=epoch, eval_every=epoch * cfg.fig1_max_epochs,
                    ckpt_every=epoch * 5, target_error=PAPER["fig1_target_error"])


def dropout_run(cfg: Config, dataset: str, size: int, dropout: bool, seed: int) -> T.Config:
    s = cfg.dropout_steps
    return base_run(cfg, dataset, f"dropout/{'dropout' if dropout else 'none'}-n{size}-s{seed}",
                    seed, model="dropout_mlp", hidden=cfg.dropout_hidden,
                    dropout=0.5 if dropout else 0.0, input_dropout=0.2 if dropout else 0.0,
                    dropout_scaling="inverted", augment=False, lighting=0.0, weight_decay=0.0,
                    lr=cfg.dropout_lr, schedule="constant", train_size=size + cfg.val_size,
                    steps=s, log_every=max(1, s // 40), eval_every=max(1, s // 40),
                    ckpt_every=max(1, s // 4), eval_train=True)


def ablation_run(cfg: Config, dataset: str, variant: str, lr: float, seed: int) -> T.Config:
    s = cfg.ablation_steps
    name = variant.replace("+", "-").replace(" ", "-").lower()
    lrn = ABLATIONS[variant].get("lrn", True)
    return base_run(cfg, dataset, f"lrn_pool/{name}-lr{lr:g}-s{seed}", seed, model="convnet4",
                    lrn_alpha=cfg.ablation_lrn_alpha if lrn else None,
                    width=cfg.width, hidden=(cfg.hidden,), dropout=0.0, lighting=0.0,
                    lr=lr, schedule="steps", lr_steps=(s // 2, s * 3 // 4),
                    train_size=cfg.ablation_train_size, steps=s, log_every=max(1, s // 30),
                    eval_every=max(1, s // 6), ckpt_every=max(1, s // 6), eval_train=True,
                    **ABLATIONS[variant])


def _train(run: T.Config, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run, lambda s: s["stopped"] is None, divergence=True)


def records(run: T.Config, split: str) -> list[dict]:
    rows = [r for r in read_metrics(Path(run.out) / "metrics.jsonl")[1:] if r["split"] == split]
    return list({r["step"]: r for r in rows}.values())  # one record per step


def epochs_to_target(run: T.Config, summary: dict) -> float:
    """Fig. 1's measure: epochs until an epoch's training error is <= 25%; inf if never."""
    reached = summary.get("target_reached_at")
    return math.inf if reached is None else reached / run.log_every


def converged_at(run: T.Config) -> int | None:
    """The first evaluation step whose validation error is within 5% (relative) of the run's
    best: the iterations this run needed to converge."""
    val = records(run, "val")
    if not val:
        return None
    best = min(r["error"] for r in val)
    return next(r["step"] for r in val if r["error"] <= best * 1.05)


def run_all(cfg: Config, todo: list[T.Config]) -> list[dict]:
    if not todo:
        return []
    todo = prepare(cfg, todo)
    return list(map_runs(_train, todo, max(1, min(cfg.jobs, len(todo)))))


def main(cfg: Config) -> dict:
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"config": dataclasses.asdict(cfg), "paper": PAPER}
    summaries: list[dict] = []
    if "fig1" in cfg.experiments or "lrn_pool" in cfg.experiments:
        results["dataset"] = pick(cfg, cfg.dataset, ("cifar10",))
    if "fig1" in cfg.experiments:
        results["fig1"] = fig1(cfg, results["dataset"], summaries)
    if "dropout" in cfg.experiments:
        results["digits"] = pick(cfg, cfg.digits, ("mnist", "fashion-mnist"))
        results["dropout"] = dropout(cfg, results["digits"], summaries)
    if "lrn_pool" in cfg.experiments:
        results["lrn_pool"] = lrn_pool(cfg, results["dataset"], summaries)
    header = read_metrics(next(out.rglob("metrics.jsonl")))[0]
    results["env"] = header["env"]
    results["claims"] = claims(results)
    results.update(totals(summaries, t0), jobs=cfg.jobs)
    figures(results, out)
    write_results(out, results, markdown(cfg, results))
    return results


def tune_then_seeds(cfg: Config, names: tuple[str, ...], lrs: tuple[float, ...],
                    seeds: tuple[int, ...], make: Callable[[str, float, int], T.Config],
                    score: Callable[[T.Config, dict], float], summaries: list,
                    ) -> tuple[dict, dict, dict]:
    """Each name's learning rate tuned on the first seed -- the lowest ``score(run, summary)``,
    the smaller rate among equals -- then its other seeds run at that rate. Returns the grid
    {(name, lr): (run, summary)}, the chosen rates {name: lr} and {(name, seed): (run, summary)}
    at them."""
    first = seeds[0]
    todo = {(n, lr): make(n, lr, first) for n in names for lr in lrs}
    grid = {k: (todo[k], s) for k, s in zip(todo, run_all(cfg, list(todo.values())), strict=True)}
    chosen = {n: min(lrs, key=lambda lr: (score(*grid[n, lr]), lr)) for n in names}
    todo = {(n, s): make(n, chosen[n], s) for n in names for s in seeds[1:]}
    rest = {k: (todo[k], s) for k, s in zip(todo, run_all(cfg, list(todo.values())), strict=True)}
    summaries += [s for _, s in [*grid.values(), *rest.values()]]
    at = {(n, s): grid[n, chosen[n]] if s == first else rest[n, s] for n in names for s in seeds}
    return grid, chosen, at


def fig1(cfg: Config, dataset: str, summaries: list) -> dict:
    """Tune each nonlinearity's learning rate on the first seed (the fewest epochs to 25%; none
    reaching it: the smaller rate), then the other seeds at it."""
    acts = ("relu", "tanh")
    grid, chosen, at = tune_then_seeds(
        cfg, acts, cfg.fig1_lrs, cfg.seeds, lambda a, lr, s: fig1_run(cfg, dataset, a, lr, s),
        epochs_to_target, summaries)
    tuning = {a: [{"lr": lr, "epochs": epochs_to_target(*grid[a, lr])} for lr in cfg.fig1_lrs]
              for a in acts}
    out = {"tuning": tuning, "chosen_lr": chosen, "runs": {}}
    for a in acts:
        runs = []
        for s in cfg.seeds:
            run, summary = at[a, s]
            train = records(run, "train")
            runs.append({"seed": s, "epochs_to_25": epochs_to_target(run, summary),
                         "curve": {"epoch": [r["step"] / run.log_every for r in train],
                                   "error": [round(100 * r["error"], 3) for r in train]},
                         "train_time_s": summary["train_time_s"]})
        out["runs"][a] = runs
    out["speedup"] = speedup(out["runs"]["relu"], out["runs"]["tanh"], cfg.fig1_max_epochs)
    return out


def speedup(relu: list[dict], tanh: list[dict], max_epochs: int) -> dict:
    """tanh's epochs to 25% over ReLU's, per seed. A tanh run that never got there counts as
    ``max_epochs`` (so its ratio is a lower bound, and ``lower_bound`` says so); a ReLU run that
    never got there leaves no ratio (None)."""
    ratios, bound = [], False
    for r, t in zip(relu, tanh, strict=True):
        if not math.isfinite(r["epochs_to_25"]):
            ratios.append(None)
            continue
        bound |= not math.isfinite(t["epochs_to_25"])
        ratios.append(min(t["epochs_to_25"], max_epochs) / r["epochs_to_25"])
    known = [x for x in ratios if x is not None]
    stat = mean_std(known) if known else {"mean": math.nan, "std": math.nan, "n": 0}
    return stat | {"per_seed": ratios, "lower_bound": bound}


def dropout(cfg: Config, dataset: str, summaries: list) -> dict:
    runs = {(size, d, s): dropout_run(cfg, dataset, size, d, s)
            for size in cfg.dropout_sizes for d in (False, True) for s in cfg.seeds}
    done = dict(zip(runs, run_all(cfg, list(runs.values())), strict=True))
    summaries += done.values()
    out = {"sizes": {}}
    for size in cfg.dropout_sizes:
        row = {}
        for d, name in ((False, "none"), (True, "dropout")):
            per = []
            for s in cfg.seeds:
                summary, run = done[size, d, s], runs[size, d, s]
                train, test = 100 * summary["final_train_error"], 100 * summary[
                    "final_test_error"]
                per.append({"seed": s, "train_error": train, "test_error": test,
                            "gap": test - train, "converged_at": converged_at(run)})
            row[name] = {"runs": per, **over_seeds(per, ("train_error", "test_error", "gap",
                                                         "converged_at"))}
        row["test_gain"] = paired_difference(row["none"]["runs"], row["dropout"]["runs"],
                                             "test_error")
        ratio = [d["converged_at"] / n["converged_at"] for n, d in
                 zip(row["none"]["runs"], row["dropout"]["runs"], strict=True)
                 if n["converged_at"] and d["converged_at"]]
        row["iterations_ratio"] = mean_std(ratio) if ratio else None
        out["sizes"][str(size)] = row
    return out


def _pct(summary: dict, key: str) -> float | None:
    """A summary's error in %; None for a run that diverged (it has none)."""
    return None if summary.get(key) is None else 100 * summary[key]


def lrn_pool(cfg: Config, dataset: str, summaries: list) -> dict:
    """Each variant's learning rate tuned on the first seed (the lowest validation error; a
    diverged run has none and comes last), then the other seeds at it."""
    lrs = cfg.ablation_lrs

    def val_error(run: T.Config, summary: dict) -> float:
        return summary.get("final_val_error", math.inf)

    grid, chosen, at = tune_then_seeds(
        cfg, tuple(ABLATIONS), lrs, cfg.ablation_seeds,
        lambda v, lr, s: ablation_run(cfg, dataset, v, lr, s), val_error, summaries)
    tuning = {v: [{"lr": lr, "val_error": _pct(grid[v, lr][1], "final_val_error")} for lr in lrs]
              for v in ABLATIONS}
    out = {"tuning": tuning, "chosen_lr": chosen, "variants": {}}
    for v in ABLATIONS:
        per = []
        for s in cfg.ablation_seeds:
            _, summary = at[v, s]
            per.append({"seed": s, "test_error": _pct(summary, "final_test_error"),
                        "train_error": _pct(summary, "final_train_error"),
                        "val_error": _pct(summary, "final_val_error")})
        out["variants"][v] = {"runs": per, **over_seeds(per, ("test_error", "train_error",
                                                              "val_error"))}
    base = out["variants"]["lrn+overlap"]["runs"]
    # positive: the paper's choice has the lower test error
    out["lrn_effect"] = paired_difference(out["variants"]["no LRN"]["runs"], base, "test_error")
    out["overlap_effect"] = paired_difference(out["variants"]["non-overlapping"]["runs"], base,
                                              "test_error")

    def gaps(runs: list[dict]) -> list[dict]:
        return [r | {"gap": None if r["test_error"] is None else r["test_error"] - r["train_error"]}
                for r in runs]

    out["overlap_gap_effect"] = paired_difference(gaps(out["variants"]["non-overlapping"]["runs"]),
                                                  gaps(base), "gap")
    return out


def claims(r: dict) -> dict:
    """Each statement of the papers, checked on the numbers (see the module doc)."""
    out = {}
    if "fig1" in r:
        sp = r["fig1"]["speedup"]
        ratios = sp["per_seed"]
        out["relu_reaches_25pct_faster_than_tanh"] = {
            "holds": all(x is not None and x > 1 for x in ratios),
            "seeds": sum(x is not None and x > 1 for x in ratios), "of": len(ratios),
            "speedup": sp["mean"], "paper": PAPER["fig1_speedup"]}
        out["relu_about_6x_faster"] = {"holds": bool(sp["n"]) and sp["mean"] >= 4.5,
                                       "speedup": sp["mean"],
                                       "lower_bound": sp["lower_bound"]}
    if "dropout" in r:
        sizes = r["dropout"]["sizes"]
        gaps = {n: (row["none"]["gap"]["mean"], row["dropout"]["gap"]["mean"])
                for n, row in sizes.items()}
        out["dropout_narrows_the_train_test_gap"] = {
            "holds": all(d < n for n, d in gaps.values()),
            "sizes": sum(d < n for n, d in gaps.values()), "of": len(gaps)}
        gains = {n: row["test_gain"] for n, row in sizes.items() if row["test_gain"]}
        out["dropout_lowers_test_error"] = {
            "resolved_at": [n for n, g in gains.items() if g["resolved"] and g["mean"] > 0],
            "worse_at": [n for n, g in gains.items() if g["resolved"] and g["mean"] < 0],
            "holds": bool(gains) and all(g["mean"] > 0 for g in gains.values())}
        ratios = [row["iterations_ratio"]["mean"] for row in sizes.values()
                  if row["iterations_ratio"]]
        out["dropout_roughly_doubles_iterations"] = {
            "ratio_by_size": {n: row["iterations_ratio"]["mean"] if row["iterations_ratio"]
                              else None for n, row in sizes.items()},
            "holds": bool(ratios) and all(1.5 <= x <= 3 for x in ratios)}
    if "lrn_pool" in r:
        for key, name in (("lrn_effect", "lrn_lowers_test_error"),
                          ("overlap_effect", "overlapping_pooling_lowers_test_error")):
            e = r["lrn_pool"][key]
            out[name] = {"holds": bool(e) and e["resolved"] and e["mean"] > 0,
                         "mean_pp": e["mean"] if e else None,
                         "ci95_pp": e["ci95"] if e else None,
                         "resolved": bool(e) and e["resolved"]}
    return out


def figures(results: dict, out: Path) -> list[Path]:
    """fig1.png (training error per epoch, solid ReLU, dashed tanh, as the paper's Fig. 1),
    dropout.png (train and test error against the training-set size, Fig. 10), lrn_pool.png
    (test error per seed and variant, with the paper's CIFAR-10 numbers)."""
    from milestones.core.plots import subplots

    paths = []
    if "fig1" in results:
        f = results["fig1"]
        fig, ax = subplots(figsize=(6.4, 4.2), dpi=120)
        for act, ls, color in (("relu", "-", "tab:blue"), ("tanh", "--", "tab:red")):
            for i, run in enumerate(f["runs"][act]):
                ax.plot(run["curve"]["epoch"], run["curve"]["error"], ls, color=color,
                        lw=1.6 if i == 0 else 0.8, alpha=1 if i == 0 else 0.6,
                        label=f"{act} (lr {f['chosen_lr'][act]:g})" if i == 0 else None)
        ax.axhline(25, color="0.3", ls=":", lw=1, label="25% training error")
        sp = f["speedup"]
        ax.set_title(f"Fig. 1 in miniature: {results.get('dataset')}, speed-up "
                     f"{sp['mean']:.2f} ± {sp['std']:.2f} (paper: 6)", fontsize=10)
        ax.set_xlabel("epochs")
        ax.set_ylabel("training error (%)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(out / "fig1.png")
        fig.savefig(paths[-1])
    if "dropout" in results:
        sizes = results["dropout"]["sizes"]
        ns = [int(n) for n in sizes]
        fig, ax = subplots(figsize=(6.4, 4.2), dpi=120)
        for name, color in (("none", "tab:red"), ("dropout", "tab:blue")):
            for split, ls, marker in (("train_error", "--", "o"), ("test_error", "-", "s")):
                ys = [sizes[str(n)][name][split]["mean"] for n in ns]
                ax.plot(ns, ys, ls, marker=marker, color=color, ms=4,
                        label=f"{'no dropout' if name == 'none' else 'dropout'}, "
                              f"{split.split('_')[0]}")
                for n in ns:
                    pts = [r[split.replace('_error', '_error')] for r in sizes[str(n)][name][
                        "runs"]]
                    ax.scatter([n] * len(pts), pts, s=8, color=color, alpha=0.5)
        ax.set_xscale("log")
        ax.set_xlabel("training images")
        ax.set_ylabel("error (%)")
        ax.set_title(f"Dropout vs data set size ({results.get('digits')}; Srivastava et al. "
                     "Fig. 10)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(out / "dropout.png")
        fig.savefig(paths[-1])
    if "lrn_pool" in results:
        v = results["lrn_pool"]["variants"]
        fig, ax = subplots(figsize=(6.4, 4.2), dpi=120)
        for i, entry in enumerate(v.values()):
            ys = [r["test_error"] for r in entry["runs"] if r["test_error"] is not None]
            ax.scatter([i] * len(ys), ys, color="tab:blue", s=18, alpha=0.7)
            if "test_error" in entry:  # (not when every seed diverged)
                ax.errorbar([i + 0.15], [entry["test_error"]["mean"]],
                            yerr=[entry["test_error"]["std"]], fmt="D", color="black", ms=5)
        p = PAPER["lrn_cifar10_test_error"]
        ax.axhline(p["with"], color="tab:green", ls=":", label="paper §3.3, with LRN (11%)")
        ax.axhline(p["without"], color="tab:red", ls=":", label="paper §3.3, without (13%)")
        chosen = results["lrn_pool"].get("chosen_lr", {})
        ax.set_xticks(range(len(v)), [f"{name}\n(lr {chosen[name]:g})" if name in chosen
                                      else name for name in v])
        ax.set_ylabel("test error (%)")
        ax.set_title(f"LRN and overlapping pooling, {results.get('dataset')} (points: seeds)",
                     fontsize=10)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(out / "lrn_pool.png")
        fig.savefig(paths[-1])
    return paths


def _f(stat: dict | None, digits: int = 2) -> str:
    if not stat:
        return "-"
    if not math.isfinite(stat["mean"]):
        return "censored"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def _e(x: float) -> str:
    return "not reached" if not math.isfinite(x) else f"{x:g}"


def markdown(cfg: Config, r: dict) -> str:
    env = r.get("env", {})
    lines = [
        "# AlexNet's claims in miniature (Fig. 1, §3.3, §3.4, §4.2)", "",
        f"Command: `python -m milestones.alexnet.reproduce --preset {cfg.preset}"
        + (f" --data-dir {cfg.data_dir}" if cfg.data_dir else "") + "`  ",
        f"Hardware: {env.get('device_name')} ({env.get('device')}), {r['jobs']} runs at a time; "
        f"torch {env.get('torch')}, git {str(env.get('git_sha'))[:10]}, {env.get('started')}; "
        f"{r['train_time_s'] / 60:.0f} min of training summed over runs, "
        f"{r['wall_time_s'] / 60:.0f} min wall clock", ""]
    if "fig1" in r:
        f = r["fig1"]
        lines += ["## Fig. 1: ReLU vs tanh", "",
                  f"convnet4 (width {cfg.width}, {cfg.hidden} hidden units; weights "
                  + (f"N(0, {cfg.fig1_init_std:g}²)" if cfg.fig1_init_std else
                     "PyTorch's default initialisation") + f"), {r['dataset']}, "
                  f"{cfg.fig1_train_size - cfg.val_size} training images, batch "
                  f"{cfg.batch_size}, SGD momentum 0.9, constant lr, no weight decay, dropout, "
                  f"LRN or augmentation. Learning rate grid {list(cfg.fig1_lrs)}, tuned on seed "
                  f"{cfg.seeds[0]}; seeds {list(cfg.seeds)}; runs stop at 25% training error or "
                  f"after {cfg.fig1_max_epochs} epochs.", "",
                  "| lr | ReLU: epochs to 25% | tanh: epochs to 25% |", "|---|---|---|"]
        for i, lr in enumerate(cfg.fig1_lrs):
            lines.append(f"| {lr:g} | {_e(f['tuning']['relu'][i]['epochs'])} | "
                         f"{_e(f['tuning']['tanh'][i]['epochs'])} |")
        lines += ["", "| seed | ReLU (lr {:g}) | tanh (lr {:g}) | speed-up |".format(
            f["chosen_lr"]["relu"], f["chosen_lr"]["tanh"]), "|---|---|---|---|"]
        for a, b, x in zip(f["runs"]["relu"], f["runs"]["tanh"], f["speedup"]["per_seed"],
                           strict=True):
            lines.append(f"| {a['seed']} | {_e(a['epochs_to_25'])} | {_e(b['epochs_to_25'])} | "
                         + ("-" if x is None else f"{x:.2f}") + " |")
        bound = " (a lower bound: a tanh run never got there)" if f["speedup"]["lower_bound"] \
            else ""
        lines += ["", f"Speed-up (tanh epochs / ReLU epochs): **{_f(f['speedup'])}**{bound}; the "
                  f"paper: {PAPER['fig1_speedup']:g}x.", "", "![Fig. 1](fig1.png)", ""]
    if "dropout" in r:
        lines += ["## Dropout against the size of the training set", "",
                  f"MLP {list(cfg.dropout_hidden)} (ReLU) on {r['digits']}, {cfg.dropout_steps} "
                  f"iterations of batch {cfg.batch_size} at lr {cfg.dropout_lr:g} (momentum 0.9), "
                  "without dropout, or with dropout 0.2 on the inputs and 0.5 on the hidden "
                  f"units (Srivastava et al.); seeds {list(cfg.seeds)}. Errors in %; the "
                  "training error is the final net's, dropout off.", "",
                  "| images | train (none) | test (none) | train (dropout) | test (dropout) | "
                  "test gain (none - dropout, 95% CI) | iterations ratio (dropout / none) |",
                  "|---|---|---|---|---|---|---|"]
        for n, row in r["dropout"]["sizes"].items():
            g = row["test_gain"]
            gain = "-" if not g else (f"{g['mean']:+.2f} ± {g['ci95']:.2f}" if g["ci95"]
                                      else f"{g['mean']:+.2f}")
            lines.append(f"| {int(n):,} | {_f(row['none'].get('train_error'))} | "
                         f"{_f(row['none'].get('test_error'))} | "
                         f"{_f(row['dropout'].get('train_error'))} | "
                         f"{_f(row['dropout'].get('test_error'))} | {gain} | "
                         f"{_f(row['iterations_ratio'])} |")
        lines += ["", "Iterations to converge: the first evaluation whose validation error is "
                  "within 5% of the run's best.", "", "![dropout](dropout.png)", ""]
    if "lrn_pool" in r:
        lp = r["lrn_pool"]
        lines += ["## Response normalisation (§3.3) and overlapping pooling (§3.4)", "",
                  f"convnet4 (width {cfg.width}, {cfg.hidden} hidden), {r['dataset']}, "
                  f"{cfg.ablation_train_size - cfg.val_size} training images, "
                  f"{cfg.ablation_steps} iterations (lr /10 at 50% and 75%; the initial lr tuned "
                  f"per variant over {list(cfg.ablation_lrs)} on seed {cfg.ablation_seeds[0]}), "
                  f"weight decay 5e-4, pad-crop-flip; seeds {list(cfg.ablation_seeds)}; "
                  "LRN's alpha " + (f"{cfg.ablation_lrn_alpha:g}" if cfg.ablation_lrn_alpha
                                    else "1e-4 x 255^2 (the paper's, for our pixels / 255: D7)")
                  + ".",
                  "", "| variant | validation error (%) at lr " + " / ".join(
                      f"{lr:g}" for lr in cfg.ablation_lrs) + f" (seed {cfg.ablation_seeds[0]}) "
                  "| chosen lr | test error (%) | training error (%) |", "|---|---|---|---|---|"]
        for name, e in lp["variants"].items():
            tuned = " / ".join("diverged" if t["val_error"] is None else f"{t['val_error']:.2f}"
                               for t in lp["tuning"][name])
            lines.append(f"| {name} | {tuned} | {lp['chosen_lr'][name]:g} | "
                         f"{_f(e.get('test_error'))} | {_f(e.get('train_error'))} |")
        for key, what in (("lrn_effect", "no LRN - LRN"),
                          ("overlap_effect", "non-overlapping - overlapping")):
            e = lp[key]
            if e and e["ci95"] is not None:
                verdict = "resolved" if e["resolved"] else "within the seed noise"
                lines.append(f"\nTest error {what}: {e['mean']:+.2f} pp, 95% CI ± "
                             f"{e['ci95']:.2f} ({verdict}).")
        p = PAPER["lrn_cifar10_test_error"]
        lines += ["", f"The paper (§3.3): a four-layer CIFAR-10 net, {p['without']:g}% test "
                  f"error without LRN, {p['with']:g}% with. {PAPER['overlap_imagenet']}.", "",
                  "![LRN and pooling](lrn_pool.png)", ""]
    lines += ["## The claims", ""]
    for name, c in r["claims"].items():
        rest = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in c.items() if k != "holds")
        lines.append(f"- **{name.replace('_', ' ')}**: {'yes' if c['holds'] else 'no'} ({rest})")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
