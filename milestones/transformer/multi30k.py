"""The Transformer on a real corpus in CPU minutes: Multi30k German→English, three seeds.

    python -m milestones.transformer.multi30k --data-dir DIR   # the multi30k preset, 3 seeds
    python -m milestones.transformer.multi30k --preset smoke   # seconds (tests)

Trains ``train.py``'s ``multi30k`` preset once per seed (a run that finished before in ``--out``
is reused, as every ``reproduce.py`` does) and writes results.md / results.json: BLEU, chrF,
length ratio and exact matches on the validation set (greedy, every pair) and on the test set
(beam search, §6.1), each beside what copying the source scores, and beside the peers'
published Multi30k figures. Where the data folder holds no test files (the Multi30k Task 1 raw
files are train and val), the test set is 1,000 training pairs held out by a seeded permutation
and never trained on (``core.text.load_parallel``).

Peers (bentrevett/pytorch-seq2seq, 10 epochs on a GPU, De→En, the official test2016 split):
GRU encoder-decoder 20.61 BLEU, GRU with Bahdanau attention 28.30. Their BLEU is computed on
lowercased, spaCy-tokenised text; ours is sacrebleu's on cased, detokenised text, and also
lowercased (``bleu_lowercase``), which is nearer theirs.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from milestones.core.config import require
from milestones.core.jobs import ReproduceConfig, map_runs, prepare, train_or_reuse
from milestones.core.metrics import read_metrics
from milestones.core.report import fmt, over_seeds, totals, write_results
from milestones.core.run import cli
from milestones.transformer import train as T

PEERS = {  # bentrevett/pytorch-seq2seq notebooks 2 and 3: Multi30k De->En, test2016, 10 epochs
    "GRU encoder-decoder (Cho et al. 2014), 14.2M parameters": 20.61,
    "GRU + Bahdanau attention, 20.5M parameters": 28.30,
}
SCORES = ("bleu", "bleu_lowercase", "chrf", "length_ratio", "exact")


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Train the multi30k preset with several seeds; report validation and test scores."""

    preset: str = "cpu"
    """cpu (the multi30k preset, tens of minutes per seed on 2 cores), smoke (seconds, tests)."""
    out: str = "runs/transformer/multi30k"
    data_dir: str | None = None
    """A folder of Multi30k's parallel text files (train.de, train.en, val.de, val.en; plain or
    .gz); default <data root>/multi30k/, else Hugging Face datasets."""
    data_root: str | None = None
    """Data root (the BPE vocabulary is cached there); default $MILESTONES_DATA, else
    ~/.cache/milestones."""
    lang_pair: str = "de-en"
    """Direction: de-en (the peers'), or en-de (the Transformer paper's)."""
    steps: int | None = None
    """Optimizer steps per run; default the preset's."""
    lr_scale: float | None = None
    """Multiplies Eq. 3's rate; default the preset's (1 = the paper's rate)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.lang_pair in ("de-en", "en-de"), self, "lang_pair", "de-en or en-de")
        require(self.steps is None or self.steps > 0, self, "steps", "must be > 0")
        require(self.lr_scale is None or self.lr_scale > 0, self, "lr_scale", "must be > 0")


def cpu() -> Config:
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", seeds=(0,), jobs=1)


PRESETS = {"cpu": cpu, "smoke": smoke}


def run_config(cfg: Config, seed: int) -> T.Config:
    if cfg.preset == "smoke":
        base = dataclasses.replace(T.smoke(), dataset="multi30k", lang_pair=cfg.lang_pair,
                                   bleu_sentences=10_000)
    else:
        base = T.multi30k()
    return dataclasses.replace(
        base, preset=f"multi30k-{cfg.preset}", seed=seed, lang_pair=cfg.lang_pair,
        steps=cfg.steps or base.steps, lr_scale=cfg.lr_scale or base.lr_scale,
        data_dir=cfg.data_dir, data_root=cfg.data_root,
        device=cfg.device, progress=False, resume=True,
        out=str(Path(cfg.out) / "runs" / f"{cfg.lang_pair}-s{seed}"))


def _train(run: T.Config, threads: int) -> dict:
    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run, lambda s: s["step"] == run.steps and not s["stopped"])


def scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """``core.text.translation_scores`` and BLEU on lowercased text (nearer the peers')."""
    import sacrebleu

    from milestones.core.text import translation_scores

    out = translation_scores(hypotheses, references)
    out["bleu_lowercase"] = sacrebleu.metrics.BLEU(lowercase=True).corpus_score(
        hypotheses, [references]).score
    return out


def main(cfg: Config) -> dict:
    from milestones.core.text import load_corpus

    t0 = time.time()
    runs = {seed: run_config(cfg, seed) for seed in cfg.seeds}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"multi30k: {len(runs)} runs, {min(cfg.jobs, len(runs))} at a time")
    todo = prepare(cfg, list(runs.values()))  # stale runs refused, retrained or reused
    summaries = dict(zip(runs, map_runs(_train, todo, cfg.jobs), strict=True))

    first = runs[cfg.seeds[0]]
    corpus = load_corpus("multi30k", lang_pair=cfg.lang_pair, data_root=first.data_root,
                         data_dir=first.data_dir)
    valid_refs = [t for _, t in corpus.valid]
    test_refs = [t for _, t in corpus.test]
    results: dict = {
        "config": dataclasses.asdict(cfg), "recipe": dataclasses.asdict(first),
        "peers": PEERS,
        "copy_source": {"valid": scores([s for s, _ in corpus.valid], valid_refs),
                        "test": scores([s for s, _ in corpus.test], test_refs)},
        "runs": []}
    for seed, run in runs.items():
        s = summaries[seed]
        records = read_metrics(Path(run.out) / "metrics.jsonl")
        valid = [r for r in records if r["split"] == "valid"][-1]  # the final model, greedy
        hyps = (Path(run.out) / "test-translations.txt").read_text(encoding="utf-8")
        test = scores(hyps.split("\n")[:len(test_refs)], test_refs)
        results["runs"].append({
            "seed": seed, "steps": s["step"], "params": s["params"],
            "train_time_s": s["train_time_s"], "valid_sentences": min(run.bleu_sentences,
                                                                      len(corpus.valid)),
            **{f"valid_{k}": valid[f"{k}_greedy"] for k in SCORES if f"{k}_greedy" in valid},
            "valid_perplexity": valid["perplexity"],
            **{f"test_{k}": v for k, v in test.items()},
            "test_bleu_averaged": s.get("test_bleu_averaged"),
            "test_examples": s.get("test_examples", [])[:3]})
        results["env"], results["data"] = records[0]["env"], records[0]["data"]
        results["bleu_signature"] = s["bleu_signature"]
    keys = [f"valid_{k}" for k in SCORES] + ["valid_perplexity"] + [f"test_{k}" for k in SCORES]
    results.update(over_seeds(results["runs"], [*keys, "test_bleu_averaged"]))
    results.update(totals(summaries.values(), t0))
    write_results(out, results, markdown(cfg, results))
    return results


