r"""Attention Is All You Need. Vaswani, Shazeer, Parmar, Uszkoreit, Jones, Gomez, Kaiser,
Polosukhin (2017). arXiv:1706.03762.

The Transformer drops recurrence and convolution: an encoder-decoder built only from attention
and position-wise feed-forward layers, so every position sees every other in one step and the
whole sequence trains in parallel. Each encoder layer is self-attention then a feed-forward net;
each decoder layer adds, between the two, attention over the encoder's output ("memory"), and its
self-attention is masked so position i sees only positions <= i (auto-regression, §3.1). Order
enters only through positional encodings added to the embeddings.

$$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\Big(\frac{QK^\top}{\sqrt{d_k}}\Big) V \tag{1}$$

$$\mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(\mathrm{head}_1, \ldots, \mathrm{head}_h) W^O,
\quad \mathrm{head}_i = \mathrm{Attention}(Q W_i^Q, K W_i^K, V W_i^V) \tag{\S 3.2.2}$$

with $d_k = d_v = d_{model} / h$, and the position-wise feed-forward network

$$\mathrm{FFN}(x) = \max(0, x W_1 + b_1) W_2 + b_2 \tag{2}$$

    (§3.1)    LayerNorm(x + Sublayer(x))                      around every sub-layer
    (§3.4)    embeddings multiplied by sqrt(d_model); one matrix shared by both embeddings and
              the pre-softmax linear transformation
    (§5.4)    residual dropout P_drop on every sub-layer output (before the residual sum) and on
              the sums of embeddings and positional encodings

and the sinusoidal positional encodings (§3.5):

$$PE_{(pos, 2i)} = \sin(pos / 10000^{2i/d_{model}}), \qquad
PE_{(pos, 2i+1)} = \cos(pos / 10000^{2i/d_{model}})$$

Implemented: §3.1-3.5, §5.4 (dropout; label smoothing: :func:`label_smoothed_loss`), Table 3
base / big and row (E) (learned positional embeddings). Beyond the paper, as flags: ``norm_first``
(pre-LN, LayerNorm(x) inside the residual branch, Wang et al. 2019 / tensor2tensor v2), attention
and ReLU dropout (tensor2tensor's ``attention_dropout`` / ``relu_dropout``, off by default), a
fast attention path through ``F.scaled_dot_product_attention`` (same numbers as Eq. 1 written out).
Decoding (greedy, beam search with a key/value cache, §6.1) is in ``decode.py``.

Mask convention (as in ``F.scaled_dot_product_attention``): a boolean mask, **True = may
attend**, broadcast against the scores (B, h, T_q, T_k). ``nn.MultiheadAttention`` uses the
opposite (True = masked); :func:`from_torch_state_dict` maps its weights, not its masks.

Tokens: ``PAD_ID, BOS_ID, EOS_ID = 0, 1, 2`` (``milestones.core.text``) are the defaults
everywhere (configurable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from milestones.core.text import PAD_ID

# ---- masks ---------------------------------------------------------------------------------------

def padding_mask(ids: Tensor, pad_id: int = PAD_ID) -> Tensor:
    """(B, S) token ids -> (B, 1, 1, S) bool, True at real tokens: keys a query may attend to.

    Broadcasts over heads and queries against scores of shape (B, h, T_q, S)."""
    return (ids != pad_id)[:, None, None, :]


def causal_mask(t_q: int, t_k: int | None = None, device: torch.device | str | None = None
                ) -> Tensor:
    """(t_q, t_k) bool, True where key j may be seen by query i: j <= i + (t_k - t_q) (§3.2.3).

    With t_k = t_q this is the lower triangle. With t_k > t_q the queries are the *last* t_q
    positions of t_k (incremental decoding with a cache): query i sits at position i + t_k - t_q.
    Broadcasts against (B, h, t_q, t_k)."""
    t_k = t_q if t_k is None else t_k
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(t_k - t_q)


# ---- attention (§3.2) ----------------------------------------------------------------------------

def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                                 dropout_p: float = 0.0, fast: bool = False
                                 ) -> tuple[Tensor, Tensor | None]:
    """Eq. 1 on (..., T_q, d_k), (..., T_k, d_k), (..., T_k, d_v) -> ((..., T_q, d_v), weights).

    ``mask``: bool, True = may attend, broadcastable to (..., T_q, T_k). ``dropout_p`` drops
    attention weights (pass 0 in eval). ``fast=True`` calls ``F.scaled_dot_product_attention``
    (fused kernels; no weights returned, ``None`` instead). Every query must see at least one
    key: a fully masked row is NaN on the explicit path.
    """
    if fast:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p), None
    d_k = q.shape[-1]
    # Eq. 1: the compatibility of each query with each key, scaled by 1/sqrt(d_k) (§3.2.1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
    if mask is not None:  # masked positions get -inf before the softmax, weight 0 after
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)  # (..., T_q, T_k), rows sum to 1
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p)
    return weights @ v, weights  # (..., T_q, d_v)


class MultiHeadAttention(nn.Module):
    """h parallel attention heads on learned projections, concatenated and projected (§3.2.2).

    Args:
        d_model: $d_{model}$, input and output width.
        h: number of heads.
        d_k, d_v: per-head query/key and value widths; default d_model / h (Table 3 row A, B vary
            them). q_proj, k_proj: d_model -> h d_k (W^Q, W^K of all heads stacked); v_proj:
            d_model -> h d_v; out_proj: h d_v -> d_model (W^O).
        dropout: on the attention weights (0 in the paper; nn.MultiheadAttention's ``dropout``).
        bias: biases on the four projections (the paper writes none; nn.MultiheadAttention has).
        fast: use ``F.scaled_dot_product_attention`` unless weights are asked for.
    """

    def __init__(self, d_model: int, h: int, d_k: int | None = None, d_v: int | None = None,
                 dropout: float = 0.0, bias: bool = True, fast: bool = True):
        super().__init__()
        if (d_k is None or d_v is None) and d_model % h:
            raise ValueError(f"d_model={d_model} must be divisible by h={h} (d_k = d_model/h)")
        self.h, self.d_k, self.d_v = h, d_k or d_model // h, d_v or d_model // h
        self.dropout, self.fast = dropout, fast
        # DEVIATION(D4): biases on the projections (the paper writes none), as nn.MultiheadAttention
        self.q_proj = nn.Linear(d_model, h * self.d_k, bias=bias)  # W^Q
        self.k_proj = nn.Linear(d_model, h * self.d_k, bias=bias)  # W^K
        self.v_proj = nn.Linear(d_model, h * self.d_v, bias=bias)  # W^V
        self.out_proj = nn.Linear(h * self.d_v, d_model, bias=bias)  # W^O

    def split_heads(self, x: Tensor, d: int) -> Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.h, d).transpose(1, 2)  # (B, T, h*d) -> (B, h, T, d)

    def project_kv(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """K W^K, V W^V for all heads: (B, S, d_model) -> (B, h, S, d_k), (B, h, S, d_v).
        What a decoding cache stores."""
        return self.split_heads(self.k_proj(key), self.d_k), self.split_heads(self.v_proj(value),
                                                                              self.d_v)

    def forward(self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None,
                mask: Tensor | None = None, *, kv: tuple[Tensor, Tensor] | None = None,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """(B, T, d_model) queries; keys/values (B, S, d_model) (default: the queries, i.e.
        self-attention) or ``kv`` already projected by :meth:`project_kv` (a cache).
        Returns (B, T, d_model) and, if ``need_weights``, the weights (B, h, T, S), else None."""
        if kv is None:
            key = query if key is None else key
            kv = self.project_kv(key, key if value is None else value)
        k, v = kv  # (B, h, S, d_k), (B, h, S, d_v)
        q = self.split_heads(self.q_proj(query), self.d_k)  # (B, h, T, d_k)
        dropout_p = self.dropout if self.training else 0.0
        # head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V), all heads in one batched call
        heads, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p,
                                                      fast=self.fast and not need_weights)
        B, _, T, _ = heads.shape
        # Concat(head_1, ..., head_h) W^O
        concat = heads.transpose(1, 2).reshape(B, T, self.h * self.d_v)  # (B, T, h*d_v)
        return self.out_proj(concat), weights


# ---- position-wise feed-forward (§3.3) -----------------------------------------------------------

class PositionwiseFeedForward(nn.Module):
    """Eq. 2: FFN(x) = max(0, x W_1 + b_1) W_2 + b_2, the same at every position.
    ``d_ff``: $d_{ff}$ (2048 base). ``dropout``: on the ReLU output (0 in the paper)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)  # W_1, b_1
        self.linear2 = nn.Linear(d_ff, d_model)  # W_2, b_2
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:  # (B, T, d_model) -> (B, T, d_model)
        return self.linear2(self.dropout(F.relu(self.linear1(x))))


