r"""ImageNet Classification with Deep Convolutional Neural Networks. Krizhevsky, Sutskever, Hinton
(NIPS 2012); Dropout: Hinton et al. (arXiv:1207.0580), Srivastava et al. (JMLR 2014).

A deep convolutional net trained on 1.2 million images by SGD on two GPUs, with four ingredients
that made it work: ReLU nonlinearities f(x) = max(0, x), which train several times faster than
saturating ones such as tanh (§3.1, Fig. 1); local response normalisation across kernel maps
(§3.3); overlapping max-pooling (§3.4); and dropout in the fully connected layers (§4.2), against
the overfitting of a 60-million-parameter net. Five convolutional layers and three fully connected
ones, split across the two GPUs: layers 2, 4 and 5 see only the kernel maps of their own GPU.

Local response normalisation (§3.3), over n adjacent kernel maps of the N in the layer:

$$b^i_{x,y} = a^i_{x,y} \Big/ \Big(k + \alpha \sum_{j=\max(0,\, i-n/2)}^{\min(N-1,\, i+n/2)}
(a^j_{x,y})^2\Big)^{\beta} \tag{\S 3.3}$$

with $k = 2$, $n = 5$, $\alpha = 10^{-4}$, $\beta = 0.75$. Dropout (§4.2): each hidden neuron's
output is set to zero with probability 0.5 in training; at test time all neurons are used and
their outputs multiplied by 0.5. SGD with momentum and weight decay (§5), batch $D_i$, learning
rate $\epsilon$:

$$v_{i+1} = 0.9\, v_i - 0.0005\, \epsilon\, w_i - \epsilon \Big\langle \frac{\partial L}{\partial w}
\Big|_{w_i} \Big\rangle_{D_i}, \qquad w_{i+1} = w_i + v_{i+1}$$

Implemented:
- §3.5, Fig. 2: ``alexnet2012``, the paper's network with its two towers as grouped convolutions,
  LRN after layers 1 and 2, overlapping pooling, dropout 0.5 in fc6 and fc7, §5's initialisation.
- ``alexnet``: the single-tower variant of "One weird trick" (Krizhevsky 2014, arXiv:1404.5997)
  that torchvision ships (64-192-384-256-256 kernels, no LRN). Parameter names follow torchvision,
  so ``alexnet().load_state_dict(torchvision.models.alexnet(weights=...).state_dict())`` runs
  torchvision's pretrained weights in this from-scratch model.
- :class:`LocalResponseNorm` and :class:`Dropout` from tensor operations, with the paper's dropout
  (no scaling in training, x0.5 at test) and the now usual inverted dropout (x1/(1-p) in training).
- The small nets of the reproductions: ``lenet5`` (LeCun et al. 1998, the network AlexNet grew
  from), ``convnet4`` (a four-layer CIFAR-10 net for Fig. 1, §3.3 and §3.4), ``dropout_mlp``
  (Srivastava et al. 2014's MNIST nets, Fig. 10).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Scaling = Literal["inverted", "paper"]
Pool = Literal["overlapping", "non-overlapping"]
Activation = Literal["relu", "tanh"]


def local_response_norm(a: torch.Tensor, n: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 2.0) -> torch.Tensor:
    """§3.3's response normalisation of activities ``a`` (B, N, H, W) across N kernel maps."""
    # the window j = i - n/2 ... i + n/2, cut at the first and last map: zeros beyond them, and
    # one more in front, so that a difference of running sums gives each window's sum
    sq = F.pad(a * a, (0, 0, 0, 0, n // 2 + 1, (n - 1) // 2))  # (B, N + n, H, W)
    running = sq.cumsum(1)
    window = running[:, n:] - running[:, :-n]  # (B, N, H, W): sum_j (a^j)^2
    # b^i = a^i / (k + alpha sum_j (a^j)^2)^beta
    return a / (k + alpha * window).pow(beta)


def lrn_alpha_for(pixel_unit: float, alpha: float = 1e-4) -> float:
    """§3.3's alpha (1e-4, set for the paper's inputs: pixel values 0-255 less the mean image)
    for inputs in other units, one input unit being ``pixel_unit`` of the paper's (255 for
    pixels / 255). Activities then come out ``pixel_unit`` times smaller, a' = a / u, and
    a' / (k + alpha u^2 sum (a'^j)^2)^beta = (a / (k + alpha sum (a^j)^2)^beta) / u:
    the same normalisation, divided by u as the input was. With the paper's alpha on [0, 1]
    inputs, alpha sum a^2 is tiny beside k and the layer only divides by the constant k^beta."""
    # DEVIATION(D7): alpha u^2 instead of the paper's alpha, since our inputs are not 0-255
    return alpha * pixel_unit**2


class LocalResponseNorm(nn.Module):
    """§3.3: "brightness normalization" across ``n`` adjacent kernel maps at the same position.

    ``alpha`` is the paper's alpha, which multiplies the *sum* of squares; ``nn.LocalResponseNorm``
    multiplies their mean, so ``LocalResponseNorm(n, alpha)`` equals
    ``nn.LocalResponseNorm(n, alpha * n, beta, k)``.
    """

    def __init__(self, n: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0):
        super().__init__()
        self.n, self.alpha, self.beta, self.k = n, alpha, beta, k

    def forward(self, a: torch.Tensor) -> torch.Tensor:  # (B, N, H, W) -> (B, N, H, W)
        return local_response_norm(a, self.n, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"n={self.n}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class Dropout(nn.Module):
    """§4.2: zero each unit with probability ``p`` in training.

    ``scaling="paper"``: kept units pass unchanged in training, and at test time every output is
    multiplied by 1 - p ("we use all the neurons but multiply their outputs by 0.5").
    ``scaling="inverted"`` (the default, as ``nn.Dropout``): kept units are multiplied by
    1 / (1 - p) in training and the test-time net is the identity. The expected output in
    training equals the test output either way.
    """

    def __init__(self, p: float = 0.5, scaling: Scaling = "inverted"):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p, self.scaling = p, scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0:
            return x
        keep = 1 - self.p
        if not self.training:
            return x if self.scaling == "inverted" else x * keep
        mask = torch.rand_like(x) < keep  # each unit kept with probability 1 - p
        return x * mask / keep if self.scaling == "inverted" else x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, scaling={self.scaling}"


def activation(name: Activation) -> nn.Module:
    """§3.1: ReLU, f(x) = max(0, x), or the saturating f(x) = tanh(x) it replaced."""
    return nn.ReLU(inplace=True) if name == "relu" else nn.Tanh()


def pooling(kind: Pool, padding: int = 0) -> nn.MaxPool2d:
    """§3.4: overlapping max-pooling, s = 2 < z = 3; or the traditional s = z = 2."""
    if kind == "overlapping":
        return nn.MaxPool2d(3, stride=2, padding=padding)
    return nn.MaxPool2d(2, stride=2)


class AlexNet(nn.Module):
    """Five convolutional layers, then three fully connected ones (§3.5, Fig. 2).

    Args:
        variant: "2012" = the paper's two-tower net (96-256-384-384-256 kernels, layers 2, 4, 5
            grouped by tower, LRN after layers 1 and 2, dropout after fc6 and fc7); "owt" =
            torchvision's single tower (64-192-384-256-256, no LRN, dropout before fc6 and fc7).
        num_classes: outputs (1000 on ILSVRC).
        dropout: p of the two dropout layers (§4.2: 0.5).
        scaling: dropout's scaling, see :class:`Dropout`.
        lrn: 2012 only: response normalisation after layers 1 and 2 (§3.3).
        pool: 2012 only: overlapping (3x3, stride 2, §3.4) or non-overlapping (2x2, stride 2).
        act: 2012 only: relu (§3.1) or tanh.
        lrn_alpha: LRN's alpha: the paper's 1e-4 for inputs in its units (0-255 pixels); for
            other units see :func:`lrn_alpha_for`.
    """

    def __init__(self, variant: Literal["2012", "owt"] = "2012", num_classes: int = 1000,
                 dropout: float = 0.5, scaling: Scaling = "inverted", lrn: bool = True,
                 pool: Pool = "overlapping", act: Activation = "relu", in_channels: int = 3,
                 lrn_alpha: float = 1e-4):
        super().__init__()
        self.variant = variant
        # DEVIATION(D1): conv1 pads by 2, so a 224x224 crop gives 55x55 maps (the paper's sizes
        # do not add up: (224 - 11) / 4 + 1 is not whole; Caffe uses 227x227 crops)
        if variant == "owt":  # torchvision's layout, index for index (its state_dict loads)
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2),                                      # (B, 64, 27, 27)
                nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2),                                      # (B, 192, 13, 13)
                nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2))                                      # (B, 256, 6, 6)
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                Dropout(dropout, scaling), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
                Dropout(dropout, scaling), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
                nn.Linear(4096, num_classes))
            return

        def norm() -> nn.Module:
            return (LocalResponseNorm(n=5, alpha=lrn_alpha, beta=0.75, k=2.0) if lrn
                    else nn.Identity())

        # §3.5: layer 1 sees the whole image on both GPUs (48 + 48 kernels of 11x11x3); layers 2,
        # 4 and 5 see only the maps of their own GPU (groups=2); layer 3 sees both.
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, 11, stride=4, padding=2), activation(act), norm(),
            pooling(pool),                                                      # (B, 96, 27, 27)
            nn.Conv2d(96, 256, 5, padding=2, groups=2), activation(act), norm(),
            pooling(pool),                                                      # (B, 256, 13, 13)
            nn.Conv2d(256, 384, 3, padding=1), activation(act),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), activation(act),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), activation(act),
            pooling(pool))                                                      # (B, 256, 6, 6)
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))  # the identity at 224x224
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096), activation(act), Dropout(dropout, scaling),  # fc6
            nn.Linear(4096, 4096), activation(act), Dropout(dropout, scaling),         # fc7
            nn.Linear(4096, num_classes))                                              # fc8
        # §5: "We initialized the weights in each layer from a zero-mean Gaussian distribution
        # with standard deviation 0.01. We initialized the neuron biases in the second, fourth,
        # and fifth convolutional layers, as well as in the fully-connected hidden layers, with
        # the constant 1 ... the remaining layers with the constant 0."
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        fcs = [m for m in self.classifier if isinstance(m, nn.Linear)]
        for i, layer in enumerate(convs + fcs):  # layers 1 ... 8
            nn.init.normal_(layer.weight, 0.0, 0.01)
            nn.init.constant_(layer.bias, 1.0 if i + 1 in (2, 4, 5, 6, 7) else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 224, 224) -> (B, K) logits
        x = self.avgpool(self.features(x))  # (B, 256, 6, 6)
        return self.classifier(torch.flatten(x, 1))  # (B, 9216) -> (B, K)


