"""Transformer (Vaswani et al. 2017, arXiv:1706.03762): attention is all you need, from torch
primitives.

    from milestones.transformer import transformer_base, beam_search
    model = transformer_base(vocab_size=37000)      # Table 3 base: 63.1M parameters (paper: 65M)
    logits = model(src, tgt_in)                     # (B, T, V), teacher forcing
    hyps = beam_search(model, src, beam_size=4, alpha=0.6)   # §6.1, with a key/value cache
"""

from milestones.core.text import BOS_ID, EOS_ID, PAD_ID
from milestones.transformer.decode import (
    Hypothesis,
    beam_search,
    greedy_decode,
    length_penalty,
    max_output_lengths,
)
from milestones.transformer.model import (
    MODELS,
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    KVCache,
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    PositionwiseFeedForward,
    SinusoidalPositionalEncoding,
    Transformer,
    causal_mask,
    from_torch_state_dict,
    label_smoothed_loss,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_encoding,
    transformer_base,
    transformer_big,
    transformer_tiny,
)

__all__ = [
    "BOS_ID", "EOS_ID", "MODELS", "PAD_ID", "Decoder", "DecoderLayer", "Encoder", "EncoderLayer",
    "Hypothesis", "KVCache", "LearnedPositionalEmbedding", "MultiHeadAttention",
    "PositionwiseFeedForward", "SinusoidalPositionalEncoding", "Transformer", "beam_search",
    "causal_mask", "from_torch_state_dict", "greedy_decode", "label_smoothed_loss",
    "length_penalty", "max_output_lengths", "padding_mask", "scaled_dot_product_attention",
    "sinusoidal_encoding", "transformer_base", "transformer_big", "transformer_tiny",
]
