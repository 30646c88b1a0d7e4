r"""The models of Adam's experiments (Kingma & Ba 2014, §6), from torch primitives.

- §6.1: multi-class logistic regression, on pixels (:class:`LogisticRegression`) and on sparse
  bag-of-words features (:class:`BowLogisticRegression`).
- §6.2: a multilayer network, two fully connected hidden layers of 1000 ReLU units, with or
  without dropout (:class:`MLP`).
- §6.3: a convolutional network, c64-c64-c128-1000: three stages of 5x5 convolutions and 3x3
  max-pooling with stride 2, then a fully connected layer of 1000 ReLU units (:class:`ConvNet`).
- §6.4: a variational auto-encoder (Kingma & Welling 2013) with one hidden layer of 500 softplus
  units and a 50-dimensional spherical Gaussian latent variable (:class:`VAE`,
  :func:`negative_elbo`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LogisticRegression(nn.Module):
    """p(y | x) = softmax(W x + b) (§6.1)."""

    def __init__(self, d_in: int, n_classes: int = 10):
        super().__init__()
        self.linear = nn.Linear(d_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (B, K) logits
        return self.linear(x.flatten(1))


class BowLogisticRegression(nn.Module):
    """Logistic regression on a bag of words: W x + b for a binary word-presence vector x, computed
    as a sum of the rows of W picked by the document's word ids (an EmbeddingBag), never building
    the 10,000-wide input. Documents are rows of word ids padded with ``vocab_size``.

    ``dropout``: §6.1's "50% dropout noise" on the features: each word of a training document is
    dropped with this probability and the kept ones scaled by 1 / (1 - p).
    """

    def __init__(self, vocab_size: int, n_classes: int = 2, dropout: float = 0.0):
        super().__init__()
        self.vocab_size, self.dropout = vocab_size, dropout
        self.weight = nn.EmbeddingBag(vocab_size + 1, n_classes, mode="sum",
                                      padding_idx=vocab_size)  # the row of W^T per word
        self.bias = nn.Parameter(torch.zeros(n_classes))
        nn.init.normal_(self.weight.weight, std=0.01)
        with torch.no_grad():
            self.weight.weight[vocab_size].zero_()

    def forward(self, words: torch.Tensor) -> torch.Tensor:  # (B, L) word ids -> (B, K) logits
        scale = None
        if self.training and self.dropout > 0:
            keep = torch.rand(words.shape, device=words.device) >= self.dropout
            scale = keep.float() / (1 - self.dropout)  # (B, L)
        return self.weight(words, per_sample_weights=scale) + self.bias


class MLP(nn.Module):
    """§6.2: ``depth`` fully connected hidden layers of ``hidden`` ReLU units (2 x 1000).

    ``dropout`` on the hidden layers and ``input_dropout`` on the pixels, for Fig. 2's
    "with dropout" runs (p = 0.5 and 0.2, Hinton et al. 2012's standard choice).
    """

    def __init__(self, d_in: int = 784, hidden: int = 1000, depth: int = 2, n_classes: int = 10,
                 dropout: float = 0.0, input_dropout: float = 0.0):
        super().__init__()
        self.input_dropout = nn.Dropout(input_dropout)
        layers, d = [], d_in
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout)]
            d = hidden
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(d, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (B, K)
        return self.out(self.hidden(self.input_dropout(x.flatten(1))))


class ConvNet(nn.Module):
    """§6.3: c64-c64-c128-1000. Each stage: 5x5 convolution (same padding), ReLU, 3x3 max-pooling
    with stride 2; then a fully connected layer of 1000 ReLU units and the softmax layer. Dropout
    on the input and on the fully connected layer when asked (Fig. 3's "+dropout" curves)."""

    def __init__(self, in_channels: int = 3, size: int = 32, n_classes: int = 10,
                 widths: tuple[int, ...] = (64, 64, 128), fc: int = 1000, dropout: float = 0.0,
                 input_dropout: float = 0.0):
        super().__init__()
        self.input_dropout = nn.Dropout(input_dropout)
        convs, c = [], in_channels
        for w in widths:
            convs.append(nn.Conv2d(c, w, 5, padding=2))
            c = w
        self.convs = nn.ModuleList(convs)
        for _ in widths:
            # DEVIATION(D7): pooling pads by 1 (unstated): 32 -> 16 -> 8 -> 4
            size = (size - 1) // 2 + 1
        self.fc = nn.Linear(c * size * size, fc)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(fc, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, K)
        x = self.input_dropout(x)
        for conv in self.convs:
            x = F.max_pool2d(F.relu(conv(x)), 3, stride=2, padding=1)  # (B, w, H/2, W/2)
        x = self.dropout(F.relu(self.fc(x.flatten(1))))  # (B, 1000)
        return self.out(x)


class VAE(nn.Module):
    r"""§6.4: encoder x -> 500 softplus -> (mu, log sigma^2) of q(z | x), z in R^50; decoder
    z -> 500 softplus -> Bernoulli logits of p(x | z). Prior p(z) = N(0, I)."""

    def __init__(self, d_in: int = 784, hidden: int = 500, latent: int = 50):
        super().__init__()
        self.enc = nn.Linear(d_in, hidden)
        self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.dec = nn.Linear(latent, hidden)
        self.out = nn.Linear(hidden, d_in)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = F.softplus(self.enc(x.flatten(1)))  # (B, 500)
        mu, logvar = self.mu(h), self.logvar(h)  # (B, 50) each
        # the reparameterisation: z = mu + sigma * epsilon, epsilon ~ N(0, I)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.out(F.softplus(self.dec(z))), mu, logvar  # logits (B, 784)


def negative_elbo(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor,
                  logvar: torch.Tensor) -> torch.Tensor:
    r"""-ELBO per example, averaged over the batch (nats):
    $-\mathbb{E}_q[\log p(x|z)] + KL(q(z|x) \| N(0, I))$ with a Bernoulli likelihood on pixel
    intensities in [0, 1] and the Gaussian KL in closed form,
    $KL = -\tfrac12 \sum_j (1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2)$."""
    target = x.flatten(1)  # DEVIATION(D11): grey levels in [0, 1], not binarised pixels
    reconstruction = F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return (reconstruction + kl).mean()


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
