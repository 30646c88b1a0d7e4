"""Fig. 2, Fig. 3 and Table 1 in miniature on the built-in language pair, and RNNsearch against
the Transformer at equal training time: ``python -m milestones.attention.reproduce``.

    python -m milestones.attention.reproduce                  # CPU, 3 seeds, ~1 hour on 2 cores
    python -m milestones.attention.reproduce --preset smoke   # seconds (tests)
    python -m milestones.attention.reproduce --data-files pairs.tsv   # + Fig. 3 on your corpus
    python -m milestones.attention.reproduce --data-dir multi30k/     # + Multi30k De-En

Four models, as in §4.2: RNNencdec-30, RNNsearch-30, RNNencdec-50 and RNNsearch-50, trained on
the pairs of up to 30 and up to 50 words of the built-in corpus (the ``quick`` preset's model
and recipe, the same number of updates each), all tested on the same 1,000 sentences of 3 to 80
words.

- Fig. 2: BLEU against the source sentence's length. Paper: "the performance of RNNencdec
  dramatically drops as the length of the sentences increases"; "RNNsearch-50, especially,
  shows no performance deterioration even with sentences of length 50 or more".
- Fig. 3: the alignments alpha_ij of RNNsearch-50 on sample test sentences, as heat maps.
- Table 1: BLEU on all test sentences and on those without an unknown word, beside the paper's.
- The Transformer's ``quick`` model (``milestones.transformer``) trained on the same sentence
  pairs (written out as TSV files) for as long as RNNsearch-30 trained, seed for seed.

Writes results.md, results.json (every seed's numbers, per-length BLEU, the claims) and
fig2.png, fig3.png beside the paper's numbers.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from milestones.attention import data as D
from milestones.attention import train as T
from milestones.attention.decode import beam_search
from milestones.core.config import require
from milestones.core.jobs import ReproduceConfig, map_runs, prepare, train_or_reuse
from milestones.core.metrics import read_metrics
from milestones.core.report import fmt, over_seeds, paired_difference, totals, write_results
from milestones.core.run import cli
from milestones.core.text import bleu

MODELS = {  # name: (model, maximum training sentence length in words)
    "RNNencdec-30": ("rnnencdec", 30), "RNNsearch-30": ("rnnsearch", 30),
    "RNNencdec-50": ("rnnencdec", 50), "RNNsearch-50": ("rnnsearch", 50),
}
PAPER = {  # Table 1, WMT'14 En-Fr newstest2014: BLEU on all sentences, on those without UNK
    "RNNencdec-30": (13.93, 24.19), "RNNsearch-30": (21.50, 31.44),
    "RNNencdec-50": (17.82, 26.71), "RNNsearch-50": (26.75, 34.16),
}
SHORT, LONG = 0.25, 0.625  # short: up to 1/4 of the longest test sentence; long: above 5/8


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Reproduce Fig. 2, Fig. 3 and Table 1 on the built-in language pair."""

    preset: str = "cpu"
    """cpu (about an hour on 2 cores), smoke (seconds, for tests)."""
    out: str = "runs/attention/reproduce"
    models: tuple[str, ...] = tuple(MODELS)
    """Which of RNNencdec-30, RNNsearch-30, RNNencdec-50, RNNsearch-50 to train."""
    steps: int = 1500
    """Updates per model (the quick preset's; the paper trains each model for ~5 days)."""
    transformer: tuple[float, ...] = (1.0, 0.2)
    """Train the Transformer's quick model for as long as RNNsearch-30 trained (seed by seed) on
    the same pairs, at these multiples of Eq. 3's rate (1: the quick preset's; 0.2: its multi30k
    preset's, chosen there for a real corpus); () for none."""
    bin_width: int = 10
    """Width of Fig. 2's length bins, in words."""
    data_files: tuple[str, ...] = ()
    """A TSV corpus (one file, or train/valid/test): RNNsearch-30 is also trained on it, for its
    BLEU on real sentences and a Fig. 3 heat map of one."""
    data_dir: str | None = None
    """A folder of Multi30k's parallel text files (train.de/.en, val.*; plain or .gz): the same,
    on German-English image captions (ignored when --data-files is given)."""
    data_root: str | None = None
    """Data root for the vocabularies' cache; default $MILESTONES_DATA, else ~/.cache/milestones."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(set(self.models) <= set(MODELS), self, "models",
                f"choose from {', '.join(MODELS)}")
        require(self.steps > 0, self, "steps", "must be > 0")
        require(self.bin_width > 0, self, "bin_width", "must be > 0")
        require(len(self.data_files) in (0, 1, 3), self, "data_files",
                "give one TSV file (split 98/1/1) or three (train, valid, test)")


def cpu() -> Config:
    """DEVIATION(D7): the quick model and recipe, 1,500 updates, built-in corpus (paper: WMT14)."""
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", seeds=(0,), steps=6, jobs=1)


PRESETS = {"cpu": cpu, "smoke": smoke}


def run_config(cfg: Config, name: str, seed: int) -> T.Config:
    model, max_len = MODELS[name]
    smoke = cfg.preset == "smoke"
    base = T.smoke() if smoke else T.quick()
    return dataclasses.replace(
        base, model=model, max_len={30: 8, 50: 12}[max_len] if smoke else max_len,
        preset=f"reproduce-{cfg.preset}", seed=seed, steps=cfg.steps,
        eval_every=max(1, cfg.steps // 3), ckpt_every=max(1, cfg.steps // 15),
        data_root=cfg.data_root, device=cfg.device, progress=False, resume=True,
        out=str(Path(cfg.out) / "runs" / f"{name}-s{seed}"))


def real_config(cfg: Config) -> T.Config:
    """RNNsearch-30 on a real corpus: the user's TSV files, or Multi30k German-English, with
    the paper's 30,000-word shortlists (their vocabularies are smaller)."""
    base = run_config(cfg, "RNNsearch-30", cfg.seeds[0])
    where = (dict(dataset="tsv", data_files=cfg.data_files) if cfg.data_files else
             dict(dataset="multi30k", lang_pair="de-en", data_dir=cfg.data_dir))
    return dataclasses.replace(base, **where, src_vocab=30_000, tgt_vocab=30_000,
                               out=str(Path(cfg.out) / "runs" / f"{where['dataset']}-"
                                                                f"RNNsearch-30-s{cfg.seeds[0]}"))


