"""Train RNNsearch or RNNencdec for translation, as in §4: ``python -m milestones.attention.train``.

    python -m milestones.attention.train --preset quick                   # built-in pair, CPU
    python -m milestones.attention.train --preset quick --model rnnencdec # the baseline
    python -m milestones.attention.train --dataset tsv --data-files pairs.tsv --preset quick
    python -m milestones.attention.train                  # RNNsearch-50 on WMT14 En-Fr (GPU)
    torchrun --nproc_per_node=4 -m milestones.attention.train

§4.2 and App. B.2: the objective is the mean log-likelihood of the training sentences,

    max_theta  1/N sum_n log p_theta(y_n | x_n),

maximised by minibatch SGD with Adadelta (rho = 0.95, epsilon = 1e-6; ``milestones.adam``'s
``AdaDelta``) on minibatches of 80 sentences, "normalized the L2-norm of the gradient of the cost
function each time to be at most a predefined threshold of 1". RNNsearch-30 / RNNencdec-30 train
on the pairs of up to 30 words, -50 on those up to 50 (``--max-len``).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from milestones.adam import AdaDelta, Adam
from milestones.attention import data as D
from milestones.attention.decode import BEAM, beam_search, greedy_decode
from milestones.attention.model import EncoderDecoder, sentence_nll
from milestones.core import runtime
from milestones.core.config import require
from milestones.core.data import data_root, need
from milestones.core.run import Run, RunConfig, Window, cli, launch
from milestones.core.text import bleu, check_corpus_options, pad_rows, translation_scores


@dataclasses.dataclass
class Config(RunConfig):
    """Train RNNsearch or RNNencdec. Default: RNNsearch-50 on WMT14 English-French (§4)."""

    model: Literal["rnnsearch", "rnnencdec"] = "rnnsearch"
    """rnnsearch: bidirectional encoder + alignment model (§3); rnnencdec: Cho et al.'s fixed c."""
    dataset: Literal["synthetic", "wmt14", "multi30k", "iwslt2017", "tsv"] = "wmt14"
    """synthetic: the built-in language pair (offline); tsv: --data-files."""
    data_files: tuple[str, ...] = ()
    """TSV files of "source<TAB>target" lines: one (split 98/1/1) or three (train, valid, test)."""
    data_dir: str | None = None
    """multi30k: a folder of its parallel text files, read instead of <data root>/multi30k/."""
    lang_pair: str = "en-fr"
    """Source-target (§4.1: WMT14 English to French)."""
    synthetic_train: int = 20_000
    """synthetic: training pairs."""
    test_max_len: int = 80
    """synthetic: test sentences have 3 to this many words (Fig. 2's x-axis)."""
    max_len: int = 50
    """Train on pairs of at most this many words per side (§4.2: RNNsearch-30 and -50)."""
    src_vocab: int = 30_000
    """Source shortlist K_x: the most frequent words, the rest [UNK] (§4.1: 30,000)."""
    tgt_vocab: int = 30_000
    """Target shortlist K_y (§4.1: 30,000)."""
    embed_dim: int = 620
    """m, word embedding size (App. B.1: 620)."""
    hidden_size: int = 1000
    """n, GRU units (per direction in RNNsearch's encoder; App. B.1: 1000)."""
    maxout_size: int = 500
    """l, maxout units of the deep output (App. A.2.2: 500)."""
    align_size: int = 1000
    """n', the alignment model's hidden units (App. A.2.2: n' = n)."""
    reset_after: bool = False
    """GRU reset gate after the recurrent matrix (torch / cuDNN's form) instead of the paper's."""
    batch_size: int = 80
    """Sentence pairs per minibatch and rank (App. B.2: 80)."""
    steps: int = 300_000
    """Optimizer steps (the paper trains each model for about 5 days)."""
    optimizer: Literal["adadelta", "adam"] = "adadelta"
    """adadelta: the paper's (App. B.2); adam: Kingma & Ba (the adam milestone), faster on CPU."""
    lr: float | None = None
    """Step size; default 1.0 for Adadelta (Zeiler's; the paper keeps it), 1e-3 for Adam."""
    rho: float = 0.95
    """Adadelta's rho (App. B.2: 0.95)."""
    eps: float = 1e-6
    """Adadelta's epsilon (App. B.2: 1e-6)."""
    clip: float = 1.0
    """Rescale the gradient to at most this L2 norm (App. B.2: 1)."""
    log_every: int = 100
    """Steps between training records (loss, gradient norm, words per second)."""
    eval_every: int = 5000
    """Steps between validation loss and greedy BLEU."""
    ckpt_every: int = 5000
    """Steps between checkpoints."""
    bleu_sentences: int = 500
    """Validation pairs decoded for BLEU at each evaluation (all test pairs at the end)."""
    beam: int = BEAM
    """Beam width at the final test (the paper does not say; 1 = greedy)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("synthetic_train", "test_max_len", "max_len", "src_vocab", "tgt_vocab",
                  "embed_dim", "hidden_size", "maxout_size", "align_size", "batch_size",
                  "steps", "log_every", "eval_every", "ckpt_every", "bleu_sentences", "beam"):
            require(getattr(self, f) > 0, self, f, "must be > 0")
        for f in ("src_vocab", "tgt_vocab"):
            require(getattr(self, f) > 4, self, f, "must leave room beyond the 4 special tokens")
        require(self.lr is None or self.lr > 0, self, "lr", "must be > 0")
        require(0 < self.rho < 1, self, "rho", "must be in (0, 1)")
        require(self.eps > 0, self, "eps", "must be > 0")
        require(self.clip > 0, self, "clip", "must be > 0")
        require(self.dataset != "synthetic" or 3 <= self.max_len <= self.test_max_len, self,
                "max_len", f"the built-in corpus needs 3 <= max_len <= test_max_len "
                f"({self.test_max_len})")
        check_corpus_options(self)


def paper() -> Config:
    """RNNsearch-50 on WMT14 En-Fr at the paper's size (§4, App. B)."""
    return Config(preset="paper")


