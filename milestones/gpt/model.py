r"""Language Models are Unsupervised Multitask Learners (GPT-2). Radford, Wu, Child, Luan, Amodei,
Sutskever (2019). Improving Language Understanding by Generative Pre-Training (GPT-1). Radford,
Narasimhan, Salimans, Sutskever (2018). Language Models are Few-Shot Learners (GPT-3). Brown et
al. (2020), arXiv:2005.14165.

A decoder-only Transformer (the decoder of Vaswani et al. 2017 without its cross-attention)
trained to predict the next token: maximise the log-likelihood of a text,

$$L_1(\mathcal{U}) = \sum_i \log P(u_i \mid u_{i-k}, \ldots, u_{i-1}; \Theta) \tag{GPT-1, 1}$$

with token and learned position embeddings, n blocks, and an output layer tied to the token
embedding (GPT-1 Eq. 2):

$$h_0 = U W_e + W_p, \qquad h_l = \mathrm{transformer\_block}(h_{l-1})\ \ \forall l \in [1, n],
\qquad P(u) = \mathrm{softmax}(h_n W_e^\top) \tag{GPT-1, 2}$$

Each block is masked ("causal") multi-head self-attention and a position-wise MLP of width 4d with
GELU. GPT-1 normalises after each residual addition (post-LN, as the Transformer); GPT-2 §2.3
"Layer normalization was moved to the input of each sub-block ... and an additional layer
normalization was added after the final self-attention block", and scales "the weights of
residual layers at initialization by a factor of 1/sqrt(N) where N is the number of residual
layers" (N = 2 per block: std 0.02 / sqrt(2 n_layer)). GPT-3 §2.1 keeps GPT-2's model "with the
exception that we use alternating dense and locally banded sparse attention patterns" (not
reproduced: DEVIATION D1) and scales it to the eight sizes of its Table 2.1, context 2048.

Implemented: GPT-1 (post-LN, ``layout="post"``), GPT-2 §2.3 and its four sizes, GPT-3 Table 2.1.
Parameter names are Hugging Face's ``GPT2LMHeadModel`` (``transformer.h.0.attn.c_attn`` ...), with
``nn.Linear`` weights where it has ``Conv1D`` (the transpose): :func:`from_hf_state_dict` converts
its state_dict, and the logits are equal (tested). Generation with a key/value cache is in
``milestones.gpt.generate``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from milestones.transformer.model import scaled_dot_product_attention


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    """Sizes as GPT-3's Table 2.1 names them: n_layers, d_model, n_heads (d_head = d_model /
    n_heads), the context n_ctx."""

    vocab_size: int = 50257  # GPT-2's byte-level BPE (§2.2)
    n_ctx: int = 1024  # context (GPT-2: 1024; GPT-1: 512; GPT-3: 2048)
    n_layer: int = 12
    n_head: int = 12
    d_model: int = 768
    dropout: float = 0.1  # residual, embedding and attention dropout (GPT-1 §4.1: 0.1)
    layout: Literal["pre", "post"] = "pre"  # pre-LN (GPT-2 §2.3) or post-LN (GPT-1)
    layer_norm_eps: float = 1e-5

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head

    @property
    def d_ff(self) -> int:
        return 4 * self.d_model  # GPT-1 §4.1: "3072 dimensional inner states" for d = 768


class KVCache:
    """The keys and values of the positions seen so far, per layer: generation feeds one new
    token at a time and attends to them instead of recomputing the whole prefix.

    ``k[l]``, ``v[l]``: (B, n_head, n_ctx, d_head), filled up to ``length``."""

    def __init__(self, cfg: GPTConfig, batch: int, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        shape = (batch, cfg.n_head, cfg.n_ctx, cfg.d_head)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layer)]
        self.length = 0  # positions cached
        self.capacity = cfg.n_ctx

    def append(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store the new positions' (B, n_head, T, d_head) keys and values at ``length``; return
        every cached key and value, (B, n_head, length + T, d_head). ``length`` advances once all
        layers have appended (:meth:`advance`)."""
        T = k.shape[2]
        end = self.length + T
        self.k[layer][:, :, self.length:end] = k
        self.v[layer][:, :, self.length:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def advance(self, T: int) -> None:
        self.length += T


class CausalSelfAttention(nn.Module):
    """Masked multi-head self-attention: position i attends to positions j <= i only (Vaswani
    §3.2.3's decoder mask), on one fused projection to queries, keys and values (``c_attn``)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        if cfg.d_model % cfg.n_head:
            raise ValueError(f"d_model {cfg.d_model} is not divisible by {cfg.n_head} heads")
        self.n_head, self.d_head, self.p = cfg.n_head, cfg.d_head, cfg.dropout
        self.c_attn = nn.Linear(cfg.d_model, 3 * cfg.d_model)  # [W^Q W^K W^V] of every head
        self.c_proj = nn.Linear(cfg.d_model, cfg.d_model)  # W^O; a residual projection
        self.resid_dropout = nn.Dropout(cfg.dropout)
        self.fast = True  # torch's fused kernel (flash / memory-efficient); False: the formula

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0
                ) -> Tensor:  # (B, T, d) -> (B, T, d)
        B, T, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)  # 3 x (B, T, d)
        q, k, v = (t.view(B, T, self.n_head, self.d_head).transpose(1, 2)
                   for t in (q, k, v))  # (B, n_head, T, d_head)
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.append(layer, k, v)  # (B, n_head, past + T, d_head)
        p = self.p if self.training else 0.0
        # DEVIATION(D1): dense attention in every layer (GPT-3 alternates it with sparse bands)
        if self.fast and past == 0:  # the whole sequence: the fused kernel's own causal mask
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:  # query i (at position past + i) sees keys j <= past + i
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(past)
            y, _ = scaled_dot_product_attention(q, k, v, mask, p, fast=self.fast)
        y = y.transpose(1, 2).reshape(B, T, d)  # concat heads: (B, T, d)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """The position-wise feed-forward network: W_2 GELU(W_1 x + b_1) + b_2, width 4d."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.d_model, cfg.d_ff)
        self.c_proj = nn.Linear(cfg.d_ff, cfg.d_model)  # a residual projection
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:  # (B, T, d) -> (B, T, d)
        # GELU in the released code's tanh approximation (GPT-1 §4.1: "Gaussian Error Linear Unit")
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    """pre-LN (GPT-2):  x = x + Attn(LN_1(x));  x = x + MLP(LN_2(x)).
    post-LN (GPT-1): x = LN_1(x + Attn(x));  x = LN_2(x + MLP(x))."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.pre = cfg.layout == "pre"
        self.ln_1 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        if self.pre:
            x = x + self.attn(self.ln_1(x), cache, layer)
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x, cache, layer))
        return self.ln_2(x + self.mlp(x))


class GPT(nn.Module):
    """The language model: ``forward(idx (B, T), cache=None) -> logits (B, T, vocab)``.

    With a :class:`KVCache`, ``idx`` holds only the positions after ``cache.length`` (the new
    token(s)), which are appended to the cache."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.config = cfg
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg.vocab_size, cfg.d_model),  # W_e
            wpe=nn.Embedding(cfg.n_ctx, cfg.d_model),  # W_p, learned positions
            drop=nn.Dropout(cfg.dropout),
            h=nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer)),
            # GPT-2 §2.3: "an additional layer normalization ... after the final block"
            ln_f=nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps) if cfg.layout == "pre"
            else nn.Identity(),
        ))
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # P(u) = softmax(h_n W_e^T): tied
        self.apply(self._init_weights)
        # GPT-2 §2.3: residual projections scaled by 1/sqrt(N), N = 2 residual layers per block
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    def _init_weights(self, m: nn.Module) -> None:
        """The released code's: N(0, 0.02) weights and token embeddings, N(0, 0.01) position
        embeddings, zero biases, LayerNorm (1, 0)."""
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            std = 0.01 if m is self.transformer.wpe else 0.02
            nn.init.normal_(m.weight, mean=0.0, std=std)

    def forward(self, idx: Tensor, cache: KVCache | None = None) -> Tensor:
        B, T = idx.shape
        past = cache.length if cache is not None else 0
        if past + T > self.config.n_ctx:
            raise ValueError(f"{past + T} positions; the model has a context of "
                             f"{self.config.n_ctx} (n_ctx)")
        pos = torch.arange(past, past + T, device=idx.device)  # (T,)
        # Eq. 2: h_0 = U W_e + W_p
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for layer, block in enumerate(self.transformer.h):
            x = block(x, cache, layer)  # (B, T, d)
        if cache is not None:
            cache.advance(T)
        return self.lm_head(self.transformer.ln_f(x))  # (B, T, vocab)

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameters, each tied matrix once. ``non_embedding``: without the token and position
        embeddings (Kaplan et al. 2020's N, §2.1)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wte.weight.numel() + self.transformer.wpe.weight.numel()
        return n


def lm_loss(logits: Tensor, targets: Tensor, ignore_index: int = -100) -> Tensor:
    """GPT-1 Eq. 1 as a loss: the mean negative log-likelihood of each next token, nats/token.

    ``logits``: (B, T, V) scores of position t's next token; ``targets``: (B, T), the tokens at
    t + 1 (``ignore_index`` where there is none)."""
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(),
                           ignore_index=ignore_index)


