"""Train a Transformer for translation, as in §5: ``python -m milestones.transformer.train``.

    python -m milestones.transformer.train --preset quick            # built-in corpus, CPU minutes
    python -m milestones.transformer.train --dataset tsv --data-files pairs.tsv --preset quick
    python -m milestones.transformer.train                           # base on WMT14 En-De (GPU)
    torchrun --nproc_per_node=8 -m milestones.transformer.train --model big

§5.3: Adam with beta1 = 0.9, beta2 = 0.98, epsilon = 1e-9 (``milestones.adam.Adam``), and

    (Eq. 3)   lrate = d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5),  warmup 4000

§5.1: batches of about 25,000 source and 25,000 target tokens by length bucketing; with fewer
GPUs, ``--accumulate`` sums the gradients of several batches into one step. §5.4: residual
dropout 0.1 and label smoothing 0.1 ("hurts perplexity ... but improves accuracy and BLEU").
§6.1: the final model averages the last 5 checkpoints; beam search 4, length penalty 0.6.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from milestones.adam import Adam
from milestones.core import runtime
from milestones.core.checkpoint import export_safetensors
from milestones.core.config import require
from milestones.core.data import data_root, need
from milestones.core.run import Run, RunConfig, Window, cli, launch
from milestones.core.text import bleu, check_corpus_options, pad_rows, translation_scores
from milestones.transformer import data as D
from milestones.transformer.decode import beam_search, greedy_decode
from milestones.transformer.model import Transformer, label_smoothed_loss


@dataclasses.dataclass
class Config(RunConfig):
    """Train an encoder-decoder Transformer. Default: Table 3 "base" on WMT14 En-De (§5)."""

    dataset: Literal["synthetic", "wmt14", "multi30k", "iwslt2017", "tsv"] = "wmt14"
    """synthetic: the built-in procedural language pair (offline); tsv: --data-files."""
    data_files: tuple[str, ...] = ()
    """TSV files of "source<TAB>target" lines: one (split 98/1/1) or three (train, valid, test)."""
    data_dir: str | None = None
    """multi30k: a folder of its parallel text files (train.de, train.en, val.*; plain or .gz),
    read instead of <data root>/multi30k/ or Hugging Face."""
    lang_pair: str = "en-de"
    """Source-target: wmt14 en-de or en-fr; multi30k en-de or de-en; iwslt2017 e.g. en-de."""
    synthetic_train: int = 20_000
    """synthetic: training pairs."""
    vocab_size: int = 37_000
    """Shared source-target BPE vocabulary (§5.1: about 37,000 for En-De)."""
    max_len: int = 256
    """Drop training pairs longer than this many tokens on either side."""
    N: int = 6
    """N, layers in the encoder and in the decoder (Table 3: 6)."""
    d_model: int = 512
    """d_model (base 512, big 1024)."""
    h: int = 8
    """h, attention heads (Table 3: base 8, big 16); d_k = d_v = d_model / h."""
    d_ff: int = 2048
    """d_ff (base 2048, big 4096)."""
    dropout: float = 0.1
    """P_drop (§5.4; big En-De 0.3)."""
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"
    """§3.5 sinusoids, or learned embeddings (Table 3 row E)."""
    norm_first: bool = False
    """Pre-LN (after the paper); the paper is post-LN."""
    label_smoothing: float = 0.1
    """epsilon_ls (§5.4)."""
    max_tokens: int = 25_000
    """Padded tokens per batch and side (§5.1: ~25,000 source + 25,000 target)."""
    accumulate: int = 1
    """Batches summed into one optimizer step (8 on one GPU = the paper's 8 GPUs)."""
    steps: int = 100_000
    """Optimizer steps (§5.2: base 100k, big 300k)."""
    warmup: int = 4000
    """warmup_steps of Eq. 3."""
    lr_scale: float = 1.0
    """Multiplies Eq. 3's rate (1 = the paper)."""
    beta2: float = 0.98
    """Adam's beta2 (§5.3: 0.98)."""
    average_last: int = 5
    """Average the weights of the last N checkpoints for the final model (§6.1: 5; 0 = off)."""
    ckpt_every: int = 10_000
    """Steps between checkpoints (and averaging snapshots; the paper: every 10 minutes)."""
    log_every: int = 100
    """Steps between training records (loss, NLL, learning rate, tokens per second)."""
    eval_every: int = 5000
    """Steps between validation loss and BLEU."""
    bleu_sentences: int = 500
    """Validation pairs decoded for BLEU at each evaluation (all at the end on test)."""
    beam: int = 4
    """Beam size at the final test (§6.1: 4; 1 = greedy). Evaluations in between are greedy."""
    length_penalty: float = 0.6
    """alpha (§6.1: 0.6)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("vocab_size", "max_len", "N", "d_model", "h", "d_ff", "max_tokens",
                  "accumulate", "steps", "warmup", "log_every", "eval_every", "ckpt_every",
                  "beam", "synthetic_train", "bleu_sentences"):
            require(getattr(self, f) > 0, self, f, "must be > 0")
        require(self.length_penalty >= 0, self, "length_penalty", "must be >= 0")
        require(self.d_model % self.h == 0, self, "h", f"must divide d_model ({self.d_model})")
        require(0 <= self.dropout < 1, self, "dropout", "must be in [0, 1)")
        require(0 <= self.label_smoothing < 1, self, "label_smoothing", "must be in [0, 1)")
        require(0 <= self.beta2 < 1, self, "beta2", "must be in [0, 1)")
        require(self.lr_scale > 0, self, "lr_scale", "must be > 0")
        require(self.average_last >= 0, self, "average_last", "must be >= 0")
        check_corpus_options(self)


def paper() -> Config:
    """§5: base on WMT14 En-De, 100k steps of ~25k+25k tokens (8 GPUs: --accumulate 8 on one)."""
    return Config(preset="paper")


def quick() -> Config:
    """CPU minutes: a 3-layer, d_model 128 Transformer on the built-in language pair."""
    # DEVIATION(D1): a small model on built-in data (no network here; the paper: WMT14, base)
    return Config(preset="quick", dataset="synthetic", vocab_size=1000, N=3, d_model=128,
                  h=4, d_ff=512, max_tokens=3000, steps=1200, warmup=300, average_last=5,
                  ckpt_every=50, log_every=50, eval_every=400, bleu_sentences=200)


def multi30k() -> Config:
    """CPU tens of minutes on a real corpus: Multi30k German->English (29k caption pairs), the
    quick model at a fifth of Eq. 3's learning rate (at the full rate it learns half as much)."""
    # DEVIATION(D9): the quick model, 1,000 steps on Multi30k, Eq. 3 x 0.2 (paper: base, WMT14)
    return Config(preset="multi30k", dataset="multi30k", lang_pair="de-en", vocab_size=1000,
                  N=3, d_model=128, h=4, d_ff=512, max_tokens=3000, steps=1000, warmup=300,
                  lr_scale=0.2, average_last=5, ckpt_every=50, log_every=50, eval_every=250,
                  bleu_sentences=2000)


def smoke() -> Config:
    """Seconds: a tiny model on a sliver of the built-in corpus. For tests."""
    return Config(preset="smoke", dataset="synthetic", synthetic_train=400, vocab_size=200,
                  N=1, d_model=32, h=2, d_ff=64, max_tokens=400, steps=12, warmup=4,
                  average_last=2, ckpt_every=4, log_every=4, eval_every=6, bleu_sentences=16,
                  beam=2, progress=False)


PRESETS = {"paper": paper, "quick": quick, "multi30k": multi30k, "smoke": smoke}


# ---- the loss and the schedule -------------------------------------------------------------------

def learning_rate(cfg: Config, step: int) -> float:
    """Eq. 3 at optimizer step ``step`` >= 1: linear warm-up, then inverse square root."""
    return cfg.lr_scale * cfg.d_model ** -0.5 * min(step ** -0.5, step * cfg.warmup ** -1.5)


# ---- data and model ------------------------------------------------------------------------------

def load_data(cfg: Config):
    """(corpus, tokenizer, {split: encoded pairs}). DataUnavailable before anything is written."""
    if cfg.dataset == "synthetic":
        corpus = D.synthetic_corpus(n_train=cfg.synthetic_train, seed=0)
    else:
        corpus = D.load_corpus(cfg.dataset, data_files=list(cfg.data_files) or None,
                               lang_pair=cfg.lang_pair, data_root=cfg.data_root,
                               data_dir=cfg.data_dir)
    texts = [s for pair in corpus.train for s in pair]
    tok = D.train_tokenizer(texts, cfg.vocab_size, data_root(cfg.data_root) / "tokenizers")
    encoded = {"train": D.encode_pairs(corpus.train, tok, cfg.max_len),
               "valid": D.encode_pairs(corpus.valid, tok),
               "test": D.encode_pairs(corpus.test, tok)}
    require(len(encoded["train"]) > 0, cfg, "max_len", f"leaves no training pair (every pair "
            f"has a side longer than {cfg.max_len} tokens, or an empty one)")
    return corpus, tok, encoded


def build_model(cfg: Config, vocab_size: int) -> Transformer:
    return Transformer(vocab_size, N=cfg.N, d_model=cfg.d_model, h=cfg.h, d_ff=cfg.d_ff,
                       dropout=cfg.dropout, positional=cfg.positional, norm_first=cfg.norm_first,
                       max_len=max(1024, 2 * cfg.max_len + 64))


def accumulate_gradients(net: nn.Module, micro: list[tuple[Tensor, Tensor, Tensor]],
                         rt: runtime.Runtime, scaler: torch.amp.GradScaler, eps: float
                         ) -> tuple[Tensor, dict[str, Tensor]]:
    """Backward through one optimizer step's micro-batches, each loss divided by the target
    tokens of all of them, so the summed gradients are those of the union batch's mean loss
    (§5.1's 25k-token batches from smaller ones). Under DDP only the last one all-reduces.
    Returns the step's mean loss and the sums of loss, NLL and target tokens, as tensors (no
    host sync)."""
    n_tokens = sum((t != D.PAD_ID).sum() for _, _, t in micro)
    step_loss = torch.zeros((), device=rt.device)
    sums = dict.fromkeys(("loss", "nll", "tokens"), torch.zeros((), device=rt.device))
    for i, (src, tgt_in, tgt_out) in enumerate(micro):
        sync = i == len(micro) - 1 or not rt.distributed
        with (contextlib.nullcontext() if sync else net.no_sync()), rt.autocast():
            loss, nll, n = label_smoothed_loss(net(src, tgt_in), tgt_out, eps)
        scaler.scale(loss / n_tokens).backward()
        step_loss += loss.detach() / n_tokens
        sums = {"loss": sums["loss"] + loss.detach(), "nll": sums["nll"] + nll.detach(),
                "tokens": sums["tokens"] + n}
    return step_loss, sums


@torch.no_grad()
def evaluate_loss(model: nn.Module, batches, eps: float) -> dict[str, float]:
    model.eval()
    device = next(model.parameters()).device
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # on the device: all-reducible
    for src, tgt_in, tgt_out in batches:
        loss, nll, n = label_smoothed_loss(model(src, tgt_in), tgt_out, eps)
        totals += torch.stack([loss.double(), nll.double(), n.double()])
    runtime.all_reduce(totals)
    model.train()
    loss, nll, n = totals.tolist()
    return {"loss": loss / max(n, 1), "nll": nll / max(n, 1),
            "perplexity": math.exp(min(nll / max(n, 1), 50))}


@torch.no_grad()
def translate(model: Transformer, tok, pairs: list[tuple[list[int], list[int]]], *, beam: int,
              alpha: float, device: torch.device, batch_size: int = 64) -> list[str]:
    """Detokenised translations of the sources of ``pairs`` (greedy when beam == 1)."""
    model.eval()
    out: list[str] = []
    for i in range(0, len(pairs), batch_size):
        src = pad_rows([s for s, _ in pairs[i:i + batch_size]], device)
        if beam == 1:
            ids = greedy_decode(model, src, bos_id=D.BOS_ID, eos_id=D.EOS_ID).tolist()
        else:
            ids = [hyps[0].tokens for hyps in beam_search(model, src, beam_size=beam,
                                                          alpha=alpha, bos_id=D.BOS_ID,
                                                          eos_id=D.EOS_ID)]
        out += [tok.decode(seq) for seq in ids]
    model.train()
    return out


# ---- training ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Progress:
    """The loop's own state beyond the step (checkpointed with the run)."""

    batches_seen: int = 0  # micro-batches consumed: where the data stream stands
    snapshots: list[int] = dataclasses.field(default_factory=list)  # steps kept for averaging


def main(cfg: Config) -> dict:
    """Train per ``cfg``; returns the run summary (also written to <out>/summary.json)."""
    return launch(train, cfg)


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    need("tokenizers", "text", "the Transformer's BPE vocabulary")
    need("sacrebleu", "text", "BLEU (evaluations and the final test)")
    out = Path(cfg.out or f"runs/transformer/{cfg.preset}-{cfg.dataset}-s{cfg.seed}")
    with Run(cfg, rt, out) as run:
        corpus, tok, encoded = load_data(cfg)  # DataUnavailable before anything is written
        # DEVIATION(D5): at most max_tokens *padded* tokens per side, B * max(S, T + 1)
        train_batches = D.TokenBatches(encoded["train"], cfg.max_tokens, shuffle=True,
                                       seed=cfg.seed, rank=rt.rank, world_size=rt.world_size,
                                       device=rt.device)
        valid_batches = D.TokenBatches(encoded["valid"], cfg.max_tokens, shuffle=False,
                                       seed=cfg.seed, rank=rt.rank, world_size=rt.world_size,
                                       device=rt.device)
        per_epoch = len(train_batches)
        require(per_epoch >= 1, cfg, "max_tokens", f"leaves fewer training batches than ranks "
                f"({rt.world_size})")

        model = build_model(cfg, tok.vocab_size).to(rt.device)
        # §5.3: Adam, beta1 = 0.9, beta2 = 0.98, epsilon = 1e-9; the rate of Eq. 3 set every step
        opt = Adam(model.parameters(), lr=learning_rate(cfg, 1), betas=(0.9, cfg.beta2),
                   eps=1e-9)
        scaler = rt.grad_scaler()  # fp16 only
        progress = Progress()
        window = Window("loss", "nll", "tokens", device=rt.device)  # sums between log lines
        run.track(model=model, optimizer=opt, scaler=scaler, progress=progress, window=window)
        params = sum(p.numel() for p in model.parameters())
        run.start({"data": {"name": corpus.name, "source": corpus.source,
                            "pair": f"{corpus.src_lang}-{corpus.tgt_lang}",
                            "train": len(encoded["train"]), "valid": len(encoded["valid"]),
                            "test": len(encoded["test"]), "vocab": tok.vocab_size},
                   "params": params}, total_steps=cfg.steps, desc="transformer")
        net = runtime.wrap_ddp(runtime.maybe_compile(model, cfg.compile), rt)

        sample = encoded["valid"][:cfg.bleu_sentences]
        refs = [r for _, r in corpus.valid[:len(sample)]]
        copy_bleu = bleu([s for s, _ in corpus.valid[:len(sample)]], refs)[0] if rt.is_main \
            else None  # what no translation at all scores: the output must beat it

        def validate() -> None:
            with run.paused():
                result = evaluate_loss(model, valid_batches.epoch(0), cfg.label_smoothing)
                if rt.is_main:
                    hyps = translate(model, tok, sample, beam=1, alpha=cfg.length_penalty,
                                     device=rt.device)
                    scores = translation_scores(hyps, refs)
                    result.update({f"{k}_greedy": v for k, v in scores.items()})
                    if scores["bleu"] <= copy_bleu:
                        run.print(f"warning: step {run.step}: validation BLEU {scores['bleu']:.1f}"
                                  f" is no better than copying the source ({copy_bleu:.1f})")
            run.log("valid", **result)
            run.keep_best("valid_loss", result["loss"])  # best.pt, on the validation pairs

        batches = train_batches.stream(progress.batches_seen)  # where the run stands
        logged = run.train_time  # for target tokens per second
        net.train()
        while not run.should_stop():
            lr = learning_rate(cfg, run.step + 1)
            for group in opt.param_groups:
                group["lr"] = lr
            micro = [next(batches) for _ in range(cfg.accumulate)]
            progress.batches_seen += cfg.accumulate
            step_loss, sums = accumulate_gradients(net, micro, rt, scaler, cfg.label_smoothing)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            run.step += 1
            run.track_loss(step_loss)
            window.add(**sums)
            if run.step % cfg.log_every == 0:
                run.check_finite()
                w = window.flush()
                run.log("train", loss=w["loss"] / w["tokens"], nll=w["nll"] / w["tokens"], lr=lr,
                        epoch=round(progress.batches_seen / per_epoch, 3),
                        target_tokens_per_s=round(w["tokens"] / max(run.train_time - logged,
                                                                    1e-9), 1))
                logged = run.train_time
            if run.step % cfg.eval_every == 0:
                validate()
            if run.step % cfg.ckpt_every == 0:
                # DEVIATION(D6): snapshots every ckpt_every steps (paper: every 10 minutes)
                if cfg.average_last and rt.is_main:  # §6.1: the last checkpoints, averaged
                    export_safetensors(model, out / f"snapshot-{run.step}.safetensors")
                    progress.snapshots = (progress.snapshots + [run.step])[-cfg.average_last:]
                    for old in out.glob("snapshot-*.safetensors"):
                        if int(old.stem.split("-")[1]) not in progress.snapshots:
                            old.unlink()
                run.save()  # after the snapshot joined the list

        summary = {"dataset": corpus.name, "pair": f"{corpus.src_lang}-{corpus.tgt_lang}",
                   "preset": cfg.preset, "seed": cfg.seed, "params": params}
        if not run.interrupted:
            if run.step % cfg.eval_every:  # a final validation (else the loop has just made it)
                validate()
            if rt.is_main:
                with run.paused():
                    tok.save(out / "tokenizer.json")
                    summary.update(final_evaluation(cfg, model, tok, corpus, encoded, out,
                                                    progress.snapshots, rt))
        return run.finish(summary)


def average_snapshots(model: Transformer, paths: list[Path]) -> Transformer:
    """§6.1: the element-wise mean of the weights of the last checkpoints."""
    from safetensors.torch import load_file

    states = [load_file(str(p)) for p in paths]
    mean = {k: sum(s[k].float() for s in states) / len(states) for k in states[0]}
    # safetensors stores a tied (shared) tensor once: the other name is the same Parameter
    missing, unexpected = model.load_state_dict(mean, strict=False)
    tied = {"output_projection.weight", "tgt_embed.weight", "src_embed.weight"}
    if unexpected or not set(missing) <= tied:
        raise RuntimeError(f"snapshots do not fit the model: missing {missing}, "
                           f"unexpected {unexpected}")
    return model


def final_evaluation(cfg: Config, model: Transformer, tok, corpus, encoded, out: Path,
                     snapshots: list[int], rt: runtime.Runtime) -> dict:
    """Test BLEU with beam search (§6.1) for the last and the averaged model, beside a baseline
    that copies the source (what BLEU gives for no translation at all)."""
    refs = [r for _, r in corpus.test]
    result = {}
    last = translate(model, tok, encoded["test"], beam=cfg.beam, alpha=cfg.length_penalty,
                     device=rt.device)
    # DEVIATION(D2): detokenised BLEU (sacrebleu, core.text.bleu), not tokenised BLEU
    result["test_bleu"], result["bleu_signature"] = bleu(last, refs)
    scores = translation_scores(last, refs)
    result.update(test_length_ratio=scores["length_ratio"], test_chrf=scores["chrf"],
                  test_exact=scores["exact"])
    result["copy_source_bleu"] = bleu([s for s, _ in corpus.test], refs)[0]
    if cfg.dataset == "synthetic":  # a perfect word-by-word dictionary, in source order
        from milestones.core.language import synthetic_language

        gloss = synthetic_language().gloss
        result["dictionary_bleu"] = bleu([gloss(s) for s, _ in corpus.test], refs)[0]
    # every output, one a line, in the test set's order (for other metrics, e.g. lowercased BLEU)
    (out / "test-translations.txt").write_text("".join(f"{h}\n" for h in last), encoding="utf-8")
    paths = [out / f"snapshot-{s}.safetensors" for s in snapshots]
    if cfg.average_last and len(paths) > 1 and all(p.exists() for p in paths):
        averaged = average_snapshots(build_model(cfg, tok.vocab_size).to(rt.device), paths)
        export_safetensors(averaged, out / "model-averaged.safetensors")
        hyps = translate(averaged, tok, encoded["test"], beam=cfg.beam,
                         alpha=cfg.length_penalty, device=rt.device)
        result["test_bleu_averaged"] = bleu(hyps, refs)[0]
        result["averaged_steps"] = snapshots
    for name, pairs in corpus.extra.items():  # e.g. "long": longer than any training sentence
        hyps = translate(model, tok, D.encode_pairs(pairs, tok), beam=cfg.beam,
                         alpha=cfg.length_penalty, device=rt.device)
        result[f"{name}_bleu"] = bleu(hyps, [r for _, r in pairs])[0]
    result["test_examples"] = [{"source": s, "reference": r, "output": h}
                               for (s, r), h in list(zip(corpus.test, last, strict=True))[:3]]
    return result


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
