"""SimCLR's claims in miniature on CPU: ``python -m milestones.simclr.reproduce``.

    python -m milestones.simclr.reproduce --cifar-dir cifar10/   # the real CIFAR-10, CPU
    python -m milestones.simclr.reproduce --preset smoke         # seconds (tests)

Every run pre-trains the same small encoder (a ResNet-18 at width 8 with the CIFAR stem) on a
subset of the real CIFAR-10 for a short budget, and is judged by linear evaluation on frozen
features and by k-NN (train/test split of CIFAR-10, 10 classes):

1. Fig. 5, composition of augmentations: every single operation of T and every ordered pair of
   them; the pairs should beat the singles, crop + colour the best.
2. Fig. 8 / §4.2, the projection head: non-linear, linear and no head, 3 seeds; linear
   evaluation of h (before the head) and of z (after it): h > z, non-linear > linear > none.
3. §5.1 / Table 5, temperature and l2 normalisation: tau in {0.05, 0.1, 0.5, 1}, with and
   without normalising z.
4. Contrastive pre-training against a randomly initialised encoder (the same evaluation) and the
   supervised baseline (the same encoder, augmentation and budget, trained with labels), 3 seeds.
5. §6 / Table 7 in miniature, semi-supervised: the pre-trained encoders of claim 4 and randomly
   initialised ones fine-tuned on 1% and 10% of the training labels (class-balanced), 3 seeds.
Plus a PCA picture of the learned representation coloured by class.

Writes results.md, results.json and the figures beside the paper's numbers.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path

import torch

from milestones.core.config import require
from milestones.core.jobs import ReproduceConfig, map_runs, prepare, train_or_reuse
from milestones.core.metrics import read_metrics
from milestones.core.report import fmt, over_seeds, paired_difference, totals, write_results
from milestones.core.run import cli
from milestones.simclr import evaluate as E
from milestones.simclr import train as T
from milestones.simclr.augment import Augmentation, augment
from milestones.simclr.data import labelled_fraction, load_data

PARTS = ("augmentations", "head", "temperature", "baselines", "finetune")
FRACTIONS = (0.01, 0.1)
FIG5_OPS = ("crop", "cutout", "color", "sobel", "noise", "blur", "rotate")
TEMPERATURES = (0.05, 0.1, 0.5, 1.0)
HEADS = ("nonlinear", "linear", "none")
BASELINES = {  # the supervised baseline: the same encoder and budget, the usual crop + flip
    "simclr": {"objective": "simclr"},
    "supervised": {"objective": "supervised", "augmentations": ("crop",)}}
PAPER = {  # ImageNet, ResNet-50, linear evaluation: what the paper's text says of each figure
    "fig5": "no single transformation suffices to learn good representations; random crop "
            "composed with colour distortion stands out (§3.1)",
    "fig8": "a non-linear projection is better than a linear one (+3%) and much better than "
            "none (>10%); h, before the head, is better than z, after it (>10%) (§4.2)",
    "table5": "with l2 normalisation and a suitable temperature the representation is best; "
              "without it the contrastive accuracy is higher but the representation worse "
              "(§5.1)",
    "cifar10_resnet50": 94.0,  # App. B.9, 1000 epochs, linear evaluation (%)
    "imagenet_resnet50": 69.3,  # abstract / Table 6, linear evaluation top-1 (%)
}


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Reproduce SimCLR's claims in miniature."""

    preset: str = "cpu"
    """cpu (the real CIFAR-10 on 2 cores), smoke (seconds, for tests)."""
    out: str = "runs/simclr/reproduce"
    parts: tuple[str, ...] = PARTS
    """Which of augmentations, head, temperature, baselines, finetune (fine-tunes baselines'
    pre-trained encoders: give both)."""
    cifar_dir: str | None = None
    """CIFAR-10's folder (torchvision's files, or train/<class>/*, test/<class>/* images);
    default <data root>/cifar10."""
    data_root: str | None = None
    """Data root; default $MILESTONES_DATA, else ~/.cache/milestones."""
    train_size: int = 8000
    """CIFAR-10 training images each run sees (val_size of them held out)."""
    val_size: int = 1000
    """Held-out training images (k-NN monitor, the linear classifier's l2 choice)."""
    test_size: int = 5000
    """Test images of the final evaluations."""
    width: int = 8
    """Filters of the ResNet-18's first stage (64 in full)."""
    epochs: int = 12
    """Pre-training epochs of every run."""
    batch_size: int = 256
    """Minibatch N of every run."""
    lr: float = 4.0
    """LARS base learning rate (x B/256) of every run: the quick preset's (App. B.9's 1.0 moves
    too little in a few hundred steps)."""
    fine_tune_steps: int = 300
    """Updates of each fine-tuning (batch 256, or every labelled image when fewer)."""
    fig5_ops: tuple[str, ...] = ("crop", "cutout", "color", "blur")
    """The operations of the Fig. 5 grid (every single one and every ordered pair)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(set(self.parts) <= set(PARTS), self, "parts", f"choose from {', '.join(PARTS)}")
        require("finetune" not in self.parts or "baselines" in self.parts, self, "parts",
                "finetune uses the baselines part's runs: give both")
        require(set(self.fig5_ops) <= set(FIG5_OPS) and len(self.fig5_ops) >= 2, self,
                "fig5_ops", f"at least two of {', '.join(FIG5_OPS)}")
        for field in ("train_size", "val_size", "test_size", "width", "epochs", "batch_size",
                      "lr", "fine_tune_steps"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(self.train_size > self.val_size + self.batch_size, self, "train_size",
                "must exceed --val-size by at least one batch")


def cpu() -> Config:
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", seeds=(0,), jobs=1, fig5_ops=("crop", "color"),
                  train_size=200, val_size=40, test_size=40, width=4, epochs=1, batch_size=32,
                  fine_tune_steps=2)


PRESETS = {"cpu": cpu, "smoke": smoke}


# ---- the runs ------------------------------------------------------------------------------------

def run_config(cfg: Config, seed: int, **changes) -> T.Config:
    """One pre-training run: the common miniature, with ``changes`` (named in its folder)."""
    name = "-".join(f"{k}={'+'.join(v) if isinstance(v, tuple) else v}"
                    for k, v in sorted(changes.items())) or "default"
    base = dict(model="resnet18", width=cfg.width, dataset="cifar10", data_dir=cfg.cifar_dir,
                train_size=cfg.train_size, val_size=cfg.val_size, test_size=cfg.test_size,
                batch_size=cfg.batch_size, epochs=cfg.epochs, warmup_epochs=1, lr=cfg.lr,
                log_every=10, eval_every=10**9, ckpt_every=200, knn_bank=cfg.train_size,
                eval_random=True)
    if cfg.preset == "smoke":
        base.update(model="tiny", proj_dim=8, knn_k=10, linear_max_iter=10, ckpt_every=4,
                    dataset="shapes", data_dir=None)
    return T.Config(**{**base, **changes}, preset=f"reproduce-{cfg.preset}", seed=seed,
                    device=cfg.device, data_root=cfg.data_root, progress=False, resume=True,
                    out=str(Path(cfg.out) / "runs" / f"{name}-s{seed}"))


def _train(run: T.Config, threads: int) -> dict:
    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run, lambda s: s["stopped"] is None and "linear" in s,
                          divergence=True)


def _fine_tune(job: tuple[T.Config, float, bool, int], threads: int) -> dict:
    """§6: fine-tune a run's pre-trained encoder (or a randomly initialised one, the same
    architecture and seed) on ``fraction`` of its training labels; the result is kept in the
    run's folder and reused."""
    run, fraction, pretrained, steps = job
    path = Path(run.out) / f"fine-tune-{fraction:g}-{'pretrained' if pretrained else 'random'}.json"
    if path.is_file():
        return json.loads(path.read_text())
    torch.set_num_threads(threads)
    data = load_data(run.dataset, data_dir=run.data_dir, root=run.data_root,
                     val_size=run.val_size, train_size=run.train_size, test_size=run.test_size)
    if pretrained:
        model = T.load_trained(run.out)
    else:
        torch.manual_seed(run.seed)
        model = T.build_model(run, tuple(data.train.x.shape[1:]))
    aug = Augmentation(size=data.train.x.shape[-1], ops=("crop",), flip=True)
    labelled = labelled_fraction(data.train, fraction, seed=run.seed)
    result = E.fine_tune(model.encoder.train(), model.dim_h, labelled, data.test,
                         len(data.classes), steps=steps, seed=run.seed,
                         augment=lambda x, g: augment(x, aug, g))
    result.update(seed=run.seed, fraction=fraction, pretrained=pretrained)
    path.write_text(json.dumps(result) + "\n")
    return result