def alexnet2012(**kw) -> AlexNet:
    """The paper's network (§3.5, Fig. 2): 60,965,224 parameters ("60 million")."""
    return AlexNet("2012", **kw)


def alexnet(**kw) -> AlexNet:
    """torchvision's AlexNet, the single tower of arXiv:1404.5997: 61,100,840 parameters."""
    return AlexNet("owt", **kw)


# ---- the small nets of the reproductions ---------------------------------------------------------

class LeNet5(nn.Module):
    """LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998, Fig. 2): C1 6@5x5 - S2 - C3 16@5x5 - S4 -
    C5 120@5x5 - F6 84 - 10 outputs, tanh units, on 32x32 inputs (28x28 digits are centred in a
    32x32 field by zero padding, as the paper did). 61,706 parameters with one input channel.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        # DEVIATION(D2): C3 sees all six S2 maps (the paper's table connects each to 3-6 of them);
        # S2/S4 average without their trainable coefficient and bias; plain tanh, not
        # 1.7159 tanh(2x/3); a linear output with softmax cross-entropy, not RBF units
        self.c1 = nn.Conv2d(in_channels, 6, 5)  # (B, 6, 28, 28)
        self.c3 = nn.Conv2d(6, 16, 5)  # (B, 16, 10, 10)
        self.c5 = nn.Conv2d(16, 120, 5)  # (B, 120, 1, 1)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, 32, 32) -> (B, K)
        if x.shape[-1] == 28:
            x = F.pad(x, (2, 2, 2, 2))  # (B, C, 32, 32)
        x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)  # S2: (B, 6, 14, 14)
        x = F.avg_pool2d(torch.tanh(self.c3(x)), 2)  # S4: (B, 16, 5, 5)
        x = torch.tanh(self.c5(x)).flatten(1)  # (B, 120)
        return self.output(torch.tanh(self.f6(x)))


def lenet5(**kw) -> LeNet5:
    return LeNet5(**kw)


class ConvNet4(nn.Module):
    """A four-layer CIFAR-10 net (two convolutional, two fully connected) with AlexNet's switches:
    the nonlinearity (§3.1, Fig. 1), response normalisation (§3.3), overlapping pooling (§3.4)
    and dropout on the hidden fully connected layer (§4.2).

        conv 5x5 (width) - act - pool - [LRN] - conv 5x5 (width) - act - [LRN] - pool
        - fc (hidden) - act - [dropout] - fc (classes)

    Both poolings halve the maps (overlapping: 3x3 stride 2 padded by 1; else 2x2 stride 2), so
    the two variants have the same sizes, as in §3.4's comparison. Weights start as PyTorch's
    defaults, or, with ``init_std``, from N(0, init_std^2) as §5 initialises AlexNet. LRN's alpha
    is the paper's (1e-4, for 0-255 pixels) unless ``lrn_alpha`` says otherwise
    (:func:`lrn_alpha_for`).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 64,
                 hidden: int = 384, act: Activation = "relu", lrn: bool = True,
                 pool: Pool = "overlapping", dropout: float = 0.0, scaling: Scaling = "inverted",
                 image_size: int = 32, init_std: float | None = None, lrn_alpha: float = 1e-4):
        super().__init__()
        norm = (lambda: LocalResponseNorm(n=5, alpha=lrn_alpha, beta=0.75, k=2.0)) if lrn else (
            nn.Identity)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 5, padding=2), activation(act), pooling(pool, 1),
            norm(),                                                          # (B, w, H/2, W/2)
            nn.Conv2d(width, width, 5, padding=2), activation(act), norm(),
            pooling(pool, 1))                                                # (B, w, H/4, W/4)
        side = image_size // 4
        self.classifier = nn.Sequential(
            nn.Linear(width * side * side, hidden), activation(act), Dropout(dropout, scaling),
            nn.Linear(hidden, num_classes))
        if init_std is not None:  # §5's kind: weights N(0, init_std^2), biases 0
            for m in self.modules():
                if isinstance(m, nn.Conv2d | nn.Linear):
                    nn.init.normal_(m.weight, 0.0, init_std)
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, K)
        return self.classifier(torch.flatten(self.features(x), 1))