# ---- positional encodings (§3.5, Table 3 row E) --------------------------------------------------

def sinusoidal_encoding(max_len: int, d_model: int) -> Tensor:
    """(max_len, d_model): PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(...).

    Interleaved as in the paper's formula (tensor2tensor concatenates the sin and cos halves)."""
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # (ceil(d_model/2),)
    angle = pos / 10000 ** (two_i / d_model)  # (max_len, ceil(d_model/2))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sinusoids (§3.5), a non-persistent buffer: not a parameter, not in the state dict."""

    def __init__(self, d_model: int, max_len: int = 1024):
        super().__init__()
        self.max_len = max_len
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, length: int, offset: int = 0) -> Tensor:  # -> (length, d_model)
        _check_length(length, offset, self.max_len)
        return self.pe[offset:offset + length]


class LearnedPositionalEmbedding(nn.Module):
    """One learned vector per position (Table 3 row E: "nearly identical results")."""

    def __init__(self, d_model: int, max_len: int = 1024):
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, length: int, offset: int = 0) -> Tensor:  # -> (length, d_model)
        _check_length(length, offset, self.max_len)
        return self.embedding.weight[offset:offset + length]


def _check_length(length: int, offset: int, max_len: int) -> None:
    if offset + length > max_len:
        raise ValueError(f"position {offset + length - 1} is beyond max_len={max_len}; "
                         "build the model with a larger max_len")


