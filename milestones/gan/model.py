r"""Generative Adversarial Nets. Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair,
Courville, Bengio (2014). arXiv:1406.2661. And: Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks (DCGAN). Radford, Metz, Chintala (2015).
arXiv:1511.06434.

A generator G maps noise z ~ p_z to samples G(z); a discriminator D outputs the probability that
its input came from the data rather than from G. They play the two-player minimax game

$$\min_G \max_D V(D, G) = \mathbb{E}_{\boldsymbol{x} \sim p_{data}(\boldsymbol{x})}
[\log D(\boldsymbol{x})] + \mathbb{E}_{\boldsymbol{z} \sim p_{\boldsymbol{z}}(\boldsymbol{z})}
[\log(1 - D(G(\boldsymbol{z})))] \tag{1}$$

whose optimum for D is $D^*_G(x) = p_{data}(x) / (p_{data}(x) + p_g(x))$ (Prop. 1) and whose
global optimum is $p_g = p_{data}$ (Thm. 1). Early in training log(1 - D(G(z))) saturates, so G
is trained to maximise log D(G(z)) instead (§3: "the same fixed point ... much stronger gradients
early in learning"). Algorithm 1 alternates k steps on D with one step on G.

DCGAN makes the game work with deep convolutional nets (§3): strided convolutions in D and
fractionally-strided convolutions in G instead of pooling, batch normalisation in both (not on
G's output nor D's input), no fully connected hidden layers, ReLU in G (tanh output), LeakyReLU
(slope 0.2) in D; weights from N(0, 0.02), Adam (lr 2e-4, beta1 0.5), batch 128 (§4).

D outputs a *logit* l, D(x) = sigmoid(l); the losses below are written in terms of logits with
log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l), exact and finite for any l.

Implemented:
- GAN §5 with the released MNIST configuration (goodfeli/adversarial mnist.yaml): G an MLP
  100-1200-1200-784, ReLU hidden, sigmoid output; D maxout 784-240x5-240x5-1 with dropout.
- DCGAN §3-4 (Fig. 1): G projects z to 4x4x1024 and upsamples by four fractionally-strided 5x5
  convolutions to 64x64x3; D mirrors it. 32x32 and 28x28 variants (CIFAR-10, MNIST).
- MLP pairs for 2-D mixtures of Gaussians, with the GAN's or DCGAN's ingredients.
- Eq. 1, the minimax and the non-saturating generator objectives, as functions of logits.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Output = Literal["sigmoid", "tanh", "linear"]


# ---- the losses (Eq. 1 and §3) ------------------------------------------------------------------

def value_function(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 1 on a minibatch: V = mean log D(x) + mean log(1 - D(G(z))), D = sigmoid(logit)."""
    # log D(x) = log sigmoid(l) = -softplus(-l);  log(1 - D(G(z))) = -softplus(l)
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Algorithm 1, D's step: *ascend* V(D, G), i.e. minimise -V."""
    return -value_function(real_logits, fake_logits)