def convnet4(**kw) -> ConvNet4:
    return ConvNet4(**kw)


def convnet4_tiny(**kw) -> ConvNet4:
    """ConvNet4 at width 8, 32 hidden units, with LRN and dropout on: for tests and smoke runs."""
    return ConvNet4(width=8, hidden=32, **{"dropout": 0.5, **kw})


class DropoutMLP(nn.Module):
    """Srivastava et al. (2014) §6.1.1's MNIST nets: fully connected ReLU layers with dropout on
    the input (retention 0.8, p = 0.2) and on every hidden layer (p = 0.5)."""

    def __init__(self, num_classes: int = 10, in_features: int = 784,
                 hidden: tuple[int, ...] = (1024, 1024, 2048), p_input: float = 0.2,
                 p_hidden: float = 0.5, scaling: Scaling = "inverted"):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten(), Dropout(p_input, scaling)]
        for i, h in enumerate(hidden):
            layers += [nn.Linear(in_features if i == 0 else hidden[i - 1], h),
                       nn.ReLU(inplace=True), Dropout(p_hidden, scaling)]
        layers.append(nn.Linear(hidden[-1], num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, K)
        return self.net(x)


def dropout_mlp(**kw) -> DropoutMLP:
    return DropoutMLP(**kw)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "alexnet2012": alexnet2012, "alexnet": alexnet, "lenet5": lenet5, "convnet4": convnet4,
    "convnet4_tiny": convnet4_tiny, "dropout_mlp": dropout_mlp,
}