def quick() -> Config:
    """CPU minutes: a small RNNsearch-30 on the built-in language pair, tested on sentences of
    up to 80 words; shortlists that leave the rarest words out, as 30,000 words do on WMT."""
    # DEVIATION(D1): a small model on built-in data (no network here; the paper: WMT14, n = 1000)
    # DEVIATION(D6): Adam at 5e-3 (Adadelta, the paper's, learns too slowly for CPU minutes)
    return Config(preset="quick", dataset="synthetic", max_len=30, src_vocab=300,
                  tgt_vocab=500, embed_dim=64, hidden_size=128, maxout_size=64,
                  align_size=128, optimizer="adam", lr=5e-3, steps=1500, log_every=50,
                  eval_every=500, ckpt_every=100, bleu_sentences=200)


def smoke() -> Config:
    """Seconds: a tiny model on a sliver of the built-in corpus. For tests."""
    return Config(preset="smoke", dataset="synthetic", synthetic_train=200, max_len=10,
                  test_max_len=16, src_vocab=400, tgt_vocab=600, embed_dim=16, hidden_size=24,
                  maxout_size=12, align_size=20, batch_size=16, steps=12, log_every=4,
                  eval_every=6, ckpt_every=4, bleu_sentences=16, beam=2, progress=False)


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke}


# ---- data and model ------------------------------------------------------------------------------

def load_data(cfg: Config):
    """(corpus, source and target vocabularies, {split: encoded pairs}). DataUnavailable or a
    CorpusError before anything is written."""
    if cfg.dataset == "synthetic":
        corpus = D.synthetic_corpus(cfg.synthetic_train, cfg.max_len,
                                    test_max_len=cfg.test_max_len, seed=0)
    else:
        corpus = D.load_corpus(cfg.dataset, data_files=list(cfg.data_files) or None,
                               lang_pair=cfg.lang_pair, data_root=cfg.data_root,
                               data_dir=cfg.data_dir)
    train_pairs = D.within(corpus.train, cfg.max_len)
    require(len(train_pairs) > 0, cfg, "max_len", f"leaves no training pair (every pair has a "
            f"side longer than {cfg.max_len} words)")
    corpus = dataclasses.replace(corpus, train=train_pairs)
    src_tok, tgt_tok = D.train_vocabularies(corpus, cfg.src_vocab, cfg.tgt_vocab,
                                            data_root(cfg.data_root) / "tokenizers")
    encoded = {"train": [(s, t) for s, t in D.encode(corpus.train, src_tok, tgt_tok) if s and t],
               "valid": D.encode(corpus.valid, src_tok, tgt_tok),
               "test": D.encode(corpus.test, src_tok, tgt_tok)}
    return corpus, (src_tok, tgt_tok), encoded


def build_model(cfg: Config, src_vocab: int, tgt_vocab: int) -> EncoderDecoder:
    return EncoderDecoder(src_vocab, tgt_vocab, embed_dim=cfg.embed_dim,
                          hidden_size=cfg.hidden_size, maxout_size=cfg.maxout_size,
                          align_size=cfg.align_size, attention=cfg.model == "rnnsearch",
                          reset_after=cfg.reset_after)


