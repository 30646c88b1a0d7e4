r"""Decoding a trained Transformer: greedy and beam search with a key/value cache (§6.1).

"We used beam search with a beam size of 4 and length penalty alpha = 0.6 [38]. [...] We set the
maximum output length during inference to input length + 50, but terminate early when possible"
(§6.1). The length penalty is GNMT's (Wu et al. 2016, arXiv:1609.08144): hypotheses are ranked by

    s(Y, X) = log P(Y | X) / lp(Y),      lp(Y) = ((5 + |Y|) / 6)^alpha

with |Y| the number of generated tokens, EOS included (GNMT's coverage penalty is not used).

Incremental decoding: each step feeds only the newest token; every decoder layer appends that
position's self-attention keys/values to its :class:`~milestones.transformer.model.KVCache` and
reuses the encoder memory's cross-attention keys/values, computed once. The logits equal those of
recomputing the whole prefix (tested to 1e-5), at O(t) instead of O(t^2) work per step.

Beam search bookkeeping follows fairseq / Hugging Face: each step ranks the 2k best one-token
extensions of the k live hypotheses by log-probability; an EOS extension ranked within the top k
becomes a finished hypothesis, the k best non-EOS extensions stay alive. A source is done when it
has k finished hypotheses ("terminate early") or reaches its maximum length (its live hypotheses
are then finished as they are). With k = 1 this is exactly greedy decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from milestones.core.text import BOS_ID, EOS_ID, never_special
from milestones.transformer.model import Transformer, padding_mask


@dataclass
class Hypothesis:
    tokens: list[int]  # generated tokens, BOS excluded, EOS included when it ended the hypothesis
    log_prob: float  # log P(Y | X): the sum of the tokens' log-probabilities
    score: float  # log_prob / lp(len(tokens)): what beams are ranked by


def length_penalty(length: int, alpha: float = 0.6) -> float:
    """GNMT: lp(Y) = ((5 + |Y|) / 6)^alpha; alpha = 0 ranks by log-probability alone."""
    return ((5 + length) / 6) ** alpha


def max_output_lengths(src: Tensor, pad_id: int, extra: int = 50, max_len: int | None = None
                       ) -> Tensor:
    """§6.1: input length + 50 per source (padding not counted), optionally capped. (B,)."""
    limit = (src != pad_id).sum(dim=1) + extra
    return limit if max_len is None else limit.clamp(max=max_len)


@torch.no_grad()
def greedy_decode(model: Transformer, src: Tensor, *, bos_id: int = BOS_ID, eos_id: int = EOS_ID,
                  extra_len: int = 50, max_len: int | None = None, use_cache: bool = True
                  ) -> Tensor:
    """(B, S) padded source ids -> (B, L) the argmax token at every step, BOS excluded, EOS kept,
    ``model.pad_id`` after it. Stops when every row has its EOS or its length limit
    (source length + ``extra_len``, at most ``max_len``). ``use_cache=False`` recomputes the
    whole prefix each step (the reference for the cache). Runs in eval mode."""
    was_training = model.training
    model.eval()
    B = src.shape[0]
    src_mask = padding_mask(src, model.pad_id)  # (B, 1, 1, S)
    memory = model.encode(src, src_mask)  # (B, S, d_model)
    limit = max_output_lengths(src, model.pad_id, extra_len, max_len)  # (B,)
    cache = model.init_cache() if use_cache else None
    ys = torch.full((B, 1), bos_id, dtype=torch.long, device=src.device)  # (B, 1 + t)
    finished = torch.zeros(B, dtype=torch.bool, device=src.device)
    for t in range(1, int(limit.max()) + 1):
        logits = model.decode(ys[:, -1:] if use_cache else ys, memory, src_mask, cache)  # (B,_,V)
        next_token = never_special(logits[:, -1], model.pad_id, bos_id).argmax(dim=-1)  # (B,)
        next_token = next_token.masked_fill(finished, model.pad_id)
        ys = torch.cat([ys, next_token[:, None]], dim=1)
        finished |= (next_token == eos_id) | (t >= limit)
        if finished.all():
            break
    model.train(was_training)
    return ys[:, 1:]


@torch.no_grad()
def beam_search(model: Transformer, src: Tensor, *, beam_size: int = 4, alpha: float = 0.6,
                bos_id: int = BOS_ID, eos_id: int = EOS_ID, extra_len: int = 50,
                max_len: int | None = None) -> list[list[Hypothesis]]:
    """(B, S) padded source ids -> for each source, up to ``beam_size`` finished hypotheses, best
    length-penalised score first (§6.1: beam 4, alpha 0.6, input length + 50). Eval mode."""
    was_training = model.training
    model.eval()
    B, k = src.shape[0], beam_size
    device = src.device
    src_mask = padding_mask(src, model.pad_id)  # (B, 1, 1, S)
    memory = model.encode(src, src_mask)  # (B, S, d_model)
    limit = max_output_lengths(src, model.pad_id, extra_len, max_len).tolist()
    # every source's k hypotheses sit in k consecutive rows: (B * k, ...)
    memory, src_mask = memory.repeat_interleave(k, dim=0), src_mask.repeat_interleave(k, dim=0)
    cache = model.init_cache()
    ys = torch.full((B * k, 1), bos_id, dtype=torch.long, device=device)  # (B*k, 1 + t)
    # log P of each live hypothesis; at the start only one (the others would be its copies)
    log_p = torch.full((B, k), float("-inf"), device=device)
    log_p[:, 0] = 0.0
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    done = [False] * B
    rows = torch.arange(B, device=device)[:, None] * k  # (B, 1) first row of each source
    for t in range(1, max(limit) + 1):
        logits = model.decode(ys[:, -1:], memory, src_mask, cache)[:, -1]  # (B*k, V)
        log_p_next = never_special(logits.float().log_softmax(dim=-1), model.pad_id, bos_id)
        V = logits.shape[-1]
        # log P(y_1..y_t) = log P(y_1..y_{t-1}) + log P(y_t | y_<t, X), for every extension
        candidates = log_p[:, :, None] + log_p_next.view(B, k, V)  # (B, k, V)
        top_log_p, top_index = candidates.view(B, k * V).topk(2 * k, dim=1)  # (B, 2k), sorted
        top_beam, top_token = top_index // V, top_index % V  # which hypothesis, which token
        is_eos = top_token == eos_id
        # EOS extensions ranked within the top k are finished hypotheses
        for b, r in (is_eos[:, :k] & top_log_p[:, :k].isfinite()).nonzero().tolist():
            if not done[b]:
                tokens = ys[rows[b, 0] + top_beam[b, r], 1:].tolist() + [eos_id]
                lp = top_log_p[b, r].item()
                finished[b].append(Hypothesis(tokens, lp, lp / length_penalty(t, alpha)))
        # the k best extensions that do not end stay alive
        log_p, rank = top_log_p.masked_fill(is_eos, float("-inf")).topk(k, dim=1)  # (B, k)
        index = (rows + top_beam.gather(1, rank)).view(-1)  # (B*k,) rows they extend
        ys = torch.cat([ys[index], top_token.gather(1, rank).view(-1, 1)], dim=1)
        for layer_cache in cache:
            layer_cache.reorder(index)
        for b in range(B):
            if done[b]:
                continue
            if t >= limit[b]:  # out of length: the live hypotheses end here, without EOS
                for j in range(k):
                    lp = log_p[b, j].item()
                    if lp > float("-inf"):
                        tokens = ys[rows[b, 0] + j, 1:].tolist()
                        finished[b].append(Hypothesis(tokens, lp, lp / length_penalty(t, alpha)))
            # DEVIATION(D7): done with k finished hypotheses (fairseq's rule), no score bound
            done[b] = t >= limit[b] or len(finished[b]) >= k
        if all(done):
            break
    model.train(was_training)
    return [sorted(hyps, key=lambda hyp: hyp.score, reverse=True)[:k] for hyps in finished]
