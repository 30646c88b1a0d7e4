"""The paper's four experiments (§6, Figs. 1-4) in miniature on a CPU, plus a playground.

    python -m milestones.adam.reproduce                        # everything, about an hour
    python -m milestones.adam.reproduce --figures fig4         # one experiment
    python -m milestones.adam.reproduce --cifar-dir ~/cifar10  # Fig. 3 on an image-folder copy

- fig1: L2-regularised logistic regression on MNIST, alpha_t = alpha / sqrt(t), minibatch 128:
  Adam, SGD with Nesterov momentum, AdaGrad (Fig. 1 left).
- fig1bow: logistic regression on 10,000-word bag-of-words features with 50% dropout noise
  (IMDB, or the built-in sparse reviews offline): Adam, AdaGrad, RMSProp, SGD-Nesterov
  (Fig. 1 right).
- fig2: the 2 x 1000 ReLU network on MNIST, with and without dropout: Adam, AdaGrad, RMSProp,
  SGD-Nesterov, AdaDelta (Fig. 2).
- fig3: the c64-c64-c128-1000 CNN on whitened CIFAR-10, with and without dropout: Adam, AdaGrad,
  SGD-Nesterov (Fig. 3); on the CPU a 10k-image subset for 10 epochs (stated in the results).
- fig4: a VAE trained by Adam with and without bias correction over beta1 in {0, 0.9},
  beta2 in {0.99, 0.999, 0.9999}, log10(alpha) in {-5 ... -1} (Fig. 4).
- playground: every optimizer's trajectory on Rosenbrock's and Beale's functions.

As in the paper, each optimizer's learning rate is searched over a grid and the best (lowest final
training loss, on seed 0, after the full run or, for Fig. 3, its first epochs) is reported; a
best rate at the grid's edge extends the grid past that edge. The other seeds then run at that
rate. Every run goes
through ``train.main`` into ``<out>/<figure>/runs/...``; a finished run is not trained again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Literal

import torch

from milestones.adam import playground
from milestones.adam import train as T
from milestones.core.config import require
from milestones.core.data import DataUnavailable, MissingPackage
from milestones.core.jobs import ReproduceConfig, map_runs, prepare, train_or_reuse
from milestones.core.metrics import environment, read_metrics
from milestones.core.plots import plot_curves
from milestones.core.report import fmt, mean_std, write_results
from milestones.core.run import cli

FIGURES = ("fig1", "fig1bow", "fig2", "fig3", "fig4", "playground")
NAMES = {"adam": "Adam", "sgd": "SGDNesterov", "adagrad": "AdaGrad", "rmsprop": "RMSProp",
         "adadelta": "AdaDelta"}
GRIDS = {  # learning rates searched per optimizer (and experiment)
    "fig1": {"adam": (3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0),
             "sgd": (1e-1, 3e-1, 1.0, 3.0, 10.0, 30.0), "adagrad": (3e-2, 1e-1, 3e-1, 1.0, 3.0)},
    "fig1bow": {"adam": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2), "adagrad": (3e-3, 1e-2, 3e-2, 1e-1),
                "rmsprop": (3e-5, 1e-4, 3e-4, 1e-3, 3e-3), "sgd": (1e-2, 3e-2, 0.1, 0.3)},
    "fig2": {"adam": (3e-4, 1e-3, 3e-3), "adagrad": (3e-3, 1e-2, 3e-2, 1e-1),
             "rmsprop": (1e-4, 3e-4, 1e-3, 3e-3), "sgd": (1e-2, 3e-2, 1e-1, 3e-1),
             "adadelta": (0.3, 1.0, 3.0)},
    "fig3": {"adam": (3e-4, 1e-3, 3e-3), "adagrad": (3e-3, 1e-2, 3e-2),
             "sgd": (3e-3, 1e-2, 3e-2)},
}
# What the paper concludes from each figure.
PAPER = {
    "fig1": "MNIST logistic regression: Adam converges as fast as SGD with Nesterov momentum, and "
            "both faster than AdaGrad.",
    "fig1bow": "IMDB bag of words, sparse features: AdaGrad outperforms SGD with Nesterov momentum "
               "by a large margin; Adam converges as fast as AdaGrad.",
    "fig2": "MNIST multilayer network with dropout: Adam makes faster progress than the other "
            "methods (AdaGrad, RMSProp, SGDNesterov, AdaDelta) in training cost.",
    "fig3": "CIFAR-10 CNN: Adam and SGD eventually converge considerably faster than AdaGrad; "
            "Adam gives a marginal improvement over SGD with momentum.",
    "fig4": "VAE: without bias correction, training is unstable for beta2 close to 1 (0.999, "
            "0.9999), especially at large step sizes; with it, Adam is stable across the grid.",
}


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Reproduce Adam's §6 (Figs. 1-4) in miniature, and draw the optimizer playground."""

    preset: str = "cpu"
    """cpu (about an hour on 2 cores), smoke (seconds, for tests), paper (§6's budgets, GPU)."""
    out: str = "runs/adam/reproduce"
    figures: tuple[str, ...] = FIGURES
    """Which experiments: fig1 fig1bow fig2 fig3 fig4 playground."""
    images: Literal["auto", "mnist", "fashion-mnist", "segments"] = "auto"
    """Figs. 1, 2, 4: auto = MNIST if found, else Fashion-MNIST, else the built-in segments."""
    text: Literal["auto", "imdb", "reviews"] = "auto"
    """Fig. 1 right: auto = IMDB if cached, else the built-in sparse reviews."""
    cifar_dir: str | None = None
    """Fig. 3's CIFAR-10 (torchvision's files or an image folder); default <data root>/cifar10."""
    data_root: str | None = None
    """Data root; default $MILESTONES_DATA, else ~/.cache/milestones."""
    fig1_epochs: float = 20
    """Epochs of Fig. 1 left, logistic regression on MNIST (the paper plots 45)."""
    fig1bow_epochs: float = 20
    """Epochs of Fig. 1 right, logistic regression on bags of words (the paper plots 45)."""
    fig2_epochs: float = 5
    """Epochs of Fig. 2, the multilayer network (the paper plots 200)."""
    fig2_seeds: int = 3
    """Fig. 2 runs the first N of --seeds."""
    fig3_epochs: float = 10
    """Epochs of Fig. 3, the CNN on CIFAR-10 (the paper plots 45)."""
    fig3_train_size: int | None = 10_000
    """Fig. 3's training images, a random subset of CIFAR-10's 50k (None: all, as the paper)."""
    fig3_seeds: int = 3
    """Fig. 3 runs the first N of --seeds."""
    fig4_epochs: tuple[float, float] = (2, 10)
    """Fig. 4 reads the loss after these epochs (paper: 10 and 100)."""
    fig4_train_size: int | None = 20_000
    """Fig. 4's training images, a random subset (None: all 60k, as the paper)."""
    fig4_lrs: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    """Fig. 4's step sizes (paper: log10(alpha) from -5 to -1)."""
    fig2_tune_epochs: float | None = None
    """Epochs of Fig. 2's learning-rate search (None: the full length, so that each optimizer's
    rate is the best over the whole horizon, not after the first epoch)."""
    fig3_tune_epochs: float | None = 3.0
    """Epochs of Fig. 3's learning-rate search (None: the full length)."""
    grid_points: int | None = None
    """Search only this many learning rates from the middle of each grid (smoke)."""
    extend_edges: int = 2
    """When an arm's best rate lies at its grid's edge, tune the next half-decade rate past it,
    up to this many times per arm (0: never)."""
    train_size: int | None = None
    """Cap every training set (smoke)."""
    test_size: int | None = None
    """Cap every test set (smoke)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(set(self.figures) <= set(FIGURES), self, "figures",
                f"choose from {', '.join(FIGURES)}")


def cpu() -> Config:
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", images="segments", text="reviews", seeds=(0,), fig1_epochs=1,
                  fig1bow_epochs=1, fig2_epochs=1, fig3_epochs=1, fig3_train_size=256,
                  fig4_epochs=(1, 2), fig4_train_size=512, fig4_lrs=(1e-3,), fig2_tune_epochs=None,
                  grid_points=1, train_size=512, test_size=256, jobs=1,
                  figures=("fig1", "fig1bow", "fig2", "fig4", "playground"))


def paper() -> Config:
    return Config(preset="paper", fig1_epochs=45, fig1bow_epochs=45, fig2_epochs=200,
                  fig2_seeds=3, fig3_epochs=45, fig3_train_size=None, fig3_seeds=3,
                  fig4_epochs=(10, 100), fig4_train_size=None, fig2_tune_epochs=None,
                  fig3_tune_epochs=None, jobs=1)


PRESETS = {"cpu": cpu, "smoke": smoke, "paper": paper}


# ---- running many trainings ---------------------------------------------------------------------

def _train(run: T.Config, threads: int) -> dict:
    """train.main, unless the run finished before; a diverged run is a summary too."""
    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run, lambda s: s["step"] == s["steps"]
                          and s["stopped"] is None, divergence=True)


def run_all(cfg: Config, runs: list[T.Config]) -> list[dict]:
    return map_runs(_train, prepare(cfg, runs), cfg.jobs)


def base_config(cfg: Config, **kw) -> T.Config:
    # every training example trains (the figures measure training cost and test loss; no model
    # is selected, so no validation split)
    return T.Config(preset=f"reproduce-{cfg.preset}", data_root=cfg.data_root, device=cfg.device,
                    progress=False, resume=True, train_size=cfg.train_size, val_size=0,
                    test_size=cfg.test_size, **kw)


def with_run(base: T.Config, optimizer: str, lr: float, seed: int, epochs: float,
             label: str = "", **kw) -> T.Config:
    """One run of an experiment, in <base.out>/runs/<label>-lr<lr>-e<epochs>-s<seed>."""
    name = f"{label or optimizer}-lr{lr:g}-e{epochs:g}-s{seed}".replace("+", "-")
    return dataclasses.replace(base, optimizer=optimizer, lr=lr, seed=seed, epochs=epochs,
                               out=str(Path(base.out or "") / "runs" / name), **kw)


def final_train_loss(run: T.Config) -> float:
    """The training loss of the last log window (inf for a diverged run)."""
    path = Path(run.out) / "metrics.jsonl"
    summary = json.loads((Path(run.out) / "summary.json").read_text())
    if summary.get("diverged") or not path.exists():
        return math.inf
    rows = [r for r in read_metrics(path) if r.get("split") == "train"]
    return rows[-1]["loss"] if rows and math.isfinite(rows[-1]["loss"]) else math.inf


def curve(out: str, split: str = "train", key: str = "loss") -> tuple[list, list]:
    """(epochs, values) of a run folder's ``split`` records."""
    rows = [r for r in read_metrics(Path(out) / "metrics.jsonl") if r.get("split") == split]
    rows = list({r["step"]: r for r in rows}.values())
    epoch_of = {r["step"]: r["epoch"] for r in read_metrics(Path(out) / "metrics.jsonl")
                if r.get("split") == "train"}
    return [epoch_of.get(r["step"], r["step"]) for r in rows], [r[key] for r in rows]


