"""BERT's claims in miniature on CPU: ``python -m milestones.bert.reproduce``.

    python -m milestones.bert.reproduce                  # real English + real GLUE, 2 CPU cores
    python -m milestones.bert.reproduce --preset smoke   # seconds (tests)

1. **Pre-training helps** (§1, §5, Turc et al. 2019): BERT-Tiny pre-trained on real English
   (Project Gutenberg novels) for a stated CPU budget, against the same model from random
   initialisation, each fine-tuned on the real GLUE tasks (CoLA, SST-2, MRPC, STS-B, RTE; §4.1's
   recipe: batch 32, 3 epochs, the learning rate picked on dev from a grid, then 3 seeds),
   beside the published BERT-Tiny test scores.
2. **Table 5 in miniature** (§5.1): the same small model pre-trained on the built-in
   synthetic-language corpus as a masked LM with NSP, a masked LM without NSP, and a
   left-to-right LM without NSP (causal attention, "LTR & No NSP"), with the same steps and
   batches; each fine-tuned on a sentence-level task (agreement, CoLA-like) and a span task
   (subject extraction, SQuAD-like), 3 seeds, beside a randomly initialised model. The paper:
   LTR costs SQuAD far more (F1 88.5 -> 77.8) than SST-2 (92.7 -> 92.1).
3. **App. C.2, the masking procedure**: 80/10/10 against 100% [MASK] (the same fine-tunings).

Writes results.md, results.json and figures beside the paper's numbers.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from milestones.bert import finetune as FT
from milestones.bert import train as T
from milestones.core.config import require
from milestones.core.jobs import ReproduceConfig, map_runs, prepare, train_or_reuse
from milestones.core.report import fmt, over_seeds, paired_difference, totals, write_results
from milestones.core.run import cli

PARTS = ("glue", "table5", "masking")
GLUE_TASKS = ("cola", "sst2", "mrpc", "stsb", "rte")
ARMS = {  # Table 5's pre-training objectives (and App. C.2's masking), as train.Config changes
    "MLM + NSP (BERT)": {},
    "MLM, no NSP": {"nsp": False},
    "LTR, no NSP": {"objective": "ltr", "nsp": False},
    "MLM + NSP, 100% [MASK]": {"mask_split": (1.0, 0.0, 0.0)},
}
BUILTIN_TASKS = {"agreement": "accuracy", "spans": "f1"}  # the metric Table 5's drop uses
PAPER = {
    # Turc et al. 2019 (the BERT miniatures' README): BERT-Tiny on the GLUE *test* sets, %
    "bert_tiny_glue_test": {"cola": {"mcc": 0.0}, "sst2": {"accuracy": 83.2},
                            "mrpc": {"f1": 81.1, "accuracy": 71.1},
                            "stsb": {"pearson": 74.3, "spearman": 73.6},
                            "rte": {"accuracy": 57.2}},
    # Table 5 (BERT-Base, dev sets): MNLI-m, QNLI, MRPC, SST-2 accuracy; SQuAD v1.1 F1
    "table5": {"bert_base": {"sst2": 92.7, "squad_f1": 88.5},
               "no_nsp": {"sst2": 92.6, "squad_f1": 87.9},
               "ltr_no_nsp": {"sst2": 92.1, "squad_f1": 77.8}},
    # Table 8 (App. C.2): MNLI-m dev accuracy fine-tuned, 80/10/10 against [MASK] only
    "table8": {"mask_80_10_10": 84.2, "mask_100": 84.3},
}


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Reproduce BERT's claims in miniature."""

    preset: str = "cpu"
    """cpu (real English and GLUE on 2 cores), smoke (seconds, for tests)."""
    out: str = "runs/bert/reproduce"
    parts: tuple[str, ...] = PARTS
    """Which of glue (claim 1), table5 (claim 2), masking (App. C.2)."""
    data_root: str | None = None
    """Data root; default $MILESTONES_DATA, else ~/.cache/milestones."""
    corpus_dir: str | None = None
    """The Project Gutenberg novels (claim 1); default <data root>/gutenberg-novels."""
    glue_dir: str | None = None
    """GLUE's data folder (CoLA/, SST-2/, ...); default <data root>/glue."""
    model: str = "tiny"
    """BERT size of every run (Turc et al.'s tiny: L2/H128)."""
    pretrain_steps: int = 1500
    """Claim 1: pre-training steps on the novels."""
    pretrain_batch: int = 128
    """Claim 1: sequences per pre-training step (128 tokens each)."""
    pretrain_lr: float = 1e-3
    """Claim 1: peak learning rate (App. A's 1e-4 is for 1M steps)."""
    vocab_size: int = 30_000
    """Claim 1: WordPiece size (§3: 30,000)."""
    glue_lrs: tuple[float, ...] = (3e-4, 1e-4)
    """Fine-tuning grid (Turc et al.'s two largest; §4.1's 5e-5 ... 2e-5 suits BERT-Base)."""
    glue_train_size: int = 8000
    """Fine-tune on at most N training examples per task (SST-2 has 67k)."""
    stsb_dev: int = 1000
    """STS-B has no dev file here: this many training pairs are held out as dev."""
    table5_steps: int = 1500
    """Claim 2: pre-training steps of each arm on the built-in corpus."""
    builtin_lr: float = 1e-4
    """Claim 2: the fine-tuning learning rate on the built-in tasks."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(set(self.parts) <= set(PARTS), self, "parts", f"choose from {', '.join(PARTS)}")
        for field in ("pretrain_steps", "pretrain_batch", "pretrain_lr", "vocab_size",
                      "glue_train_size", "stsb_dev", "table5_steps", "builtin_lr"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(len(self.glue_lrs) > 0 and all(lr > 0 for lr in self.glue_lrs), self,
                "glue_lrs", "give at least one learning rate > 0")


def cpu() -> Config:
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", seeds=(0, 1), jobs=1, pretrain_steps=4, pretrain_batch=8,
                  vocab_size=400, glue_lrs=(1e-4,), glue_train_size=48, stsb_dev=32,
                  table5_steps=4)


PRESETS = {"cpu": cpu, "smoke": smoke}


# ---- the runs ------------------------------------------------------------------------------------

def _common(cfg: Config) -> dict:
    return dict(device=cfg.device, data_root=cfg.data_root, progress=False, resume=True,
                preset=f"reproduce-{cfg.preset}")


def novels_run(cfg: Config) -> T.Config:
    """Claim 1's pre-training: BERT-Tiny on the novels, 128-token pairs, MLM + NSP."""
    smoke = cfg.preset == "smoke"
    return T.Config(model=cfg.model, corpus="builtin" if smoke else "gutenberg",
                    data_dir=None if smoke else cfg.corpus_dir,
                    max_documents=200 if smoke else None, vocab_size=cfg.vocab_size,
                    max_len=32 if smoke else 128, long_max_len=32 if smoke else 128,
                    long_fraction=0.0, batch_size=cfg.pretrain_batch, steps=cfg.pretrain_steps,
                    lr=cfg.pretrain_lr, warmup_steps=max(1, cfg.pretrain_steps // 10),
                    log_every=max(1, cfg.pretrain_steps // 60), eval_every=max(
                        2, cfg.pretrain_steps // 6), ckpt_every=max(2, cfg.pretrain_steps // 6),
                    eval_sequences=32 if smoke else 2048, seed=0, **_common(cfg),
                    out=str(Path(cfg.out) / "runs" / "pretrain-novels"))


def builtin_run(cfg: Config, arm: str) -> T.Config:
    """Claim 2's pre-training arm on the built-in corpus (the quick preset's settings)."""
    base = T.smoke() if cfg.preset == "smoke" else T.quick()
    name = {"MLM + NSP (BERT)": "mlm-nsp", "MLM, no NSP": "mlm", "LTR, no NSP": "ltr",
            "MLM + NSP, 100% [MASK]": "mlm-nsp-mask100"}[arm]
    changes = dict(ARMS[arm], steps=cfg.table5_steps, finetune="none", model=cfg.model, seed=0,
                   eval_every=max(2, cfg.table5_steps // 6),
                   ckpt_every=max(2, cfg.table5_steps // 6), **_common(cfg),
                   out=str(Path(cfg.out) / "runs" / f"pretrain-builtin-{name}"))
    return dataclasses.replace(base, **changes)


def finetune_run(cfg: Config, pre: T.Config, task: str, init: str, lr: float, seed: int
                 ) -> FT.Config:
    smoke = cfg.preset == "smoke"
    builtin = task in BUILTIN_TASKS
    folder = f"{Path(pre.out).name}-{task}-{init}-lr{lr:g}-s{seed}"
    return FT.Config(task=task, checkpoint=pre.out, init=init, lr=lr, seed=seed,
                     data_dir=None if builtin else cfg.glue_dir,
                     max_len=32 if smoke else 64 if builtin else 128, max_query_len=8,
                     train_size=cfg.glue_train_size if not builtin or smoke else None,
                     dev_size=cfg.stsb_dev if task == "stsb" else None,
                     log_every=2 if smoke else 50, **_common(cfg),
                     out=str(Path(cfg.out) / "runs" / "finetune" / folder))


def _pretrain(run: T.Config, threads: int) -> dict:
    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run, lambda s: s["stopped"] is None)


def _finetune(run: FT.Config, threads: int) -> dict:
    torch.set_num_threads(threads)
    return train_or_reuse(FT.main, run, lambda s: s["stopped"] is None)


def _run_all(cfg: Config, fn, runs: list, jobs: int | None = None) -> dict[str, dict]:
    if not runs:
        return {}
    runs = prepare(cfg, runs)
    return dict(zip([r.out for r in runs], map_runs(fn, runs, jobs or cfg.jobs), strict=True))


# ---- the claims ---------------------------------------------------------------------------------

def main(cfg: Config) -> dict:
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    arms = [a for a in ARMS if "table5" in cfg.parts or (
        "masking" in cfg.parts and a in ("MLM + NSP (BERT)", "MLM + NSP, 100% [MASK]"))]
    pretrain = ({"novels": novels_run(cfg)} if "glue" in cfg.parts else {}) | {
        arm: builtin_run(cfg, arm) for arm in arms}
    print(f"reproduce: {len(pretrain)} pre-training runs")
    # the novels' run first, alone with every core (one long run is faster on 2 threads than on
    # 1 beside another job), then the built-in arms, --jobs at a time
    summaries = _run_all(cfg, _pretrain, [r for k, r in pretrain.items() if k == "novels"],
                         jobs=1)
    summaries |= _run_all(cfg, _pretrain, [r for k, r in pretrain.items() if k != "novels"])

    results: dict = {"config": dataclasses.asdict(cfg), "paper": PAPER,
                     "pretraining": {k: _pretrain_metrics(summaries[r.out])
                                     for k, r in pretrain.items()}}
    if "glue" in cfg.parts:
        results["glue"] = glue_part(cfg, pretrain["novels"], summaries)
    if arms:
        results["builtin"] = builtin_part(cfg, {a: pretrain[a] for a in arms}, summaries)
    results["claims"], results["claim_details"] = claims(results)
    results.update(totals(summaries.values(), t0))
    figures(results, out)
    write_results(out, results, markdown(cfg, results))
    return results


def _pretrain_metrics(s: dict) -> dict:
    return {k: s.get(k) for k in ("val_mlm_accuracy", "val_mlm_loss", "val_nsp_accuracy",
                                  "majority_mlm_accuracy", "train_tokens", "params",
                                  "vocab_size", "step", "train_time_s")}


def _ft(s: dict) -> dict:
    return {k.removeprefix("dev_"): v for k, v in s.items() if k.startswith("dev_")}


def glue_part(cfg: Config, pre: T.Config, summaries: dict) -> dict:
    """§4.1's selection: every learning rate of the grid with the first seed, the best on dev
    kept, then the other seeds at it; pre-trained and randomly initialised alike."""
    seed0, rest = cfg.seeds[0], cfg.seeds[1:]
    grid = {(task, init, lr): finetune_run(cfg, pre, task, init, lr, seed0)
            for task in GLUE_TASKS for init in ("pretrained", "random") for lr in cfg.glue_lrs}
    done = _run_all(cfg, _finetune, list(grid.values()))
    best = {}
    for task in GLUE_TASKS:
        for init in ("pretrained", "random"):
            best[task, init] = max(cfg.glue_lrs, key=lambda lr, t=task, i=init: _ft(
                done[grid[t, i, lr].out])["score"])
    more = {(task, init, s): finetune_run(cfg, pre, task, init, best[task, init], s)
            for task in GLUE_TASKS for init in ("pretrained", "random") for s in rest}
    done |= _run_all(cfg, _finetune, list(more.values()))
    summaries.update(done)
    res = {}
    for task in GLUE_TASKS:
        entry = {}
        for init in ("pretrained", "random"):
            lr = best[task, init]
            runs = [{"seed": seed0, **_ft(done[grid[task, init, lr].out])}] + [
                {"seed": s, **_ft(done[more[task, init, s].out])} for s in rest]
            metrics = [k for k in runs[0] if k not in ("seed",)]
            entry[init] = {"lr": lr, "grid": {f"{g:g}": _ft(done[grid[task, init, g].out])[
                "score"] for g in cfg.glue_lrs}, "runs": runs, **over_seeds(runs, metrics)}
        entry["difference"] = paired_difference(entry["pretrained"]["runs"],
                                                entry["random"]["runs"], "score")
        res[task] = entry
    return res


def builtin_part(cfg: Config, arms: dict[str, T.Config], summaries: dict) -> dict:
    """Each arm's encoder fine-tuned on both built-in tasks with every seed; a randomly
    initialised model of the first arm's shape beside them."""
    first = next(iter(arms.values()))
    jobs = {(arm, task, "pretrained", s): finetune_run(cfg, pre, task, "pretrained",
                                                       cfg.builtin_lr, s)
            for arm, pre in arms.items() for task in BUILTIN_TASKS for s in cfg.seeds}
    jobs |= {("random init", task, "random", s): finetune_run(cfg, first, task, "random",
                                                              cfg.builtin_lr, s)
             for task in BUILTIN_TASKS for s in cfg.seeds}
    done = _run_all(cfg, _finetune, list(jobs.values()))
    summaries.update(done)
    res: dict = {}
    for arm in [*arms, "random init"]:
        res[arm] = {}
        for task in BUILTIN_TASKS:
            runs = [{"seed": s, **_ft(done[jobs[arm, task, init, s].out])}
                    for (a, t, init, s) in jobs if a == arm and t == task]
            res[arm][task] = {"runs": runs, **over_seeds(runs, [k for k in runs[0]
                                                              if k != "seed"])}
        if arm in arms:
            res[arm]["pretraining"] = _pretrain_metrics(summaries[arms[arm].out])
    return res


HELPS = "pre-training beats random initialisation on average over the GLUE tasks"
LTR_SPANS = ("a left-to-right model loses on the span task (paired, resolved), and more than on "
             "the sentence task")
SPANS_LEARNED = ("pre-training helps the span task: the masked LM beats random initialisation "
                 "on span F1 (paired over seeds, the 95% interval excludes 0)")
AGREEMENT_LEARNED = ("pre-training helps the sentence task: the masked LM beats random "
                     "initialisation on agreement accuracy (paired, resolved)")
MASKING = "80/10/10 masking fine-tunes at least as well as 100% [MASK] (App. C.2)"


def claims(r: dict) -> tuple[dict[str, bool], dict]:
    """Each claim checked on the numbers (absent where its part did not run): {claim: holds},
    and the numbers behind them."""
    c: dict[str, bool] = {}
    details: dict = {}
    g = r.get("glue")
    if g:
        diffs = {t: e["difference"]["mean"] for t, e in g.items() if e["difference"]}
        details["glue_mean_gain"] = sum(diffs.values()) / len(diffs)
        details["glue_resolved_gains"] = sorted(
            t for t, e in g.items() if e["difference"] and e["difference"]["resolved"]
            and e["difference"]["mean"] > 0)
        c[HELPS] = details["glue_mean_gain"] > 0
    b = r.get("builtin")
    mlm = "MLM, no NSP"
    if b and mlm in b and "random init" in b:
        for task, metric, claim in (("spans", "f1", SPANS_LEARNED),
                                    ("agreement", "accuracy", AGREEMENT_LEARNED)):
            d = paired_difference(b[mlm][task]["runs"], b["random init"][task]["runs"], metric)
            details[f"{task}_gain_over_random"] = d
            c[claim] = bool(d and d["resolved"] and d["mean"] > 0)
    if b and "LTR, no NSP" in b and mlm in b:
        drop = {task: b[mlm][task][metric]["mean"] - b["LTR, no NSP"][task][metric]["mean"]
                for task, metric in BUILTIN_TASKS.items()}
        details["ltr_drop_points"] = {"spans_f1": 100 * drop["spans"],
                                      "agreement_accuracy": 100 * drop["agreement"]}
        # Table 5's finding: left-to-right reading costs the span task (resolved over seeds),
        # and costs it more than the sentence task
        d = paired_difference(b[mlm]["spans"]["runs"], b["LTR, no NSP"]["spans"]["runs"], "f1")
        details["spans_mlm_minus_ltr"] = d
        c[LTR_SPANS] = bool(d and d["resolved"] and d["mean"] > 0
                            and drop["spans"] > drop["agreement"])
    both = ("MLM + NSP (BERT)", "MLM + NSP, 100% [MASK]")
    if b and all(a in b for a in both):
        acc = [b[a]["agreement"]["accuracy"]["mean"] for a in both]
        details["masking_agreement_accuracy"] = dict(zip(("80/10/10", "100% [MASK]"), acc,
                                                         strict=True))
        c[MASKING] = acc[0] >= acc[1]
    return c, details


# ---- report -------------------------------------------------------------------------------------

def figures(r: dict, out: Path) -> list[Path]:
    """The figures, from the numbers of results.json alone (``python -m milestones.record
    figures bert`` redraws them from the committed file)."""
    from milestones.core.plots import subplots

    paths = []
    if r.get("glue"):
        fig, ax = subplots(figsize=(6.4, 3.8), dpi=120)
        tasks = list(r["glue"])
        for k, (init, colour) in enumerate((("pretrained", "C0"), ("random", "C7"))):
            means = [100 * r["glue"][t][init]["score"]["mean"] for t in tasks]
            stds = [100 * r["glue"][t][init]["score"]["std"] for t in tasks]
            ax.bar([i + 0.38 * k for i in range(len(tasks))], means, 0.38, yerr=stds,
                   color=colour, label=f"BERT-Tiny, {init}")
        ax.set_xticks([i + 0.19 for i in range(len(tasks))], tasks)
        ax.set_ylabel("dev score (GLUE's metric mean, %)")
        ax.set_title("Pre-training on novels vs random init (mean ± std over seeds)")
        ax.legend()
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        fig.savefig(out / "glue-pretrained-vs-random.png")
        paths.append(out / "glue-pretrained-vs-random.png")
    if r.get("builtin"):
        fig, axes = subplots(1, 2, figsize=(8, 3.6), dpi=120)
        arms = list(r["builtin"])
        for ax, (task, metric) in zip(axes, BUILTIN_TASKS.items(), strict=True):
            means = [100 * r["builtin"][a][task][metric]["mean"] for a in arms]
            stds = [100 * r["builtin"][a][task][metric]["std"] for a in arms]
            ax.barh(range(len(arms)), means, xerr=stds, color=[f"C{i}" for i in range(
                len(arms))])
            ax.set_yticks(range(len(arms)), arms if ax is axes[0] else [""] * len(arms))
            ax.set_xlabel(f"{task}: dev {metric} (%)")
            ax.grid(alpha=0.3, axis="x")
        fig.suptitle("Table 5 in miniature: pre-training objectives (built-in language)")
        fig.tight_layout()
        fig.savefig(out / "table5-objectives.png")
        paths.append(out / "table5-objectives.png")
    return paths


def markdown(cfg: Config, r: dict) -> str:
    lines = ["# BERT's claims in miniature", ""]
    pre = r["pretraining"]
    if "novels" in pre:
        p = pre["novels"]
        lines += ["## Claim 1: pre-training helps (real English, real GLUE)", "",
                  f"BERT-{cfg.model.capitalize()} pre-trained for {p['step']} steps of "
                  f"{cfg.pretrain_batch} x 128-token pairs ({p['train_time_s']:.0f} s) on "
                  f"{p['train_tokens']:,} tokens of novels: held-out MLM accuracy "
                  f"{100 * p['val_mlm_accuracy']:.1f}% (most frequent token: "
                  f"{100 * p['majority_mlm_accuracy']:.1f}%), NSP "
                  f"{100 * (p['val_nsp_accuracy'] or 0):.1f}%.", "",
                  "| task (dev) | metric | pre-trained | random init | difference (95% CI) | "
                  "BERT-Tiny, Turc et al. (test) |", "|---|---|---|---|---|---|"]
        for task, e in r["glue"].items():
            paper = PAPER["bert_tiny_glue_test"][task]
            d = e["difference"]
            diff = "-" if not d else (f"{100 * d['mean']:+.1f}" + (
                f" ± {100 * d['ci95']:.1f}" if d["ci95"] is not None else ""))
            pre, rnd = e["pretrained"], e["random"]
            lines.append(f"| {task} | {'/'.join(paper)} | {fmt(pre['score'], 1, scale=100)}"
                         f" (lr {pre['lr']:g}) | {fmt(rnd['score'], 1, scale=100)}"
                         f" (lr {rnd['lr']:g}) | {diff} | "
                         f"{' / '.join(f'{v:g}' for v in paper.values())} |")
        lines.append("")
    if r.get("builtin"):
        lines += ["## Claim 2: Table 5 in miniature (built-in language)", "",
                  "| pre-training | MLM acc. | NSP acc. | agreement acc. | agreement MCC | "
                  "spans EM | spans F1 |", "|---|---|---|---|---|---|---|"]
        for arm, e in r["builtin"].items():
            p = e.get("pretraining", {})
            mlm = f"{100 * p['val_mlm_accuracy']:.1f}" if p.get("val_mlm_accuracy") else "-"
            nsp = f"{100 * p['val_nsp_accuracy']:.1f}" if p.get("val_nsp_accuracy") else "-"
            agreement = e["agreement"]
            lines.append(f"| {arm} | {mlm} | {nsp} | {fmt(agreement['accuracy'], 1, scale=100)}"
                         f" | {fmt(agreement['mcc'], 2)} | "
                         f"{fmt(e['spans']['exact_match'], 1, scale=100)} | "
                         f"{fmt(e['spans']['f1'], 1, scale=100)} |")
        lines += ["", "Paper (Table 5, BERT-Base, dev): SST-2 92.7 / 92.6 / 92.1 and SQuAD F1 "
                  "88.5 / 87.9 / 77.8 for BERT-Base / No NSP / LTR & No NSP.", ""]
    lines += ["## Claims", ""] + [f"- {k}: **{'yes' if v else 'no'}**"
                                  for k, v in r["claims"].items()]
    lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in r["claim_details"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