# ---- layers (§3.1, Figure 1) ---------------------------------------------------------------------

class EncoderLayer(nn.Module):
    """Self-attention, then FFN; each sub-layer wrapped as LayerNorm(x + Dropout(Sublayer(x)))
    (post-LN, the paper) or x + Dropout(Sublayer(LayerNorm(x))) (``norm_first``, pre-LN).

    Names follow ``nn.TransformerEncoderLayer`` (self_attn, norm1, norm2; its linear1/linear2 are
    ffn.linear1/linear2 here): see :func:`from_torch_state_dict`.
    """

    def __init__(self, d_model: int, h: int, d_ff: int, dropout: float = 0.1,
                 attn_dropout: float = 0.0, ffn_dropout: float = 0.0, norm_first: bool = False,
                 layer_norm_eps: float = 1e-5, d_k: int | None = None, d_v: int | None = None,
                 bias: bool = True, fast: bool = True):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, h, d_k, d_v, attn_dropout, bias, fast)
        self.ffn = PositionwiseFeedForward(d_model, d_ff, ffn_dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)  # §5.4 residual

    def _self_attention(self, x: Tensor, mask: Tensor | None, weights: list | None) -> Tensor:
        out, w = self.self_attn(x, x, x, mask, need_weights=weights is not None)
        if weights is not None:
            weights.append(w)
        return self.dropout1(out)

    def forward(self, x: Tensor, mask: Tensor | None = None, weights: list | None = None
                ) -> Tensor:
        """x: (B, S, d_model); mask: (B, 1, 1, S) padding mask (True = real token).
        ``weights``: a list to append the attention weights (B, h, S, S) to (for plots)."""
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), mask, weights)
            return x + self.dropout2(self.ffn(self.norm2(x)))
        # §3.1: LayerNorm(x + Sublayer(x))
        x = self.norm1(x + self._self_attention(x, mask, weights))
        return self.norm2(x + self.dropout2(self.ffn(x)))