def tune_and_run(cfg: Config, fig: str, base: T.Config, arms: dict[str, tuple[str, dict]],
                 epochs: float, seeds: tuple[int, ...], tune_epochs: float | None) -> dict:
    """For each arm (label -> (optimizer, extra fields)): the best learning rate of its grid on
    seed 0 after ``tune_epochs``, then full runs on every seed at that rate.

    A best rate at the edge of the grid may not be the best rate: the grid is then extended by
    the next half-decade rate past that edge, and tuned again, up to ``cfg.extend_edges`` times
    per arm. ``extended`` lists the rates added, ``at_edge`` says whether the chosen rate still
    lies at an edge of everything tried."""
    tune_epochs = tune_epochs or epochs
    # DEVIATION(D9): a grid a factor ~3 apart, tuned on seed 0 (the paper: "a dense grid")
    grids = {label: list(middle(GRIDS[fig][opt], cfg.grid_points))
             for label, (opt, _) in arms.items()}
    tried: dict[str, dict[float, float]] = {label: {} for label in arms}
    extended: dict[str, list[float]] = {label: [] for label in arms}
    while todo := [(label, lr) for label in arms for lr in grids[label]
                   if lr not in tried[label]]:
        runs = [with_run(base, arms[label][0], lr, seeds[0], tune_epochs, label,
                         **arms[label][1]) for label, lr in todo]
        run_all(cfg, runs)
        for (label, lr), run in zip(todo, runs, strict=True):
            tried[label][lr] = final_train_loss(run)
        for label in arms:
            lr = beyond_edge(tried[label])
            if lr is not None and len(extended[label]) < cfg.extend_edges:
                grids[label].append(lr)
                extended[label].append(lr)
    best = {label: min(sorted(t), key=t.get) for label, t in tried.items()}
    full = {label: [with_run(base, opt, best[label], s, epochs, label, **extra)
                    for s in seeds] for label, (opt, extra) in arms.items()}
    run_all(cfg, [r for runs in full.values() for r in runs])
    out = {}
    for label, runs in full.items():
        losses = [final_train_loss(r) for r in runs]
        out[label] = {"optimizer": arms[label][0], "lr": best[label],
                      "grid": {f"{lr:g}": tried[label][lr] for lr in sorted(tried[label])},
                      "extended": [f"{lr:g}" for lr in extended[label]],
                      "at_edge": beyond_edge(tried[label]) is not None,
                      "final_train_loss": losses, "runs": [run.out for run in runs],
                      "final_test": [_test(r) for r in runs]}
    return out


