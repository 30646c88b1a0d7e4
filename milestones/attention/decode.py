r"""Decoding RNNsearch and RNNencdec: greedy and beam search, with the alignments alpha.

"We use a beam search to find a translation that approximately maximizes the conditional
probability" (§5 / Sutskever et al. 2014): each step extends each of the k live hypotheses by
every word, keeps the k best partial translations by log p(y_1..y_t | x), and sets a hypothesis
aside when it ends in EOS; a source is done when k hypotheses have ended or it reaches its
length limit. The paper does not state k; we use 12 (``BEAM``; ``--beam`` in train.py).
Finished hypotheses are ranked by their
log-probability divided by their length (GroundHog's ``--normalize``; ``normalize=False`` ranks by
log-probability alone, which favours short outputs).

Both return, for every output word, its alignment alpha_i over the source words (Eq. 6): what
Fig. 3 plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from milestones.attention.model import EncoderDecoder
from milestones.core.text import BOS_ID, EOS_ID, never_special

BEAM = 12  # DEVIATION(D5): the paper does not give its beam width


@dataclass
class Hypothesis:
    tokens: list[int]  # output words, BOS excluded, EOS included when it ended the hypothesis
    log_prob: float  # log p(y | x), the sum over its words
    score: float  # what hypotheses are ranked by: log_prob / len(tokens), or log_prob
    alignment: Tensor  # (len(tokens), S): alpha_i over the source words, per output word


def max_output_length(src: Tensor, pad_id: int, max_len: int | None = None) -> Tensor:
    """Twice the source length + 10 per sentence (B,), at most ``max_len``."""
    limit = 2 * (src != pad_id).sum(dim=1) + 10
    return limit if max_len is None else limit.clamp(max=max_len)


@torch.no_grad()
def greedy_decode(model: EncoderDecoder, src: Tensor, *, bos_id: int = BOS_ID,
                  eos_id: int = EOS_ID, max_len: int | None = None) -> tuple[Tensor, Tensor]:
    """(B, S) padded source ids -> ((B, L) the most probable word at each step, BOS excluded,
    EOS kept, PAD after it; (B, L, S) the alignments alpha, 0 after EOS). Eval mode."""
    was_training = model.training
    model.eval()
    memory, s = model.encode(src)
    limit = max_output_length(src, model.pad_id, max_len)  # (B,)
    y = torch.full((src.shape[0],), bos_id, dtype=torch.long, device=src.device)
    finished = torch.zeros_like(y, dtype=torch.bool)
    words, alphas = [], []
    for t in range(1, int(limit.max()) + 1):
        logits, s, alpha = model.decoder.step(y, s, memory)  # (B, K), (B, n), (B, S')
        y = never_special(logits, model.pad_id, bos_id).argmax(dim=-1).masked_fill(finished,
                                                                             model.pad_id)
        words.append(y)
        alphas.append(alpha.masked_fill(finished[:, None], 0.0))
        finished |= (y == eos_id) | (t >= limit)
        if finished.all():
            break
    model.train(was_training)
    return torch.stack(words, dim=1), torch.stack(alphas, dim=1)


@torch.no_grad()
def beam_search(model: EncoderDecoder, src: Tensor, *, beam_size: int = BEAM,
                normalize: bool = True, bos_id: int = BOS_ID, eos_id: int = EOS_ID,
                max_len: int | None = None) -> list[list[Hypothesis]]:
    """(B, S) padded source ids -> for each source up to ``beam_size`` finished hypotheses, best
    first. With ``beam_size=1`` this is :func:`greedy_decode`. Eval mode."""
    was_training = model.training
    model.eval()
    B, k, device = src.shape[0], beam_size, src.device
    memory, s = model.encode(src)
    limit = max_output_length(src, model.pad_id, max_len).tolist()
    rows = torch.arange(B, device=device)[:, None] * k  # (B, 1): each source's first row
    # every source's k hypotheses sit in k consecutive rows: (B * k, ...)
    expand = torch.arange(B, device=device).repeat_interleave(k)
    memory, s = memory.index_select(expand), s[expand]
    ys = torch.full((B * k, 1), bos_id, dtype=torch.long, device=device)  # (B*k, 1 + t)
    history = torch.zeros(B * k, 0, memory.h.shape[1], device=device)  # (B*k, t, S) alphas
    log_p = torch.full((B, k), float("-inf"), device=device)  # one live hypothesis at first
    log_p[:, 0] = 0.0
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    done = [False] * B

    def hypothesis(tokens: list[int], alignment: Tensor, lp: float) -> Hypothesis:
        return Hypothesis(tokens, lp, lp / len(tokens) if normalize else lp, alignment.cpu())

    for t in range(1, max(limit) + 1):
        logits, s, alpha = model.decoder.step(ys[:, -1], s, memory)  # (B*k, K), _, (B*k, S)
        log_p_next = never_special(logits.float().log_softmax(dim=-1), model.pad_id, bos_id)
        history = torch.cat([history, alpha[:, None].float()], dim=1)  # (B*k, t, S)
        V = logits.shape[-1]
        # log p(y_1..y_t | x) = log p(y_1..y_{t-1} | x) + log p(y_t | y_<t, x)
        candidates = log_p[:, :, None] + log_p_next.view(B, k, V)  # (B, k, V)
        top_log_p, top_index = candidates.view(B, k * V).topk(2 * k, dim=1)  # (B, 2k)
        top_beam, top_word = top_index // V, top_index % V
        is_eos = top_word == eos_id
        # an EOS extension ranked within the top k is a finished hypothesis
        for b, r in (is_eos[:, :k] & top_log_p[:, :k].isfinite()).nonzero().tolist():
            if not done[b]:
                row = int(rows[b, 0] + top_beam[b, r])
                finished[b].append(hypothesis(ys[row, 1:].tolist() + [eos_id],
                                              history[row], top_log_p[b, r].item()))
        # the k best extensions that do not end stay alive
        log_p, rank = top_log_p.masked_fill(is_eos, float("-inf")).topk(k, dim=1)  # (B, k)
        index = (rows + top_beam.gather(1, rank)).view(-1)  # (B*k,) the rows they extend
        ys = torch.cat([ys[index], top_word.gather(1, rank).view(-1, 1)], dim=1)
        s, history = s[index], history[index]
        for b in range(B):
            if done[b]:
                continue
            if t >= limit[b]:  # out of length: the live hypotheses end here, without EOS
                for j in range(k):
                    if log_p[b, j] > float("-inf"):
                        row = int(rows[b, 0]) + j
                        finished[b].append(hypothesis(ys[row, 1:].tolist(), history[row],
                                                      log_p[b, j].item()))
            done[b] = t >= limit[b] or len(finished[b]) >= k
        if all(done):
            break
    model.train(was_training)
    return [sorted(h, key=lambda hyp: hyp.score, reverse=True)[:k] for h in finished]
