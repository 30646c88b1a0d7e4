"""The GAN and DCGAN claims in miniature on CPU: ``python -m milestones.gan.reproduce``.

    python -m milestones.gan.reproduce --cifar-dir cifar10/   # CPU, about 40 minutes on 2 cores
    python -m milestones.gan.reproduce --preset smoke         # seconds (tests)

1. §3, the generator's objective: the released MNIST GAN trained with the minimax objective
   log(1 - D(G(z))) and with the non-saturating -log D(G(z)), 3 seeds each: G's gradient norm,
   D's outputs and the losses over training, and the final Parzen estimate and FID.
2. Fig. 1 in spirit: the 2-D mixtures (8 Gaussians on a ring, 25 on a grid) over training, for
   the GAN's ingredients (maxout D with dropout) with the released SGD and with DCGAN's Adam, and
   for DCGAN's ingredients (batch norm, LeakyReLU, Adam): modes covered and high-quality samples
   over time, 3 seeds; sample snapshots of seed 0 as a PNG strip and an animated GIF.
3. Table 1: the Parzen-window estimate of the non-saturating GANs of claim 1 on the real MNIST
   test set, beside the paper's rows and two references measured the same way: the training set
   itself as the "generator", and a mixture of diagonal Gaussians fitted by EM.
4. DCGAN §5.1: a DCGAN trained on CIFAR-10; a linear classifier on its discriminator's features
   (every layer max-pooled to 4x4, concatenated) against the same classifier on a randomly
   initialised discriminator's features and on the pixels, at several label budgets.
Plus the quick preset's DCGAN on Fashion-MNIST for a sample grid and a latent interpolation
(DCGAN Fig. 4).

Writes results.md, results.json and the figures beside the paper's numbers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from milestones.adam import Adam
from milestones.core.config import require
from milestones.core.jobs import ReproduceConfig, map_runs, prepare, train_or_reuse
from milestones.core.metrics import read_metrics
from milestones.core.report import fmt, mean_std, over_seeds, totals, write_results
from milestones.core.run import cli
from milestones.gan import evaluate as E
from milestones.gan import train as T
from milestones.gan.data import load_data, to_model

PARTS = ("objective", "mixtures", "table1", "features", "fashion")
PAPER_TABLE1 = {  # MNIST Parzen-window log-likelihood (nats), mean ± s.e. (Table 1)
    "DBN": (138, 2), "Stacked CAE": (121, 1.6), "Deep GSN": (214, 1.1),
    "Adversarial nets": (225, 2)}
PAPER_CIFAR = 82.8  # DCGAN §5.1: D trained on ImageNet-1k, L2-SVM on all CIFAR-10 labels
ARMS = {  # the 2-D mixtures: name -> Config overrides
    "GAN: maxout D + dropout, SGD (mnist.yaml)": dict(model="gan"),
    "GAN: maxout D + dropout, Adam (DCGAN §4)": dict(model="gan", optimizer="adam"),
    "DCGAN: batch norm + LeakyReLU, Adam": dict(model="dcgan"),
}


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Reproduce the GAN and DCGAN claims in miniature."""

    preset: str = "cpu"
    """cpu (about 40 minutes on 2 cores), smoke (seconds, for tests)."""
    out: str = "runs/gan/reproduce"
    parts: tuple[str, ...] = PARTS
    """Which of objective, mixtures, table1 (needs objective's runs), features, fashion."""
    mnist_steps: int = 5000
    """Generator steps of each MNIST GAN (10 epochs of 50k at m = 100)."""
    mixture_steps: int = 10_000
    """Generator steps of each 2-D mixture run."""
    snapshots: int = 10
    """Sample snapshots of seed 0's mixture runs (the GIF's frames)."""
    cifar_steps: int = 4000
    """Generator steps of the CIFAR-10 DCGAN (about 10 epochs at m = 128)."""
    cifar_dir: str | None = None
    """CIFAR-10's folder (torchvision's files, or train/<class>/*, test/<class>/* images);
    default <data root>/cifar10."""
    label_budgets: tuple[int, ...] = (1000, 10_000, 50_000)
    """Labelled training images the linear classifiers of §5.1 see (balanced draws)."""
    gmm_components: int = 20
    """Components of Table 1's mixture-of-Gaussians reference."""
    data_root: str | None = None
    """Data root (datasets, the FID classifiers' cache); default $MILESTONES_DATA, else
    ~/.cache/milestones."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(set(self.parts) <= set(PARTS), self, "parts", f"choose from {', '.join(PARTS)}")
        require("table1" not in self.parts or "objective" in self.parts, self, "parts",
                "table1 uses the objective part's runs: give both")
        for field in ("mnist_steps", "mixture_steps", "snapshots", "cifar_steps",
                      "gmm_components"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(all(b > 0 for b in self.label_budgets), self, "label_budgets", "must be > 0")


def cpu() -> Config:
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", seeds=(0,), jobs=1, mnist_steps=6, mixture_steps=6,
                  snapshots=2, cifar_steps=4, label_budgets=(64,), gmm_components=2)


PRESETS = {"cpu": cpu, "smoke": smoke}


# ---- the runs ------------------------------------------------------------------------------------

def _common(cfg: Config, name: str, seed: int) -> dict:
    return dict(preset=f"reproduce-{cfg.preset}", seed=seed, device=cfg.device,
                data_root=cfg.data_root, progress=False, resume=True,
                out=str(Path(cfg.out) / "runs" / f"{name}-s{seed}"))


def objective_config(cfg: Config, saturating: bool, seed: int) -> T.Config:
    """The released MNIST GAN (paper preset) for mnist_steps; minimax or non-saturating G."""
    name = "mnist-minimax" if saturating else "mnist-nonsaturating"
    if cfg.preset == "smoke":  # a tiny MLP GAN on the built-in shapes
        base = dataclasses.replace(T.smoke(), model="gan", hidden=16, units=8, pieces=2)
    else:
        base = dataclasses.replace(T.paper(), log_every=50, eval_every=cfg.mnist_steps // 5,
                                   ckpt_every=cfg.mnist_steps // 5)
    return dataclasses.replace(base, steps=cfg.mnist_steps, saturating=saturating,
                               **_common(cfg, name, seed))


def mixture_config(cfg: Config, mixture: str, arm: str, seed: int) -> T.Config:
    """An MLP pair on a 2-D mixture: two hidden layers of 128 in G and D (maxout units: 5 pieces),
    z of 16 dimensions, m = 128; no dropout on D's input (mnist.yaml drops 20% of the pixels;
    on 2-D points it would drop a coordinate)."""
    every = max(1, cfg.mixture_steps // 20)
    name = f"{mixture}-{arm.split(':')[0].lower()}-{ARMS[arm].get('optimizer', 'auto')}"
    return T.Config(dataset=mixture, nz=16, hidden=128, units=128, input_dropout=0.0,
                    batch_size=128, train_size=50_000, val_size=2000, test_size=2000,
                    steps=cfg.mixture_steps, log_every=every, eval_every=every,
                    ckpt_every=cfg.mixture_steps, eval_samples=2500, eval_val=2000,
                    parzen_samples=2500, **ARMS[arm], **_common(cfg, name, seed))


def cifar_config(cfg: Config) -> T.Config:
    """DCGAN at 32x32 (width 32, kernel 4) on CIFAR-10, Adam 2e-4, m = 128."""
    if cfg.preset == "smoke":
        base = dataclasses.replace(T.smoke(), fid=False)
    else:
        base = T.Config(model="dcgan", dataset="cifar10", data_dir=cfg.cifar_dir, width=32,
                        kernel=4, val_size=5000, log_every=50, eval_every=cfg.cifar_steps // 4,
                        ckpt_every=cfg.cifar_steps // 4, parzen_samples=5000,
                        fid_samples=5000)
    return dataclasses.replace(base, steps=cfg.cifar_steps,
                               **_common(cfg, "cifar10-dcgan", cfg.seeds[0]))


def fashion_config(cfg: Config) -> T.Config:
    base = T.smoke() if cfg.preset == "smoke" else T.quick()
    return dataclasses.replace(base, **_common(cfg, "fashion-mnist-quick", cfg.seeds[0]))


def _train(run: T.Config, threads: int) -> dict:
    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run, lambda s: s["step"] == run.steps and not s["stopped"],
                          divergence=True)


def _train_snapshots(job: tuple[T.Config, int], threads: int) -> dict:
    """A mixture run trained in ``snapshots`` chunks (stopped by --max-steps, then resumed: the
    same run as one that never stopped), with 1,000 samples of a fixed z after each chunk."""
    run, count = job
    torch.set_num_threads(threads)
    path = Path(run.out) / "snapshots.pt"
    shots = torch.load(path) if path.is_file() else {}
    for i in range(1, count + 1):
        step = run.steps * i // count
        if step in shots:
            continue
        train_or_reuse(T.main, dataclasses.replace(run, max_steps=step),
                       lambda s, step=step: s["step"] == step)
        model = T.load_trained(run.out)
        g = torch.Generator().manual_seed(12345)
        shots[step] = model.sample(1000, generator=g)
        torch.save(shots, path)
    return json.loads((Path(run.out) / "summary.json").read_text())


# ---- claim 3's references ------------------------------------------------------------------------

def fit_gmm(x: torch.Tensor, k: int, iters: int = 30, seed: int = 0,
            floor: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A mixture of k diagonal Gaussians fitted to x (N, D) by EM (weights (k,), means (k, D),
    variances (k, D), floored at ``floor``), started from k random points."""
    g = torch.Generator().manual_seed(seed)
    x = x.double()
    mu = x[torch.randperm(len(x), generator=g)[:k]].clone()  # (k, D)
    var = x.var(0, keepdim=True).expand(k, -1).clamp(min=floor).clone()  # (k, D)
    w = torch.full((k,), 1 / k, dtype=torch.float64)
    for _ in range(iters):
        # E-step: log w_j + log N(x; mu_j, diag var_j), with sum_d (x_d - mu_jd)^2 / var_jd
        # = x^2 . (1/var_j) - 2 x . (mu_j/var_j) + sum_d mu_jd^2/var_jd  (matmuls, no (N, k, D))
        sq = x ** 2 @ (1 / var).T - 2 * x @ (mu / var).T + (mu ** 2 / var).sum(1)  # (N, k)
        log_p = -0.5 * (sq + var.log().sum(1) + x.shape[1] * math.log(2 * math.pi)) + w.log()
        r = torch.softmax(log_p, 1)
        # M-step
        n_j = r.sum(0) + 1e-12  # (k,)
        w = n_j / len(x)
        mu = (r.T @ x) / n_j[:, None]
        var = ((r.T @ x ** 2) / n_j[:, None] - mu ** 2).clamp(min=floor)
    return w, mu, var