def beyond_edge(losses: dict[float, float]) -> float | None:
    """The next rate past the edge of a tuned grid (``losses``: rate -> final training loss)
    when the best finite loss lies at that edge; None when the best is inside, or nothing
    trained. Rates step along the half-decade ladder 1, 3, 10, 30, ... as the grids do."""
    lrs = sorted(losses)
    best = min(lrs, key=losses.get)
    if len(lrs) < 2 or not math.isfinite(losses[best]) or best not in (lrs[0], lrs[-1]):
        return None
    ladder = [float(f"{m}e{e}") for e in range(-9, 5) for m in (1, 3)]
    i = min(range(len(ladder)), key=lambda k: abs(math.log(ladder[k] / best)))
    return ladder[i - 1] if best == lrs[0] else ladder[i + 1]


def middle(values: tuple, n: int | None) -> tuple:
    """The ``n`` values in the middle of a grid (all of them for None)."""
    if n is None or n >= len(values):
        return values
    start = (len(values) - n) // 2
    return values[start:start + n]


def _test(run: T.Config) -> dict:
    summary = json.loads((Path(run.out) / "summary.json").read_text())
    return {k.removeprefix("final_test_"): v for k, v in summary.items()
            if k.startswith("final_test_")}


def _mean(xs: list[float]) -> float:
    """The mean over seeds; inf when a run diverged."""
    return mean_std(xs)["mean"]


