r"""BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding. Devlin,
Chang, Lee, Toutanova (2018). arXiv:1810.04805.

A Transformer encoder (Vaswani et al. 2017, the ``transformer`` milestone's attention) pre-trained
on unlabelled text with two tasks, then fine-tuned with one extra output layer per task:

- the masked language model (MLM, §3.1 Task #1): 15% of the input tokens are chosen, and the model
  predicts them from both sides of their context — "deep bidirectional", which a left-to-right
  language model cannot be;
- next sentence prediction (NSP, §3.1 Task #2): from the final hidden state of [CLS], whether
  sentence B followed sentence A in the corpus (50%) or is a random sentence (50%).

The input representation (§3, Fig. 2) is the sum of token, segment and learned position
embeddings; every layer is post-LN (LayerNorm(x + Sublayer(x))) with GELU in its feed-forward
network:

$$E = \mathrm{LayerNorm}(E_{token} + E_{segment} + E_{position})$$

then in every layer self-attention (Vaswani Eq. 1-2) and the feed-forward network ($d_{ff} = 4H$):

$$x' = \mathrm{LayerNorm}(x + \mathrm{MultiHead}(x, x, x))$$

$$x'' = \mathrm{LayerNorm}(x' + W_2\, \mathrm{GELU}(W_1 x' + b_1) + b_2)$$

and the heads: the "pooler" (NSP's input) and the MLM decoder, tied to the token embeddings:

$$\mathrm{pooled} = \tanh(W_p h_{[CLS]} + b_p), \qquad
\mathrm{logits}_{MLM} = E_{token}^\top \mathrm{LayerNorm}(\mathrm{GELU}(W_t h + b_t)) + b$$

Implemented: §3 (model, embeddings), §3.1's two heads, App. A's sizes: BERT-Base (L12/H768/A12,
110M parameters) and BERT-Large (L24/H1024/A16, 340M), and the small models of Turc et al. (2019,
"Well-Read Students Learn Better"): Tiny (L2/H128), Mini (L4/H256), Small (L4/H512), Medium
(L8/H512). Parameter names are Hugging Face's (``bert.encoder.layer.0.attention.self.query`` ...),
so a ``BertForPreTraining`` / ``BertModel`` state_dict loads key for key and gives the same
outputs (tested), and any BERT checkpoint can be loaded into these from-scratch modules.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from milestones.transformer.model import scaled_dot_product_attention


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """The sizes of App. A (names as the paper's: L layers, H hidden size, A heads)."""

    vocab_size: int = 30522  # the WordPiece vocabulary of the released uncased models
    L: int = 12  # layers
    H: int = 768  # hidden size d_model
    A: int = 12  # attention heads
    max_len: int = 512  # learned positions (App. A: sequences of up to 512 tokens)
    segments: int = 2  # sentence A and sentence B
    dropout: float = 0.1  # on every sub-layer's output and on the attention weights (App. A)
    layer_norm_eps: float = 1e-12  # the released models'

    @property
    def d_ff(self) -> int:
        return 4 * self.H  # §3: "the feed-forward/filter size to be 4H"


class BertEmbeddings(nn.Module):
    """E = LayerNorm(E_token + E_segment + E_position), then dropout (§3, Fig. 2)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.H, padding_idx=0)
        self.position_embeddings = nn.Embedding(cfg.max_len, cfg.H)
        self.token_type_embeddings = nn.Embedding(cfg.segments, cfg.H)
        self.LayerNorm = nn.LayerNorm(cfg.H, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        length, max_len = input_ids.shape[1], self.position_embeddings.num_embeddings
        if length > max_len:
            raise ValueError(f"sequence of {length} tokens; the model has {max_len} positions")
        positions = torch.arange(length, device=input_ids.device)  # (T,)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        e = (self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
             + self.position_embeddings(positions))  # (B, T, H)
        return self.dropout(self.LayerNorm(e))


class BertSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention (Vaswani §3.2), H/A dimensions per head."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        if cfg.H % cfg.A:
            raise ValueError(f"hidden size {cfg.H} is not divisible by {cfg.A} heads")
        self.A, self.d_k, self.p = cfg.A, cfg.H // cfg.A, cfg.dropout
        self.query, self.key, self.value = (nn.Linear(cfg.H, cfg.H) for _ in range(3))
        self.fast = True  # torch's fused kernel for Eq. 1; False: the explicit formula

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:  # (B, T, H) -> (B, T, H)
        B, T, _ = x.shape

        def heads(t: Tensor) -> Tensor:  # (B, T, H) -> (B, A, T, d_k)
            return t.view(B, T, self.A, self.d_k).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        out, _ = scaled_dot_product_attention(q, k, v, mask, self.p if self.training else 0.0,
                                              fast=self.fast)
        return out.transpose(1, 2).reshape(B, T, -1)  # concat heads: (B, T, H)


class BertSublayerOutput(nn.Module):
    """LayerNorm(x + Dropout(W y + b)): the residual connection and post-LN of every sub-layer."""

    def __init__(self, d_in: int, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(d_in, cfg.H)
        self.LayerNorm = nn.LayerNorm(cfg.H, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, y: Tensor, x: Tensor) -> Tensor:
        return self.LayerNorm(x + self.dropout(self.dense(y)))


class BertAttention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertSublayerOutput(cfg.H, cfg)  # W^O, residual, LayerNorm

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return self.output(self.self(x, mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.H, cfg.d_ff)

    def forward(self, x: Tensor) -> Tensor:  # (B, T, H) -> (B, T, 4H)
        return F.gelu(self.dense(x))  # GELU, the exact (erf) form of the released code


class BertLayer(nn.Module):
    """x' = LayerNorm(x + SelfAttention(x)); x'' = LayerNorm(x' + FFN(x'))."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertSublayerOutput(cfg.d_ff, cfg)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.L))

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        for layer in self.layer:
            x = layer(x, mask)
        return x


class BertPooler(nn.Module):
    """pooled = tanh(W_p h_[CLS] + b_p): the sentence-level representation (NSP, GLUE)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.H, cfg.H)

    def forward(self, h: Tensor) -> Tensor:  # (B, T, H) -> (B, H)
        return torch.tanh(self.dense(h[:, 0]))


class BertModel(nn.Module):
    """The encoder: ``forward(input_ids, token_type_ids, attention_mask) -> (h, pooled)``.

    ``attention_mask``: (B, T), 1 for real tokens, 0 for padding (keys that no query attends to).
    """

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.config = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)
        self.pooler = BertPooler(cfg)
        self.apply(init_weights)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None,
                attention_mask: Tensor | None = None, causal: bool = False
                ) -> tuple[Tensor, Tensor]:
        """``causal``: each position attends to itself and the positions before it only (the
        left-to-right model of Table 5's ablation, "LTR"), else to the whole sequence."""
        mask = None
        if attention_mask is not None:  # (B, T) -> (B, 1, 1, T): True = may attend to this key
            mask = attention_mask.bool()[:, None, None, :]
        if causal:  # (T, T): query i sees keys j <= i
            T = input_ids.shape[1]
            left = torch.ones(T, T, dtype=torch.bool, device=input_ids.device).tril()
            mask = left if mask is None else mask & left
        h = self.encoder(self.embeddings(input_ids, token_type_ids), mask)  # (B, T, H)
        return h, self.pooler(h)


class BertLMPredictionHead(nn.Module):
    """MLM logits = E_token^T LayerNorm(GELU(W_t h + b_t)) + b; the decoder's weight is the token
    embedding matrix (tied), with its own output bias."""

    def __init__(self, cfg: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.transform = nn.Module()
        self.transform.dense = nn.Linear(cfg.H, cfg.H)
        self.transform.LayerNorm = nn.LayerNorm(cfg.H, eps=cfg.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.decoder = nn.Linear(cfg.H, cfg.vocab_size)
        self.decoder.weight = word_embeddings.weight  # tied to the input embeddings
        self.decoder.bias = self.bias  # one bias, under both of the released names

    def forward(self, h: Tensor) -> Tensor:  # (..., H) -> (..., vocab)
        t = self.transform.LayerNorm(F.gelu(self.transform.dense(h)))
        return self.decoder(t)


class BertPreTrainingHeads(nn.Module):
    def __init__(self, cfg: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.predictions = BertLMPredictionHead(cfg, word_embeddings)
        self.seq_relationship = nn.Linear(cfg.H, 2)  # NSP: IsNext / NotNext from pooled [CLS]


class BertForPreTraining(nn.Module):
    """BERT with §3.1's two heads: ``forward(...) -> (mlm_logits (B, T, V), nsp_logits (B, 2))``."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.config = cfg
        self.bert = BertModel(cfg)
        self.cls = BertPreTrainingHeads(cfg, self.bert.embeddings.word_embeddings)
        # (not the decoder: its weight is the token embeddings, initialised with them)
        self.cls.predictions.transform.apply(init_weights)
        self.cls.seq_relationship.apply(init_weights)
        nn.init.zeros_(self.cls.predictions.bias)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None,
                attention_mask: Tensor | None = None, causal: bool = False,
                predict: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``predict``: a (B, T) bool mask; MLM logits only there, (n, V) (pre-training scores
        only the chosen 15%, so the vocabulary projection of the rest is skipped)."""
        h, pooled = self.bert(input_ids, token_type_ids, attention_mask, causal)
        if predict is not None:
            h = h[predict]  # (n, H)
        return self.cls.predictions(h), self.cls.seq_relationship(pooled)


def init_weights(m: nn.Module) -> None:
    """The released initialisation: N(0, 0.02) weights (truncated in the TF code), zero biases,
    LayerNorm at (1, 0)."""
    if isinstance(m, nn.Linear | nn.Embedding):
        nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# ---- builders (App. A; the small models of Turc et al. 2019) -------------------------------------

SIZES = {"tiny": (2, 128, 2), "mini": (4, 256, 4), "small": (4, 512, 8),
         "medium": (8, 512, 8), "base": (12, 768, 12), "large": (24, 1024, 16)}


def bert_config(size: str, vocab_size: int = 30522, max_len: int = 512,
                dropout: float = 0.1) -> BertConfig:
    """The config of a named size (``SIZES``: tiny, mini, small, medium, base, large)."""
    if size not in SIZES:
        raise ValueError(f"unknown BERT size {size!r}; choose from {', '.join(SIZES)}")
    L, H, A = SIZES[size]
    return BertConfig(vocab_size=vocab_size, L=L, H=H, A=A, max_len=max_len, dropout=dropout)


def bert_tiny(vocab_size: int = 30522) -> BertForPreTraining:
    return BertForPreTraining(bert_config("tiny", vocab_size))


def bert_mini(vocab_size: int = 30522) -> BertForPreTraining:
    return BertForPreTraining(bert_config("mini", vocab_size))


def bert_small(vocab_size: int = 30522) -> BertForPreTraining:
    return BertForPreTraining(bert_config("small", vocab_size))


def bert_medium(vocab_size: int = 30522) -> BertForPreTraining:
    return BertForPreTraining(bert_config("medium", vocab_size))


def bert_base(vocab_size: int = 30522) -> BertForPreTraining:
    """App. A: L = 12, H = 768, A = 12, "Total Parameters = 110M"."""
    return BertForPreTraining(bert_config("base", vocab_size))


def bert_large(vocab_size: int = 30522) -> BertForPreTraining:
    """App. A: L = 24, H = 1024, A = 16, "Total Parameters = 340M"."""
    return BertForPreTraining(bert_config("large", vocab_size))
