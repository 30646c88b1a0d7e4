"""Greedy and beam search for RNNsearch and RNNencdec, with their alignments."""

import pytest
import torch

from milestones.attention import model as M
from milestones.attention.decode import beam_search, greedy_decode, max_output_length
from tests.attention.test_model import padded_batch, randomise


@pytest.fixture(params=["rnnsearch", "rnnencdec"])
def model(request):
    torch.manual_seed(0)
    build = M.rnnsearch_tiny if request.param == "rnnsearch" else M.rnnencdec_tiny
    return randomise(build(30, 40), 0.4).eval()


def log_prob(model, src_row: torch.Tensor, tokens: list[int]) -> float:
    """log p(y | x) by teacher forcing: the sum of the chosen words' log-probabilities."""
    y_in = torch.tensor([[1] + tokens[:-1]])
    with torch.no_grad():
        logits = model(src_row[None], y_in).log_softmax(-1)[0]
    return float(sum(logits[i, w] for i, w in enumerate(tokens)))


def test_greedy_is_beam_search_of_width_one(model):
    src = padded_batch()
    ids, alphas = greedy_decode(model, src, max_len=9)
    for b, hyps in enumerate(beam_search(model, src, beam_size=1, max_len=9)):
        row = ids[b].tolist()
        n = row.index(2) + 1 if 2 in row else len(row)
        assert hyps[0].tokens == row[:n]
        torch.testing.assert_close(hyps[0].alignment, alphas[b, :n])


def test_beam_hypotheses_score_their_log_probability_per_word(model):
    src = padded_batch()
    results = beam_search(model, src, beam_size=4, max_len=9)
    for b, hyps in enumerate(results):
        assert 1 <= len(hyps) <= 4
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        n = int((src[b] != 0).sum())
        for h in hyps:
            assert h.score == pytest.approx(h.log_prob / len(h.tokens))
            assert h.log_prob == pytest.approx(log_prob(model, src[b, :n], h.tokens), abs=1e-4)
            # RNNsearch: alpha over the source words; RNNencdec: its one fixed c, weight 1
            assert h.alignment.shape == (len(h.tokens), src.shape[1] if model.attention else 1)
            torch.testing.assert_close(h.alignment[:, :n].sum(-1), torch.ones(len(h.tokens)))


def test_a_wider_beam_finds_no_worse_a_best_log_probability(model):
    """Unnormalised scores: the width-8 search keeps every width-1 prefix it needs."""
    src = padded_batch()
    narrow = beam_search(model, src, beam_size=1, normalize=False, max_len=6)
    wide = beam_search(model, src, beam_size=8, normalize=False, max_len=6)
    for a, b in zip(narrow, wide, strict=True):
        assert b[0].log_prob >= a[0].log_prob - 1e-5


def test_batched_decoding_equals_one_sentence_at_a_time(model):
    src = padded_batch()
    batched = beam_search(model, src, beam_size=3, max_len=8)
    for b, n in enumerate((7, 5, 2)):
        alone = beam_search(model, src[b:b + 1, :n], beam_size=3, max_len=8)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in batched[b]]
        torch.testing.assert_close(alone[0].alignment,
                                   batched[b][0].alignment[:, :alone[0].alignment.shape[1]])


def test_output_length_limit():
    src = padded_batch()
    assert max_output_length(src, 0).tolist() == [24, 20, 14]
    assert max_output_length(src, 0, max_len=16).tolist() == [16, 16, 14]


def test_never_emits_pad_or_bos(model):
    with torch.no_grad():
        model.decoder.W_o.bias[:2] = 100.0  # PAD and BOS the most probable words
    ids, _ = greedy_decode(model, padded_batch(), max_len=5)
    hyps = beam_search(model, padded_batch(), beam_size=3, max_len=5)
    assert (ids[:, 0] > 1).all()
    assert all(w > 1 for h in hyps for w in h[0].tokens)