def _fmt(xs: list[float], digits: int = 4) -> str:
    return fmt(mean_std(xs), digits, bare_single=True)


def plot_arms(results: dict, path: Path, title: str, ylabel: str = "training loss",
              logy: bool = True) -> None:
    series = {f"{label} (lr {r['lr']:g})": [curve(out) for out in r["runs"]]
              for label, r in results.items()}
    plot_curves(series, path, xlabel="epochs", ylabel=ylabel, title=title, logy=logy)


# ---- the experiments ----------------------------------------------------------------------------

def image_dataset(cfg: Config) -> str:
    if cfg.images != "auto":
        return cfg.images
    for name in ("mnist", "fashion-mnist"):
        try:
            T.load_data(T.Config(task="logreg", dataset=name, data_root=cfg.data_root,
                                 train_size=1, test_size=1))
            return name
        except DataUnavailable:
            continue
    return "segments"


def fig1(cfg: Config, out: Path) -> dict:
    dataset = image_dataset(cfg)
    # DEVIATION(D2): lambda = 1e-4 (the paper does not give it); D4: t counts iterations
    base = base_config(cfg, task="logreg", dataset=dataset, weight_decay=1e-4,
                       lr_schedule="inv-sqrt", log_every=100, eval_every=cfg.fig1_epochs,
                       ckpt_every=10**9, out=str(out / "fig1"))
    arms = {"Adam": ("adam", {}), "SGDNesterov": ("sgd", {}), "AdaGrad": ("adagrad", {})}
    r = tune_and_run(cfg, "fig1", base, arms, cfg.fig1_epochs, cfg.seeds, None)
    plot_arms(r, out / "fig1" / "fig1_logreg.png",
              f"Fig. 1 left: logistic regression, {dataset}, alpha/sqrt(t)")
    loss = {k: _mean(v["final_train_loss"]) for k, v in r.items()}
    claims = {"adam_as_fast_as_sgd_nesterov": loss["Adam"] <= 1.05 * loss["SGDNesterov"],
              "adam_faster_than_adagrad": loss["Adam"] < loss["AdaGrad"]}
    return {"dataset": dataset, "arms": r, "claims": claims}


def fig1bow(cfg: Config, out: Path) -> dict:
    dataset = "imdb" if cfg.text == "imdb" else "reviews"
    if cfg.text == "auto":
        try:
            T.load_data(T.Config(task="bow", dataset="imdb", data_root=cfg.data_root))
            dataset = "imdb"
        except (DataUnavailable, MissingPackage):
            dataset = "reviews"
    base = base_config(cfg, task="bow", dataset=dataset, dropout=0.5, log_every=50,
                       eval_every=cfg.fig1bow_epochs, ckpt_every=10**9, out=str(out / "fig1bow"))
    arms = {"Adam": ("adam", {}), "AdaGrad": ("adagrad", {}), "RMSProp": ("rmsprop", {}),
            "SGDNesterov": ("sgd", {})}
    r = tune_and_run(cfg, "fig1bow", base, arms, cfg.fig1bow_epochs, cfg.seeds, None)
    plot_arms(r, out / "fig1bow" / "fig1_bow.png",
              f"Fig. 1 right: bag of words + 50% dropout, {dataset}")
    loss = {k: _mean(v["final_train_loss"]) for k, v in r.items()}
    claims = {"adagrad_beats_sgd_nesterov": loss["AdaGrad"] < loss["SGDNesterov"],
              "adam_beats_sgd_nesterov": loss["Adam"] < loss["SGDNesterov"],
              "adam_as_fast_as_adagrad": loss["Adam"] <= 1.05 * loss["AdaGrad"]}
    return {"dataset": dataset, "arms": r, "claims": claims}