def markdown(cfg: Config, r: dict) -> str:
    rec, env, data = r["recipe"], r.get("env", {}), r.get("data", {})
    copy = r["copy_source"]
    lines = [
        f"# Transformer on Multi30k {cfg.lang_pair}: the `{rec['preset'].split('-')[0]}` "
        "recipe in CPU minutes", "",
        f"Command: `python -m milestones.transformer.multi30k --preset {cfg.preset}`  ",
        f"Data: {data.get('source')}; {data.get('train')} training pairs, {data.get('valid')} "
        f"validation, {data.get('test')} test; shared BPE vocabulary {data.get('vocab')}  ",
        f"Model: N {rec['N']}, d_model {rec['d_model']}, h {rec['h']}, d_ff {rec['d_ff']}, "
        f"dropout {rec['dropout']}, {r['runs'][0]['params']:,} parameters; {rec['steps']} steps "
        f"of at most {rec['max_tokens']} padded tokens per side, Eq. 3 × {rec['lr_scale']} with "
        f"warmup {rec['warmup']}, label smoothing {rec['label_smoothing']}; validation: greedy, "
        f"{r['runs'][0]['valid_sentences']} pairs; test: beam {rec['beam']}, alpha "
        f"{rec['length_penalty']}; seeds {list(cfg.seeds)}  ",
        f"Hardware: {env.get('device_name')} ({env.get('device')}), {env.get('threads')} "
        f"thread(s) per run; torch {env.get('torch')}; {r['train_time_s'] / 60:.0f} min of "
        f"training summed over runs  ",
        f"BLEU: sacrebleu on detokenised text ({r.get('bleu_signature')}); "
        "'lowercased': the same with lowercase=True.", "",
        "| | split | BLEU | BLEU, lowercased | chrF | length ratio | exact |",
        "|---|---|---|---|---|---|---|"]
    for split in ("valid", "test"):
        c = copy[split]
        lines.append(f"| copying the source | {split} | {c['bleu']:.2f} | "
                     f"{c['bleu_lowercase']:.2f} | {c['chrf']:.1f} | {c['length_ratio']:.2f} "
                     f"| {c['exact']:.3f} |")
        lines.append(f"| **the model** | {split} | {fmt(r.get(f'{split}_bleu'), 2)} | "
                     f"{fmt(r.get(f'{split}_bleu_lowercase'), 2)} | "
                     f"{fmt(r.get(f'{split}_chrf'), 1)} | "
                     f"{fmt(r.get(f'{split}_length_ratio'), 2)} | "
                     f"{fmt(r.get(f'{split}_exact'), 3)} |")
    lines += ["", f"mean ± std over {len(cfg.seeds)} seed(s). Validation perplexity "
              f"{fmt(r.get('valid_perplexity'), 2)}; test BLEU of the average of the last "
              f"{rec['average_last']} snapshots {fmt(r.get('test_bleu_averaged'), 2)}.", "",
              "Peers (bentrevett/pytorch-seq2seq; De→En, test2016, 10 epochs on a GPU, BLEU on "
              "lowercased spaCy tokens):", ""]
    lines += [f"- {name}: {bleu}" for name, bleu in r["peers"].items()]
    lines += ["", "Examples (test, seed {}):".format(r["runs"][0]["seed"]), ""]
    for ex in r["runs"][0]["test_examples"]:
        lines += [f"- source: {ex['source']}", f"  reference: {ex['reference']}",
                  f"  output: {ex['output']}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
