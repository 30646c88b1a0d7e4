"""Sampling from a GPT: temperature, top-k and nucleus (top-p) sampling, with a key/value cache.

    tokens = generate(model, prompt, 200, temperature=0.8, top_k=40, generator=g)  # (B, T + 200)

Each step computes the next token's distribution from the logits of the last position,

    P(u) = softmax(z / tau)                   (temperature tau; tau = 0: the most likely token)
    top-k: keep the k largest z, the others get probability 0
    top-p (Holtzman et al. 2019, "nucleus"): keep the smallest set of the most likely tokens whose
        probability sums to at least p

and, with ``cache=True``, feeds only the new token through the model, attending to the cached keys
and values of the earlier ones; the logits equal a recomputation of the whole sequence (tested).
Past the model's context the window slides: the last ``n_ctx`` tokens are recomputed each step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from milestones.core.config import ConfigError
from milestones.gpt.model import GPT, KVCache


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None
                  ) -> Tensor:
    """(B, V) logits -> the same with -inf outside the top-k and outside the nucleus of mass
    top_p (the most likely token always stays)."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)  # (B, V)
        probs = sorted_logits.softmax(-1)
        # drop a token when the tokens before it already hold p of the mass
        before = probs.cumsum(-1) - probs  # (B, V): mass strictly before each token
        drop_sorted = before >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def next_token(logits: Tensor, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, generator: torch.Generator | None = None) -> Tensor:
    """(B, V) logits of the last position -> (B, 1) the next tokens."""
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    logits = filter_logits(logits.float() / temperature, top_k, top_p)
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator)  # (B, 1)


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """The sampling options' valid ranges, one clear error for each."""
    if temperature < 0:
        raise ValueError(f"temperature {temperature}: must be >= 0 (0 = the most likely token)")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top-k {top_k}: must be >= 1 (or unset)")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top-p {top_p}: must be in (0, 1] (the nucleus's probability mass)")


def require_sampling(cfg: Any) -> None:
    """:func:`check_sampling` on a config's ``temperature``, ``top_k`` and ``top_p``: a
    :class:`ConfigError` naming the field (and its flag) instead of a ValueError."""
    try:
        check_sampling(cfg.temperature, cfg.top_k, cfg.top_p)
    except ValueError as e:
        field = str(e).split()[0].replace("-", "_")
        raise ConfigError(field, getattr(cfg, field), str(e).split(": ", 1)[1]) from None


@torch.no_grad()
def generate(model: GPT, idx: Tensor, max_new_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None,
             generator: torch.Generator | None = None, cache: bool = True) -> Tensor:
    """Continue each row of ``idx`` (B, T) by ``max_new_tokens`` sampled tokens -> (B, T + new).

    ``generator`` draws the samples (on the model's device); ``cache=False`` recomputes the
    whole context every step (the reference the cache is tested against)."""
    check_sampling(temperature, top_k, top_p)
    if idx.shape[1] == 0:
        raise ValueError("an empty prompt: give at least one token")
    was = model.training
    model.eval()
    n_ctx = model.config.n_ctx
    kv = None
    for _ in range(max_new_tokens):
        if cache and kv is not None and kv.length < n_ctx:
            logits = model(idx[:, -1:], kv)  # only the new token; (B, 1, V)
        else:  # the first step, no cache, or a full context: (re)compute the last n_ctx tokens
            window = idx[:, -n_ctx:]
            kv = KVCache(model.config, idx.shape[0], idx.device,
                         next(model.parameters()).dtype) if cache else None
            logits = model(window, kv)  # (B, T, V)
        idx = torch.cat([idx, next_token(logits[:, -1], temperature, top_k, top_p, generator)],
                        dim=1)
    model.train(was)
    return idx