@torch.no_grad()
def evaluate_loss(model: nn.Module, batches) -> dict[str, float]:
    """Per-sentence NLL (the objective) and per-word perplexity over all batches."""
    model.eval()
    device = next(model.parameters()).device
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # NLL, sentences, words
    for src, tgt_in, tgt_out in batches:
        mean_nll, n_words = sentence_nll(model(src, tgt_in), tgt_out)
        totals += torch.stack([mean_nll.double() * src.shape[0],
                               torch.tensor(src.shape[0], dtype=torch.float64, device=device),
                               n_words.double()])
    runtime.all_reduce(totals)
    model.train()
    nll, sentences, words = totals.tolist()
    return {"loss": nll / max(sentences, 1), "perplexity": math.exp(min(nll / max(words, 1), 50))}


@torch.no_grad()
def translate(model: EncoderDecoder, tgt_tok, sources: list[list[int]], *, beam: int,
              device: torch.device, batch_size: int = 64, max_len: int | None = None
              ) -> tuple[list[str], list[Tensor]]:
    """Detokenised translations of ``sources`` (greedy when beam == 1) and each one's alignment
    alpha (output words, source words)."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))  # less padding
    results: dict[int, tuple[str, Tensor]] = {}  # by position in sources
    for lo in range(0, len(order), batch_size):
        idx = order[lo:lo + batch_size]
        src = pad_rows([sources[i] for i in idx], device)
        if beam == 1:
            ids, alpha = greedy_decode(model, src, max_len=max_len)
            for j, i in enumerate(idx):
                words = ids[j].tolist()
                n = words.index(D.EOS_ID) + 1 if D.EOS_ID in words else len(words)
                results[i] = (tgt_tok.decode(words[:n]), alpha[j, :n, :len(sources[i])].cpu())
        else:
            for i, hyps in zip(idx, beam_search(model, src, beam_size=beam, max_len=max_len),
                               strict=True):
                results[i] = (tgt_tok.decode(hyps[0].tokens),
                              hyps[0].alignment[:, :len(sources[i])])
    return [results[i][0] for i in range(len(sources))], [results[i][1] for i in
                                                          range(len(sources))]


# ---- training ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Progress:
    """The loop's own state beyond the step (checkpointed with the run)."""

    batches_seen: int = 0  # batches consumed: where the data stream stands