def fig2(cfg: Config, out: Path) -> dict:
    dataset = image_dataset(cfg)
    seeds = cfg.seeds[:cfg.fig2_seeds]
    result = {"dataset": dataset, "settings": {}, "claims": {}}
    # DEVIATION(D10): fig2_epochs (5 on the CPU; paper ~200), and no SFO among the rivals
    # DEVIATION(D5): dropout 0.2 on the pixels, 0.5 on hidden units (the paper gives no rates)
    for setting, drop in (("dropout", {"dropout": 0.5, "input_dropout": 0.2}),
                          ("deterministic", {})):
        base = base_config(cfg, task="mlp", dataset=dataset, log_every=50,
                           eval_every=cfg.fig2_epochs, ckpt_every=10**9,
                           out=str(out / "fig2" / setting), **drop)
        arms = {NAMES[o]: (o, {}) for o in ("adam", "adagrad", "rmsprop", "sgd", "adadelta")}
        r = tune_and_run(cfg, "fig2", base, arms, cfg.fig2_epochs, seeds, cfg.fig2_tune_epochs)
        loss = {k: _mean(v["final_train_loss"]) for k, v in r.items()}
        result["settings"][setting] = r
        result["claims"][f"adam_lowest_training_loss_{setting}"] = min(loss, key=loss.get) == "Adam"
    return result


def fig3(cfg: Config, out: Path) -> dict:
    seeds = cfg.seeds[:cfg.fig3_seeds]
    base = base_config(cfg, task="cnn", dataset="cifar10", data_dir=cfg.cifar_dir, log_every=20,
                       eval_every=cfg.fig3_epochs, ckpt_every=200, out=str(out / "fig3"))
    # DEVIATION(D6): on the CPU a 10k-image subset and 10 epochs (paper: 50k, 45 epochs)
    base = dataclasses.replace(base, train_size=cfg.fig3_train_size or cfg.train_size)
    T.load_data(dataclasses.replace(base, train_size=1, test_size=1))  # DataUnavailable early
    arms = {}
    for o in ("adagrad", "sgd", "adam"):
        arms[NAMES[o]] = (o, {})
        arms[f"{NAMES[o]}+dropout"] = (o, {"dropout": 0.5, "input_dropout": 0.2})
    r = tune_and_run(cfg, "fig3", base, arms, cfg.fig3_epochs, seeds, cfg.fig3_tune_epochs)
    size = cfg.fig3_train_size or "all"
    plot_arms(r, out / "fig3" / "fig3_cnn.png",
              f"Fig. 3: c64-c64-c128-1000 CNN, CIFAR-10 ({size} images)")
    loss = {k: _mean(v["final_train_loss"]) for k, v in r.items()}
    claims = {}
    for suffix in ("", "+dropout"):
        claims[f"adam{suffix}_beats_adagrad{suffix}"] = loss[f"Adam{suffix}"] < loss[
            f"AdaGrad{suffix}"]
        claims[f"sgd{suffix}_beats_adagrad{suffix}"] = loss[f"SGDNesterov{suffix}"] < loss[
            f"AdaGrad{suffix}"]
    return {"dataset": "cifar10", "train_size": cfg.fig3_train_size, "arms": r, "claims": claims}