@dataclass
class KVCache:
    """One decoder layer's keys and values for incremental decoding.

    Self-attention: the keys/values of every position decoded so far, one more per step.
    Cross-attention: those of the encoder memory, computed at the first step, then reused."""

    self_k: Tensor | None = None  # (B, h, t, d_k)
    self_v: Tensor | None = None  # (B, h, t, d_v)
    cross_k: Tensor | None = None  # (B, h, S, d_k)
    cross_v: Tensor | None = None  # (B, h, S, d_v)

    @property
    def length(self) -> int:
        return 0 if self.self_k is None else self.self_k.shape[2]

    def reorder(self, index: Tensor) -> None:
        """Keep rows ``index`` of the self-attention cache (beam search). Cross keys/values are
        left alone: beam search only reorders hypotheses of the same source, whose rows match."""
        if self.self_k is not None:
            self.self_k = self.self_k.index_select(0, index)
            self.self_v = self.self_v.index_select(0, index)


class DecoderLayer(nn.Module):
    """Masked self-attention, attention over the encoder memory, FFN (§3.1), each wrapped like
    :class:`EncoderLayer`'s. Names follow ``nn.TransformerDecoderLayer`` (self_attn, norm1-3;
    its multihead_attn is cross_attn here)."""

    def __init__(self, d_model: int, h: int, d_ff: int, dropout: float = 0.1,
                 attn_dropout: float = 0.0, ffn_dropout: float = 0.0, norm_first: bool = False,
                 layer_norm_eps: float = 1e-5, d_k: int | None = None, d_v: int | None = None,
                 bias: bool = True, fast: bool = True):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, h, d_k, d_v, attn_dropout, bias, fast)
        self.cross_attn = MultiHeadAttention(d_model, h, d_k, d_v, attn_dropout, bias, fast)
        self.ffn = PositionwiseFeedForward(d_model, d_ff, ffn_dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))

    def _self_attention(self, y: Tensor, mask: Tensor | None, cache: KVCache | None,
                        weights: list | None) -> Tensor:
        if cache is None:
            kv = None
        else:  # append this step's keys/values to those of the positions before
            k, v = self.self_attn.project_kv(y, y)  # (B, h, t_new, d_k)
            if cache.self_k is not None:
                k = torch.cat([cache.self_k, k], dim=2)  # (B, h, t, d_k)
                v = torch.cat([cache.self_v, v], dim=2)
            cache.self_k, cache.self_v = k, v
            kv = (k, v)
        out, w = self.self_attn(y, y, y, mask, kv=kv, need_weights=weights is not None)
        if weights is not None:
            weights.append(w)
        return self.dropout1(out)

    def _cross_attention(self, y: Tensor, memory: Tensor, mask: Tensor | None,
                         cache: KVCache | None, weights: list | None) -> Tensor:
        kv = None
        if cache is not None:  # the memory's keys/values do not change: compute them once
            if cache.cross_k is None:
                cache.cross_k, cache.cross_v = self.cross_attn.project_kv(memory, memory)
            kv = (cache.cross_k, cache.cross_v)
        out, w = self.cross_attn(y, memory, memory, mask, kv=kv, need_weights=weights is not None)
        if weights is not None:
            weights.append(w)
        return self.dropout2(out)

    def forward(self, y: Tensor, memory: Tensor, self_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, cache: KVCache | None = None,
                self_weights: list | None = None, cross_weights: list | None = None) -> Tensor:
        """y: (B, T, d_model) target side; memory: (B, S, d_model) encoder output.
        self_mask: (T, T) causal (& target padding, (B, 1, T, T)); memory_mask: (B, 1, 1, S).
        With ``cache``, y holds only the new positions and self_mask must match (T_new, t)."""
        if self.norm_first:
            y = y + self._self_attention(self.norm1(y), self_mask, cache, self_weights)
            y = y + self._cross_attention(self.norm2(y), memory, memory_mask, cache,
                                          cross_weights)
            return y + self.dropout3(self.ffn(self.norm3(y)))
        y = self.norm1(y + self._self_attention(y, self_mask, cache, self_weights))
        y = self.norm2(y + self._cross_attention(y, memory, memory_mask, cache, cross_weights))
        return self.norm3(y + self.dropout3(self.ffn(y)))


class Encoder(nn.Module):
    """N identical layers (§3.1); with pre-LN a final LayerNorm (the residual stream is never
    normalised otherwise)."""

    def __init__(self, N: int, norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 **layer_kw):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(norm_first=norm_first,
                                                 layer_norm_eps=layer_norm_eps, **layer_kw)
                                    for _ in range(N))
        d_model = layer_kw["d_model"]
        self.norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if norm_first else None

    def forward(self, x: Tensor, mask: Tensor | None = None, weights: list | None = None
                ) -> Tensor:  # (B, S, d_model) -> (B, S, d_model)
        for layer in self.layers:
            x = layer(x, mask, weights)
        return x if self.norm is None else self.norm(x)


