r"""Neural Machine Translation by Jointly Learning to Align and Translate. Bahdanau, Cho, Bengio
(2014). arXiv:1409.0473.

An encoder-decoder squeezes the whole source sentence into one fixed-length vector c, and its
translations degrade as sentences grow (Cho et al. 2014; Fig. 2 here). RNNsearch keeps a vector
per source word instead, the *annotation* h_j of a bidirectional RNN, and lets the decoder choose,
at every target word, a weighted mix of them: a soft alignment learnt jointly with translation.

The context of target word i (Eq. 5), its weights (Eq. 6) and the alignment model (App. A.2.2,
where $U_a h_j$ is computed once per sentence):

$$c_i = \sum_{j=1}^{T_x} \alpha_{ij} h_j \tag{5}$$

$$\alpha_{ij} = \frac{\exp(e_{ij})}{\sum_{k=1}^{T_x} \exp(e_{ik})}, \qquad
e_{ij} = a(s_{i-1}, h_j) \tag{6}$$

$$a(s_{i-1}, h_j) = v_a^\top \tanh(W_a s_{i-1} + U_a h_j) \tag{A.2.2}$$

The decoder (Eq. 4) and the bidirectional annotation (§3.2):

$$p(y_i \mid y_1, \ldots, y_{i-1}, \mathbf{x}) = g(y_{i-1}, s_i, c_i), \qquad
s_i = f(s_{i-1}, y_{i-1}, c_i) \tag{4}$$

$$h_j = \big[\overrightarrow{h}_j^\top ; \overleftarrow{h}_j^\top\big]^\top \tag{\S 3.2}$$

The recurrent unit is the gated recurrent unit (App. A.1), with E the embedding matrix, the
update gate $z_t$ and the reset gate $r_t$:

$$\begin{aligned}
z_t &= \sigma(W_z E x_t + U_z h_{t-1}), \qquad r_t = \sigma(W_r E x_t + U_r h_{t-1}) \\
\tilde{h}_t &= \tanh(W E x_t + U [r_t \circ h_{t-1}]) \\
h_t &= (1 - z_t) \circ h_{t-1} + z_t \circ \tilde{h}_t
\end{aligned}$$

In the decoder (App. A.2.2) each gate also sees the context: + C_z c_i, + C_r c_i, + C c_i, and
the initial state is $s_0 = \tanh(W_s \overleftarrow{h}_1)$. The output is a deep output with a
maxout layer (pool 2, $\tilde{t}_i$ of size 2l, $t_i$ of size l):

$$\begin{aligned}
\tilde{t}_i &= U_o s_i + V_o E y_{i-1} + C_o c_i \\
t_i &= \big[\max(\tilde{t}_{i,2j-1}, \tilde{t}_{i,2j})\big]_{j=1,\ldots,l} \\
p(y_i \mid y_1, \ldots, y_{i-1}, \mathbf{x}) &= \mathrm{softmax}(W_o t_i)
\end{aligned}$$

RNNencdec (Cho et al. 2014, the baseline) is the same decoder with c_i = c for every i: the last
state of a one-directional GRU encoder, and s_0 = tanh(W_s c).

Implemented: §3, App. A.1, A.2 (both models), App. B.1 (initialisation: :func:`init_weights`),
the paper's sizes (:func:`rnnsearch`, :func:`rnnencdec`: m = 620, n = 1000, l = 500, 30,000-word
vocabularies) and small ones for tests. Decoding (greedy and beam search, with the alignments
alpha) is in ``decode.py``; the objective, the mean over sentences of log p(y | x), is
:func:`sentence_nll`.

GRU conventions. The paper's update gate keeps the *new* candidate (h = (1 - z) h_prev + z h~)
and its reset gate acts before the recurrent matrix, U [r o h]. ``nn.GRU`` keeps the old state
(h = (1 - z') h~ + z' h_prev, so z' = 1 - z: the same gate with its weights and biases negated)
and resets after the matrix, r o (U h + b) (cuDNN's form). :class:`GRUCell` computes the paper's
form, or torch's with ``reset_after=True``; :func:`gru_weights_from_torch` converts weights, so our
cell equals ``nn.GRUCell`` and our :class:`GRU` equals ``nn.GRU`` (tests/attention).

Masks: (B, S) bool, **True at real tokens** (source padding is never attended to, never updates
an encoder state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from milestones.core.text import PAD_ID

# ---- the gated recurrent unit (App. A.1) -------------------------------------------------------

class GRUCell(nn.Module):
    """One GRU step, App. A.1. ``input_size``: the input's width (m for E x_t; m + 2n in the
    decoder, whose input is [E y_{i-1}; c_i]); ``hidden_size``: n.

    Weights are laid out as ``nn.GRUCell``'s (rows: reset, update, candidate):
    ``weight_ih`` = [W_r; W_z; W] (3n, input), ``weight_hh`` = [U_r; U_z; U] (3n, n), and the
    biases ``bias_ih``, ``bias_hh`` (3n,) the paper omits "to make the equations less cluttered".
    The update gate is the paper's (see the module docstring for torch's).
    """

    def __init__(self, input_size: int, hidden_size: int, reset_after: bool = False):
        super().__init__()
        self.input_size, self.hidden_size, self.reset_after = input_size, hidden_size, reset_after
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.zeros(3 * hidden_size))
        self.bias_hh = nn.Parameter(torch.zeros(3 * hidden_size))
        bound = 1 / math.sqrt(hidden_size)  # torch's default; the models use init_weights
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)

    def input_projection(self, x: Tensor) -> Tensor:
        """W x + b for every gate at once: (..., input) -> (..., 3n). Precomputed for a whole
        sequence, so the recurrence only multiplies the state."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def step(self, gi: Tensor, h: Tensor) -> Tensor:
        """h_t from gi = W x_t + b (B, 3n) and h_{t-1} (B, n)."""
        n = self.hidden_size
        gi_r, gi_z, gi_n = gi.split(n, dim=1)  # (B, n) each
        if self.reset_after:  # torch's: h~ = tanh(W x + r o (U h + b))
            gh_r, gh_z, gh_n = F.linear(h, self.weight_hh, self.bias_hh).split(n, dim=1)
            r = torch.sigmoid(gi_r + gh_r)
            z = torch.sigmoid(gi_z + gh_z)
            h_tilde = torch.tanh(gi_n + r * gh_n)
        else:
            # r_t = sigma(W_r x + U_r h_{t-1}),  z_t = sigma(W_z x + U_z h_{t-1})
            gh_rz = F.linear(h, self.weight_hh[:2 * n], self.bias_hh[:2 * n])  # (B, 2n)
            r, z = torch.sigmoid(torch.cat([gi_r, gi_z], dim=1) + gh_rz).split(n, dim=1)
            # h~_t = tanh(W x + U [r_t o h_{t-1}])
            h_tilde = torch.tanh(gi_n + F.linear(r * h, self.weight_hh[2 * n:],
                                                 self.bias_hh[2 * n:]))
        # h_t = (1 - z_t) o h_{t-1} + z_t o h~_t
        return h + z * (h_tilde - h)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """(B, input), (B, n) -> (B, n), as ``nn.GRUCell``."""
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        return self.step(self.input_projection(x), h)