def write_tsv(corpus, folder: Path) -> list[str]:
    """The corpus as train.tsv, valid.tsv, test.tsv (what the Transformer reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for split in ("train", "valid", "test"):
        path = folder / f"{split}.tsv"
        text = "".join(f"{s}\t{t}\n" for s, t in getattr(corpus, split))
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    return paths


def transformer_name(lr_scale: float) -> str:
    return "Transformer" if lr_scale == 1 else f"Transformer, Eq. 3 x {lr_scale:g}"


def transformer_config(cfg: Config, seed: int, files: list[str], minutes: float,
                       lr_scale: float):
    """The Transformer's quick model on the same pairs, with a wall-clock budget and no
    evaluation before the end (so the budget goes to training)."""
    from milestones.transformer import train as TT

    base = TT.smoke() if cfg.preset == "smoke" else TT.quick()
    scaled = "" if lr_scale == 1 else f"-lr{lr_scale:g}"
    return dataclasses.replace(
        base, dataset="tsv", data_files=tuple(files), preset=f"reproduce-{cfg.preset}",
        seed=seed, eval_every=base.steps, max_minutes=minutes, lr_scale=lr_scale,
        data_root=cfg.data_root, device=cfg.device, progress=False, resume=True,
        out=str(Path(cfg.out) / "runs" / f"Transformer{scaled}-s{seed}"))


def _train(run: T.Config, threads: int) -> dict:
    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run, lambda s: s["step"] == run.steps and not s["stopped"])


def _train_transformer(run, threads: int) -> dict:
    from milestones.transformer import train as TT

    torch.set_num_threads(threads)
    return train_or_reuse(TT.main, run, lambda s: s["stopped"] in (None, "max_minutes"))


# ---- Fig. 2: BLEU by sentence length -------------------------------------------------------------

def length_bins(lengths: list[int], width: int) -> list[tuple[int, int]]:
    """[lo, hi] ranges of ``width`` words covering ``lengths``, from 1."""
    top = max(lengths)
    return [(lo, lo + width - 1) for lo in range(1, top + 1, width)
            if any(lo <= n < lo + width for n in lengths)]


def bleu_by_length(hyps: list[str], pairs: list, bins: list[tuple[int, int]]) -> list[dict]:
    """Corpus BLEU of the test sentences whose source length falls in each bin."""
    out = []
    for lo, hi in bins:
        idx = [i for i, (s, _) in enumerate(pairs) if lo <= D.length(s) <= hi]
        out.append({"lo": lo, "hi": hi, "n": len(idx),
                    "bleu": bleu([hyps[i] for i in idx], [pairs[i][1] for i in idx])[0]
                    if idx else None})
    return out


def range_bleu(hyps: list[str], pairs: list, lo: int, hi: int) -> float | None:
    idx = [i for i, (s, _) in enumerate(pairs) if lo <= D.length(s) <= hi]
    return bleu([hyps[i] for i in idx], [pairs[i][1] for i in idx])[0] if idx else None


def main(cfg: Config) -> dict:
    t0 = time.time()
    runs = {(m, s): run_config(cfg, m, s) for m in cfg.models for s in cfg.seeds}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = [real_config(cfg)] if cfg.data_files or cfg.data_dir else []
    print(f"reproduce: {len(runs) + len(extra)} runs, {min(cfg.jobs, len(runs))} at a time")
    todo = prepare(cfg, list(runs.values()) + extra)
    done = map_runs(_train, todo, cfg.jobs, threads=1)
    summaries = dict(zip(runs, done, strict=False))
    if extra:  # the real corpus: its test BLEU beside copying the source
        s = done[-1]
        results_real = {key: s.get(key) for key in (
            "dataset", "pair", "test_bleu", "test_bleu_no_unk", "test_known_fraction",
            "test_chrf", "test_length_ratio", "copy_source_bleu", "params", "train_time_s")}
        results_real["data"] = read_metrics(Path(extra[0].out) / "metrics.jsonl")[0]["data"]
    first = next(iter(runs.values()))
    corpus, _, _ = T.load_data(first)  # the test set is the same for every model
    test = corpus.test
    bins = length_bins([D.length(s) for s, _ in test], cfg.bin_width)
    top = max(D.length(s) for s, _ in test)  # 80 words: short 1-20, long 51-80 (Fig. 2)
    short, long = (1, round(SHORT * top)), (round(LONG * top) + 1, top)

    results: dict = {"config": dataclasses.asdict(cfg), "paper": PAPER, "models": {},
                     "bins": bins, "short": short, "long": long}
    for (name, seed), run in runs.items():
        s = summaries[(name, seed)]
        hyps = (Path(run.out) / "test-translations.txt").read_text(encoding="utf-8").splitlines()
        records = read_metrics(Path(run.out) / "metrics.jsonl")
        entry = results["models"].setdefault(name, {"runs": []})
        entry["runs"].append({
            "seed": seed, "test_bleu": s["test_bleu"], "test_bleu_no_unk": s.get(
                "test_bleu_no_unk"), "test_known_fraction": s["test_known_fraction"],
            "test_chrf": s["test_chrf"], "test_length_ratio": s["test_length_ratio"],
            "short_bleu": range_bleu(hyps, test, *short),
            "long_bleu": range_bleu(hyps, test, *long),
            "by_length": bleu_by_length(hyps, test, bins), "params": s["params"],
            "train_time_s": s["train_time_s"], "train_pairs": records[0]["data"]["train"]})
        results["copy_source_bleu"] = s["copy_source_bleu"]
        results["bleu_signature"] = s["bleu_signature"]
        results["env"] = records[0]["env"]
        results["data"] = records[0]["data"]
    if cfg.transformer and "RNNsearch-30" in cfg.models:
        files = write_tsv(T.load_data(runs[("RNNsearch-30", cfg.seeds[0])])[0], out / "data")
        trans = {(transformer_name(x), seed): transformer_config(
            cfg, seed, files, summaries[("RNNsearch-30", seed)]["train_time_s"] / 60, x)
            for x in cfg.transformer for seed in cfg.seeds}
        done = map_runs(_train_transformer, prepare(cfg, list(trans.values())), cfg.jobs,
                        threads=1)
        for ((name, seed), run), s in zip(trans.items(), done, strict=True):
            hyps = (Path(run.out) / "test-translations.txt").read_text(
                encoding="utf-8").splitlines()
            entry = results["models"].setdefault(name, {"runs": []})
            entry["runs"].append({
                "seed": seed, "test_bleu": s["test_bleu"], "test_chrf": s["test_chrf"],
                "test_length_ratio": s["test_length_ratio"],
                "short_bleu": range_bleu(hyps, test, *short),
                "long_bleu": range_bleu(hyps, test, *long),
                "by_length": bleu_by_length(hyps, test, bins), "params": s["params"],
                "train_time_s": s["train_time_s"], "steps": s["step"],
                "budget_s": run.max_minutes * 60, "lr_scale": run.lr_scale})
            summaries[(name, seed)] = s
    for entry in results["models"].values():
        entry.update(over_seeds(entry["runs"], ("test_bleu", "test_bleu_no_unk",
                                                "test_known_fraction", "test_chrf",
                                                "test_length_ratio", "short_bleu", "long_bleu",
                                                "train_time_s")))
        for run in entry["runs"]:
            if run.get("short_bleu") is not None and run.get("long_bleu") is not None:
                run["drop"] = run["short_bleu"] - run["long_bleu"]  # how much BLEU length costs
                # the share of its short-sentence BLEU a model keeps on long sentences (added
                # after the first run: the drop in points is larger the higher a model starts)
                run["kept"] = run["long_bleu"] / run["short_bleu"] if run["short_bleu"] else None
        entry.update(over_seeds(entry["runs"], ("drop", "kept")))
    results["paired"] = paired(results["models"])
    results["claims"] = claims(results)
    results.update(totals(summaries.values(), t0))
    plot_fig2(results, out / "fig2.png")
    search50 = runs.get(("RNNsearch-50", cfg.seeds[0])) or runs.get(("RNNsearch-30",
                                                                     cfg.seeds[0]))
    if search50 is not None:
        results["fig3"] = plot_fig3(search50, out / "fig3.png")
    if extra:
        results["real"] = {**results_real, "fig3": plot_fig3(extra[0], out / "fig3-real.png")}
    write_results(out, results, markdown(cfg, results))
    return results


def paired(models: dict) -> dict:
    """RNNsearch - RNNencdec at each training length, seed by seed: test BLEU and the drop from
    short to long sentences (each with its 95% interval); and the Transformer - RNNsearch-30."""
    out = {}
    for L in (30, 50):
        a, b = models.get(f"RNNsearch-{L}"), models.get(f"RNNencdec-{L}")
        if a and b:
            out[f"RNNsearch-{L} - RNNencdec-{L}"] = {
                key: paired_difference(a["runs"], b["runs"], key)
                for key in ("test_bleu", "long_bleu", "drop")}
    for name in models:
        if name.startswith("Transformer") and models.get("RNNsearch-30"):
            out[f"{name} - RNNsearch-30"] = {
                key: paired_difference(models[name]["runs"], models["RNNsearch-30"]["runs"], key)
                for key in ("test_bleu", "long_bleu", "drop")}
    return out


def claims(r: dict) -> dict:
    """The paper's statements, judged on the means over seeds (and, where paired, their 95%
    intervals: 'resolved' in results.md)."""
    m = r["models"]

    def mean(name: str, key: str) -> float | None:
        return m[name][key]["mean"] if name in m and key in m[name] else None

    def gt(a: float | None, b: float | None) -> bool | None:  # None: not measured
        return None if a is None or b is None else a > b

    out = {}
    for L in (30, 50):
        s, e = f"RNNsearch-{L}", f"RNNencdec-{L}"
        if s in m and e in m:
            out[f"Table 1: {s} beats {e} on all test sentences"] = gt(
                mean(s, "test_bleu"), mean(e, "test_bleu"))
            out[f"Fig. 2: {e} loses more BLEU from short to long sentences than {s}"] = gt(
                mean(e, "drop"), mean(s, "drop"))
            out[f"Fig. 2: {e} keeps a smaller share of its BLEU on long sentences than {s} "
                f"(added after the first run)"] = gt(mean(s, "kept"), mean(e, "kept"))
    for name in ("RNNencdec-30", "RNNencdec-50"):
        if name in m:
            out[f"Fig. 2: {name}'s BLEU falls with length (long < short)"] = gt(
                mean(name, "short_bleu"), mean(name, "long_bleu"))
    if "RNNsearch-50" in m:
        short = mean("RNNsearch-50", "short_bleu")
        out["Fig. 2: RNNsearch-50 shows no deterioration (long BLEU > 90% of short)"] = gt(
            mean("RNNsearch-50", "long_bleu"), None if short is None else 0.9 * short)
    for kind in ("RNNsearch", "RNNencdec"):
        if f"{kind}-30" in m and f"{kind}-50" in m:
            out[f"Table 1: {kind}-50 beats {kind}-30 on long sentences"] = gt(
                mean(f"{kind}-50", "long_bleu"), mean(f"{kind}-30", "long_bleu"))
    for name in m:
        if name.startswith("Transformer") and "RNNsearch-30" in m:
            out[f"{name} beats RNNsearch-30 at equal training time"] = gt(
                mean(name, "test_bleu"), mean("RNNsearch-30", "test_bleu"))
    return out


# ---- plots ---------------------------------------------------------------------------------------

STYLE = {"RNNencdec-30": ("tab:blue", ":"), "RNNencdec-50": ("tab:blue", "--"),
         "RNNsearch-30": ("tab:red", ":"), "RNNsearch-50": ("tab:red", "-"),
         "Transformer": ("tab:green", "-."), "Transformer, Eq. 3 x 0.2": ("tab:olive", "-.")}


def plot_fig2(r: dict, path: Path) -> Path:
    """BLEU against source length, the mean over seeds and its spread (Fig. 2's style)."""
    from milestones.core.plots import subplots

    fig, ax = subplots(figsize=(7.5, 4.6), dpi=110)
    for name, entry in r["models"].items():
        color, ls = STYLE.get(name, ("black", "-"))
        per_bin = list(zip(*[[b["bleu"] for b in run["by_length"]] for run in entry["runs"]],
                           strict=True))
        xs, means, lows, highs = [], [], [], []
        for (lo, hi), values in zip(r["bins"], per_bin, strict=True):
            values = [v for v in values if v is not None]
            if values:
                xs.append((lo + hi) / 2)
                means.append(sum(values) / len(values))
                lows.append(min(values))
                highs.append(max(values))
        ax.plot(xs, means, color=color, ls=ls, lw=2, marker="o", ms=3, label=name)
        ax.fill_between(xs, lows, highs, color=color, alpha=0.12)
    trained = [30, 50]
    for L in trained:
        ax.axvline(L, color="0.5", lw=0.8, ls=":")
        ax.annotate(f"longest training sentence (-{L})", (L, 0.02), xycoords=("data",
                    "axes fraction"), rotation=90, fontsize=7, color="0.4", ha="right")
    seeds = len(next(iter(r["models"].values()))["runs"])
    ax.set_xlabel("sentence length (source words)")
    ax.set_ylabel("BLEU score")
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Fig. 2 in miniature: built-in language pair, {seeds} seed(s) "
                 f"(line: mean, band: min-max)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_fig3(run: T.Config, path: Path, count: int = 3) -> dict:
    """Heat maps of alpha_ij (Fig. 3) for test sentences of 8 to 20 words, the model's own beam
    translations on the rows; returns what was plotted."""
    from safetensors.torch import load_model

    from milestones.core.plots import subplots
    from milestones.core.text import Tokenizer

    corpus, _, _ = T.load_data(run)
    src_tok = Tokenizer.load(Path(run.out) / "vocab-source.json")
    tgt_tok = Tokenizer.load(Path(run.out) / "vocab-target.json")
    model = T.build_model(run, src_tok.vocab_size, tgt_tok.vocab_size)
    load_model(model, str(Path(run.out) / "model.safetensors"))
    model.eval()
    picked = [(s, t) for s, t in corpus.test if 8 <= D.length(s) <= 20][:count] or \
        corpus.test[:count]
    fig, axes = subplots(1, len(picked), figsize=(5.2 * len(picked), 5.4), dpi=100,
                             squeeze=False)
    shown = []
    for ax, (src, ref) in zip(axes[0], picked, strict=True):
        ids = src_tok.encode(src)
        best = beam_search(model, torch.tensor([ids]), beam_size=run.beam)[0][0]
        rows = [tgt_tok.decode([i]) or tgt_tok.hf.id_to_token(i) for i in best.tokens]
        cols = [src_tok.decode([i]) or src_tok.hf.id_to_token(i) for i in ids]
        ax.imshow(best.alignment.numpy(), cmap="gray", vmin=0, vmax=1)  # (output, source)
        ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7)
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        ax.xaxis.tick_top()
        shown.append({"source": src, "reference": ref, "output": tgt_tok.decode(best.tokens)})
    fig.suptitle(f"Fig. 3 in miniature: alignments alpha_ij of {run.model}-{run.max_len} "
                 f"(columns: source words, rows: its translation; white = 1)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return {"path": path.name, "sentences": shown}


# ---- the report ----------------------------------------------------------------------------------

def markdown(cfg: Config, r: dict) -> str:
    env, data = r.get("env", {}), r.get("data", {})
    q = T.quick()
    lines = [
        "# Bahdanau attention: Fig. 2, Fig. 3 and Table 1 in miniature", "",
        f"Command: `python -m milestones.attention.reproduce --preset {cfg.preset}`  ",
        f"Data: {data.get('name')} ({data.get('source')}); word shortlists of "
        f"{data.get('src_vocab')} source and {data.get('tgt_vocab')} target entries  ",
        f"Models: the quick preset (m {q.embed_dim}, n {q.hidden_size}, l {q.maxout_size}, n' "
        f"{q.align_size}), {cfg.steps} updates of {q.batch_size} pairs, {q.optimizer} "
        f"{q.lr:g}; test BLEU by beam search ({q.beam}); seeds {list(cfg.seeds)}  ",
        f"Hardware: {env.get('device_name')} ({env.get('device')}); torch {env.get('torch')}; "
        f"{r['train_time_s'] / 60:.0f} min of training summed over runs  ",
        f"BLEU: sacrebleu, detokenised ({r.get('bleu_signature')}); the paper's is tokenised. "
        f"Copying the source scores {r.get('copy_source_bleu', float('nan')):.1f}.", "",
        "## Table 1 in miniature", "",
        f"| model | test BLEU, all | test BLEU, no UNK | BLEU, {r['short'][0]}-{r['short'][1]} "
        f"words | BLEU, {r['long'][0]}-{r['long'][1]} words | kept, long / short | training s "
        "| paper: all, no UNK |",
        "|---|---|---|---|---|---|---|---|"]
    for name, e in r["models"].items():
        paper = PAPER.get(name)
        lines.append(f"| {name} | {fmt(e.get('test_bleu'), 1)} | "
                     f"{fmt(e.get('test_bleu_no_unk'), 1)} | {fmt(e.get('short_bleu'), 1)} | "
                     f"{fmt(e.get('long_bleu'), 1)} | {fmt(e.get('kept'), 2)} | "
                     f"{fmt(e.get('train_time_s'), 0)} | "
                     + (f"{paper[0]}, {paper[1]} |" if paper else "- |"))
    known = r["models"].get("RNNsearch-30", {}).get("test_known_fraction")
    lines += ["", f"mean ± std over seeds. No UNK: the test pairs whose source and reference "
              f"have no word outside the shortlists ({fmt(known, 3)} of them).", "",
              "## Paired by seed", "", "mean of the difference ± the half-width of its 95% "
              "t-interval; **resolved**: the interval excludes 0.", "",
              "| comparison | Δ test BLEU | Δ BLEU on long sentences | Δ drop (short − long) |",
              "|---|---|---|---|"]
    for name, d in r["paired"].items():
        cells = []
        for key in ("test_bleu", "long_bleu", "drop"):
            x = d.get(key)
            cells.append("-" if x is None else f"{x['mean']:+.1f}"
                         + ("" if x["ci95"] is None else f" ± {x['ci95']:.1f}")
                         + (" **resolved**" if x["resolved"] else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## The claims", ""]
    lines += [f"- {name}: **{'not measured' if ok is None else 'yes' if ok else 'no'}**"
              for name, ok in r["claims"].items()]
    lines += ["", "![Fig. 2](fig2.png)", ""]
    if "fig3" in r:
        lines += ["![Fig. 3](fig3.png)", ""]
        for s in r["fig3"]["sentences"]:
            lines += [f"- source: {s['source']}  ", f"  output: {s['output']}  ",
                      f"  reference: {s['reference']}"]
        lines.append("")
    if "real" in r:
        x = r["real"]
        lines += [f"## A real corpus: {x['data']['source']}", "",
                  f"RNNsearch-30, the quick recipe, seed {cfg.seeds[0]}: test BLEU "
                  f"{x['test_bleu']:.1f} on {x['data']['test']} pairs (copying the source: "
                  f"{x['copy_source_bleu']:.1f}), {x['train_time_s']:.0f} s of training.", "",
                  "![Fig. 3 on the real corpus](fig3-real.png)", ""]
        for s in x["fig3"]["sentences"]:
            lines += [f"- source: {s['source']}  ", f"  output: {s['output']}  ",
                      f"  reference: {s['reference']}"]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