def fig4(cfg: Config, out: Path) -> dict:
    dataset = image_dataset(cfg)
    early, late = cfg.fig4_epochs
    base = base_config(cfg, task="vae", dataset=dataset, log_every=50, eval_every=early,
                       ckpt_every=10**9, out=str(out / "fig4"))
    # DEVIATION(D8): 20k images, 2 and 10 epochs on the CPU (paper: 60k, 10 and 100 epochs)
    base = dataclasses.replace(base, train_size=cfg.fig4_train_size or cfg.train_size,
                               test_size=cfg.test_size or 2000)
    grid = [(b1, b2, lr, bc) for b1 in (0.0, 0.9) for b2 in (0.99, 0.999, 0.9999)
            for lr in cfg.fig4_lrs for bc in (True, False)]
    runs = [with_run(base, "adam", lr, cfg.seeds[0], late,
                     f"b1{b1:g}-b2{b2:g}-{'bc' if bc else 'nobc'}", beta1=b1, beta2=b2,
                     bias_correction=bc) for b1, b2, lr, bc in grid]
    run_all(cfg, runs)
    points = []
    for (b1, b2, lr, bc), run in zip(grid, runs, strict=True):
        losses = {}
        summary = json.loads((Path(run.out) / "summary.json").read_text())
        if not summary.get("diverged"):
            rows = read_metrics(Path(run.out) / "metrics.jsonl")
            per_epoch = {round(r["step"] / max(1, summary["steps"]) * late, 2): r["loss"]
                         for r in rows if r.get("split") == "test"}
            losses = {e: per_epoch.get(float(e)) for e in (early, late)}
        points.append({"beta1": b1, "beta2": b2, "lr": lr, "bias_correction": bc,
                       "loss": {str(e): _finite(losses.get(e)) for e in (early, late)}})

    def best(b1: float, b2: float, bc: bool, e: float) -> float:  # over the step sizes
        vals = [p["loss"][str(e)] for p in points if (p["beta1"], p["beta2"],
                p["bias_correction"]) == (b1, b2, bc) and p["loss"][str(e)] is not None]
        return min(vals, default=math.inf)

    claims = {f"bias_correction_helps_beta1_{b1:g}_beta2_{b2:g}_epoch_{e:g}":
              best(b1, b2, True, e) < best(b1, b2, False, e)
              for b1 in (0.0, 0.9) for b2 in (0.999, 0.9999) for e in (early, late)}
    return {"dataset": dataset, "epochs": list(cfg.fig4_epochs), "points": points,
            "claims": claims}


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def diverged(loss: float | None) -> bool:
    """A run diverged when its loss became NaN or inf: training stopped (NonFiniteLoss) and
    results.json holds null for it."""
    return loss is None or not math.isfinite(loss)


def figures(results: dict, out: Path) -> list[Path]:
    """Fig. 2 (fig2.png) and Fig. 4 (fig4_bias_correction.png) from the results alone, for the
    experiments the results hold."""
    paths = []
    if "fig2" in results:
        paths.append(plot_fig2(results["fig2"], results.get("config", {}), out / "fig2.png"))
    if "fig4" in results:
        paths.append(plot_fig4(results["fig4"], out / "fig4_bias_correction.png"))
    return paths