def plan(cfg: Config) -> dict[str, dict]:
    """Every run of every part, by part and key; identical configurations share one run."""
    seed0 = cfg.seeds[0]
    parts: dict[str, dict] = {}
    if "augmentations" in cfg.parts:
        cells = [(a,) for a in cfg.fig5_ops] + [
            (a, b) for a, b in itertools.permutations(cfg.fig5_ops, 2)]
        parts["augmentations"] = {cell: run_config(cfg, seed0, **_default(augmentations=cell))
                                  for cell in cells}
    if "head" in cfg.parts:
        parts["head"] = {(head, s): run_config(cfg, s, **_default(head=head))
                         for head in HEADS for s in cfg.seeds}
    if "temperature" in cfg.parts:
        parts["temperature"] = {(tau, norm): run_config(cfg, seed0, **_default(
            temperature=tau, normalize=norm)) for tau in TEMPERATURES for norm in (True, False)}
    if "baselines" in cfg.parts:
        parts["baselines"] = {(obj, s): run_config(cfg, s, **_default(**BASELINES[obj]))
                              for obj in ("simclr", "supervised") for s in cfg.seeds}
    return parts


def _default(**changes) -> dict:
    """``changes`` without the entries equal to the default run's (so equal runs share a
    folder)."""
    default = {"augmentations": ("crop", "color"), "head": "nonlinear", "temperature": 0.5,
               "normalize": True, "objective": "simclr"}
    return {k: v for k, v in changes.items() if default.get(k) != v}


