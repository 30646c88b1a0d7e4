"""The learns tier: RNNsearch learns to reverse sequences, a task whose alignment is the
anti-diagonal; RNNencdec, squeezing each sequence into one vector, learns less in as many steps."""

import pytest
import torch

from milestones.adam import Adam
from milestones.attention import model as M
from milestones.attention.decode import greedy_decode

V, MAX_LEN = 12, 8  # 8 words (ids 4..11), sequences of 3..8


def reversal_batch(n: int, g: torch.Generator):
    """(src, tgt_in, tgt_out, lengths): random sequences and the same words in reverse order."""
    lengths = torch.randint(3, MAX_LEN + 1, (n,), generator=g)
    mask = torch.arange(MAX_LEN)[None] < lengths[:, None]
    src = torch.randint(4, V, (n, MAX_LEN), generator=g) * mask
    tgt = M.reverse_within_length(src[..., None], lengths)[..., 0]  # (n, 8), PAD after
    tgt_in = torch.cat([torch.ones(n, 1, dtype=torch.long), tgt], 1)  # BOS y_1 .. y_L
    tgt_out = torch.cat([tgt, torch.zeros(n, 1, dtype=torch.long)], 1)
    tgt_out[torch.arange(n), lengths] = 2  # y_1 .. y_L EOS
    return src, tgt_in, tgt_out, lengths


def exact_after_training(build, steps: int = 1000) -> float:
    torch.manual_seed(0)
    model = build(V, V)
    opt = Adam(model.parameters(), lr=2e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        src, tgt_in, tgt_out, _ = reversal_batch(64, g)
        loss, _ = M.sentence_nll(model(src, tgt_in), tgt_out)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    src, _, tgt_out, lengths = reversal_batch(200, torch.Generator().manual_seed(1))  # unseen
    ids, _ = greedy_decode(model, src)
    return sum(ids[b, :L + 1].tolist() == tgt_out[b, :L + 1].tolist()
               for b, L in enumerate(lengths.tolist())) / len(lengths)


@pytest.mark.slow
def test_rnnsearch_learns_to_reverse_and_rnnencdec_learns_less():
    search = exact_after_training(M.rnnsearch_tiny)  # 1.0 when written (~12 s on 2 cores)
    encdec = exact_after_training(M.rnnencdec_tiny)  # 0.415 when written
    assert search >= 0.95, search
    assert encdec < search - 0.2, (encdec, search)
