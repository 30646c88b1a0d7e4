"""Table 3's ablations in miniature, on the built-in language pair: ``python -m
milestones.transformer.reproduce``.

    python -m milestones.transformer.reproduce                 # CPU, 3 seeds, ~1 hour on 2 cores
    python -m milestones.transformer.reproduce --preset smoke  # seconds (tests)

Variants of the ``quick`` model (3 layers, d_model 128, h 4), 800 steps each, each changing
one thing, as the rows of Table 3 do:

- (A) one head instead of four, at equal compute: d_k = d_v = d_model / h (128 instead of 32).
  Paper (base, h 8 -> 1): BLEU 25.8 -> 24.9, "single-head attention is 0.9 BLEU worse".
- (D) no label smoothing. Paper (eps_ls 0.1 -> 0): perplexity 4.92 -> 4.67 (better), BLEU
  25.8 -> 25.3 (worse): "hurts perplexity ... but improves accuracy and BLEU" (§5.4).
- (E) learned positional embeddings instead of sinusoids. Paper: 25.7 vs 25.8, "nearly identical";
  sinusoids chosen because they "may allow the model to extrapolate to sequence lengths longer
  than the ones encountered during training" (§3.5): we test that on the corpus's "long" split.

Writes results.md / results.json, every seed's BLEU and perplexity beside the paper's changes
(``figures``, from results.json alone), the learning-rate schedule of Eq. 3 and attention heat
maps of one sentence (every head of the last encoder, decoder and cross-attention layers, as
Figures 3-5) next to the paper's rows.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from milestones.core.config import require
from milestones.core.jobs import ReproduceConfig, map_runs, prepare, train_or_reuse
from milestones.core.metrics import read_metrics
from milestones.core.report import fmt, over_seeds, paired_difference, totals, write_results
from milestones.core.run import cli
from milestones.core.text import BOS_ID
from milestones.transformer import train as T

VARIANTS = {  # name: (Table 3 row, config changes)
    "base": ("base", {}),
    "1 head": ("A", {"h": 1}),
    "no label smoothing": ("D", {"label_smoothing": 0.0}),
    "learned positions": ("E", {"positional": "learned"}),
}
# the scores whose change from the base row is reported seed by seed (Table 3's rows are changes)
DELTAS = ("test_bleu", "test_chrf", "valid_perplexity", "long_bleu")
PAPER = {  # Table 3, newstest2013 En-De dev set: (perplexity, BLEU)
    "base": (4.92, 25.8), "1 head": (5.29, 24.9), "no label smoothing": (4.67, 25.3),
    "learned positions": (4.92, 25.7),
}


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Reproduce Table 3 rows (A), (D), (E) on the built-in translation corpus."""

    preset: str = "cpu"
    """cpu (about an hour on 2 cores), smoke (seconds, for tests)."""
    out: str = "runs/transformer/reproduce"
    variants: tuple[str, ...] = tuple(VARIANTS)
    """Table 3's rows: base, 1 head (A), no label smoothing (D), learned positions (E)."""
    steps: int = 800
    """Optimizer steps per run (the quick preset: 1,200; the paper's base model: 100,000)."""
    data_root: str | None = None
    """Data root, where the built-in corpus and its BPE vocabulary are cached; default
    $MILESTONES_DATA, else ~/.cache/milestones."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(set(self.variants) <= set(VARIANTS), self, "variants",
                f"choose from {', '.join(VARIANTS)}")
        require(self.steps > 0, self, "steps", "must be > 0")


def cpu() -> Config:
    """DEVIATION(D8): the quick model, 800 steps, built-in corpus (paper: base, WMT14)."""
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", seeds=(0,), steps=8, jobs=1)


PRESETS = {"cpu": cpu, "smoke": smoke}


def run_config(cfg: Config, variant: str, seed: int) -> T.Config:
    base = T.smoke() if cfg.preset == "smoke" else T.quick()
    changes = dict(VARIANTS[variant][1])
    if cfg.preset == "smoke" and "h" in changes:
        changes["h"] = 1
    return dataclasses.replace(
        base, **changes, preset=f"reproduce-{cfg.preset}", seed=seed, steps=cfg.steps,
        eval_every=max(1, cfg.steps // 5), ckpt_every=max(1, cfg.steps // 25),
        data_root=cfg.data_root, device=cfg.device, progress=False, resume=True,
        out=str(Path(cfg.out) / "runs" / f"{variant.replace(' ', '-')}-s{seed}"))


def _train(run: T.Config, threads: int) -> dict:
    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run, lambda s: s["step"] == run.steps and not s["stopped"])


def main(cfg: Config) -> dict:
    t0 = time.time()
    runs = {(v, s): run_config(cfg, v, s) for v in cfg.variants for s in cfg.seeds}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"reproduce: {len(runs)} runs, {min(cfg.jobs, len(runs))} at a time")
    todo = prepare(cfg, list(runs.values()))  # stale runs refused, retrained or reused
    summaries = dict(zip(runs, map_runs(_train, todo, cfg.jobs, threads=1), strict=True))

    results: dict = {"config": dataclasses.asdict(cfg), "paper": PAPER, "variants": {}}
    for (variant, seed), run in runs.items():
        s = summaries[(variant, seed)]
        records = read_metrics(Path(run.out) / "metrics.jsonl")
        valid = [r for r in records if r["split"] == "valid"][-1]
        entry = results["variants"].setdefault(variant, {"row": VARIANTS[variant][0],
                                                         "runs": []})
        entry["runs"].append({"seed": seed, "test_bleu": s["test_bleu"],
                              "test_bleu_averaged": s.get("test_bleu_averaged"),
                              "test_chrf": s.get("test_chrf"),
                              "test_length_ratio": s.get("test_length_ratio"),
                              "test_exact": s.get("test_exact"),
                              "long_bleu": s.get("long_bleu"),
                              "valid_perplexity": valid["perplexity"],
                              "valid_bleu_greedy": valid.get("bleu_greedy"),
                              "params": s["params"], "train_time_s": s["train_time_s"]})
        results["copy_source_bleu"] = s["copy_source_bleu"]
        results["bleu_signature"] = s["bleu_signature"]
        results["env"] = records[0]["env"]
        results["data"] = records[0]["data"]
    for entry in results["variants"].values():
        entry.update(over_seeds(entry["runs"], ("test_bleu", "test_bleu_averaged", "test_chrf",
                                                "test_length_ratio", "test_exact", "long_bleu",
                                                "valid_perplexity", "valid_bleu_greedy")))
    base = results["variants"].get("base")
    for name, entry in results["variants"].items():
        if base and name != "base":  # the change from base, paired by seed, and its 95% interval
            entry["vs_base"] = {key: paired_difference(entry["runs"], base["runs"], key)
                                for key in DELTAS}
    results["claims"] = claims(results)
    results.update(totals(summaries.values(), t0))
    figures(results, out)
    first = runs[next(iter(runs))]
    plot_attention(first, Path(first.out), out / "attention.png")
    write_results(out, results, markdown(cfg, results))
    return results


def claims(r: dict) -> dict:
    v = r["variants"]

    def mean(name: str, key: str) -> float | None:
        return v[name][key]["mean"] if name in v and key in v[name] else None

    out = {}
    if "1 head" in v and "base" in v:
        out["A: one head is worse (BLEU)"] = mean("1 head", "test_bleu") < mean("base",
                                                                                  "test_bleu")
    if "no label smoothing" in v and "base" in v:
        out["D: label smoothing raises perplexity"] = (
            mean("base", "valid_perplexity") > mean("no label smoothing", "valid_perplexity"))
        out["D: label smoothing raises BLEU"] = (
            mean("base", "test_bleu") > mean("no label smoothing", "test_bleu"))
    if "learned positions" in v and "base" in v:
        out["E: learned ~ sinusoidal on test (within 1 BLEU)"] = abs(
            mean("learned positions", "test_bleu") - mean("base", "test_bleu")) <= 1.0
        if mean("base", "long_bleu") is not None:
            out["E: sinusoids extrapolate better to longer sentences"] = (
                mean("base", "long_bleu") > mean("learned positions", "long_bleu"))
    return out


def figures(results: dict, out: Path) -> list[Path]:
    """Table 3 in miniature (table3.png) from the results alone, and Eq. 3 (lr_schedule.png)."""
    return [plot_table3(results, out / "table3.png"), plot_schedule(out / "lr_schedule.png")]


def plot_table3(r: dict, path: Path) -> Path:
    """Every seed a point, the mean a bar: test BLEU, the change from the base row (paired by
    seed) in BLEU and validation perplexity beside the paper's change, and BLEU on sentences
    longer than any in training."""
    import matplotlib.pyplot as plt

    from milestones.core.plots import subplots

    variants = r["variants"]
    names = list(variants)
    colors = dict(zip(names, plt.get_cmap("tab10").colors, strict=False))
    base = {run["seed"]: run for run in variants.get("base", {}).get("runs", [])}

    def values(name: str, key: str, delta: bool) -> list[float]:
        runs = [run for run in variants[name]["runs"] if run.get(key) is not None]
        if not delta:
            return [run[key] for run in runs]
        return [run[key] - base[run["seed"]][key] for run in runs
                if base.get(run["seed"], {}).get(key) is not None]

    def panel(ax, key: str, title: str, ylabel: str, paper: int | None = None) -> None:
        shown = [n for n in names if paper is None or n != "base"]
        for i, name in enumerate(shown):
            ys = values(name, key, delta=paper is not None)
            if not ys:
                continue
            xs = [i + 0.12 * (j - (len(ys) - 1) / 2) for j in range(len(ys))]
            ax.scatter(xs, ys, s=28, color=colors[name], alpha=0.8, zorder=3)
            ax.hlines(sum(ys) / len(ys), i - 0.3, i + 0.3, color=colors[name], lw=2.5)
            if paper is not None and name in PAPER and "base" in PAPER:
                ax.scatter([i + 0.38], [PAPER[name][paper] - PAPER["base"][paper]], marker="D",
                           s=40, color="black", zorder=4)
        if paper is not None:
            ax.axhline(0, color="0.4", lw=1)
        ax.set_xticks(range(len(shown)),
                      [f"{n}\n({variants[n]['row']})" if n != "base" else n for n in shown],
                      fontsize=8)
        ax.set_xlim(-0.6, len(shown) - 0.4)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, axis="y")

    fig, axes = subplots(2, 2, figsize=(11, 8), dpi=110)
    panel(axes[0, 0], "test_bleu", "(a) test BLEU", "BLEU")
    panel(axes[0, 1], "test_bleu", "(b) BLEU change from base, paired by seed", "Δ BLEU",
          paper=1)
    panel(axes[1, 0], "valid_perplexity", "(c) validation perplexity change from base",
          "Δ perplexity", paper=0)
    panel(axes[1, 1], "long_bleu", "(d) BLEU on sentences longer than any in training "
          "(§3.5)", "BLEU")
    seeds = len(r.get("config", {}).get("seeds", [])) or max(len(v["runs"]) for v in
                                                             variants.values())
    fig.suptitle(f"Table 3 rows (A), (D), (E) in miniature: quick model, built-in corpus, "
                 f"{seeds} seed(s)\nabsolute numbers are not comparable with the paper's (a toy "
                 "corpus vs WMT), so (b) and (c) set our changes beside the paper's", fontsize=11)
    handles = [plt.Line2D([], [], color="0.35", marker="o", ls="", label="ours, one seed"),
               plt.Line2D([], [], color="0.35", lw=2.5, label="ours, mean over seeds"),
               plt.Line2D([], [], color="black", marker="D", ls="",
                          label="paper, Table 3 (newstest2013)")]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path)
    return path


def plot_schedule(path: Path) -> Path:
    """Eq. 3 on linear axes (the warm-up is a straight line): the paper's base and big models
    over 100k steps, and our small models over their own steps."""

    from milestones.core.plots import subplots

    fig, (left, right) = subplots(1, 2, figsize=(11, 3.8), dpi=110)
    base = T.paper()
    steps = range(1, 100_001, 50)
    for label, cfg in ((f"base (d_model {base.d_model})", base),
                       ("big (d_model 1024)", dataclasses.replace(base, d_model=1024))):
        left.plot(steps, [T.learning_rate(cfg, s) for s in steps], label=label)
    left.axvline(base.warmup, color="0.4", ls=":", lw=1)
    left.annotate(f"warmup_steps = {base.warmup:,}", (base.warmup, 0), xytext=(6, 6),
                  textcoords="offset points", xycoords=("data", "axes fraction"), fontsize=8)
    left.set_title("the paper's models, 100k steps")
    small = [("quick", T.quick())]
    if "multi30k" in T.PRESETS:
        small.append(("multi30k", T.PRESETS["multi30k"]()))
    for name, cfg in small:
        qs = range(1, cfg.steps + 1)
        scale = f", x {cfg.lr_scale:g}" if cfg.lr_scale != 1 else ""
        right.plot(qs, [T.learning_rate(cfg, s) for s in qs],
                   label=f"{name} (d_model {cfg.d_model}{scale}, {cfg.steps:,} steps)")
    warmups = sorted({cfg.warmup for _, cfg in small})
    for w in warmups:
        right.axvline(w, color="0.4", ls=":", lw=1)
        right.annotate(f"warmup_steps = {w:,}", (w, 0), xytext=(6, 6),
                       textcoords="offset points", xycoords=("data", "axes fraction"),
                       fontsize=8)
    right.set_title("ours (CPU presets)")
    left.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k" if x else "0")
    for ax in (left, right):
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
        ax.set_ylim(0, None)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Eq. 3: lrate = d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)")
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_attention(cfg: T.Config, run_dir: Path, path: Path) -> Path:
    """Every head of the last encoder self-attention, decoder self-attention and cross-attention
    layer, for the first test sentence (Figures 3-5 style)."""

    from safetensors.torch import load_model

    from milestones.core.plots import subplots

    corpus, tok, encoded = T.load_data(cfg)
    model = T.build_model(cfg, tok.vocab_size)
    load_model(model, str(run_dir / "model.safetensors"))
    model.eval()
    src_ids, tgt_ids = encoded["test"][0]
    src = torch.tensor([src_ids])
    tgt_in = torch.tensor([[BOS_ID] + tgt_ids])
    with torch.no_grad():
        maps = model.attention_weights(src, tgt_in)
    src_tokens = [tok.decode([i]) for i in src_ids]
    tgt_tokens = ["<s>"] + [tok.decode([i]) for i in tgt_ids]
    kinds = (("encoder", src_tokens, src_tokens), ("decoder", tgt_tokens, tgt_tokens),
             ("cross", tgt_tokens, src_tokens))
    heads = maps["encoder"][-1].shape[1]
    fig, axes = subplots(3, heads, figsize=(3.2 * heads, 9.5), dpi=100, squeeze=False)
    for row, (kind, rows, cols) in enumerate(kinds):
        w = maps[kind][-1][0]  # (h, T_q, T_k)
        for h in range(heads):
            ax = axes[row][h]
            ax.imshow(w[h].numpy(), cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=6)
            ax.set_yticks(range(len(rows)), rows, fontsize=6)
            ax.set_title(f"{kind}, head {h + 1}", fontsize=8)
    fig.suptitle("Attention of the last layer, one test sentence (rows: queries)")
    fig.tight_layout()
    fig.savefig(path)
    return path


def markdown(cfg: Config, r: dict) -> str:
    env, data = r.get("env", {}), r.get("data", {})
    q = T.quick()
    lines = [
        "# Transformer: Table 3 rows (A), (D), (E) in miniature", "",
        f"Command: `python -m milestones.transformer.reproduce --preset {cfg.preset}`  ",
        f"Data: {data.get('name')} ({data.get('source')}), {data.get('train')} training pairs, "
        f"{data.get('test')} test pairs, shared BPE vocabulary {data.get('vocab')}  ",
        f"Model: the quick preset (N {q.N}, d_model {q.d_model}, h {q.h}, d_ff "
        f"{q.d_ff}), {cfg.steps} steps of ~{q.max_tokens} tokens, Eq. 3 with warmup {q.warmup}, "
        f"last {q.average_last} checkpoints averaged for nothing but the 'averaged' column; test "
        f"BLEU by beam search {q.beam}, alpha {q.length_penalty}; seeds {list(cfg.seeds)}  ",
        f"Hardware: {env.get('device_name')} ({env.get('device')}); torch {env.get('torch')}, "
        f"git {str(env.get('git_sha'))[:10]}, {env.get('started')}; "
        f"{r['train_time_s'] / 60:.0f} min of training summed over runs  ",
        f"BLEU: sacrebleu, detokenised ({r.get('bleu_signature')}); the paper's is tokenised. "
        f"Copying the source scores {r.get('copy_source_bleu', float('nan')):.1f}.", "",
        "| variant | Table 3 row | test BLEU | chrF | length ratio | exact | averaged-checkpoint "
        "BLEU | BLEU, longer sentences | valid perplexity | valid BLEU, greedy "
        "| paper: PPL, BLEU |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, e in r["variants"].items():
        ppl, bl = PAPER[name]
        lines.append(f"| {name} | {e['row']} | {fmt(e.get('test_bleu'), 1)} | "
                     f"{fmt(e.get('test_chrf'), 1)} | {fmt(e.get('test_length_ratio'), 3)} | "
                     f"{fmt(e.get('test_exact'), 3)} | {fmt(e.get('test_bleu_averaged'), 1)} | "
                     f"{fmt(e.get('long_bleu'), 1)} | {fmt(e.get('valid_perplexity'), 3)} | "
                     f"{fmt(e.get('valid_bleu_greedy'), 1)} | {ppl}, {bl} |")
    lines += ["", "mean ± std over seeds; test: beam search; exact: the share of test sentences "
              "translated exactly.", "", "## Changes from the base row, paired by seed", "",
              "the mean over seeds of (variant − base) ± the half-width of its 95% t-interval; "
              "**resolved**: the interval excludes 0 (the change is told apart from the seed "
              "noise).", "",
              "| variant | Δ test BLEU | Δ chrF | Δ valid perplexity | Δ BLEU, longer sentences "
              "| paper: Δ PPL, Δ BLEU |", "|---|---|---|---|---|---|"]
    for name, e in r["variants"].items():
        if "vs_base" not in e:
            continue
        cells = []
        for key in DELTAS:
            d = e["vs_base"].get(key)
            cells.append("-" if d is None else
                         f"{d['mean']:+.{3 if 'perplexity' in key else 1}f}"
                         + ("" if d["ci95"] is None else
                            f" ± {d['ci95']:.{3 if 'perplexity' in key else 1}f}")
                         + (" **resolved**" if d["resolved"] else ""))
        ppl, bl = PAPER[name]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ppl - PAPER['base'][0]:+.2f}, "
                     f"{bl - PAPER['base'][1]:+.1f} |")
    lines += ["", "## The claims", ""]
    lines += [f"- {name}: **{'yes' if ok else 'no'}**" for name, ok in r["claims"].items()]
    lines += ["", "![Table 3](table3.png)", "", "![Eq. 3](lr_schedule.png)", "",
              "![attention](attention.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