def reverse_within_length(x: Tensor, lengths: Tensor) -> Tensor:
    """Each row's first ``lengths[b]`` steps in reverse order, the padding left where it is:
    (B, S, ...) -> (B, S, ...). Its own inverse."""
    S = x.shape[1]
    t = torch.arange(S, device=x.device)  # (S,)
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, S)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class GRU(nn.Module):
    """A GRU over whole sequences, one or both directions: ``nn.GRU(batch_first=True)``.

    ``forward(x (B, S, input), mask (B, S))`` -> (outputs (B, S, D n), last states (D, B, n)), D
    the number of directions. With a mask, padded steps do not change the state (as a packed
    sequence in ``nn.GRU``), their outputs are 0, and the backward direction starts at each
    sentence's last real token.
    """

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool = False,
                 reset_after: bool = False):
        super().__init__()
        self.hidden_size = hidden_size
        self.forward_cell = GRUCell(input_size, hidden_size, reset_after)
        self.backward_cell = GRUCell(input_size, hidden_size, reset_after) if bidirectional \
            else None

    def run(self, cell: GRUCell, x: Tensor, mask: Tensor) -> Tensor:
        """One direction, left to right over the steps: (B, S, input) -> (B, S, n)."""
        gi = cell.input_projection(x)  # (B, S, 3n): W E x_t + b for every t at once
        h = x.new_zeros(x.shape[0], self.hidden_size)  # h_0 = 0
        keep = mask[:, :, None].to(x.dtype)  # (B, S, 1)
        states = []
        # unbind, not gi[:, t]: the backward of S slices would fill S zero tensors of gi's size
        for gi_t, keep_t in zip(gi.unbind(1), keep.unbind(1), strict=True):
            h_t = cell.step(gi_t, h)
            h = h + keep_t * (h_t - h)  # padding: the state passes through unchanged
            states.append(h)
        return torch.stack(states, dim=1) * keep  # (B, S, n), 0 at padding

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        B, S, _ = x.shape
        if mask is None:
            mask = torch.ones(B, S, dtype=torch.bool, device=x.device)
        lengths = mask.sum(dim=1)  # (B,)
        last = (lengths - 1).clamp(min=0)  # (B,) the last real step
        fwd = self.run(self.forward_cell, x, mask)  # (B, S, n)
        finals = [fwd[torch.arange(B), last]]  # (B, n)
        if self.backward_cell is None:
            return fwd, torch.stack(finals)
        # the backward RNN reads x_T ... x_1: reverse each sentence, run, reverse back
        bwd = reverse_within_length(
            self.run(self.backward_cell, reverse_within_length(x, lengths), mask), lengths)
        finals.append(bwd[:, 0])  # bwd h_1, the backward direction's last state
        return torch.cat([fwd, bwd], dim=-1), torch.stack(finals)  # (B, S, 2n), (2, B, n)