def main(cfg: Config) -> dict:
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = plan(cfg)
    unique = {run.out: run for runs in parts.values() for run in runs.values()}
    todo = prepare(cfg, list(unique.values()))
    print(f"reproduce: {len(todo)} runs, {cfg.jobs} at a time")
    summaries = dict(zip([r.out for r in todo], map_runs(_train, todo, cfg.jobs, threads=1),
                         strict=True))
    tuned = []
    if "finetune" in cfg.parts:
        jobs = [(run, f, pre, cfg.fine_tune_steps) for (obj, _), run in parts["baselines"].items()
                if obj == "simclr" for f in FRACTIONS for pre in (True, False)]
        tuned = map_runs(_fine_tune, jobs, cfg.jobs, threads=1)
    results: dict = {"config": dataclasses.asdict(cfg), "paper": PAPER,
                     "setup": setup(cfg, next(iter(unique.values())), summaries)}
    if "augmentations" in parts:
        results["augmentations"] = augmentation_results(parts["augmentations"], summaries)
        plot_fig5(results["augmentations"], cfg.fig5_ops, out / "fig5-augmentations.png")
    if "head" in parts:
        results["head"] = head_results(parts["head"], summaries)
        plot_head(results["head"], out / "fig8-head.png")
    if "temperature" in parts:
        results["temperature"] = temperature_results(parts["temperature"], summaries)
    if "baselines" in parts:
        results["baselines"] = baseline_results(parts["baselines"], summaries)
        plot_pca(parts["baselines"][("simclr", cfg.seeds[0])], cfg, out / "pca-features.png")
        plot_curves(parts["baselines"], out / "fig-training.png")
    if tuned:
        results["finetune"] = finetune_results(tuned)
    results["claims"] = claims(results)
    results.update(totals(summaries.values(), t0))
    write_results(out, results, markdown(cfg, results))
    return results


def setup(cfg: Config, run: T.Config, summaries: dict) -> dict:
    """What every run shares, for the tables' captions."""
    s = summaries[run.out]
    return {"encoder": f"ResNet-18 at width {cfg.width} (CIFAR stem)",
            "encoder_params": s.get("params", {}).get("encoder"),
            "train_images": cfg.train_size - cfg.val_size, "val_images": cfg.val_size,
            "test_images": cfg.test_size, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
            "optimizer": f"LARS, base lr {run.lr:g} x B/256, warm-up 1 epoch, cosine decay",
            "temperature": run.temperature, "strength": run.strength}


def _metrics(s: dict) -> dict:
    return {k: s.get(k) for k in ("linear_accuracy", "linear_accuracy_z", "knn_accuracy",
                                  "random_linear_accuracy", "random_knn_accuracy",
                                  "supervised_accuracy", "train_time_s")}