class Decoder(nn.Module):
    """N identical decoder layers (§3.1); with pre-LN a final LayerNorm."""

    def __init__(self, N: int, norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 **layer_kw):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(norm_first=norm_first,
                                                 layer_norm_eps=layer_norm_eps, **layer_kw)
                                    for _ in range(N))
        d_model = layer_kw["d_model"]
        self.norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if norm_first else None

    def forward(self, y: Tensor, memory: Tensor, self_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, cache: list[KVCache] | None = None,
                self_weights: list | None = None, cross_weights: list | None = None) -> Tensor:
        for i, layer in enumerate(self.layers):
            y = layer(y, memory, self_mask, memory_mask, None if cache is None else cache[i],
                      self_weights, cross_weights)
        return y if self.norm is None else self.norm(y)


# ---- the model (Figure 1) ------------------------------------------------------------------------

class Transformer(nn.Module):
    """Encoder-decoder Transformer (Figure 1): forward(src, tgt_in) -> logits (B, T, V).

    Args (Table 3 columns where they exist):
        vocab_size: source vocabulary (shared with the target when ``share_embeddings``: the
            paper's En-De "shared source-target vocabulary of about 37000 tokens", §5.1).
        tgt_vocab_size: target vocabulary if different (needs ``share_embeddings=False``).
        N: layers in the encoder and in the decoder. d_model: $d_{model}$. h: heads.
        d_ff: $d_{ff}$. d_k, d_v: per-head widths (default d_model / h).
        dropout: $P_{drop}$ (§5.4), on sub-layer outputs and on embedding + position sums.
        attn_dropout, ffn_dropout: on attention weights / ReLU outputs (not in the paper; 0).
        max_len: longest sequence the positional encodings cover.
        positional: "sinusoidal" (§3.5) or "learned" (Table 3 row E).
        share_embeddings: one embedding matrix for source and target (§3.4).
        tie_output: the pre-softmax linear layer uses the target embedding matrix (§3.4).
        norm_first: pre-LN instead of the paper's post-LN.
        scale_embeddings: multiply embeddings by sqrt(d_model) (§3.4).
        pad_id: padding token; padding masks are built from it.
        fast_attention: attention through ``F.scaled_dot_product_attention``.
    """

    def __init__(self, vocab_size: int, tgt_vocab_size: int | None = None, *, N: int = 6,
                 d_model: int = 512, h: int = 8, d_ff: int = 2048, d_k: int | None = None,
                 d_v: int | None = None, dropout: float = 0.1, attn_dropout: float = 0.0,
                 ffn_dropout: float = 0.0, max_len: int = 1024,
                 positional: Literal["sinusoidal", "learned"] = "sinusoidal",
                 share_embeddings: bool = True, tie_output: bool = True,
                 norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 scale_embeddings: bool = True, bias: bool = True, pad_id: int = PAD_ID,
                 fast_attention: bool = True):
        super().__init__()
        tgt_vocab_size = vocab_size if tgt_vocab_size is None else tgt_vocab_size
        if share_embeddings and tgt_vocab_size != vocab_size:
            raise ValueError(f"share_embeddings needs one vocabulary; got vocab_size={vocab_size}"
                             f", tgt_vocab_size={tgt_vocab_size}")
        if positional not in ("sinusoidal", "learned"):
            raise ValueError(f"positional must be 'sinusoidal' or 'learned', got {positional!r}")
        self.d_model, self.pad_id, self.scale_embeddings = d_model, pad_id, scale_embeddings
        self.src_embed = nn.Embedding(vocab_size, d_model)
        self.tgt_embed = self.src_embed if share_embeddings else nn.Embedding(tgt_vocab_size,
                                                                              d_model)
        pos_cls = SinusoidalPositionalEncoding if positional == "sinusoidal" else \
            LearnedPositionalEmbedding
        self.src_pos = pos_cls(d_model, max_len)
        # the target positions are the same function of position; learned ones are not shared
        self.tgt_pos = self.src_pos if positional == "sinusoidal" else pos_cls(d_model, max_len)
        self.dropout = nn.Dropout(dropout)  # §5.4, on embeddings + positions
        layer_kw = dict(d_model=d_model, h=h, d_ff=d_ff, dropout=dropout,
                        attn_dropout=attn_dropout, ffn_dropout=ffn_dropout, d_k=d_k, d_v=d_v,
                        bias=bias, fast=fast_attention)
        self.encoder = Encoder(N, norm_first, layer_norm_eps, **layer_kw)
        self.decoder = Decoder(N, norm_first, layer_norm_eps, **layer_kw)
        # the pre-softmax linear transformation (§3.4); no bias, like tensor2tensor
        self.output_projection = nn.Linear(d_model, tgt_vocab_size, bias=False)
        self.reset_parameters()
        if tie_output:
            self.output_projection.weight = self.tgt_embed.weight

    def reset_parameters(self) -> None:
        """The paper gives no initialisation. Xavier-uniform matrices (as nn.Transformer; the
        tensor2tensor code uses the close "uniform unit scaling"), zero biases, and embeddings
        N(0, d_model^-1/2) as tensor2tensor (unit variance after the sqrt(d_model) scaling)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)  # DEVIATION(D3): the paper gives no init
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                std = self.d_model ** -0.5 if self.scale_embeddings else 1.0
                nn.init.normal_(m.weight, 0.0, std)

    def set_fast_attention(self, fast: bool) -> Transformer:
        for m in self.modules():
            if isinstance(m, MultiHeadAttention):
                m.fast = fast
        return self

    def embed(self, ids: Tensor, embedding: nn.Embedding, positions: nn.Module, offset: int = 0
              ) -> Tensor:
        """(B, T) ids -> (B, T, d_model): Dropout(Embedding(ids) * sqrt(d_model) + PE)."""
        x = embedding(ids)  # (B, T, d_model)
        if self.scale_embeddings:  # §3.4
            x = x * math.sqrt(self.d_model)
        return self.dropout(x + positions(ids.shape[1], offset))  # §3.5, §5.4

    def encode(self, src: Tensor, src_mask: Tensor | None = None, weights: list | None = None
               ) -> Tensor:
        """(B, S) source ids -> memory (B, S, d_model); ``src_mask`` defaults to padding_mask."""
        src_mask = padding_mask(src, self.pad_id) if src_mask is None else src_mask
        return self.encoder(self.embed(src, self.src_embed, self.src_pos), src_mask, weights)

    def init_cache(self) -> list[KVCache]:
        return [KVCache() for _ in self.decoder.layers]

    def decode(self, tgt: Tensor, memory: Tensor, src_mask: Tensor,
               cache: list[KVCache] | None = None, self_weights: list | None = None,
               cross_weights: list | None = None) -> Tensor:
        """(B, T) target ids (shifted right: BOS first) and memory -> logits (B, T, V).

        Without a cache: the causal mask and the target's padding mask. With ``cache`` (from
        :meth:`init_cache`): ``tgt`` holds only the new positions, which follow the ``t`` cached
        ones; the mask is causal over all ``t + T`` (cached positions are never masked as
        padding: decoding appends after the last real token)."""
        offset = 0 if cache is None else cache[0].length
        T = tgt.shape[1]
        self_mask = causal_mask(T, offset + T, device=tgt.device)  # (T, t + T)
        if cache is None:
            self_mask = self_mask & padding_mask(tgt, self.pad_id)  # (B, 1, T, T)
        y = self.embed(tgt, self.tgt_embed, self.tgt_pos, offset)
        y = self.decoder(y, memory, self_mask, src_mask, cache, self_weights, cross_weights)
        return self.output_projection(y)  # (B, T, V)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: (B, S) source ids, (B, T) target ids shifted right -> (B, T, V)."""
        src_mask = padding_mask(src, self.pad_id)  # (B, 1, 1, S)
        return self.decode(tgt_in, self.encode(src, src_mask), src_mask)

    def attention_weights(self, src: Tensor, tgt_in: Tensor) -> dict[str, list[Tensor]]:
        """Every attention map, per layer: "encoder" (B, h, S, S), "decoder" (B, h, T, T),
        "cross" (B, h, T, S). Through the explicit Eq. 1 path (for heat maps)."""
        maps: dict[str, list[Tensor]] = {"encoder": [], "decoder": [], "cross": []}
        src_mask = padding_mask(src, self.pad_id)
        memory = self.encode(src, src_mask, maps["encoder"])
        self.decode(tgt_in, memory, src_mask, None, maps["decoder"], maps["cross"])
        return maps