def gru_weights_from_torch(state: dict[str, Tensor], reverse: bool = False, layer: int = 0
                           ) -> dict[str, Tensor]:
    """A :class:`GRUCell`'s weights (``reset_after=True``) from an ``nn.GRUCell`` state dict, or
    from one direction of an ``nn.GRU`` layer (keys ``weight_ih_l0[_reverse]``, ...).

    Same matrices, except the update gate's rows, which are negated: torch's z' = 1 - z, and
    1 - sigma(a) = sigma(-a)."""
    suffix = "" if "weight_ih" in state else f"_l{layer}" + ("_reverse" if reverse else "")
    out = {}
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        w = state[name + suffix].detach().clone()
        n = w.shape[0] // 3
        w[n:2 * n] = -w[n:2 * n]
        out[name] = w
    return out


# ---- the alignment model (§3.1, App. A.2.2) ------------------------------------------------------

class AlignmentModel(nn.Module):
    """e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j), alpha_ij = softmax_j(e_ij), c_i = sum_j alpha_ij
    h_j (Eqs. 5, 6). ``hidden_size``: n (s_i); ``annotation_size``: 2n (h_j); ``align_size``: n'
    (the paper: n' = n = 1000)."""

    def __init__(self, hidden_size: int, annotation_size: int, align_size: int):
        super().__init__()
        self.W_a = nn.Linear(hidden_size, align_size, bias=False)
        self.U_a = nn.Linear(annotation_size, align_size)  # its bias: the tanh's (zero at init)
        self.v_a = nn.Linear(align_size, 1, bias=False)

    def keys(self, h: Tensor) -> Tensor:
        """U_a h_j for every j, once per sentence: (B, S, 2n) -> (B, S, n')."""
        return self.U_a(h)

    def forward(self, s_prev: Tensor, U_h: Tensor, h: Tensor, mask: Tensor
                ) -> tuple[Tensor, Tensor]:
        """s_{i-1} (B, n), U_a h (B, S, n'), h (B, S, 2n), mask (B, S) -> c_i (B, 2n),
        alpha_i (B, S)."""
        # e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j)
        e = self.v_a(torch.tanh(self.W_a(s_prev)[:, None, :] + U_h)).squeeze(-1)  # (B, S)
        # alpha_ij = exp(e_ij) / sum_k exp(e_ik), over real source words only
        alpha = e.masked_fill(~mask, float("-inf")).softmax(dim=-1)  # (B, S)
        # c_i = sum_j alpha_ij h_j
        c = torch.bmm(alpha[:, None, :], h).squeeze(1)  # (B, 2n)
        return c, alpha