def augmentation_results(runs: dict, summaries: dict) -> dict:
    cells = {" + ".join(cell): {"ops": list(cell), **_metrics(summaries[run.out])}
             for cell, run in runs.items()}
    singles = {k: v for k, v in cells.items() if len(v["ops"]) == 1}
    pairs = {k: v for k, v in cells.items() if len(v["ops"]) == 2}
    best_pair = max(pairs, key=lambda k: pairs[k]["linear_accuracy"]) if pairs else None
    return {"cells": cells, "best_single": max(singles, key=lambda k: singles[k][
        "linear_accuracy"]), "best_pair": best_pair,
        "pairs_beating_best_single": sum(
            v["linear_accuracy"] > max(s["linear_accuracy"] for s in singles.values())
            for v in pairs.values()), "pairs": len(pairs)}


def head_results(runs: dict, summaries: dict) -> dict:
    res = {}
    for head in HEADS:
        per_seed = [{"seed": s, **_metrics(summaries[run.out])}
                    for (h, s), run in runs.items() if h == head]
        res[head] = {"runs": per_seed, **over_seeds(per_seed, ("linear_accuracy",
                                                               "linear_accuracy_z",
                                                               "knn_accuracy"))}
    return res


def temperature_results(runs: dict, summaries: dict) -> dict:
    """Per setting the final numbers, or ``diverged`` (the step the loss or the weights became
    non-finite: without normalisation z^T z / tau is unbounded)."""
    return {f"{'l2 norm' if norm else 'no l2 norm'}, tau {tau:g}": {
        "temperature": tau, "normalize": norm, "diverged": summaries[run.out].get("diverged"),
        **_metrics(summaries[run.out])} for (tau, norm), run in runs.items()}


def baseline_results(runs: dict, summaries: dict) -> dict:
    simclr = [{"seed": s, **_metrics(summaries[r.out])} for (o, s), r in runs.items()
              if o == "simclr"]
    sup = [{"seed": s, **_metrics(summaries[r.out])} for (o, s), r in runs.items()
           if o == "supervised"]
    return {"simclr": {"runs": simclr, **over_seeds(simclr, (
                "linear_accuracy", "knn_accuracy", "random_linear_accuracy",
                "random_knn_accuracy"))},
            "supervised": {"runs": sup, **over_seeds(sup, ("supervised_accuracy",
                                                           "linear_accuracy", "knn_accuracy"))}}


def finetune_results(tuned: list[dict]) -> dict:
    res = {}
    for fraction in FRACTIONS:
        entry = {}
        for pre in (True, False):
            runs = [t for t in tuned if t["fraction"] == fraction and t["pretrained"] == pre]
            entry["pretrained" if pre else "random"] = {
                "runs": runs, "labelled": runs[0]["labelled"],
                **over_seeds(runs, ("test_accuracy",))}
        # pre-trained minus random, paired by seed: is the gain told apart from the noise?
        entry["difference"] = paired_difference(entry["pretrained"]["runs"],
                                                entry["random"]["runs"], "test_accuracy")
        res[f"{fraction:g}"] = entry
    return res


def claims(r: dict) -> dict:
    """Each claim checked on the numbers (absent where its part did not run)."""
    c: dict = {}
    a = r.get("augmentations")
    if a and a["best_pair"]:
        c["Fig. 5: the best pair of operations beats the best single one"] = (
            a["cells"][a["best_pair"]]["linear_accuracy"]
            > a["cells"][a["best_single"]]["linear_accuracy"])
        c["Fig. 5: crop + colour is the best pair"] = set(
            a["cells"][a["best_pair"]]["ops"]) == {"crop", "color"}
    h = r.get("head")
    if h:
        lin = {k: h[k]["linear_accuracy"]["mean"] for k in HEADS}
        c["§4.2: h beats z (non-linear head)"] = (
            lin["nonlinear"] > h["nonlinear"]["linear_accuracy_z"]["mean"])
        c["§4.2: h beats z (linear head)"] = (
            lin["linear"] > h["linear"]["linear_accuracy_z"]["mean"])
        c["Fig. 8: non-linear head > linear head > no head"] = (
            lin["nonlinear"] > lin["linear"] > lin["none"])
    t = r.get("temperature")
    if t:
        norm = {v["temperature"]: v["linear_accuracy"] for v in t.values()
                if v["normalize"] and v["linear_accuracy"] is not None}
        # a run that diverged counts as chance-free zero: it learned no representation
        raw = [v["linear_accuracy"] or 0.0 for v in t.values() if not v["normalize"]]
        c["Table 5: with l2 normalisation, an intermediate tau (0.1 or 0.5) is best"] = max(
            norm, key=norm.get) in (0.1, 0.5)
        c["Table 5: the best normalised run beats every unnormalised one"] = max(
            norm.values()) > max(raw)
    b = r.get("baselines")
    if b:
        s = b["simclr"]
        c["pre-training beats a random encoder in linear evaluation"] = (
            s["linear_accuracy"]["mean"] > s["random_linear_accuracy"]["mean"])
        c["the supervised baseline (same budget) beats SimCLR's linear evaluation"] = (
            b["supervised"]["supervised_accuracy"]["mean"] > s["linear_accuracy"]["mean"])
    f = r.get("finetune")
    if f:
        for fraction, e in f.items():
            d = e["difference"]
            c[f"§6: fine-tuned on {100 * float(fraction):g}% of the labels, the pre-trained "
              "encoder beats a randomly initialised one (paired over seeds, the 95% interval "
              "excludes 0)"] = bool(d and d["mean"] > 0 and d["resolved"])
    return c