def generator_loss(fake_logits: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """G's step. ``saturating``: descend log(1 - D(G(z))) (Eq. 1, Algorithm 1 as written);
    default: the non-saturating objective of §3, maximise log D(G(z)) (minimise its negative)."""
    if saturating:
        # log(1 - D(G(z))) = -softplus(l): its gradient sigmoid(l) vanishes when D rejects G(z)
        return -F.softplus(fake_logits).mean()
    # -log D(G(z)) = softplus(-l): gradient 1 - sigmoid(l), strong exactly when D rejects G(z)
    return F.softplus(-fake_logits).mean()


# ---- GAN (2014): MLP generator, maxout discriminator ---------------------------------------------

class Maxout(nn.Module):
    """Maxout units (Goodfellow et al. 2013): h_i = max_j (x W_{.ij} + b_{ij}), j = 1..pieces."""

    def __init__(self, d_in: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(d_in, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x).unflatten(-1, (self.units, self.pieces))  # (B, units, pieces)
        return z.amax(-1)  # (B, units)


class MLPGenerator(nn.Module):
    """G(z): an MLP with ReLU hidden layers (GAN §5), optionally batch-normalised (DCGAN §3).

    ``nz``: dimension of z; ``hidden``: units per hidden layer (paper, MNIST: 1200, 1200);
    ``shape``: the shape of one sample (784 for MNIST as in the paper, or (1, 28, 28)).
    """

    def __init__(self, nz: int, hidden: tuple[int, ...], shape: tuple[int, ...],
                 output: Output = "sigmoid", batch_norm: bool = False):
        super().__init__()
        self.nz, self.shape, self.output = nz, tuple(shape), output
        layers: list[nn.Module] = []
        for d_in, d_out in zip((nz, *hidden), hidden, strict=False):
            layers += [nn.Linear(d_in, d_out, bias=not batch_norm)]
            layers += [nn.BatchNorm1d(d_out)] if batch_norm else []
            layers += [nn.ReLU()]
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(hidden[-1] if hidden else nz, math.prod(self.shape))

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # z: (B, nz)
        x = self.out(self.hidden(z))  # (B, prod(shape))
        return squash(x, self.output).view(len(z), *self.shape)


class MaxoutDiscriminator(nn.Module):
    """D(x) of GAN §5: maxout layers with dropout, one logit out (the sigmoid is in the loss).

    The released MNIST configuration: two maxout layers of 240 units x 5 pieces; dropout keeps
    inputs with probability 0.8 before the first layer and 0.5 before the others (scaled by
    1/keep: inverted dropout, as pylearn2's ``input_scales``).
    """

    def __init__(self, d_in: int, units: tuple[int, ...] = (240, 240), pieces: int = 5,
                 input_dropout: float = 0.2, dropout: float = 0.5):
        super().__init__()
        self.input_dropout, self.dropout = input_dropout, dropout
        self.maxouts = nn.ModuleList(Maxout(a, b, pieces)
                                     for a, b in zip((d_in, *units), units, strict=False))
        self.out = nn.Linear(units[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, ...) -> logits (B,)
        h = x.flatten(1)  # (B, D)
        for i, layer in enumerate(self.maxouts):
            h = layer(F.dropout(h, self.input_dropout if i == 0 else self.dropout, self.training))
        return self.out(F.dropout(h, self.dropout, self.training)).squeeze(-1)


class MLPDiscriminator(nn.Module):
    """D(x) as an MLP with DCGAN's ingredients (§3): LeakyReLU(0.2), batch norm on every hidden
    layer but the first, one logit out. Used on the 2-D mixtures ("DCGAN-style settings")."""

    def __init__(self, d_in: int, hidden: tuple[int, ...], slope: float = 0.2,
                 batch_norm: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip((d_in, *hidden), hidden, strict=False)):
            norm = batch_norm and i > 0  # §3: not on D's input layer
            layers += [nn.Linear(a, b, bias=not norm)]
            layers += [nn.BatchNorm1d(b)] if norm else []
            layers += [nn.LeakyReLU(slope)]
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(hidden[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, ...) -> logits (B,)
        return self.out(self.hidden(x.flatten(1))).squeeze(-1)


# ---- DCGAN (2015): convolutional generator and discriminator ------------------------------------

def squash(x: torch.Tensor, output: Output) -> torch.Tensor:
    """G's output non-linearity: sigmoid (GAN, pixels in [0, 1]), tanh (DCGAN, [-1, 1])."""
    return torch.sigmoid(x) if output == "sigmoid" else torch.tanh(x) if output == "tanh" else x


def _up(c_in: int, c_out: int, kernel: int) -> nn.ConvTranspose2d:
    """A fractionally-strided convolution that doubles H and W (kernel 5: the paper's code; 4:
    the PyTorch example's)."""
    pad = (kernel - 1) // 2
    return nn.ConvTranspose2d(c_in, c_out, kernel, stride=2, padding=pad,
                              output_padding=kernel % 2, bias=False)


def _down(c_in: int, c_out: int, kernel: int, bias: bool) -> nn.Conv2d:
    """A strided convolution that halves H and W (§3: "replace pooling with strided
    convolutions")."""
    return nn.Conv2d(c_in, c_out, kernel, stride=2, padding=(kernel - 1) // 2, bias=bias)


class DCGANGenerator(nn.Module):
    """G of DCGAN (Fig. 1): z is projected to a (widths[0], base, base) tensor (a matrix
    multiplication, "which could be called fully connected", §3), then fractionally-strided
    convolutions double the size to widths[1], ... and finally to ``channels``; batch norm and
    ReLU after every layer but the output, which is tanh.

    Fig. 1 (64x64): nz = 100, widths = (1024, 512, 256, 128), base 4 -> 64x64x3.
    """

    def __init__(self, nz: int = 100, widths: tuple[int, ...] = (1024, 512, 256, 128),
                 channels: int = 3, base: int = 4, kernel: int = 5):
        super().__init__()
        self.nz, self.base, self.widths = nz, base, widths
        self.project = nn.Linear(nz, widths[0] * base * base, bias=False)
        self.project_bn = nn.BatchNorm2d(widths[0])
        blocks = []
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            blocks.append(nn.Sequential(_up(c_in, c_out, kernel), nn.BatchNorm2d(c_out),
                                        nn.ReLU()))
        self.blocks = nn.Sequential(*blocks)
        self.out = _up(widths[-1], channels, kernel)
        self.out.bias = nn.Parameter(torch.zeros(channels))  # no batch norm on G's output (§3)

    @property
    def size(self) -> int:
        return self.base * 2 ** len(self.widths)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # z: (B, nz) -> (B, C, size, size)
        h = self.project(z).view(len(z), self.widths[0], self.base, self.base)  # (B, c0, b, b)
        h = self.blocks(F.relu(self.project_bn(h)))  # (B, c_last, size/2, size/2)
        return torch.tanh(self.out(h))


class DCGANDiscriminator(nn.Module):
    """D of DCGAN: strided convolutions ``channels`` -> widths[0] -> ... halving H and W, batch
    norm on every layer but the first (§3: "not ... the discriminator input layer"), LeakyReLU
    0.2; the last feature map is flattened into a single logit (no hidden fully connected layer).
    """

    def __init__(self, widths: tuple[int, ...] = (128, 256, 512, 1024), channels: int = 3,
                 size: int = 64, kernel: int = 5, slope: float = 0.2):
        super().__init__()
        self.slope = slope
        self.first = _down(channels, widths[0], kernel, bias=True)
        self.blocks = nn.ModuleList(
            nn.Sequential(_down(a, b, kernel, bias=False), nn.BatchNorm2d(b))
            for a, b in zip(widths, widths[1:], strict=False))
        final = size // 2 ** len(widths)
        self.out = nn.Linear(widths[-1] * final * final, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's activations, (B, widths[i], H/2^(i+1), W/2^(i+1)) (DCGAN §5.1)."""
        h = F.leaky_relu(self.first(x), self.slope)
        maps = [h]
        for block in self.blocks:
            h = F.leaky_relu(block(h), self.slope)
            maps.append(h)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> logits (B,)
        return self.out(self.features(x)[-1].flatten(1)).squeeze(-1)


class GAN(nn.Module):
    """The pair (G, D), with the distribution p_z that G is fed."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module,
                 noise: Literal["gaussian", "uniform"] = "gaussian"):
        super().__init__()
        self.generator, self.discriminator, self.noise = generator, discriminator, noise

    @property
    def nz(self) -> int:
        return self.generator.nz

    def sample_z(self, n: int, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ p_z: N(0, I) (the released GAN code) or U(-1, 1)^nz (DCGAN Fig. 1)."""
        if self.noise == "uniform":
            return torch.rand(n, self.nz, device=device, generator=generator) * 2 - 1
        return torch.randn(n, self.nz, device=device, generator=generator)

    @torch.no_grad()
    def sample(self, n: int, *, batch_size: int = 1000,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples G(z), in eval mode (batch norm's running statistics, no dropout)."""
        device = next(self.parameters()).device
        training = self.generator.training
        self.generator.eval()  # DEVIATION(D6): batch norm's running statistics, not the batch's
        try:
            return torch.cat([self.generator(self.sample_z(min(batch_size, n - i), device,
                                                           generator))
                              for i in range(0, n, batch_size)])
        finally:
            self.generator.train(training)


# ---- initialisation -----------------------------------------------------------------------------

@torch.no_grad()
def init_gan(model: GAN, data_mean: torch.Tensor | None = None, g_range: float = 0.05,
             d_range: float = 0.005) -> GAN:
    """The released GAN configuration: weights U(-irange, irange) (G .05, D .005), biases 0, and
    G's sigmoid output bias set so that sigmoid(b) is the data's mean pixel
    (``init_sigmoid_bias_from_marginals``)."""
    for net, r in ((model.generator, g_range), (model.discriminator, d_range)):
        for m in net.modules():
            if isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -r, r)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    g = model.generator
    if data_mean is not None and isinstance(g, MLPGenerator) and g.output == "sigmoid":
        p = data_mean.flatten().clamp(1e-3, 1 - 1e-3)  # (D,)
        g.out.bias.copy_(torch.log(p / (1 - p)))  # logit of the marginal
    return model


@torch.no_grad()
def init_dcgan(model: nn.Module, std: float = 0.02) -> nn.Module:
    """DCGAN §4: "All weights were initialized from a zero-centered Normal distribution with
    standard deviation 0.02"; batch norm's scale from N(1, 0.02) (the authors' code), shifts and
    biases 0."""
    for m in model.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return model


# ---- builders, one per paper variant ------------------------------------------------------------

def gan_mnist(nz: int = 100, hidden: int = 1200, units: int = 240, pieces: int = 5,
              data_mean: torch.Tensor | None = None) -> GAN:
    """GAN §5 on MNIST, the released configuration: G 100-1200-1200-784 (ReLU, sigmoid out),
    D maxout 784-240x5-240x5-1 with dropout. 2,503,984 + 1,231,441 parameters."""
    g = MLPGenerator(nz, (hidden, hidden), (1, 28, 28), output="sigmoid")
    d = MaxoutDiscriminator(784, (units, units), pieces)
    return init_gan(GAN(g, d), data_mean)


def gan_mlp(shape: tuple[int, ...], nz: int = 100, hidden: int = 1200, units: int = 240,
            pieces: int = 5, output: Output = "sigmoid", data_mean: torch.Tensor | None = None,
            input_dropout: float = 0.2, dropout: float = 0.5) -> GAN:
    """The GAN's MLP pair for samples of any ``shape`` (2-D points: output "linear")."""
    g = MLPGenerator(nz, (hidden, hidden), shape, output=output)
    d = MaxoutDiscriminator(math.prod(shape), (units, units), pieces, input_dropout, dropout)
    return init_gan(GAN(g, d), data_mean)


def dcgan_mlp(shape: tuple[int, ...], nz: int = 100, hidden: int = 128,
              output: Output = "linear") -> GAN:
    """An MLP pair with DCGAN's ingredients (batch norm, ReLU in G, LeakyReLU in D, N(0, 0.02)
    init), for the 2-D mixtures: the "DCGAN-style settings" of the mixture experiment."""
    g = MLPGenerator(nz, (hidden, hidden), shape, output=output, batch_norm=True)
    d = MLPDiscriminator(math.prod(shape), (hidden, hidden))
    return init_dcgan(GAN(g, d, noise="uniform"))


def dcgan(size: int = 64, channels: int = 3, width: int = 128, nz: int = 100,
          kernel: int = 5) -> GAN:
    """DCGAN at ``size`` 64 (Fig. 1: widths 1024-512-256-128 with width=128), 32 (CIFAR-10:
    4x4 base, three upsamplings, widths 4w-2w-w) or 28 (MNIST: 7x7 base, widths 2w-w)."""
    layers = {64: 4, 32: 3, 28: 2}
    if size not in layers:
        raise ValueError(f"DCGAN size must be one of {sorted(layers)}, not {size}")
    n = layers[size]  # DEVIATION(D4): the 32 and 28 layouts are ours (the paper shows 64x64)
    widths = tuple(width * 2 ** i for i in reversed(range(n)))  # e.g. (8w, 4w, 2w, w)
    base = size // 2 ** n
    g = DCGANGenerator(nz, widths, channels, base, kernel)
    # DEVIATION(D3): D's widths are not given in the paper; D mirrors G (w, 2w, 4w, 8w)
    d = DCGANDiscriminator(widths[::-1], channels, size, kernel)
    return init_dcgan(GAN(g, d, noise="uniform"))


def dcgan64(channels: int = 3) -> GAN:
    """DCGAN Fig. 1 (LSUN, faces, ImageNet 64x64): G 100 -> 4x4x1024 -> ... -> 64x64x3.
    18,855,043 (G) + 17,232,897 (D) parameters."""
    return dcgan(64, channels)


def dcgan32(channels: int = 3, width: int = 64) -> GAN:
    """DCGAN at 32x32 (CIFAR-10): G 100 -> 4x4x256 -> 8x8x128 -> 16x16x64 -> 32x32x3."""
    return dcgan(32, channels, width)


def dcgan28(channels: int = 1, width: int = 64) -> GAN:
    """DCGAN at 28x28 (MNIST, Fashion-MNIST): G 100 -> 7x7x128 -> 14x14x64 -> 28x28x1."""
    return dcgan(28, channels, width)


def gan_tiny(shape: tuple[int, ...] = (1, 28, 28)) -> GAN:
    """A few-thousand-parameter GAN pair for tests."""
    return gan_mlp(shape, nz=8, hidden=16, units=8, pieces=2)


def dcgan_tiny(size: int = 28, channels: int = 1) -> GAN:
    """A small DCGAN for tests."""
    return dcgan(size, channels, width=4, nz=8)


MODELS = {"gan_mnist": gan_mnist, "dcgan64": dcgan64, "dcgan32": dcgan32, "dcgan28": dcgan28,
          "gan_tiny": gan_tiny, "dcgan_tiny": dcgan_tiny}