def flops_per_token(cfg: GPTConfig, n_params_non_embedding: int, context: int) -> float:
    """Training FLOPs per token (Kaplan et al. 2020 Table 1): C = 6N + 6 n_layer n_ctx d_attn, the
    forward pass 2N + 2 n_layer n_ctx d_attn, the backward pass twice that."""
    return 6 * n_params_non_embedding + 6 * cfg.n_layer * context * cfg.d_model


# ---- Hugging Face's GPT-2 ------------------------------------------------------------------------

_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def from_hf_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A Hugging Face ``GPT2LMHeadModel`` (or ``GPT2Model``) state_dict -> ours: its ``Conv1D``
    weights are (in, out), transposed to ``nn.Linear``'s (out, in); the causal-mask buffers some
    versions store (``attn.bias``, ``attn.masked_bias``) are dropped."""
    out = {}
    for key, value in state.items():
        if key.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        if not key.startswith(("transformer.", "lm_head.")):
            key = f"transformer.{key}"  # GPT2Model's keys have no prefix
        out[key] = value.t().contiguous() if key.endswith(_CONV1D) else value
    if "lm_head.weight" not in out:
        out["lm_head.weight"] = out["transformer.wte.weight"]
    return out


def to_hf_state_dict(model: GPT) -> dict[str, Tensor]:
    """Ours -> a ``GPT2LMHeadModel`` state_dict (the transposes undone)."""
    return {k: v.t().contiguous() if k.endswith(_CONV1D) else v
            for k, v in model.state_dict().items()}


def hf_config(cfg: GPTConfig) -> dict:
    """The ``transformers.GPT2Config`` arguments of a config (for tests and the benchmark)."""
    if cfg.layout != "pre":
        raise ValueError("Hugging Face's GPT-2 is pre-LN; a post-LN (GPT-1) model has no twin")
    return dict(vocab_size=cfg.vocab_size, n_positions=cfg.n_ctx, n_embd=cfg.d_model,
                n_layer=cfg.n_layer, n_head=cfg.n_head, resid_pdrop=cfg.dropout,
                embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout,
                layer_norm_epsilon=cfg.layer_norm_eps, activation_function="gelu_new")


def load_hf_folder(folder: str) -> GPT:
    """A GPT-2 checkpoint saved by Hugging Face (``config.json`` and ``model.safetensors`` or
    ``pytorch_model.bin``) in a local folder -> our model with its weights."""
    return load_folder(folder)


def folder_config(folder: str) -> GPTConfig:
    """The model config of a folder :func:`load_folder` reads, without loading its weights."""
    import json
    from pathlib import Path

    path = Path(folder)
    if (path / "model.json").is_file():  # one of our run folders
        return GPTConfig(**json.loads((path / "model.json").read_text()))
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} has neither model.json (a run of ours) nor config.json "
                                "(a Hugging Face model folder)")
    c = json.loads((path / "config.json").read_text())
    try:
        return GPTConfig(vocab_size=c["vocab_size"], n_ctx=c.get("n_positions", c.get("n_ctx")),
                         n_layer=c["n_layer"], n_head=c["n_head"], d_model=c["n_embd"],
                         dropout=c.get("resid_pdrop", 0.1),
                         layer_norm_eps=c.get("layer_norm_epsilon", 1e-5))
    except KeyError as e:
        raise FileNotFoundError(f"{path / 'config.json'} is not a GPT-2 config (no {e})") from None


def load_folder(folder: str) -> GPT:
    """A model with its weights from a folder: one of our runs (``model.json`` and
    ``model.safetensors``) or a Hugging Face GPT-2 folder (``config.json`` and
    ``model.safetensors`` or ``pytorch_model.bin``)."""
    from pathlib import Path

    path = Path(folder)
    cfg = folder_config(folder)
    if (path / "model.json").is_file():
        from safetensors.torch import load_model

        model = GPT(cfg)
        load_model(model, str(path / "model.safetensors"))
        return model
    if (path / "model.safetensors").is_file():
        from safetensors.torch import load_file

        state = load_file(str(path / "model.safetensors"))
    elif (path / "pytorch_model.bin").is_file():
        state = torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
    else:
        raise FileNotFoundError(f"{path} has neither model.safetensors nor pytorch_model.bin")
    model = GPT(cfg)
    model.load_state_dict(from_hf_state_dict(state))
    return model


# ---- builders ------------------------------------------------------------------------------------

# (n_layer, d_model, n_head, n_ctx): GPT-2 Table 2 (heads: the released models); GPT-3 Table 2.1
SIZES = {
    "gpt1": (12, 768, 12, 512),
    "gpt2": (12, 768, 12, 1024), "gpt2_medium": (24, 1024, 16, 1024),
    "gpt2_large": (36, 1280, 20, 1024), "gpt2_xl": (48, 1600, 25, 1024),
    "gpt3_small": (12, 768, 12, 2048), "gpt3_medium": (24, 1024, 16, 2048),
    # DEVIATION(D2): XL has 16 heads of 128 and 13B d_model 5120: Table 2.1's 24 heads of 128
    # and 5140 = 40 heads x 128.5 do not multiply out (its parameter counts fit ours)
    "gpt3_large": (24, 1536, 16, 2048), "gpt3_xl": (24, 2048, 16, 2048),
    "gpt3_2.7b": (32, 2560, 32, 2048), "gpt3_6.7b": (32, 4096, 32, 2048),
    "gpt3_13b": (40, 5120, 40, 2048), "gpt3_175b": (96, 12288, 96, 2048),
}


def gpt_config(size: str, vocab_size: int | None = None, n_ctx: int | None = None,
               dropout: float = 0.1) -> GPTConfig:
    """The config of a named size (``SIZES``). Vocabulary: GPT-1's 40,478 BPE merges, GPT-2/3's
    50,257 byte-level BPE tokens, unless given."""
    if size not in SIZES:
        raise ValueError(f"unknown GPT size {size!r}; choose from {', '.join(SIZES)}")
    n_layer, d_model, n_head, ctx = SIZES[size]
    gpt1 = size == "gpt1"
    return GPTConfig(vocab_size=vocab_size or (40478 if gpt1 else 50257), n_ctx=n_ctx or ctx,
                     n_layer=n_layer, n_head=n_head, d_model=d_model, dropout=dropout,
                     layout="post" if gpt1 else "pre")


def gpt1() -> GPT:
    """GPT-1 §4.1: 12 post-LN layers, 768 wide, 12 heads, context 512 (117M parameters)."""
    return GPT(gpt_config("gpt1"))


def gpt2() -> GPT:
    """GPT-2's smallest (Table 2: 117M as first reported; 124M counted with its 50,257 tokens)."""
    return GPT(gpt_config("gpt2"))