# ---- figures -------------------------------------------------------------------------------------

def plot_fig5(a: dict, ops: tuple[str, ...], path: Path) -> None:
    """Fig. 5's grid: row = first operation, column = second; the diagonal = the single one."""
    from milestones.core.plots import subplots

    grid = torch.full((len(ops), len(ops)), float("nan"))
    for i, first in enumerate(ops):
        for j, second in enumerate(ops):
            key = first if i == j else f"{first} + {second}"
            if key in a["cells"]:
                grid[i, j] = 100 * a["cells"][key]["linear_accuracy"]
    fig, ax = subplots(figsize=(1.1 * len(ops) + 2, 1.1 * len(ops) + 1))
    im = ax.imshow(grid, cmap="viridis")
    for i, j in itertools.product(range(len(ops)), repeat=2):
        if not torch.isnan(grid[i, j]):
            ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(len(ops)), ops, rotation=45)
    ax.set_yticks(range(len(ops)), ops)
    ax.set_xlabel("2nd transformation")
    ax.set_ylabel("1st transformation")
    ax.set_title("linear evaluation accuracy (%)")
    fig.colorbar(im)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_head(h: dict, path: Path) -> None:
    from milestones.core.plots import subplots

    fig, ax = subplots(figsize=(5, 3.5))
    xs = range(len(HEADS))
    for key, label, shift in (("linear_accuracy", "h (before the head)", -0.15),
                              ("linear_accuracy_z", "z = g(h)", 0.15)):
        means = [100 * h[k][key]["mean"] if key in h[k] else float("nan") for k in HEADS]
        stds = [100 * h[k][key]["std"] if key in h[k] else 0 for k in HEADS]
        ax.bar([x + shift for x in xs], means, 0.3, yerr=stds, label=label)
    ax.set_xticks(list(xs), HEADS)
    ax.set_ylabel("linear evaluation accuracy (%)")
    ax.set_title("projection head (Fig. 8 in miniature)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_curves(runs: dict, path: Path) -> None:
    from milestones.core.plots import subplots

    fig, axes = subplots(1, 2, figsize=(9, 3.5))
    for (objective, seed), run in runs.items():
        records = [r for r in read_metrics(Path(run.out) / "metrics.jsonl")
                   if r.get("split") == "train"]
        for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
            ax.plot([r["epoch"] for r in records], [r[key] for r in records],
                    color="C0" if objective == "simclr" else "C1", alpha=0.7,
                    label=f"{objective}" if seed == min(s for _, s in runs) else None)
    axes[0].set_ylabel("training loss (NT-Xent / cross-entropy)")
    axes[1].set_ylabel("positive is nearest / label accuracy")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_pca(run: T.Config, cfg: Config, path: Path) -> None:
    """The test images' h projected on its first two principal components, by class."""
    from milestones.core.plots import subplots

    model = T.load_trained(run.out)
    data = load_data(run.dataset, data_dir=run.data_dir, root=run.data_root,
                     val_size=run.val_size, train_size=run.train_size,
                     test_size=run.test_size)
    test = data.test.subset(2000)
    h = E.encode(model.encoder, test.x)
    h = h - h.mean(0)
    _, _, v = torch.pca_lowrank(h, q=2, center=False)
    xy = h @ v[:, :2]  # (N, 2)
    fig, ax = subplots(figsize=(5.5, 4.5))
    for c, name in enumerate(data.classes):
        m = test.y == c
        ax.scatter(xy[m, 0], xy[m, 1], s=3, alpha=0.6, label=name)
    ax.set_title("PCA of h (test images), by class")
    ax.legend(markerscale=4, fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ---- the table -----------------------------------------------------------------------------------

def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def pct_stat(stat: dict | None) -> str:
    return fmt({k: 100 * v if k != "n" else v for k, v in stat.items()}, 1) if stat else "-"


def markdown(cfg: Config, r: dict) -> str:
    s = r["setup"]
    lines = ["# SimCLR in miniature", "",
             f"{s['encoder']}, {s['train_images']} CIFAR-10 training images, {s['epochs']} "
             f"epochs at batch {s['batch_size']}, {s['optimizer']}; linear evaluation "
             f"(L-BFGS logistic regression on frozen h) and k-NN on {s['test_images']} test "
             "images. Accuracies in %.", ""]
    a = r.get("augmentations")
    if a:
        lines += ["## Fig. 5: composition of augmentations (seed 0)", "",
                  "| operations | linear | k-NN |", "|---|---|---|"]
        for name, v in sorted(a["cells"].items(), key=lambda kv: -kv[1]["linear_accuracy"]):
            lines.append(f"| {name} | {pct(v['linear_accuracy'])} | {pct(v['knn_accuracy'])} |")
        lines += ["", f"Paper (ImageNet): {PAPER['fig5']}.", ""]
    h = r.get("head")
    if h:
        lines += ["## Fig. 8: the projection head (mean ± std over seeds)", "",
                  "| head | linear on h | linear on z | k-NN on h |", "|---|---|---|---|"]
        for head in HEADS:
            v = h[head]
            lines.append(f"| {head} | {pct_stat(v.get('linear_accuracy'))} | "
                         f"{pct_stat(v.get('linear_accuracy_z'))} | "
                         f"{pct_stat(v.get('knn_accuracy'))} |")
        lines += ["", f"Paper (ImageNet): {PAPER['fig8']}.", ""]
    t = r.get("temperature")
    if t:
        lines += ["## Table 5: temperature and l2 normalisation (seed 0)", "",
                  "| setting | linear | k-NN |", "|---|---|---|"]
        for name, v in t.items():
            if v["diverged"]:
                lines.append(f"| {name} | diverged ({v['diverged'].split(';')[0]}) | - |")
            else:
                lines.append(f"| {name} | {pct(v['linear_accuracy'])} | "
                             f"{pct(v['knn_accuracy'])} |")
        lines += ["", f"Paper (ImageNet): {PAPER['table5']}.", ""]
    b = r.get("baselines")
    if b:
        sm, sup = b["simclr"], b["supervised"]
        lines += ["## Pre-trained vs random encoder vs supervised (mean ± std over seeds)", "",
                  "| encoder | linear | k-NN |", "|---|---|---|",
                  f"| SimCLR pre-trained | {pct_stat(sm.get('linear_accuracy'))} | "
                  f"{pct_stat(sm.get('knn_accuracy'))} |",
                  f"| random initialisation | {pct_stat(sm.get('random_linear_accuracy'))} | "
                  f"{pct_stat(sm.get('random_knn_accuracy'))} |",
                  f"| supervised, same budget (its own classifier) | "
                  f"{pct_stat(sup.get('supervised_accuracy'))} | "
                  f"{pct_stat(sup.get('knn_accuracy'))} |", ""]
    f = r.get("finetune")
    if f:
        lines += ["## §6: fine-tuning on a fraction of the labels (mean ± std over seeds)", "",
                  "| labels | pre-trained encoder | random initialisation | difference (95% "
                  "interval) |", "|---|---|---|---|"]
        for fraction, e in f.items():
            d = e["difference"]
            diff = "-" if not d else (f"{100 * d['mean']:+.1f} ± {100 * d['ci95']:.1f}"
                                      if d["ci95"] is not None else f"{100 * d['mean']:+.1f}")
            lines.append(f"| {100 * float(fraction):g}% ({e['pretrained']['labelled']} images) "
                         f"| {pct_stat(e['pretrained'].get('test_accuracy'))} | "
                         f"{pct_stat(e['random'].get('test_accuracy'))} | {diff} |")
        lines.append("")
    lines += ["## Claims", ""] + [f"- {'yes' if ok else 'NO'}: {claim}"
                                   for claim, ok in r["claims"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
