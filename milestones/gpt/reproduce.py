"""GPT's claims in miniature on CPU: ``python -m milestones.gpt.reproduce``.

    python -m milestones.gpt.reproduce                       # claims 1 and 2, 2 CPU cores
    python -m milestones.gpt.reproduce --parts incontext     # claim 3 (see its note below)
    python -m milestones.gpt.reproduce --parts shakespeare   # claim 1 alone (about 10 minutes)
    python -m milestones.gpt.reproduce --preset smoke        # seconds (tests)

1. **A character model of tiny-Shakespeare on a CPU** (nanoGPT's "I only have a MacBook"
   configuration: 4 layers, 4 heads, 128 wide, context 64, batch 12, 2,000 iterations, lr 1e-3
   with 100 warm-up steps and cosine decay to 1e-4, β2 0.99, no dropout): nanoGPT reports a
   validation loss of about 1.88 after about 3 minutes on a laptop. Ours, seeds 0-2, timed alone
   on these 2 cores.
2. **Scaling laws in miniature** (Kaplan et al. 2020 Fig. 1; Hoffmann et al. 2022's IsoFLOP
   analysis): models of several sizes, each trained at several compute budgets C = 6 N D
   (N non-embedding parameters, D training tokens; a cosine schedule over each run), on the same
   characters. Fitted: L(N) from each size's best run, the compute frontier L(C), and from a
   parabola through each budget's losses over log N its compute-optimal size N_opt(C) ∝ C^a,
   beside Kaplan's α_N ≈ 0.076, α_C ≈ 0.050 and Chinchilla's a ≈ 0.5.
3. **In-context learning in miniature** (GPT-3 §3, Fig. 1.2 in spirit): character models of
   three sizes trained on a mixture of tasks that each prompt shows only through its examples (a
   letter table and a Caesar shift drawn per episode, ``incontext.py``); the exact-match accuracy
   on held-out episodes with 0, 1, 2, 4, 8 examples in the prompt, ≥3 seeds: does it rise with
   the examples and with the size? Not in the default run: 2-layer models trained for 3,000 and
   6,000 steps answered at chance whatever the examples (the lookup circuit had not formed).

Writes results.md, results.json and figures beside the papers' numbers.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import torch

from milestones.core.config import require
from milestones.core.jobs import ReproduceConfig, map_runs, prepare, train_or_reuse
from milestones.core.report import fmt, over_seeds, totals, write_results
from milestones.core.run import cli
from milestones.gpt import train as T

PARTS = ("shakespeare", "scaling", "incontext")
SHAKESPEARE_ARMS = ("iterations", "time")  # nanoGPT's 2,000 iterations; its 3 minutes
PAPER = {
    # nanoGPT's README ("I only have a macbook"): the CPU command and its result
    "nanogpt_cpu": {"val_loss": 1.88, "minutes": 3.0, "n_layer": 4, "n_head": 4, "d_model": 128,
                    "n_ctx": 64, "batch": 12, "iterations": 2000},
    # Kaplan et al. 2020, Eq. 1.1-1.3 and 1.7 (L(N) at convergence, L(C_min), N_opt(C))
    "kaplan": {"alpha_N": 0.076, "alpha_C": 0.050, "N_opt_exponent": 0.73},
    # Hoffmann et al. 2022 (Chinchilla), Table 2: N_opt ∝ C^a (approaches 1, 2, 3); Eq. 10:
    # approach 3's fitted L(N, D) = E + A/N^α + B/D^β
    "chinchilla": {"a": [0.50, 0.49, 0.46], "E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34,
                   "beta": 0.28, "tokens_per_parameter": 20},  # (the last: Table 3's ratio)
}


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Reproduce GPT's claims in miniature."""

    preset: str = "cpu"
    """cpu (tiny-Shakespeare on 2 cores), smoke (seconds, for tests)."""
    out: str = "runs/gpt/reproduce"
    parts: tuple[str, ...] = ("shakespeare", "scaling")
    """Which of shakespeare (claim 1), scaling (claim 2), incontext (claim 3: built, but no
    in-context learning has emerged at the budgets tried yet, so it is not run by default)."""
    data_root: str | None = None
    """Data root; default $MILESTONES_DATA, else ~/.cache/milestones."""
    data_dir: str | None = None
    """tiny-Shakespeare's folder (input.txt); default <data root>/tinyshakespeare and the known
    copies."""
    shakespeare_steps: int = 2000
    """Claim 1: iterations (nanoGPT's CPU command: 2,000)."""
    shakespeare_budget_steps: int = 3500
    """Claim 1: iterations of the same model in about nanoGPT's time instead of its iterations
    (3 minutes here: 3,500; the cosine schedule stretched to them)."""
    sizes: tuple[str, ...] = ("1x8", "1x16", "1x32", "2x48", "2x64", "3x96", "4x128", "4x192",
                              "6x256")
    """Claim 2: model shapes, layers x d_model (heads of 32 dimensions)."""
    budgets: tuple[float, ...] = (1e11, 3e11, 1e12, 3e12, 1e13)
    """Claim 2: compute budgets C = 6 N D in FLOPs (Kaplan's C, non-embedding)."""
    min_tokens: float = 1.5e5
    """Claim 2: skip a (size, budget) pair with fewer training tokens than this (too short to
    say anything)."""
    max_tokens: float = 6e7
    """Claim 2: ... or more than this (too long for the CPU budget)."""
    scaling_ctx: int = 128
    """Claim 2: context of every run."""
    scaling_batch: int = 16
    """Claim 2: windows per step of every run."""
    icl_sizes: tuple[str, ...] = ("1x64", "2x96", "4x128")
    """Claim 3: model shapes, layers x d_model (heads of 32 dimensions)."""
    icl_steps: int = 3000
    """Claim 3: training steps of each model (16 windows of 64 characters)."""
    icl_episodes: int = 150_000
    """Claim 3: episodes (lines) of the training text."""
    icl_shots: tuple[int, ...] = (0, 1, 2, 4, 8)
    """Claim 3: examples in the prompt at evaluation."""
    icl_eval: int = 300
    """Claim 3: held-out episodes per number of examples."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(set(self.parts) <= set(PARTS), self, "parts", f"choose from {', '.join(PARTS)}")
        for field in ("shakespeare_steps", "shakespeare_budget_steps", "min_tokens",
                      "max_tokens", "scaling_ctx", "scaling_batch", "icl_steps", "icl_episodes",
                      "icl_eval"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(len(self.budgets) > 0 and all(c > 0 for c in self.budgets), self, "budgets",
                "give at least one budget > 0")
        require(len(self.icl_shots) > 0 and all(k >= 0 for k in self.icl_shots), self,
                "icl_shots", "give numbers of examples >= 0")
        for s in (*self.sizes, *self.icl_sizes):
            layers, _, width = s.partition("x")
            require(layers.isdigit() and width.isdigit() and int(layers) > 0
                    and int(width) >= 8 and int(width) % 8 == 0, self, "sizes",
                    f"{s!r}: give layers x d_model, e.g. 2x64 (d_model a multiple of 8)")
        require(self.min_tokens < self.max_tokens, self, "max_tokens",
                f"must exceed --min-tokens ({self.min_tokens:g})")


def cpu() -> Config:
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", parts=PARTS, seeds=(0, 1), jobs=1, shakespeare_steps=6,
                  shakespeare_budget_steps=8,
                  sizes=("1x16", "1x32"), budgets=(2e8, 6e8), min_tokens=200, max_tokens=1e6,
                  scaling_ctx=16, scaling_batch=4, icl_sizes=("1x16", "1x32"), icl_steps=6,
                  icl_episodes=300, icl_shots=(0, 2), icl_eval=10)


PRESETS = {"cpu": cpu, "smoke": smoke}


# ---- the runs ------------------------------------------------------------------------------------

def _common(cfg: Config) -> dict:
    smoke = cfg.preset == "smoke"
    return dict(device=cfg.device, data_root=cfg.data_root, progress=False, resume=True,
                preset=f"reproduce-{cfg.preset}", tokenizer="char",
                corpus="builtin" if smoke else "shakespeare",
                data_dir=None if smoke else cfg.data_dir, builtin_pairs=300)


def shakespeare_run(cfg: Config, seed: int, arm: str = "iterations") -> T.Config:
    """nanoGPT's CPU command: ``--block_size=64 --batch_size=12 --n_layer=4 --n_head=4
    --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0`` on top of
    config/train_shakespeare_char.py (lr 1e-3, min_lr 1e-4, warm-up 100, β2 0.99); ``arm``
    "time": as many iterations as fit nanoGPT's time instead."""
    steps = cfg.shakespeare_steps if arm == "iterations" else cfg.shakespeare_budget_steps
    name = f"shakespeare-s{seed}" if arm == "iterations" else f"shakespeare-{steps}-s{seed}"
    return T.Config(model="nano", n_ctx=64, batch_size=12, steps=steps, lr=1e-3,
                    min_lr_ratio=0.1, warmup_steps=min(100, steps // 2), decay_steps=None,
                    betas=(0.9, 0.99), weight_decay=0.1, grad_clip=1.0, dropout=0.0,
                    log_every=max(1, steps // 80), eval_every=max(2, steps // 8),
                    ckpt_every=max(2, steps // 4), eval_windows=2000, sample_tokens=600,
                    prompt="\n", seed=seed, **_common(cfg),
                    out=str(Path(cfg.out) / "runs" / name))


def shape(size: str) -> tuple[int, int]:
    layers, _, width = size.partition("x")
    return int(layers), int(width)


def non_embedding_params(n_layer: int, d_model: int) -> int:
    """N of Kaplan et al. (§2.1): 12 n_layer d_model² plus the biases and LayerNorms ours have
    (the exact count of ``GPT.num_params(non_embedding=True)``)."""
    per_block = 12 * d_model * d_model + 13 * d_model  # weights, biases, 2 LayerNorms
    return n_layer * per_block + 2 * d_model  # + the final LayerNorm


def kaplan_lr(n: int) -> float:
    """Kaplan et al. Eq. D.1: the learning rate that works well at each size,
    lr(N) ≈ 0.003239 − 0.0001395 log N."""
    return 0.003239 - 0.0001395 * math.log(n)


def scaling_runs(cfg: Config) -> dict[tuple[str, float], T.Config]:
    """One run per (size, budget) whose token count D = C / 6N lies in [min, max] tokens."""
    tokens_per_step = cfg.scaling_batch * cfg.scaling_ctx
    runs = {}
    for size in cfg.sizes:
        n_layer, d_model = shape(size)
        n = non_embedding_params(n_layer, d_model)
        for c in cfg.budgets:
            tokens = c / (6 * n)
            if not cfg.min_tokens <= tokens <= cfg.max_tokens:
                continue
            steps = max(2, round(tokens / tokens_per_step))
            runs[size, c] = T.Config(
                model="nano", n_layer=n_layer, d_model=d_model, n_head=max(1, d_model // 32),
                n_ctx=cfg.scaling_ctx, batch_size=cfg.scaling_batch, steps=steps,
                lr=kaplan_lr(n), min_lr_ratio=0.1, warmup_steps=max(1, steps // 20),
                decay_steps=None, betas=(0.9, 0.95), weight_decay=0.1, dropout=0.0,
                log_every=max(1, steps // 50), eval_every=steps, ckpt_every=max(2, steps // 4),
                eval_windows=1000 if cfg.preset != "smoke" else 16, sample_tokens=0, seed=0,
                **_common(cfg), out=str(Path(cfg.out) / "runs" / "scaling" / f"{size}-C{c:.0e}"))
    return runs


def incontext_runs(cfg: Config) -> dict[tuple[str, int], T.Config]:
    """Each size and seed trained on the same episodes (written once to <out>/incontext.txt; its
    last tenth held out for the validation loss)."""
    from milestones.gpt.incontext import episodes

    text = Path(cfg.out) / "incontext.txt"
    content = episodes(cfg.icl_episodes, seed=0)
    if not text.is_file() or text.read_text() != content:
        text.write_text(content)
    runs = {}
    for size in cfg.icl_sizes:
        n_layer, d_model = shape(size)
        for seed in cfg.seeds:
            runs[size, seed] = T.Config(
                model="nano", n_layer=n_layer, d_model=d_model, n_head=max(1, d_model // 32),
                n_ctx=64 if cfg.preset != "smoke" else 32, batch_size=16, steps=cfg.icl_steps,
                lr=1e-3, min_lr_ratio=0.1, warmup_steps=max(1, cfg.icl_steps // 20),
                decay_steps=None, betas=(0.9, 0.99), weight_decay=0.1, dropout=0.0,
                log_every=max(1, cfg.icl_steps // 50), eval_every=max(2, cfg.icl_steps // 5),
                ckpt_every=max(2, cfg.icl_steps // 5),
                eval_windows=500 if cfg.preset != "smoke" else 8, sample_tokens=0, seed=seed,
                **{**_common(cfg), "corpus": "text", "data_files": (str(text),),
                   "data_dir": None},
                out=str(Path(cfg.out) / "runs" / "incontext" / f"{size}-s{seed}"))
    return runs


def incontext_part(cfg: Config, runs: dict, done: dict[str, dict]) -> dict:
    """Each trained model answers held-out episodes with each number of examples."""
    from milestones.gpt.data import load_tokenizer
    from milestones.gpt.incontext import TASKS, evaluate
    from milestones.gpt.model import load_folder

    res: dict = {}
    for (size, seed), run in runs.items():
        model, tok = load_folder(run.out), load_tokenizer(Path(run.out) / "tokenizer.json")
        s = done[run.out]
        row = {"seed": seed, "params": s["params"], "val_loss": s["val_loss"]}
        for k in cfg.icl_shots:
            row[f"{k}-shot"] = evaluate(model, tok, k, cfg.icl_eval)
        for task in TASKS:  # the most examples, per task
            row[f"{task}@{max(cfg.icl_shots)}"] = evaluate(model, tok, max(cfg.icl_shots),
                                                           max(10, cfg.icl_eval // 4), task=task)
        entry = res.setdefault(size, {"params": s["params"], "runs": []})
        entry["runs"].append(row)
    for entry in res.values():
        keys = [k for k in entry["runs"][0] if k not in ("seed", "params")]
        entry.update(over_seeds(entry["runs"], keys))
    return res


def _train(run: T.Config, threads: int) -> dict:
    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run, lambda s: s["stopped"] is None)


def _run_all(cfg: Config, runs: list[T.Config], jobs: int) -> dict[str, dict]:
    if not runs:
        return {}
    runs = prepare(cfg, runs)
    return dict(zip([r.out for r in runs], map_runs(_train, runs, jobs), strict=True))


def main(cfg: Config) -> dict:
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"config": dataclasses.asdict(cfg), "paper": PAPER}
    summaries: dict[str, dict] = {}
    if "shakespeare" in cfg.parts:  # alone, on every core: the claim is about its wall time
        results["shakespeare"] = {}
        for arm in SHAKESPEARE_ARMS:
            runs = [shakespeare_run(cfg, s, arm) for s in cfg.seeds]
            done = _run_all(cfg, runs, jobs=1)
            summaries |= done
            results["shakespeare"][arm] = shakespeare_part(runs, done)
    if "scaling" in cfg.parts:
        runs = scaling_runs(cfg)
        print(f"reproduce: {len(runs)} scaling runs")
        done = _run_all(cfg, list(runs.values()), jobs=cfg.jobs)
        summaries |= done
        results["scaling"] = scaling_part(cfg, runs, done)
    if "incontext" in cfg.parts:
        runs = incontext_runs(cfg)
        done = _run_all(cfg, list(runs.values()), jobs=cfg.jobs)
        summaries |= done
        results["incontext"] = incontext_part(cfg, runs, done)
    results["claims"], results["claim_details"] = claims(results)
    results.update(totals(summaries.values(), t0))
    figures(results, out)
    write_results(out, results, markdown(cfg, results))
    return results


def shakespeare_part(runs: list[T.Config], done: dict[str, dict]) -> dict:
    from milestones.core.metrics import read_metrics

    rows = []
    for run in runs:
        s = done[run.out]
        records = read_metrics(Path(run.out) / "metrics.jsonl")
        curve = [(r["step"], r["loss"]) for r in records if r.get("split") == "val"]
        rows.append({"seed": run.seed, "val_loss": s["val_loss"],
                     "train_time_s": s["train_time_s"], "minutes": s["train_time_s"] / 60,
                     "params": s["params"], "val_curve": curve + [(s["step"], s["val_loss"])],
                     "sample": (Path(run.out) / "sample.txt").read_text(encoding="utf-8")})
    return {"steps": runs[0].steps, "eval_windows": runs[0].eval_windows, "runs": rows,
            **over_seeds(rows, ["val_loss", "train_time_s", "minutes"])}


def scaling_part(cfg: Config, runs: dict, done: dict[str, dict]) -> dict:
    points = []
    for (size, c), run in runs.items():
        s = done[run.out]
        n_layer, d_model = shape(size)
        points.append({"size": size, "budget": c, "n_layer": n_layer, "d_model": d_model,
                       "N": s["params_non_embedding"], "tokens": s["tokens_seen"],
                       "C": 6 * s["params_non_embedding"] * s["tokens_seen"],
                       "val_loss": s["val_loss"], "lr": run.lr, "steps": s["step"],
                       "train_time_s": s["train_time_s"]})
    return {"points": points, "fits": fit_scaling(points)}


def power_law(x: list[float], y: list[float]) -> dict | None:
    """Least squares of log y = log k − α log x: y = k x^(−α). None with fewer than 2 points."""
    if len(set(x)) < 2:
        return None
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return {"alpha": float(-slope), "k": float(math.exp(intercept)), "points": len(x)}


def fit_loss_surface(points: list[dict]) -> dict | None:
    """Chinchilla's approach 3 (Hoffmann et al. 2022, §3.3, App. D.2): fit

        L(N, D) = E + A / N^α + B / D^β

    to every run, minimising the Huber loss (δ = 1e-3) of log L from a grid of starting points
    (Adam for all, then L-BFGS for the ten best), parameterised as
    L = exp(LSE(a − α log N, b − β log D, e)). Then the compute-optimal size grows as
    N_opt ∝ C^a with a = β / (α + β). None with fewer than 6 runs."""
    if len(points) < 6:
        return None
    log_n = torch.tensor([math.log(p["N"]) for p in points], dtype=torch.float64)
    log_d = torch.tensor([math.log(p["tokens"]) for p in points], dtype=torch.float64)
    log_l = torch.tensor([math.log(p["val_loss"]) for p in points], dtype=torch.float64)
    grid = torch.cartesian_prod(*(torch.tensor(v, dtype=torch.float64) for v in (
        [0.0, 5.0, 10.0, 15.0, 20.0], [0.0, 5.0, 10.0, 15.0, 20.0], [-1.0, 0.0, 1.0],
        [0.0, 0.5, 1.0, 1.5], [0.0, 0.5, 1.0, 1.5])))  # (starts, 5): a, b, e, α, β

    def huber(theta: torch.Tensor) -> torch.Tensor:  # (starts, 5) -> (starts,) each fit's loss
        a, b, e, alpha, beta = theta.unbind(1)
        terms = torch.stack([a[:, None] - alpha[:, None] * log_n, b[:, None] - beta[:, None]
                             * log_d, e[:, None].expand(-1, len(points))])  # (3, starts, runs)
        return torch.nn.functional.huber_loss(torch.logsumexp(terms, 0),
                                              log_l.expand(len(theta), -1), delta=1e-3,
                                              reduction="none").sum(1)

    # every start a while with Adam (the starts are independent: one sum moves each), then the
    # ten best to convergence with L-BFGS, one at a time
    theta = grid.clone().requires_grad_(True)
    adam = torch.optim.Adam([theta], lr=0.05)
    for _ in range(500):
        adam.zero_grad()
        huber(theta).sum().backward()
        adam.step()
    with torch.no_grad():
        order = torch.nan_to_num(huber(theta), nan=math.inf).argsort()[:10]
    best, best_loss = None, math.inf
    for start in theta.detach()[order]:
        t = start.clone()[None].requires_grad_(True)
        lbfgs = torch.optim.LBFGS([t], lr=1, max_iter=2000, tolerance_grad=1e-12,
                                  tolerance_change=1e-15, line_search_fn="strong_wolfe")

        def closure(t=t, lbfgs=lbfgs) -> torch.Tensor:
            lbfgs.zero_grad()
            loss = huber(t).sum()
            loss.backward()
            return loss

        lbfgs.step(closure)
        loss = float(huber(t.detach()))
        if loss < best_loss:
            best, best_loss = t.detach()[0], loss
    a, b, e, alpha, beta = best.tolist()
    return {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": alpha, "beta": beta,
            "a": beta / (alpha + beta) if alpha + beta > 0 else None,
            "huber": best_loss, "points": len(points)}


def fit_scaling(points: list[dict]) -> dict:
    """L(C): each budget's lowest loss (Kaplan's frontier); N_opt(C): the minimum of a parabola in
    log N through each budget's losses (Chinchilla's approach 2), where the budget has 3 sizes or
    more and the minimum falls inside them; L(N, D): Chinchilla's approach 3 over every run."""
    by_c: dict[float, list[dict]] = {}
    for p in points:
        by_c.setdefault(p["budget"], []).append(p)
    frontier = {c: min(ps, key=lambda p: p["val_loss"]) for c, ps in by_c.items()}
    l_c = power_law([p["C"] for p in frontier.values()],
                    [p["val_loss"] for p in frontier.values()])
    optimal = {}
    for c, ps in sorted(by_c.items()):
        if len(ps) < 3:
            continue
        x = np.log([p["N"] for p in ps])
        a2, a1, a0 = np.polyfit(x, [p["val_loss"] for p in ps], 2)
        if a2 <= 0:
            continue  # no minimum
        x_opt = -a1 / (2 * a2)
        inside = bool(x.min() <= x_opt <= x.max())
        optimal[f"{c:.0e}"] = {"budget": c, "N_opt": float(math.exp(x_opt)), "inside": inside,
                               "loss_at_opt": float(a0 + a1 * x_opt + a2 * x_opt ** 2),
                               "parabola": [float(a2), float(a1), float(a0)]}
    inside = [o for o in optimal.values() if o["inside"]]
    n_opt = power_law([o["budget"] for o in inside], [o["N_opt"] for o in inside])
    return {"L_ND": fit_loss_surface(points), "L_C": l_c, "N_opt": optimal,
            "a": None if n_opt is None else -n_opt["alpha"],
            "frontier": {f"{c:.0e}": {"size": p["size"], "N": p["N"], "val_loss": p["val_loss"]}
                         for c, p in frontier.items()}}


NANOGPT = ("nanoGPT's CPU model of tiny-Shakespeare reaches its validation loss of 1.88 on 2 CPU "
           "cores in no more than its 3 minutes (mean over seeds; its 2,000 iterations, or as "
           "many as fit the 3 minutes)")
L_OF_N = ("loss falls as a power law in model size: the fitted L(N, D) = E + A/N^α + B/D^β has "
          "α > 0")
L_OF_C = "loss falls as a power law in compute along the frontier (a positive exponent)"
N_OPT = ("the compute-optimal model size grows as a power of the budget (IsoFLOP minima inside "
         "the sizes tried)")
MORE_SHOTS = ("the largest model answers better with the most examples in its prompt than with "
              "none (paired over seeds, resolved)")
LARGER = ("with the most examples, the largest model answers better than the smallest (paired "
          "over seeds, resolved)")


def claims(r: dict) -> tuple[dict[str, bool], dict]:
    c: dict[str, bool] = {}
    details: dict = {}
    sh = r.get("shakespeare")
    if sh:
        p = PAPER["nanogpt_cpu"]
        for arm, e in sh.items():
            details[f"shakespeare_{arm}"] = {"steps": e["steps"], "val_loss": e["val_loss"]["mean"],
                                             "minutes": e["minutes"]["mean"]}
        c[NANOGPT] = any(e["val_loss"]["mean"] <= p["val_loss"] and e["minutes"]["mean"]
                         <= p["minutes"] for e in sh.values())
    sc = r.get("scaling")
    if sc:
        f = sc["fits"]
        if f["L_C"]:
            details["alpha_C"] = f["L_C"]["alpha"]
            c[L_OF_C] = f["L_C"]["alpha"] > 0
        if f["L_ND"]:
            details["loss_surface"] = f["L_ND"]
            c[L_OF_N] = f["L_ND"]["alpha"] > 0
        inside = [k for k, o in f["N_opt"].items() if o["inside"]]
        details["isoflop_minima_inside"] = inside
        details["frontier_sizes"] = {k: v["size"] for k, v in f["frontier"].items()}
        details["a"] = f["a"]
        c[N_OPT] = f["a"] is not None and f["a"] > 0  # no minimum inside the sizes: not shown
    icl = r.get("incontext")
    if icl:
        from milestones.core.report import paired_difference

        sizes = list(icl)
        shots = sorted(int(k.split("-")[0]) for k in icl[sizes[0]]["runs"][0]
                       if k.endswith("-shot"))
        most, least = f"{shots[-1]}-shot", f"{shots[0]}-shot"
        big, small = icl[sizes[-1]]["runs"], icl[sizes[0]]["runs"]
        d = paired_difference([{"seed": x["seed"], "gain": x[most] - x[least]} for x in big],
                              [{"seed": x["seed"], "gain": 0.0} for x in big], "gain")
        details["largest_gain_from_examples"] = d
        c[MORE_SHOTS] = bool(d and d["resolved"] and d["mean"] > 0)
        d = paired_difference(big, small, most)
        details["largest_minus_smallest_most_examples"] = d
        c[LARGER] = bool(d and d["resolved"] and d["mean"] > 0)
    return c, details


# ---- report --------------------------------------------------------------------------------------

def figures(r: dict, out: Path) -> list[Path]:
    """The figures, from the numbers of results.json alone."""
    import matplotlib.pyplot as plt

    from milestones.core.plots import subplots

    paths = []
    sh = r.get("shakespeare")
    if sh:
        fig, ax = subplots(figsize=(6, 3.6), dpi=120)
        for i, e in enumerate(sh.values()):
            for run in e["runs"]:
                steps, losses = zip(*run["val_curve"], strict=True)
                ax.plot(steps, losses, marker=".", color=f"C{i}", alpha=0.8,
                        label=f"{e['steps']:,} iterations" if run is e["runs"][0] else None)
        ax.axhline(PAPER["nanogpt_cpu"]["val_loss"], color="k", ls="--", lw=1,
                   label="nanoGPT's CPU run (1.88)")
        ax.set_xlabel("iteration")
        ax.set_ylabel("validation loss (nats/char)")
        ax.set_title("tiny-Shakespeare, 4 layers x 128, 2 CPU cores")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "shakespeare-val-loss.png")
        paths.append(out / "shakespeare-val-loss.png")
    sc = r.get("scaling")
    if sc:
        pts, fits = sc["points"], sc["fits"]
        fig, axes = subplots(1, 3, figsize=(13, 3.8), dpi=120)
        ax = axes[0]  # IsoFLOP curves (Chinchilla Fig. 3)
        for i, c in enumerate(sorted({p["budget"] for p in pts})):
            ps = sorted((p for p in pts if p["budget"] == c), key=lambda p: p["N"])
            ax.plot([p["N"] for p in ps], [p["val_loss"] for p in ps], "o", color=f"C{i}",
                    label=f"C = {c:.0e}")
            o = fits["N_opt"].get(f"{c:.0e}")
            if o:
                xs = np.linspace(math.log(ps[0]["N"]), math.log(ps[-1]["N"]), 50)
                a2, a1, a0 = o["parabola"]
                ax.plot(np.exp(xs), a2 * xs ** 2 + a1 * xs + a0, color=f"C{i}", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("non-embedding parameters N")
        ax.set_ylabel("validation loss (nats/char)")
        ax.set_title("IsoFLOP curves")
        ax.legend(fontsize=7)
        ax = axes[1]  # L(C) (Kaplan Fig. 1 left)
        for i, size in enumerate(dict.fromkeys(p["size"] for p in pts)):
            ps = sorted((p for p in pts if p["size"] == size), key=lambda p: p["C"])
            ax.plot([p["C"] for p in ps], [p["val_loss"] for p in ps], "o-", ms=3,
                    color=plt.cm.viridis(i / max(1, len(set(p["size"] for p in pts)) - 1)),
                    label=size)
        if fits["L_C"]:
            cs = np.array(sorted(p["C"] for p in pts))
            ax.plot(cs, fits["L_C"]["k"] * cs ** -fits["L_C"]["alpha"], "k--", lw=1,
                    label=f"L ∝ C^-{fits['L_C']['alpha']:.3f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("compute C = 6ND (FLOPs)")
        ax.set_title("loss against compute")
        ax.legend(fontsize=7)
        ax = axes[2]  # N_opt(C), and each budget's best run
        best = [(float(k), v["N"]) for k, v in fits["frontier"].items()]
        ax.plot(*zip(*sorted(best), strict=True), "s", mfc="none", color="C7",
                label="each budget's best run")
        opt = [o for o in fits["N_opt"].values() if o["inside"]]
        if opt:
            ax.plot([o["budget"] for o in opt], [o["N_opt"] for o in opt], "o", color="C3",
                    label="IsoFLOP minimum")
        else:
            ax.text(0.5, 0.9, "no IsoFLOP minimum inside the sizes", transform=ax.transAxes,
                    ha="center", fontsize=8)
        if fits["a"] is not None and opt:
            cs = np.array([o["budget"] for o in opt])
            k = np.exp(np.mean(np.log([o["N_opt"] for o in opt]) - fits["a"] * np.log(cs)))
            ax.plot(cs, k * cs ** fits["a"], "k--", lw=1, label=f"N_opt ∝ C^{fits['a']:.2f}")
        ax.legend(fontsize=7, loc="lower right")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("compute C (FLOPs)")
        ax.set_ylabel("compute-optimal N")
        ax.set_title("optimal size against compute")
        for a in axes:
            a.grid(alpha=0.3, which="both")
        fig.tight_layout()
        fig.savefig(out / "scaling-laws.png")
        paths.append(out / "scaling-laws.png")
    icl = r.get("incontext")
    if icl:  # GPT-3 Fig. 1.2's axes: examples in the prompt, accuracy, one line per size
        fig, ax = subplots(figsize=(5.6, 3.8), dpi=120)
        for i, (size, e) in enumerate(icl.items()):
            shots = sorted(int(k.split("-")[0]) for k in e["runs"][0] if k.endswith("-shot"))
            means = [100 * e[f"{k}-shot"]["mean"] for k in shots]
            stds = [100 * e[f"{k}-shot"]["std"] for k in shots]
            ax.errorbar(shots, means, yerr=stds, marker="o", capsize=3,
                        color=plt.cm.viridis(i / max(1, len(icl) - 1)),
                        label=f"{size} ({e['params'] / 1e3:.0f}k parameters)")
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xticks(shots, [str(k) for k in shots])
        ax.set_xlabel("examples in the prompt (k)")
        ax.set_ylabel("exact-match accuracy (%)")
        ax.set_title("In-context learning in miniature (mean ± std over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "incontext.png")
        paths.append(out / "incontext.png")
    return paths


def markdown(cfg: Config, r: dict) -> str:
    lines = ["# GPT's claims in miniature", ""]
    sh = r.get("shakespeare")
    if sh:
        p = PAPER["nanogpt_cpu"]
        lines += ["## Claim 1: a character model of tiny-Shakespeare on a CPU", "",
                  "| | iterations | validation loss (nats/char) | training time |",
                  "|---|---|---|---|",
                  f"| nanoGPT's CPU command (a laptop) | {p['iterations']:,} | {p['val_loss']} | "
                  f"about {p['minutes']:g} min |"]
        for e in sh.values():
            lines.append(f"| ours, seeds {', '.join(str(x['seed']) for x in e['runs'])} | "
                         f"{e['steps']:,} | {fmt(e['val_loss'], 3)} | {fmt(e['minutes'], 2)} "
                         "min |")
        first = next(iter(sh.values()))
        lines += ["", "A sample (seed 0, 2,000 iterations, temperature 0.8, top-k 200):", "",
                  "```", first["runs"][0]["sample"][:600].rstrip(), "```", ""]
    sc = r.get("scaling")
    if sc:
        f = sc["fits"]
        lines += ["## Claim 2: scaling laws in miniature", "",
                  "| shape | N | budget C | tokens D | steps | lr | val loss |",
                  "|---|---|---|---|---|---|---|"]
        for q in sorted(sc["points"], key=lambda q: (q["budget"], q["N"])):
            lines.append(f"| {q['size']} | {q['N']:,} | {q['budget']:.0e} | {q['tokens']:,} | "
                         f"{q['steps']} | {q['lr']:.2e} | {q['val_loss']:.3f} |")

        def exp(fit: dict | None) -> str:
            return "-" if not fit else f"{fit['alpha']:.3f} ({fit['points']} points)"

        a = "-" if f["a"] is None else f"{f['a']:.2f}"
        nd, ch = f["L_ND"], PAPER["chinchilla"]
        alpha = "-" if not nd else f"{nd['alpha']:.3f}"
        beta = "-" if not nd else f"{nd['beta']:.3f}"
        a3 = "-" if not nd or nd["a"] is None else f"{nd['a']:.2f}"
        lines += ["", "| exponent | ours | Kaplan et al. | Chinchilla |", "|---|---|---|---|",
                  f"| α of L(N, D) = E + A/N^α + B/D^β | {alpha} | α_N {PAPER['kaplan']['alpha_N']}"
                  f" (without E) | {ch['alpha']} |",
                  f"| β of L(N, D) | {beta} | - | {ch['beta']} |",
                  f"| α_C in L ∝ C^-α_C (frontier) | {exp(f['L_C'])} | "
                  f"{PAPER['kaplan']['alpha_C']} | - |",
                  f"| a in N_opt ∝ C^a: IsoFLOP parabolas / β/(α+β) | {a} / {a3} | "
                  f"{PAPER['kaplan']['N_opt_exponent']} | "
                  f"{' / '.join(map(str, ch['a']))} |", ""]
    icl = r.get("incontext")
    if icl:
        first = next(iter(icl.values()))["runs"][0]
        shots = [k for k in first if k.endswith("-shot")]
        tasks = [k for k in first if "@" in k]
        lines += ["## Claim 3: in-context learning in miniature", "",
                  "| model | parameters | val loss | " + " | ".join(shots) + " | "
                  + " | ".join(tasks) + " |", "|---" * (3 + len(shots) + len(tasks)) + "|"]
        for size, e in icl.items():
            lines.append(f"| {size} | {e['params']:,} | {fmt(e['val_loss'], 3)} | "
                         + " | ".join(fmt(e[k], 1, scale=100) for k in shots + tasks) + " |")
        lines += ["", "Exact-match accuracy (%) on held-out episodes, mean ± std over seeds.", ""]
    lines += ["## Claims", ""] + [f"- {k}: **{'yes' if v else 'no'}**"
                                  for k, v in r["claims"].items()]
    lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in r["claim_details"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