# ---- encoder and decoder -----------------------------------------------------------------------

@dataclass
class Memory:
    """What the decoder reads of the source: the annotations (RNNsearch: (B, S, 2n) and their
    keys U_a h (B, S, n'), with the mask) or the fixed context (RNNencdec: c as (B, 1, n), an
    all-True (B, 1) mask, no keys)."""

    h: Tensor
    mask: Tensor
    U_h: Tensor | None = None

    def index_select(self, index: Tensor) -> Memory:
        """The rows ``index`` (beam search: each hypothesis's source)."""
        return Memory(self.h[index], self.mask[index],
                      None if self.U_h is None else self.U_h[index])


class Decoder(nn.Module):
    """The conditional GRU decoder and the deep output with maxout (App. A.2.2).

    ``vocab_size``: K_y; ``embed_dim``: m; ``hidden_size``: n; ``context_size``: the width of
    c_i (2n with attention, n for RNNencdec); ``maxout_size``: l; ``align_size``: n' (None: no
    alignment model, a fixed context).
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, context_size: int,
                 maxout_size: int, align_size: int | None, reset_after: bool = False,
                 pad_id: int = PAD_ID):
        super().__init__()
        self.embed_dim, self.maxout_size = embed_dim, maxout_size
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)  # E
        # s_i = f(s_{i-1}, y_{i-1}, c_i): one GRU cell whose input is [E y_{i-1}; c_i], so
        # weight_ih = [[W_r C_r]; [W_z C_z]; [W C]]
        self.cell = GRUCell(embed_dim + context_size, hidden_size, reset_after)
        self.W_s = nn.Linear(context_size if align_size is None else context_size // 2,
                             hidden_size)  # s_0 = tanh(W_s bwd h_1), or tanh(W_s c)
        self.attention = None if align_size is None else \
            AlignmentModel(hidden_size, context_size, align_size)
        # t~_i = U_o s_i + V_o E y_{i-1} + C_o c_i, then maxout; p(y_i) = softmax(W_o t_i)
        self.U_o = nn.Linear(hidden_size, 2 * maxout_size)
        self.V_o = nn.Linear(embed_dim, 2 * maxout_size, bias=False)
        self.C_o = nn.Linear(context_size, 2 * maxout_size, bias=False)
        self.W_o = nn.Linear(maxout_size, vocab_size)

    def init_state(self, initial: Tensor) -> Tensor:
        """s_0 = tanh(W_s bwd h_1) (RNNsearch) or tanh(W_s c) (RNNencdec): (B, .) -> (B, n)."""
        return torch.tanh(self.W_s(initial))

    def context(self, s_prev: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """c_i and alpha_i (B, S) from s_{i-1}: the alignment model, or the fixed c (alpha = 1)."""
        if self.attention is None:
            return memory.h[:, 0], memory.mask.to(memory.h.dtype)
        return self.attention(s_prev, memory.U_h, memory.h, memory.mask)

    def recur(self, gi_y: Tensor, s_prev: Tensor, memory: Memory
              ) -> tuple[Tensor, Tensor, Tensor]:
        """One step of the recurrence from gi_y = [W_r; W_z; W] E y_{i-1} + b (B, 3n):
        (s_i (B, n), c_i (B, ctx), alpha_i (B, S))."""
        c, alpha = self.context(s_prev, memory)  # c_i from s_{i-1} (Eqs. 5, 6)
        gi = gi_y + F.linear(c, self.cell.weight_ih[:, self.embed_dim:])  # + [C_r; C_z; C] c_i
        return self.cell.step(gi, s_prev), c, alpha

    def readout(self, s: Tensor, Ey: Tensor, c: Tensor) -> Tensor:
        """Logits W_o t_i of the deep output: (..., n), (..., m), (..., ctx) -> (..., K_y)."""
        # DEVIATION(D2): t~_i from s_i (Eq. 4); App. A.2.2 writes s_{i-1}
        t_tilde = self.U_o(s) + self.V_o(Ey) + self.C_o(c)  # (..., 2l)
        # t_i,j = max(t~_{i,2j-1}, t~_{i,2j})
        t = t_tilde.unflatten(-1, (self.maxout_size, 2)).amax(dim=-1)  # (..., l)
        return self.W_o(t)

    def forward(self, y_in: Tensor, memory: Memory, s: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing: y_in (B, T) = BOS y_1 .. y_{T-1}, s = s_0 -> logits (B, T, K_y) and
        alignments alpha (B, T, S)."""
        Ey = self.embed(y_in)  # (B, T, m)
        gi_y = F.linear(Ey, self.cell.weight_ih[:, :self.embed_dim], self.cell.bias_ih)
        states, contexts, alphas = [], [], []
        for gi_y_i in gi_y.unbind(1):  # (B, 3n) per target word
            s, c, alpha = self.recur(gi_y_i, s, memory)
            states.append(s)
            contexts.append(c)
            alphas.append(alpha)
        S, C = torch.stack(states, dim=1), torch.stack(contexts, dim=1)  # (B, T, n), (B, T, ctx)
        return self.readout(S, Ey, C), torch.stack(alphas, dim=1)

    def step(self, y_prev: Tensor, s_prev: Tensor, memory: Memory
             ) -> tuple[Tensor, Tensor, Tensor]:
        """Decoding: y_{i-1} (B,), s_{i-1} (B, n) -> (logits (B, K_y), s_i, alpha_i (B, S))."""
        Ey = self.embed(y_prev)  # (B, m)
        gi_y = F.linear(Ey, self.cell.weight_ih[:, :self.embed_dim], self.cell.bias_ih)
        s, c, alpha = self.recur(gi_y, s_prev, memory)
        return self.readout(s, Ey, c), s, alpha


