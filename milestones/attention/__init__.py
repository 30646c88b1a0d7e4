"""Bahdanau attention (Bahdanau, Cho & Bengio 2014, arXiv:1409.0473): jointly learning to align
and translate, from torch primitives.

    from milestones.attention import rnnsearch, greedy_decode, beam_search
    model = rnnsearch(src_vocab=30000, tgt_vocab=30000)   # App. A/B sizes: 80,452,000 parameters
    logits = model(src, tgt_in)                           # (B, T, K_y), teacher forcing
    model.alignments                                      # (B, T, S): alpha_ij of Eq. 6
    hyps = beam_search(model, src)                        # each with its alignment matrix
"""

from milestones.attention.decode import BEAM, Hypothesis, beam_search, greedy_decode
from milestones.attention.model import (
    GRU,
    MODELS,
    AlignmentModel,
    Decoder,
    EncoderDecoder,
    GRUCell,
    Memory,
    gru_weights_from_torch,
    init_weights,
    rnnencdec,
    rnnencdec_tiny,
    rnnsearch,
    rnnsearch_tiny,
    sentence_nll,
)

__all__ = [
    "BEAM", "GRU", "MODELS", "AlignmentModel", "Decoder", "EncoderDecoder", "GRUCell",
    "Hypothesis", "Memory", "beam_search", "greedy_decode", "gru_weights_from_torch",
    "init_weights", "rnnencdec", "rnnencdec_tiny", "rnnsearch", "rnnsearch_tiny",
    "sentence_nll",
]