def sample_gmm(w, mu, var, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    j = torch.multinomial(w, n, replacement=True, generator=g)
    return (mu[j] + var[j].sqrt() * torch.randn(n, mu.shape[1], generator=g,
                                                dtype=torch.float64)).clamp(0, 1).float()


def table1_references(cfg: Config, run: T.Config) -> dict:
    """Table 1's protocol applied to the training set itself and to a fitted Gaussian mixture."""
    data = load_data(run.dataset, root=cfg.data_root, val_size=run.val_size,
                     train_size=run.train_size, test_size=run.test_size)
    train = T.real_rows(data.train, None, "sigmoid")  # (N, 784) in [0, 1]
    val, test = T.real_rows(data.val, run.eval_val, "sigmoid"), T.real_rows(data.test, None,
                                                                            "sigmoid")
    n = min(run.parzen_samples, len(train))
    g = torch.Generator().manual_seed(0)
    itself = train[torch.randperm(len(train), generator=g)[:n]]
    out = {"training set": E.parzen_estimate(itself, val, test, T.parzen_sigmas(data))}
    w, mu, var = fit_gmm(train[torch.randperm(len(train), generator=g)[:20_000]],
                         cfg.gmm_components)
    out[f"Gaussian mixture ({cfg.gmm_components} diagonal components, EM)"] = \
        E.parzen_estimate(sample_gmm(w, mu, var, n), val, test, T.parzen_sigmas(data))
    return {k: {key: v[key] for key in ("mean", "sem", "sigma", "n_samples", "n_test")}
            for k, v in out.items()}


# ---- claim 4: a linear classifier on D's features ------------------------------------------------

@torch.no_grad()
def d_features(d, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """DCGAN §5.1: every layer's activations max-pooled to a 4x4 grid, flattened, concatenated."""
    d.eval()
    rows = []
    for i in range(0, len(x), batch):
        maps = d.features(x[i:i + batch])
        rows.append(torch.cat([F.adaptive_max_pool2d(m, 4).flatten(1) for m in maps], 1))
    return torch.cat(rows)  # (N, 16 * sum of widths)


def linear_probe(train_x, train_y, test_x, test_y, classes: int, steps: int = 2000,
                 seed: int = 0) -> float:
    """Test accuracy of a multinomial logistic regression (standardised features, L2 1e-4,
    Adam 1e-3, minibatches of 256). DEVIATION(D7): logistic regression, not an L2-SVM."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    xs, xt = (train_x - mean) / std, (test_x - mean) / std
    g = torch.Generator().manual_seed(seed)
    w = torch.zeros(xs.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = Adam([w, b], lr=1e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(xs), (min(256, len(xs)),), generator=g)
        loss = F.cross_entropy(xs[idx] @ w + b, train_y[idx]) + 1e-4 * w.square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return ((xt @ w + b).argmax(1) == test_y).float().mean().item()


def balanced_subset(y: torch.Tensor, n: int, classes: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    per = max(1, n // classes)
    picks = [torch.nonzero(y == c).flatten() for c in range(classes)]
    return torch.cat([p[torch.randperm(len(p), generator=g)[:per]] for p in picks])


def features_claim(cfg: Config, run: T.Config) -> dict:
    data = load_data(run.dataset, data_dir=run.data_dir, root=cfg.data_root,
                     val_size=run.val_size, train_size=run.train_size, test_size=run.test_size)
    trained = T.load_trained(run.out).discriminator
    with torch.random.fork_rng():
        torch.manual_seed(999)
        untrained = T.initial_model(run, data).discriminator
    train_x = torch.cat([data.train.x, data.val.x])  # every labelled training image
    train_y = torch.cat([data.train.y, data.val.y])
    classes = max(len(data.classes), int(train_y.max()) + 1)
    sources = {"DCGAN discriminator (trained on CIFAR-10 here)": trained,
               "random discriminator (same architecture, untrained)": untrained, "pixels": None}
    out = {}
    for name, d in sources.items():
        def feats(x, d=d):
            x = to_model(x, "tanh")
            return x.flatten(1) if d is None else d_features(d, x)
        ftr, fte = feats(train_x), feats(data.test.x)
        rows = []
        for budget in cfg.label_budgets:
            accs = []
            for seed in (cfg.seeds if budget < len(train_x) else cfg.seeds[:1]):
                idx = balanced_subset(train_y, min(budget, len(train_x)), classes, seed)
                accs.append(linear_probe(ftr[idx], train_y[idx], fte, data.test.y, classes,
                                         seed=seed))
            rows.append({"labels": budget, **mean_std(accs), "accuracies": accs})
        out[name] = {"dims": ftr.shape[1], "budgets": rows}
    return out


# ---- the main ------------------------------------------------------------------------------------

def main(cfg: Config) -> dict:
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    objective = {(sat, s): objective_config(cfg, sat, s) for sat in (False, True)
                 for s in cfg.seeds} if "objective" in cfg.parts else {}
    mixtures = {(m, a, s): mixture_config(cfg, m, a, s) for m in ("ring", "grid") for a in ARMS
                for s in cfg.seeds} if "mixtures" in cfg.parts else {}
    single = {name: make(cfg) for name, make in (("features", cifar_config),
                                                 ("fashion", fashion_config))
              if name in cfg.parts}
    plain = list(objective.values()) + list(single.values()) + [
        r for (m, a, s), r in mixtures.items() if s != cfg.seeds[0]]
    chunked = [r for (m, a, s), r in mixtures.items() if s == cfg.seeds[0]]
    todo = prepare(cfg, plain + chunked)
    print(f"reproduce: {len(todo)} runs, {cfg.jobs} at a time")
    summaries = dict(zip([r.out for r in todo[:len(plain)]],
                         map_runs(_train, todo[:len(plain)], cfg.jobs, threads=1), strict=True))
    summaries.update(zip([r.out for r in todo[len(plain):]],
                         map_runs(_train_snapshots, [(r, cfg.snapshots)
                                                     for r in todo[len(plain):]],
                                  cfg.jobs, threads=1), strict=True))
    results: dict = {"config": dataclasses.asdict(cfg), "paper": {
        "table1_mnist": PAPER_TABLE1, "dcgan_cifar10_accuracy": PAPER_CIFAR}}
    if objective:
        results["objective"] = objective_results(objective, summaries)
        plot_objective(objective, out / "fig-objective.png")
        copy_samples(objective[(False, cfg.seeds[0])], out / "samples-mnist.png")
    if "table1" in cfg.parts:
        results["table1"] = {"ours": results["objective"]["non-saturating"],
                             "references": table1_references(cfg, objective[(False,
                                                                             cfg.seeds[0])])}
    if mixtures:
        results["mixtures"] = mixture_results(mixtures, summaries)
        for m in ("ring", "grid"):
            seed0 = {a: mixtures[(m, a, cfg.seeds[0])] for a in ARMS}
            plot_mixture(seed0, m, out / f"fig-{m}.png", out / f"{m}.gif")
        plot_modes(results["mixtures"], out / "fig-modes.png")
    if "features" in single:
        run = single["features"]
        results["cifar10"] = {"summary": _kept(summaries[run.out]),
                              "probes": features_claim(cfg, run)}
        copy_samples(run, out / "samples-cifar10.png")
    if "fashion" in single:
        run = single["fashion"]
        results["fashion"] = _kept(summaries[run.out])
        copy_samples(run, out / "samples-fashion-mnist.png")
        plot_interpolation(run, out / "interpolation.png")
    results["claims"] = claims(results)
    results.update(totals(summaries.values(), t0))
    write_results(out, results, markdown(cfg, results))
    return results


def _kept(s: dict) -> dict:
    return {k: v for k, v in s.items() if k not in ("out",)}


def objective_results(runs: dict, summaries: dict) -> dict:
    """Per objective: the final numbers over seeds, and G's gradient norm, D(x), D(G(z)) and
    the losses at every log step (mean over seeds)."""
    res = {}
    for sat in (False, True):
        name = "minimax" if sat else "non-saturating"
        per_seed, curves = [], []
        for (s_, seed), run in runs.items():
            if s_ != sat:
                continue
            s = summaries[run.out]
            records = [r for r in read_metrics(Path(run.out) / "metrics.jsonl")
                       if r.get("split") == "train"]
            curves.append(records)
            # the first tenth of training (by step, so a run that diverged later has the same)
            early = [r for r in records if r["step"] <= run.steps // 10] or records[:1]
            diverged = s.get("diverged")
            per_seed.append({"seed": seed, "test_parzen": s.get("test_parzen"),
                             "diverged_at": int(diverged.split("at step ")[1].split(";")[0])
                             if diverged else None,
                             "test_parzen_sem": s.get("test_parzen_sem"), "fid": s.get("fid"),
                             "early_g_grad": sum(r["g_grad"] for r in early) / len(early),
                             "early_d_fake": sum(r["d_fake"] for r in early) / len(early),
                             "final_d_fake": records[-1]["d_fake"] if records else None,
                             "diverged": diverged, "train_time_s": s["train_time_s"]})
        n = min(len(c) for c in curves) if curves else 0  # a diverged run stops early
        steps = [r["step"] for r in curves[0][:n]] if curves else []
        mean_curve = {k: [sum(c[i][k] for c in curves) / len(curves) for i in range(len(steps))]
                      for k in ("g_grad", "d_fake", "d_real", "loss_d", "loss_g")}
        res[name] = {"runs": per_seed, "steps": steps, "curves": mean_curve,
                     "diverged": sum(r["diverged"] is not None for r in per_seed),
                     **over_seeds(per_seed, ("test_parzen", "fid", "early_g_grad",
                                             "early_d_fake", "final_d_fake"))}
    return res


def mixture_results(runs: dict, summaries: dict) -> dict:
    res: dict = {}
    for (m, arm, seed), run in runs.items():
        s = summaries[run.out]
        vals = [r for r in read_metrics(Path(run.out) / "metrics.jsonl")
                if r.get("split") == "val"]
        entry = res.setdefault(m, {}).setdefault(arm, {"runs": []})
        entry["runs"].append({"seed": seed, "modes": s.get("modes"),
                              "high_quality": s.get("high_quality"),
                              "test_parzen": s.get("test_parzen"),
                              "modes_over_time": [[r["step"], r["modes"]] for r in vals],
                              "hq_over_time": [[r["step"], r["high_quality"]] for r in vals]})
        entry["of_modes"] = s.get("of_modes")
    for arms in res.values():
        for entry in arms.values():
            entry.update(over_seeds(entry["runs"], ("modes", "high_quality", "test_parzen")))
    return res


def claims(r: dict) -> dict:
    """Each claim checked on the numbers (None where its part did not run)."""
    c: dict = {}
    o = r.get("objective")
    if o:
        sat, non = o["minimax"], o["non-saturating"]
        c["§3: early in training G's gradient is smaller with the minimax objective"] = \
            sat["early_g_grad"]["mean"] < non["early_g_grad"]["mean"]
        c["§3: with the minimax objective D keeps rejecting G's samples (D(G(z)) at the last "
          "logged step below the non-saturating run's)"] = \
            sat["final_d_fake"]["mean"] < non["final_d_fake"]["mean"]
        # a run whose loss became NaN ends worse than one that finished
        c["§3: the non-saturating G ends better (higher Parzen estimate, or the minimax runs "
          "diverge)"] = (sat["diverged"] == len(sat["runs"]) and non["diverged"] == 0) or bool(
            _gt(non.get("test_parzen"), sat.get("test_parzen")))
    t = r.get("table1")
    if t:
        gmm = next(v for k, v in t["references"].items() if k.startswith("Gaussian mixture"))
        c["Table 1: our GAN scores above a Gaussian mixture under the same protocol"] = \
            t["ours"]["test_parzen"]["mean"] > gmm["mean"]
        c["Table 1: the training set itself scores above our GAN (the estimator's limit)"] = \
            t["references"]["training set"]["mean"] > t["ours"]["test_parzen"]["mean"]
    mx = r.get("mixtures")
    if mx:
        for m, arms in mx.items():
            best = max(arms, key=lambda a: arms[a]["modes"]["mean"])
            c[f"Fig. 1 in spirit ({m}): DCGAN's ingredients cover the most modes"] = \
                best.startswith("DCGAN")
    f = r.get("cifar10")
    if f:
        names = list(f["probes"])
        at = {n: f["probes"][n]["budgets"][-1]["mean"] for n in names}
        c["§5.1: D's features beat a random D's (largest label budget)"] = at[names[0]] > at[
            names[1]]
        c["§5.1: D's features beat the pixels (largest label budget)"] = at[names[0]] > at[
            names[2]]
    return c


def _gt(a: dict | None, b: dict | None) -> bool | None:
    if not a or not b or a.get("mean") is None or b.get("mean") is None:
        return None
    return a["mean"] > b["mean"]


# ---- figures -------------------------------------------------------------------------------------

def copy_samples(run: T.Config, path: Path) -> None:
    src = Path(run.out) / "samples.png"
    if src.is_file():
        path.write_bytes(src.read_bytes())


def plot_objective(runs: dict, path: Path) -> None:
    from milestones.core.plots import subplots

    fig, axes = subplots(1, 3, figsize=(13, 3.6))
    for (sat, seed), run in runs.items():
        rec = [r for r in read_metrics(Path(run.out) / "metrics.jsonl") if r.get("split") ==
               "train"]
        steps = [r["step"] for r in rec]
        color = "tab:red" if sat else "tab:blue"
        label = ("minimax log(1 - D(G(z)))" if sat else "non-saturating -log D(G(z))") \
            if seed == min(s for _, s in runs) else None
        axes[0].plot(steps, [r["g_grad"] for r in rec], color=color, alpha=0.7, label=label)
        axes[1].plot(steps, [r["d_fake"] for r in rec], color=color, alpha=0.7)
        axes[2].plot(steps, [r["loss_d"] for r in rec], color=color, alpha=0.7)
    axes[0].set_yscale("log")
    for ax, title in zip(axes, ("‖∇G‖ (G's gradient norm)", "D(G(z)) on G's step",
                                "D's loss −V(D, G)"), strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("generator step")
    axes[0].legend(fontsize=8)
    fig.suptitle("§3: the generator's objective, MNIST GAN (released configuration), "
                 "every seed", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _contours(ax, mixture: str) -> None:
    from milestones.gan.data import mixture_centers

    centers, std = mixture_centers(mixture)
    lim = 2.6 if mixture == "ring" else 5.2
    g = torch.linspace(-lim, lim, 200)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([xx.flatten(), yy.flatten()], 1)
    d2 = ((pts[:, None] - centers[None]) ** 2).sum(-1)
    dens = torch.exp(-d2 / (2 * (3 * std) ** 2)).sum(1).view(200, 200)
    ax.contour(xx, yy, dens, levels=3, colors="0.6", linewidths=0.5)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_mixture(runs: dict, mixture: str, png: Path, gif: Path) -> None:
    """Seed 0's snapshots: rows = settings, columns = time (PNG); the same as GIF frames."""
    from milestones.core.plots import subplots

    shots = {arm: torch.load(Path(r.out) / "snapshots.pt") for arm, r in runs.items()}
    steps = sorted(next(iter(shots.values())))
    cols = steps if len(steps) <= 5 else steps[len(steps) // 5 - 1::len(steps) // 5][:5]
    fig, axes = subplots(len(runs), len(cols), figsize=(2.2 * len(cols), 2.3 * len(runs)),
                             squeeze=False)
    for i, arm in enumerate(runs):
        for j, step in enumerate(cols):
            ax = axes[i][j]
            _contours(ax, mixture)
            ax.scatter(*shots[arm][step].T, s=1, alpha=0.4, color="tab:blue")
            if i == 0:
                ax.set_title(f"step {step:,}", fontsize=8)
            if j == 0:
                ax.set_ylabel(arm.replace(": ", ":\n"), fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig, axes = subplots(1, len(runs), figsize=(3 * len(runs), 3.2), squeeze=False)

    def frame(k: int):
        for ax, arm in zip(axes[0], runs, strict=True):
            ax.clear()
            _contours(ax, mixture)
            ax.scatter(*shots[arm][steps[k]].T, s=1, alpha=0.4, color="tab:blue")
            ax.set_title(f"{arm.split(',')[0]}\nstep {steps[k]:,}", fontsize=7)
        return []

    FuncAnimation(fig, frame, frames=len(steps)).save(gif, writer=PillowWriter(fps=2), dpi=60)


def plot_modes(mixtures: dict, path: Path) -> None:
    from milestones.core.plots import subplots

    fig, axes = subplots(1, len(mixtures), figsize=(5.5 * len(mixtures), 3.6),
                             squeeze=False)
    for ax, (m, arms) in zip(axes[0], mixtures.items(), strict=True):
        for arm, e in arms.items():
            runs = e["runs"]
            steps = [s for s, _ in runs[0]["modes_over_time"]]
            mean = [sum(r["modes_over_time"][i][1] for r in runs) / len(runs)
                    for i in range(len(steps))]
            ax.plot(steps, mean, label=arm)
        ax.set_title(f"{m}: modes covered (of {e['of_modes']}), mean over seeds", fontsize=9)
        ax.set_xlabel("generator step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def plot_interpolation(run: T.Config, path: Path, rows: int = 6, cols: int = 10) -> None:
    """DCGAN Fig. 4: G along straight lines between random points of z's space."""
    from torchvision.utils import save_image

    model = T.load_trained(run.out)
    g = torch.Generator().manual_seed(7)
    a, b = model.sample_z(rows, generator=g), model.sample_z(rows, generator=g)
    t = torch.linspace(0, 1, cols)[None, :, None]
    z = (a[:, None] * (1 - t) + b[:, None] * t).reshape(rows * cols, -1)  # (rows*cols, nz)
    with torch.no_grad():
        x = model.generator(z)
    save_image((x + 1) / 2, path, nrow=cols)


# ---- the report ----------------------------------------------------------------------------------

def markdown(cfg: Config, r: dict) -> str:
    lines = ["# GAN and DCGAN: the claims in miniature", "",
             f"Command: `python -m milestones.gan.reproduce --preset {cfg.preset}`; seeds "
             f"{list(cfg.seeds)}; {r['train_time_s'] / 60:.0f} min of training summed over "
             "runs.", ""]
    o = r.get("objective")
    if o:
        lines += ["## §3: the generator's objective (MNIST, the released GAN)", "",
                  f"{cfg.mnist_steps} generator steps per run.", "",
                  "| objective | ‖∇G‖, first 10% | D(G(z)), first 10% | D(G(z)), end | "
                  "Parzen LL (test) | FID, our MNIST classifier | runs diverged (NaN), at step |",
                  "|---|---|---|---|---|---|---|"]
        for name, e in o.items():
            at = [r["diverged_at"] for r in e["runs"] if r["diverged_at"] is not None]
            lines.append(f"| {name} | {fmt(e.get('early_g_grad'), 3)} | "
                         f"{fmt(e.get('early_d_fake'), 3)} | {fmt(e.get('final_d_fake'), 3)} | "
                         f"{fmt(e.get('test_parzen'), 1)} | {fmt(e.get('fid'), 1)} | "
                         f"{e['diverged']} of {len(e['runs'])}"
                         + (f", {', '.join(map(str, at))}" if at else "") + " |")
        lines += ["", "![objective](fig-objective.png)", ""]
    t = r.get("table1")
    if t:
        lines += ["## Table 1: Parzen-window log-likelihood on the MNIST test set", "",
                  "| model | ours (nats) | paper (nats) |", "|---|---|---|"]
        for name, (m, se) in PAPER_TABLE1.items():
            ours = (fmt(t["ours"]["test_parzen"], 1) + " (mean ± std over seeds)"
                    if name == "Adversarial nets" else "-")
            lines.append(f"| {name} | {ours} | {m} ± {se} |")
        for name, v in t["references"].items():
            lines.append(f"| {name} | {v['mean']:.1f} ± {v['sem']:.1f} (s.e.) | - |")
        lines.append("")
    mx = r.get("mixtures")
    if mx:
        lines += ["## Fig. 1 in spirit: 2-D mixtures", "",
                  f"{cfg.mixture_steps} generator steps; modes covered and high-quality samples "
                  "(within 3 std of a mode) of 2,500 samples at the end.", "",
                  "| mixture | settings | modes covered | high-quality share | Parzen LL |",
                  "|---|---|---|---|---|"]
        for m, arms in mx.items():
            for arm, e in arms.items():
                lines.append(f"| {m} ({e['of_modes']} modes) | {arm} | {fmt(e['modes'], 1)} | "
                             f"{fmt(e['high_quality'], 3)} | {fmt(e['test_parzen'], 2)} |")
        lines += ["", "![modes](fig-modes.png) ![ring](fig-ring.png) ![grid](fig-grid.png)", ""]
    f = r.get("cifar10")
    if f:
        lines += ["## DCGAN §5.1: a linear classifier on D's features, CIFAR-10", "",
                  f"Paper: {PAPER_CIFAR}% (D trained on ImageNet-1k, L2-SVM, all labels).", "",
                  "| features | dims | " + " | ".join(
                      f"{b['labels']:,} labels" for b in next(iter(f["probes"].values()))[
                          "budgets"]) + " |",
                  "|---|---|" + "---|" * len(cfg.label_budgets)]
        for name, p in f["probes"].items():
            lines.append(f"| {name} | {p['dims']} | " + " | ".join(
                fmt({k: 100 * v for k, v in b.items() if k in ("mean", "std")}, 1)
                for b in p["budgets"]) + " |")
        lines.append("")
    lines += ["## The claims", ""] + [
        f"- {name}: **{'not measured' if ok is None else 'yes' if ok else 'no'}**"
        for name, ok in r["claims"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))