# ---- weights from torch.nn ----------------------------------------------------------------------

def from_torch_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename the keys of ``nn.MultiheadAttention`` / ``nn.TransformerEncoderLayer`` /
    ``nn.TransformerDecoderLayer`` state dicts (at any prefix) to ours: the packed in_proj_weight
    (3 d_model, d_model) splits into q_proj, k_proj, v_proj; linear1/2 -> ffn.linear1/2;
    multihead_attn -> cross_attn."""
    out = {}
    for key, value in state_dict.items():
        prefix, _, name = key.rpartition(".")
        prefix = prefix + "." if prefix else ""
        if name in ("in_proj_weight", "in_proj_bias"):
            suffix = name.removeprefix("in_proj_")
            for p, chunk in zip("qkv", value.chunk(3, dim=0), strict=True):
                out[_rename(f"{prefix}{p}_proj.{suffix}")] = chunk
        elif name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
            out[_rename(f"{prefix}{name[0]}_proj.weight")] = value
        else:
            out[_rename(key)] = value
    return out


def _rename(key: str) -> str:
    parts = key.split(".")
    renamed = {"linear1": "ffn.linear1", "linear2": "ffn.linear2", "multihead_attn": "cross_attn"}
    return ".".join(renamed.get(p, p) for p in parts)


# ---- the loss (§5.4) -----------------------------------------------------------------------------

def label_smoothed_loss(logits: Tensor, target: Tensor, eps: float, pad_id: int = PAD_ID
                        ) -> tuple[Tensor, Tensor, Tensor]:
    """(loss sum, NLL sum, tokens) over the non-pad targets of ``logits`` (B, T, V).

    §5.4 label smoothing: the target distribution puts 1 - eps on the right token and eps spread
    uniformly over all V tokens, so per token
        loss = (1 - eps) * (-log p_y) + eps * mean_k(-log p_k)
    (equal to ``F.cross_entropy(label_smoothing=eps)``; tested). The NLL alone gives perplexity.
    """
    logp = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    keep = target != pad_id  # (B, T)
    nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (B, T): -log p_y
    uniform = -logp.mean(dim=-1)  # (B, T): mean_k -log p_k
    loss = (1 - eps) * nll + eps * uniform
    return loss[keep].sum(), nll[keep].sum(), keep.sum()


# ---- builders (Table 3) --------------------------------------------------------------------------

def transformer_base(vocab_size: int = 37000, **kw) -> Transformer:
    """Table 3 "base": N=6, d_model=512, d_ff=2048, h=8, d_k=d_v=64, P_drop=0.1 (65M in the
    paper; 63,082,496 here at 37000 shared tokens, see tests/transformer/test_model.py)."""
    cfg = dict(N=6, d_model=512, h=8, d_ff=2048, dropout=0.1) | kw
    return Transformer(vocab_size, **cfg)


def transformer_big(vocab_size: int = 37000, **kw) -> Transformer:
    """Table 3 "big": N=6, d_model=1024, d_ff=4096, h=16, P_drop=0.3 (En-De; §6.1 uses 0.1 for
    En-Fr). 213M in the paper; 214,245,376 here at 37000 shared tokens."""
    cfg = dict(N=6, d_model=1024, h=16, d_ff=4096, dropout=0.3) | kw
    return Transformer(vocab_size, **cfg)


def transformer_tiny(vocab_size: int = 16, **kw) -> Transformer:
    """N=2, d_model=32, h=4, d_ff=64, no dropout: tests and CPU (43k parameters at 16 tokens)."""
    cfg = dict(N=2, d_model=32, h=4, d_ff=64, dropout=0.0, max_len=128) | kw
    return Transformer(vocab_size, **cfg)


MODELS = {"base": transformer_base, "big": transformer_big, "tiny": transformer_tiny}