def plot_fig2(r: dict, config: dict, path: Path) -> Path:
    """Fig. 2's comparison at the end of training: each optimizer's final training loss, every
    seed a point and the mean a bar, best first, one panel per setting; diverged seeds marked."""

    from milestones.core.plots import subplots

    settings = r["settings"]
    fig, axes = subplots(1, len(settings), figsize=(5.2 * len(settings), 4.4), dpi=110,
                             squeeze=False)
    for ax, (setting, arms) in zip(axes[0], settings.items(), strict=True):
        order = sorted(arms, key=lambda k: _mean([math.inf if diverged(x) else x
                                                  for x in arms[k]["final_train_loss"]]))
        finite = [x for a in arms.values() for x in a["final_train_loss"] if not diverged(x)]
        if finite and max(finite) / min(finite) > 10:
            ax.set_yscale("log")
        for i, label in enumerate(order):
            losses = arms[label]["final_train_loss"]
            color = "tab:red" if label == "Adam" else "tab:blue"
            xs = [i + 0.1 * (j - (len(losses) - 1) / 2) for j in range(len(losses))]
            ok = [(x, y) for x, y in zip(xs, losses, strict=True) if not diverged(y)]
            ax.scatter([x for x, _ in ok], [y for _, y in ok], s=30, color=color, zorder=3)
            if len(ok) == len(losses):
                ax.hlines(_mean(losses), i - 0.3, i + 0.3, color=color, lw=2.5)
            bad = [x for x, y in zip(xs, losses, strict=True) if diverged(y)]
            ax.scatter(bad, [0.97] * len(bad), marker="x", s=40, color=color,
                       transform=ax.get_xaxis_transform(), clip_on=False)
            if bad:
                ax.annotate("diverged", (i, 0.97), xycoords=("data", "axes fraction"),
                            xytext=(0, -12), textcoords="offset points", ha="center",
                            fontsize=7)
        ax.set_xticks(range(len(order)), [f"{k}\nlr {arms[k]['lr']:g}" for k in order],
                      fontsize=8)
        ax.set_xlim(-0.6, len(order) - 0.4)
        ax.set_title("with dropout" if setting == "dropout" else
                     "without dropout" if setting == "deterministic" else setting)
        ax.set_ylabel("final training loss (nats)")
        ax.grid(alpha=0.3, axis="y")
    epochs = config.get("fig2_epochs")
    seeds = max(len(a["final_train_loss"]) for arms in settings.values() for a in arms.values())
    fig.suptitle(f"Fig. 2: 2 x 1000 ReLU MLP on {r.get('dataset')}, after "
                 f"{f'{epochs:g}' if epochs is not None else '?'} epochs (paper ~"
                 f"{paper().fig2_epochs}), {seeds} seed(s), best first\n"
                 "dots: seeds, bars: mean; each optimizer at its best learning rate on seed 0",
                 fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_fig4(r: dict, path: Path) -> Path:
    """Fig. 4's layout: test loss against log10(alpha), one panel per (epoch, beta1), one colour
    per beta2, solid with bias correction, dashed without. A diverged run (see ``diverged``) is
    no loss: it is an x in the band above the losses, upper row without correction, lower with."""
    import matplotlib.pyplot as plt

    from milestones.core.plots import subplots

    points, epochs = r["points"], r["epochs"]
    beta1s = sorted({p["beta1"] for p in points})
    beta2s = sorted({p["beta2"] for p in points})
    colors = dict(zip(beta2s, ("tab:blue", "tab:green", "tab:red", "tab:purple"), strict=False))
    fig, axes = subplots(len(epochs), len(beta1s), figsize=(5.2 * len(beta1s),
                             3.9 * len(epochs)), dpi=110, squeeze=False)
    for row, e in enumerate(epochs):
        finite = [p["loss"][str(e)] for p in points if not diverged(p["loss"][str(e)])]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        span = hi - lo or 1.0
        top = hi + 0.05 * span  # the losses end here; the band of diverged runs is above
        band = {False: top + 0.30 * span, True: top + 0.14 * span}  # row per correction
        for col, b1 in enumerate(beta1s):
            ax = axes[row, col]
            for k, b2 in enumerate(beta2s):
                for bc, style in ((True, "-"), (False, "--")):
                    pts = sorted((p["lr"], p["loss"][str(e)]) for p in points
                                 if (p["beta1"], p["beta2"], p["bias_correction"]) == (b1, b2, bc))
                    xs = [math.log10(lr) for lr, _ in pts]
                    ys = [math.nan if diverged(v) else v for _, v in pts]
                    ax.plot(xs, ys, style, color=colors[b2], marker="o" if bc else "s",
                            ms=4, mfc=colors[b2] if bc else "white",
                            label=f"beta2={b2:g}, {'with' if bc else 'no'} correction")
                    bad = [x + 0.12 * (k - (len(beta2s) - 1) / 2)
                           for x, y in zip(xs, ys, strict=True) if math.isnan(y)]
                    ax.scatter(bad, [band[bc]] * len(bad), marker="x", s=36, color=colors[b2],
                               lw=1.8, zorder=3)
            ax.axhline(top + 0.04 * span, color="0.5", lw=0.8)
            ticks = [t for t in plt.MaxNLocator(5).tick_values(lo, hi) if lo - 0.05 * span <= t
                     <= top]
            ax.set_yticks(ticks + [band[True], band[False]], [f"{t:g}" for t in ticks]
                          + ["diverged, corrected", "diverged, no corr."])
            ax.set_ylim(lo - 0.05 * span, top + 0.40 * span)
            ax.set_xticks(sorted({math.log10(p["lr"]) for p in points}))
            ax.set_title(f"beta1={b1:g}, after {e:g} epochs")
            ax.set_xlabel("log10(alpha)")
            ax.set_ylabel("test loss (-ELBO, nats)")
            ax.grid(alpha=0.3)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8,
               frameon=False)
    fig.suptitle(f"Fig. 4: bias correction, VAE on {r.get('dataset')}, one seed per point\n"
                 "x: diverged (the loss became NaN or inf and training stopped), not a loss",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def play(cfg: Config, out: Path) -> dict:
    (out / "playground").mkdir(parents=True, exist_ok=True)
    return {name: playground.plot(name, out / "playground" / f"{name}.png")
            for name in playground.FUNCTIONS}


# ---- report -------------------------------------------------------------------------------------

def markdown(cfg: Config, results: dict, env: dict) -> str:
    lines = ["# Adam: the paper's experiments in miniature (§6, Figs. 1-4)", "",
             f"Command: `python -m milestones.adam.reproduce --preset {cfg.preset}"
             + (f" --cifar-dir {cfg.cifar_dir}" if cfg.cifar_dir else "") + "`  ",
             f"Hardware: {env.get('device_name')} ({env.get('device')}), {cfg.jobs} runs at a "
             f"time; torch {env.get('torch')}, git {str(env.get('git_sha'))[:10]}, "
             f"{env.get('started')}; {results['wall_time_s'] / 60:.0f} min wall", "",
             "Learning rates: the best of each grid on seed 0 (the paper: \"searched over a dense "
             "grid\"); a best rate at the grid's edge extended the grid past it, up to "
             f"{cfg.extend_edges} times per optimizer; \"(grid edge)\": the chosen rate is still "
             "at an edge of every rate tried. Losses are the last training-log window, mean ± std "
             "over seeds.", ""]
    for fig in ("fig1", "fig1bow", "fig2", "fig3"):
        if fig not in results:
            continue
        r = results[fig]
        lines += [f"## {fig}: {PAPER[fig]}", "", f"Data: {r['dataset']}", ""]
        tables = r["settings"].items() if fig == "fig2" else [("", r["arms"])]
        for setting, arms in tables:
            if setting:
                lines += [f"**{setting}**", ""]
            lines += ["| optimizer | lr | final training loss | test error | grid (lr: loss) |",
                      "|---|---|---|---|---|"]
            for label, a in arms.items():
                err = [t.get("error") for t in a["final_test"] if t.get("error") is not None]
                grid = ", ".join(f"{k}: {v:.3g}" for k, v in a["grid"].items())
                if a.get("extended"):
                    grid += f" (extended past the edge: {', '.join(a['extended'])})"
                edge = " (grid edge)" if a.get("at_edge") else ""
                lines.append(f"| {label} | {a['lr']:g}{edge} | {_fmt(a['final_train_loss'])} | "
                             f"{_fmt([100 * e for e in err], 2) + '%' if err else '-'} | {grid} |")
            lines.append("")
        lines += ["Claims: " + ", ".join(f"{k.replace('_', ' ')}: **{'yes' if v else 'no'}**"
                                         for k, v in r["claims"].items()), ""]
    if "fig4" in results:
        r = results["fig4"]
        lines += [f"## fig4: {PAPER['fig4']}", "", f"Data: {r['dataset']}; test loss (-ELBO) "
                  f"after {r['epochs'][0]:g} and {r['epochs'][1]:g} epochs, one seed per point; "
                  "'-' = diverged.", "",
                  "| beta1 | beta2 | correction | " + " | ".join(
                      f"alpha={lr:g}" for lr in cfg.fig4_lrs) + " |",
                  "|---|---|---|" + "---|" * len(cfg.fig4_lrs)]
        e = str(r["epochs"][1])
        for b1 in (0.0, 0.9):
            for b2 in (0.99, 0.999, 0.9999):
                for bc in (True, False):
                    row = [p["loss"][e] for p in r["points"] if (p["beta1"], p["beta2"],
                           p["bias_correction"]) == (b1, b2, bc)]
                    lines.append(f"| {b1:g} | {b2:g} | {'yes' if bc else 'no'} | " + " | ".join(
                        "-" if v is None else f"{v:.1f}" for v in row) + " |")
        lines += ["", "Claims: " + ", ".join(f"{k.replace('_', ' ')}: **{'yes' if v else 'no'}**"
                                             for k, v in r["claims"].items()), ""]
    if "playground" in results:
        lines += ["## playground: distance to the minimum after 3000 steps", "",
                  "| function | " + " | ".join(next(iter(results["playground"].values()))) + " |",
                  "|---|" + "---|" * len(next(iter(results["playground"].values())))]
        for name, d in results["playground"].items():
            lines.append(f"| {name} | " + " | ".join(f"{v:.2g}" for v in d.values()) + " |")
    return "\n".join(lines) + "\n"


def main(cfg: Config) -> dict:
    t0, out = time.time(), Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    steps = {"fig1": fig1, "fig1bow": fig1bow, "fig2": fig2, "fig3": fig3, "fig4": fig4,
             "playground": play}
    results: dict = {"config": dataclasses.asdict(cfg)}
    for fig in cfg.figures:
        print(f"reproduce: {fig} ...", flush=True)
        results[fig] = steps[fig](cfg, out)
    figures(results, out)
    results["wall_time_s"] = round(time.time() - t0, 1)
    env = environment(torch.device("cpu"))
    results["env"] = env
    write_results(out, results, markdown(cfg, results, env))
    return results


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