# ---- the two models ----------------------------------------------------------------------------

class EncoderDecoder(nn.Module):
    """RNNsearch (``attention=True``, §3) or RNNencdec (``attention=False``, Cho et al. 2014).

    ``src_vocab``, ``tgt_vocab``: K_x, K_y (the paper: 30,000 each); ``embed_dim``: m (620);
    ``hidden_size``: n (1000, per direction in RNNsearch's encoder); ``maxout_size``: l (500);
    ``align_size``: n' (1000). ``reset_after``: torch's GRU form instead of the paper's.

    ``forward(src (B, S), tgt_in (B, T))`` -> logits (B, T, K_y); ``alignments`` holds the last
    forward's alpha (B, T, S) (a uniform 1 over the fixed context for RNNencdec).
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, *, embed_dim: int = 620,
                 hidden_size: int = 1000, maxout_size: int = 500, align_size: int = 1000,
                 attention: bool = True, reset_after: bool = False, pad_id: int = PAD_ID):
        super().__init__()
        self.attention, self.pad_id = attention, pad_id
        self.src_embed = nn.Embedding(src_vocab, embed_dim, padding_idx=pad_id)  # E (source)
        self.encoder = GRU(embed_dim, hidden_size, bidirectional=attention,
                           reset_after=reset_after)
        context = 2 * hidden_size if attention else hidden_size
        self.decoder = Decoder(tgt_vocab, embed_dim, hidden_size, context, maxout_size,
                               align_size if attention else None, reset_after, pad_id)
        self.alignments: Tensor | None = None
        init_weights(self)

    def encode(self, src: Tensor) -> tuple[Memory, Tensor]:
        """(B, S) source ids -> (the decoder's memory, s_0 (B, n))."""
        mask = src != self.pad_id  # (B, S)
        h, last = self.encoder(self.src_embed(src), mask)  # (B, S, D n), (D, B, n)
        if not self.attention:  # c = h_T, the encoder's last state, for every target word
            c = last[0]  # (B, n)
            return Memory(c[:, None, :], mask.new_ones(c.shape[0], 1)), \
                self.decoder.init_state(c)
        # h_j = [fwd h_j; bwd h_j] (B, S, 2n); s_0 = tanh(W_s bwd h_1)
        memory = Memory(h, mask, self.decoder.attention.keys(h))
        return memory, self.decoder.init_state(last[1])

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        memory, s0 = self.encode(src)
        logits, self.alignments = self.decoder(tgt_in, memory, s0)
        return logits


def init_weights(model: EncoderDecoder) -> None:
    """App. B.1: recurrent matrices (U, U_z, U_r of every GRU) random orthogonal; W_a and U_a
    from N(0, 0.001^2); v_a and every bias zero; every other weight matrix from N(0, 0.01^2)."""
    for name, p in model.named_parameters():
        with torch.no_grad():
            if name.endswith("weight_hh"):  # [U_r; U_z; U]: each n x n block orthogonal
                for block in p.split(p.shape[1], dim=0):
                    nn.init.orthogonal_(block)
            elif ".W_a." in name or ".U_a.weight" in name:
                nn.init.normal_(p, 0.0, 0.001)
            elif ".v_a." in name or "bias" in name:
                nn.init.zeros_(p)
            else:  # embeddings, W, C, W_s, U_o, V_o, C_o, W_o
                nn.init.normal_(p, 0.0, 0.01)
                if name.endswith("embed.weight"):
                    p[model.pad_id] = 0.0  # the padding row stays zero (never trained)


def sentence_nll(logits: Tensor, tgt_out: Tensor, pad_id: int = PAD_ID) -> tuple[Tensor, Tensor]:
    """The training objective (§3, Eq. before §3.1): -1/N sum_n log p(y_n | x_n), the mean over
    the N sentences of each one's summed token NLL. (B, T, K), (B, T) -> (that mean, the number
    of target tokens)."""
    nll = F.cross_entropy(logits.float().flatten(0, 1), tgt_out.flatten(), ignore_index=pad_id,
                          reduction="sum")
    return nll / tgt_out.shape[0], (tgt_out != pad_id).sum()


# ---- builders ----------------------------------------------------------------------------------

def rnnsearch(src_vocab: int = 30_000, tgt_vocab: int = 30_000, **kw) -> EncoderDecoder:
    """RNNsearch at the paper's size (App. A.2, B.1): m = 620, n = 1000, l = 500, n' = 1000;
    80,452,000 parameters with 30,000-word vocabularies."""
    return EncoderDecoder(src_vocab, tgt_vocab, attention=True, **kw)


def rnnencdec(src_vocab: int = 30_000, tgt_vocab: int = 30_000, **kw) -> EncoderDecoder:
    """RNNencdec at the paper's size ("1000 hidden units" in encoder and decoder, m = 620,
    l = 500); 68,584,000 parameters with 30,000-word vocabularies."""
    return EncoderDecoder(src_vocab, tgt_vocab, attention=False, **kw)


def rnnsearch_tiny(src_vocab: int = 64, tgt_vocab: int = 64, **kw) -> EncoderDecoder:
    """For tests: m = 16, n = 24, l = 12, n' = 20."""
    return EncoderDecoder(src_vocab, tgt_vocab, embed_dim=16, hidden_size=24, maxout_size=12,
                          align_size=20, attention=True, **kw)


def rnnencdec_tiny(src_vocab: int = 64, tgt_vocab: int = 64, **kw) -> EncoderDecoder:
    """For tests: m = 16, n = 24, l = 12."""
    return EncoderDecoder(src_vocab, tgt_vocab, embed_dim=16, hidden_size=24, maxout_size=12,
                          attention=False, **kw)


MODELS = {"rnnsearch": rnnsearch, "rnnencdec": rnnencdec}