def gpt2_medium() -> GPT:
    """GPT-2 Table 2: 24 layers, 1024 wide (345M reported, 355M counted)."""
    return GPT(gpt_config("gpt2_medium"))


def gpt2_large() -> GPT:
    """GPT-2 Table 2: 36 layers, 1280 wide (762M reported, 774M counted)."""
    return GPT(gpt_config("gpt2_large"))


def gpt2_xl() -> GPT:
    """GPT-2 Table 2: 48 layers, 1600 wide (1542M reported, 1558M counted)."""
    return GPT(gpt_config("gpt2_xl"))


def gpt3(size: str) -> GPT:
    """A GPT-3 of Table 2.1: small, medium, large, xl, 2.7b, 6.7b, 13b or 175b. The big ones are
    best built on the meta device: ``with torch.device("meta"): gpt3("175b")``."""
    return GPT(gpt_config(f"gpt3_{size}"))


def gpt3_small() -> GPT:
    """Table 2.1: GPT-3 Small, 125M parameters, 12 layers, d_model 768, 12 heads of 64."""
    return gpt3("small")


def gpt3_175b() -> GPT:
    """Table 2.1: GPT-3 175B, 96 layers, d_model 12,288, 96 heads of 128, context 2048."""
    return gpt3("175b")


def gpt_tiny(vocab_size: int = 65, n_ctx: int = 64) -> GPT:
    """A small model for tests and CPU runs: nanoGPT's CPU configuration (4 layers, 4 heads,
    128 wide) on a character vocabulary."""
    return GPT(GPTConfig(vocab_size=vocab_size, n_ctx=n_ctx, n_layer=4, n_head=4, d_model=128,
                         dropout=0.0))
