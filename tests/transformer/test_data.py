"""The Transformer's data (milestones.core.text, tested in tests/core/) feeds its model. The
fixtures ``corpus`` and ``tok`` are in tests/conftest.py."""

import pytest
import torch

from milestones.transformer import data as D
from milestones.transformer.model import transformer_tiny

pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'milestones[text]'")
pytest.importorskip("sacrebleu", reason="needs the text extra: pip install 'milestones[text]'")


def test_batches_feed_the_model(corpus, tok):
    batches = D.TokenBatches(D.encode_pairs(corpus.train[:200], tok, max_len=64), 500,
                             shuffle=True)
    src, tgt_in, tgt_out = next(batches.epoch(0))
    model = transformer_tiny(tok.vocab_size)
    logits = model(src, tgt_in)  # (B, T, V)
    assert logits.shape == (*tgt_out.shape, tok.vocab_size) and torch.isfinite(logits).all()
