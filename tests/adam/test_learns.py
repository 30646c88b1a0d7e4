"""Learns tier: every optimizer minimises a convex quadratic and trains a small classifier."""

import pytest
import torch
import torch.nn.functional as F

from milestones.adam import OPTIMIZERS

HYPER = {"adam": {"lr": 0.05}, "adamw": {"lr": 0.05, "weight_decay": 0.0},
         "adamax": {"lr": 0.05}, "sgd": {"lr": 0.02, "momentum": 0.9, "nesterov": True},
         "adagrad": {"lr": 0.5}, "rmsprop": {"lr": 0.01}, "adadelta": {"lr": 1.0}}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_minimises_an_ill_conditioned_quadratic(name):
    """f(x) = 1/2 (x - x*)^T A (x - x*), condition number 100: from f(0) to near 0."""
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(10, 10))
    a = q @ torch.diag(torch.logspace(-1, 1, 10)) @ q.T
    target = torch.randn(10)
    x = torch.zeros(10, requires_grad=True)
    opt = OPTIMIZERS[name]([x], **HYPER[name])

    def f():
        d = x - target
        return 0.5 * d @ a @ d

    start = f().item()
    for _ in range(3000):
        opt.zero_grad()
        f().backward()
        opt.step()
    assert f().item() < 1e-2 * start, (name, start, f().item())


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_trains_a_small_classifier(name):
    """Logistic regression on two separable Gaussian blobs in 20-D: over 95% accuracy."""
    g = torch.Generator().manual_seed(1)
    x = torch.cat([torch.randn(200, 20, generator=g) + 1.5,
                   torch.randn(200, 20, generator=g) - 1.5])
    y = torch.cat([torch.zeros(200), torch.ones(200)]).long()
    torch.manual_seed(0)
    model = torch.nn.Linear(20, 2)
    opt = OPTIMIZERS[name](model.parameters(), **HYPER[name])
    for _ in range(200):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    assert (model(x).argmax(1) == y).float().mean() > 0.95
