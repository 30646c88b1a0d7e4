"""SimCLR's evaluation protocols: linear evaluation on a frozen backbone (the encoder gets no
gradient and does not change: the bug behind a peer's invalid 92.9%), the k-NN monitor against a
loop over its definition, fine-tuning on a class-balanced label subset."""

import copy

import pytest
import torch

from milestones.core.datasets import Split
from milestones.simclr import evaluate as E
from milestones.simclr import simclr_tiny
from milestones.simclr.data import labelled_fraction
from tests.conftest import randomize_batchnorm


def images(n: int, seed: int = 0) -> Split:
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                 torch.randint(0, 3, (n,), generator=g))


def test_linear_evaluation_leaves_the_backbone_untouched():
    """Encoding for linear evaluation runs the encoder in eval mode without gradients: its
    weights, its batch-norm running statistics and its .grad stay exactly as they were, and its
    training mode is restored."""
    model = simclr_tiny()
    randomize_batchnorm(model.encoder, 0.5)
    model.train()
    before = copy.deepcopy(model.encoder.state_dict())
    train, val, test = images(60, 0), images(30, 1), images(30, 2)
    h = [E.encode(model.encoder, s.x, batch_size=16) for s in (train, val, test)]
    assert not h[0].requires_grad
    E.linear_evaluation(h[0], train.y, h[1], val.y, h[2], test.y, 3, (1e-3,), max_iter=5)
    after = model.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running stats included
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.encoder.training


def test_encode_uses_running_statistics_not_the_batch():
    """In eval mode an image's h does not depend on the other images of its batch."""
    model = simclr_tiny()
    randomize_batchnorm(model.encoder, 0.5)
    x = images(8).x
    alone = E.encode(model.encoder, x[:1])
    together = E.encode(model.encoder, x, batch_size=8)[:1]
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-6)


def test_logistic_regression_separates_separable_features():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (400,), generator=g)
    centers = torch.randn(4, 10, generator=g) * 3
    h = centers[y] + torch.randn(400, 10, generator=g)
    result = E.linear_evaluation(h[:200], y[:200], h[200:300], y[200:300], h[300:], y[300:], 4)
    assert result["test_accuracy"] > 0.95 and result["weight_decay"] in E.WEIGHT_DECAYS
    noise = E.linear_evaluation(torch.randn(200, 10, generator=g), y[:200],
                                torch.randn(100, 10, generator=g), y[200:300],
                                torch.randn(100, 10, generator=g), y[300:], 4)
    assert noise["test_accuracy"] < 0.5  # chance is 0.25


def knn_loop(bank, bank_y, query, classes, k, t):
    preds = []
    for q in query:
        sims = [(float(q @ b / (q.norm() * b.norm())), int(c)) for b, c in zip(bank, bank_y,
                                                                              strict=True)]
        sims.sort(key=lambda s: -s[0])
        votes = [0.0] * classes
        for s, c in sims[:k]:
            votes[c] += torch.tensor(s / t).exp().item()
        preds.append(max(range(classes), key=lambda c: votes[c]))
    return torch.tensor(preds)


@pytest.mark.parametrize("k", [1, 5, 50])
def test_knn_equals_its_definition(k):
    g = torch.Generator().manual_seed(k)
    bank, bank_y = torch.randn(50, 6, generator=g), torch.randint(0, 4, (50,), generator=g)
    query = torch.randn(20, 6, generator=g)
    assert torch.equal(E.knn_predict(bank, bank_y, query, 4, k, 0.1, chunk=7),
                       knn_loop(bank, bank_y, query, 4, k, 0.1))


def test_labelled_fraction_is_class_balanced():
    y = torch.arange(10).repeat_interleave(100)
    split = Split(torch.arange(1000), y)
    one = labelled_fraction(split, 0.01)
    assert len(one) == 10 and torch.equal(one.y.bincount(), torch.ones(10, dtype=torch.long))
    ten = labelled_fraction(split, 0.1, seed=1)
    assert len(ten) == 100 and (ten.y.bincount() == 10).all()
    assert not torch.equal(labelled_fraction(split, 0.1, seed=0).x, ten.x)


def test_fine_tuning_trains_a_copy():
    model = simclr_tiny()
    before = copy.deepcopy(model.encoder.state_dict())
    result = E.fine_tune(model.encoder, model.dim_h, images(32), images(16, 1), 3, steps=3,
                         batch_size=16)
    assert 0 <= result["test_accuracy"] <= 1 and result["labelled"] == 32
    after = model.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
