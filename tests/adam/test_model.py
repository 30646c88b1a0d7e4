"""Adam's §6 models: sizes from the paper's descriptions, shapes, and the VAE and bag-of-words
computations checked against independent references."""

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal, kl_divergence

from milestones.adam.model import (
    MLP,
    VAE,
    BowLogisticRegression,
    ConvNet,
    LogisticRegression,
    n_params,
    negative_elbo,
)


@pytest.mark.parametrize("model, count", [
    (LogisticRegression(784, 10), 7_850),                       # 784 x 10 + 10
    (MLP(), 1_796_010),                                          # 784-1000-1000-10 (§6.2)
    (ConvNet(), 2_371_266),                                      # c64-c64-c128-1000 (§6.3)
    (VAE(), 860_884),                                            # 784-500-(50, 50) / 50-500-784
    (BowLogisticRegression(10_000, 2), 20_004),                  # 10,000 words (+ padding) x 2
])
def test_parameter_counts_follow_the_paper_architectures(model, count):
    assert n_params(model) == count


@pytest.mark.parametrize("model, x", [
    (LogisticRegression(784, 7), torch.rand(4, 1, 28, 28)),
    (MLP(784, 64, 2, 7, dropout=0.5, input_dropout=0.2), torch.rand(4, 1, 28, 28)),
    (ConvNet(3, 32, 7, dropout=0.5), torch.randn(4, 3, 32, 32)),
    (ConvNet(1, 28, 7), torch.randn(4, 1, 28, 28)),
])
def test_classifier_contract(model, x):
    logits = model(x)
    assert logits.shape == (4, 7) and torch.isfinite(logits).all()
    F.cross_entropy(logits, torch.arange(4)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_dropout_only_in_training():
    model = MLP(784, 64, 2, 10, dropout=0.5)
    x = torch.rand(8, 784)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_negative_elbo_equals_the_distributions_reference():
    torch.manual_seed(0)
    x = torch.rand(6, 784)
    logits, mu, logvar = torch.randn(6, 784), torch.randn(6, 50), torch.randn(6, 50)
    likelihood = Bernoulli(logits=logits, validate_args=False)  # pixel intensities in [0, 1]
    reference = (-likelihood.log_prob(x).sum(1) + kl_divergence(
        Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(1)).mean()
    assert torch.allclose(negative_elbo(logits, x, mu, logvar), reference, rtol=1e-5)


def test_vae_forward_and_gradients():
    vae = VAE(784, 64, 8)
    logits, mu, logvar = vae(torch.rand(5, 1, 28, 28))
    assert logits.shape == (5, 784) and mu.shape == logvar.shape == (5, 8)
    negative_elbo(logits, torch.rand(5, 1, 28, 28), mu, logvar).backward()
    assert all(p.grad is not None for p in vae.parameters())


def test_bag_of_words_model_is_logistic_regression_on_presence_vectors():
    torch.manual_seed(0)
    model = BowLogisticRegression(50, 3).eval()
    words = torch.tensor([[1, 4, 7, 50, 50], [0, 2, 3, 49, 50]])  # padded with 50
    dense = torch.zeros(2, 50)
    dense[0, [1, 4, 7]] = 1
    dense[1, [0, 2, 3, 49]] = 1
    w = model.weight.weight[:50]  # (V, K)
    assert torch.allclose(model(words), dense @ w + model.bias, atol=1e-6)
    model(words).sum().backward()
    assert model.weight.weight.grad[50].abs().sum() == 0  # the padding row never learns


def test_bag_of_words_dropout_noise():
    model = BowLogisticRegression(50, 2, dropout=0.5).train()
    words = torch.arange(40).view(1, 40)
    outputs = torch.stack([model(words) for _ in range(200)])
    assert outputs.std(0).sum() > 0  # noisy in training
    model.eval()
    assert torch.equal(model(words), model(words))