def main(cfg: Config) -> dict:
    """Train per ``cfg``; returns the run summary (also written to <out>/summary.json)."""
    return launch(train, cfg)


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    need("tokenizers", "text", "the word shortlists")
    need("sacrebleu", "text", "BLEU (evaluations and the final test)")
    out = Path(cfg.out or f"runs/attention/{cfg.preset}-{cfg.model}{cfg.max_len}-{cfg.dataset}"
                          f"-s{cfg.seed}")
    with Run(cfg, rt, out) as run:
        corpus, (src_tok, tgt_tok), encoded = load_data(cfg)  # before anything is written
        # DEVIATION(D3): batches of pairs sorted by length over the whole corpus (the paper
        # sorts groups of 1,600 pairs and cuts them into 20 minibatches)
        big = 10 ** 9  # no token budget: batches are capped by sentences alone
        train_batches = D.TokenBatches(encoded["train"], big, shuffle=True, seed=cfg.seed,
                                       rank=rt.rank, world_size=rt.world_size, device=rt.device,
                                       max_sentences=cfg.batch_size)
        valid_batches = D.TokenBatches(encoded["valid"], big, shuffle=False, seed=cfg.seed,
                                       rank=rt.rank, world_size=rt.world_size, device=rt.device,
                                       max_sentences=cfg.batch_size)
        per_epoch = len(train_batches)
        require(per_epoch >= 1, cfg, "batch_size", f"leaves fewer training batches than ranks "
                f"({rt.world_size})")

        model = build_model(cfg, src_tok.vocab_size, tgt_tok.vocab_size).to(rt.device)
        if cfg.optimizer == "adadelta":  # App. B.2: Adadelta, rho = 0.95, epsilon = 1e-6
            opt = AdaDelta(model.parameters(), lr=cfg.lr or 1.0, rho=cfg.rho, eps=cfg.eps)
        else:
            opt = Adam(model.parameters(), lr=cfg.lr or 1e-3)
        scaler = rt.grad_scaler()  # fp16 only
        progress = Progress()
        window = Window("loss", "sentences", "words", "grad_norm", device=rt.device)
        run.track(model=model, optimizer=opt, scaler=scaler, progress=progress, window=window)
        params = sum(p.numel() for p in model.parameters())
        run.start({"data": {"name": corpus.name, "source": corpus.source,
                            "pair": f"{corpus.src_lang}-{corpus.tgt_lang}",
                            "train": len(encoded["train"]), "valid": len(encoded["valid"]),
                            "test": len(encoded["test"]), "src_vocab": src_tok.vocab_size,
                            "tgt_vocab": tgt_tok.vocab_size},
                   "params": params}, total_steps=cfg.steps, desc=cfg.model)
        net = runtime.wrap_ddp(runtime.maybe_compile(model, cfg.compile), rt)

        sample = corpus.valid[:cfg.bleu_sentences]
        sample_src = [s for s, _ in encoded["valid"][:len(sample)]]
        refs = [r for _, r in sample]
        copy_bleu = bleu([s for s, _ in sample], refs)[0] if rt.is_main else None

        def validate() -> None:
            with run.paused():
                result = evaluate_loss(model, valid_batches.epoch(0))
                if rt.is_main:
                    hyps, _ = translate(model, tgt_tok, sample_src, beam=1, device=rt.device)
                    scores = translation_scores(hyps, refs)
                    result.update({f"{k}_greedy": v for k, v in scores.items()})
                    if scores["bleu"] <= copy_bleu:
                        run.print(f"warning: step {run.step}: validation BLEU {scores['bleu']:.1f}"
                                  f" is no better than copying the source ({copy_bleu:.1f})")
            run.log("valid", **result)
            run.keep_best("valid_loss", result["loss"])  # best.pt, on the validation pairs

        batches = train_batches.stream(progress.batches_seen)  # where the run stands
        logged = run.train_time
        net.train()
        while not run.should_stop():
            src, tgt_in, tgt_out = next(batches)
            progress.batches_seen += 1
            with rt.autocast():
                # -1/N sum_n log p(y_n | x_n): the mean over the batch's sentences
                loss, n_words = sentence_nll(net(src, tgt_in), tgt_out)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            # App. B.2: the gradient's L2 norm rescaled to at most 1
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            run.step += 1
            run.track_loss(loss.detach())
            window.add(loss=loss.detach() * src.shape[0], sentences=src.shape[0], words=n_words,
                       grad_norm=grad_norm)
            if run.step % cfg.log_every == 0:
                run.check_finite()
                w = window.flush()
                run.log("train", loss=w["loss"] / w["sentences"],
                        grad_norm=w["grad_norm"] / cfg.log_every,  # mean over the window
                        epoch=round(progress.batches_seen / per_epoch, 3),
                        target_words_per_s=round(w["words"] / max(run.train_time - logged,
                                                                  1e-9), 1))
                logged = run.train_time
            if run.step % cfg.eval_every == 0:
                validate()
            if run.step % cfg.ckpt_every == 0:
                run.save()

        summary = {"dataset": corpus.name, "pair": f"{corpus.src_lang}-{corpus.tgt_lang}",
                   "model": cfg.model, "max_len": cfg.max_len, "preset": cfg.preset,
                   "seed": cfg.seed, "params": params}
        if not run.interrupted:
            if run.step % cfg.eval_every:  # a final validation (else the loop has just made it)
                validate()
            if rt.is_main:
                with run.paused():
                    src_tok.save(out / "vocab-source.json")
                    tgt_tok.save(out / "vocab-target.json")
                    summary.update(final_evaluation(cfg, model, tgt_tok, corpus, encoded, out,
                                                    rt))
        return run.finish(summary)


def final_evaluation(cfg: Config, model: EncoderDecoder, tgt_tok, corpus, encoded, out: Path,
                     rt: runtime.Runtime) -> dict:
    """Test BLEU with beam search, on all test pairs and on those without an unknown word
    (Table 1's two columns), beside copying the source (what no translation at all scores)."""
    refs = [r for _, r in corpus.test]
    hyps, _ = translate(model, tgt_tok, [s for s, _ in encoded["test"]], beam=cfg.beam,
                        device=rt.device)
    result = {}
    # DEVIATION(D4): detokenised BLEU (sacrebleu), not multi-bleu.perl on tokenised text
    result["test_bleu"], result["bleu_signature"] = bleu(hyps, refs)
    scores = translation_scores(hyps, refs)
    result.update(test_length_ratio=scores["length_ratio"], test_chrf=scores["chrf"],
                  test_exact=scores["exact"])
    known = [i for i, (s, t) in enumerate(encoded["test"])
             if D.UNK_ID not in s and D.UNK_ID not in t]
    result["test_known_fraction"] = len(known) / max(len(refs), 1)
    if known:
        result["test_bleu_no_unk"] = bleu([hyps[i] for i in known], [refs[i] for i in known])[0]
    result["copy_source_bleu"] = bleu([s for s, _ in corpus.test], refs)[0]
    (out / "test-translations.txt").write_text("".join(f"{h}\n" for h in hyps), encoding="utf-8")
    result["test_examples"] = [{"source": s, "reference": r, "output": h}
                               for (s, r), h in list(zip(corpus.test, hyps, strict=True))[:3]]
    return result


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
