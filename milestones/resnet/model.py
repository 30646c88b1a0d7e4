r"""Deep Residual Learning for Image Recognition. He, Zhang, Ren, Sun (2015). arXiv:1512.03385.

Deeper plain networks train *worse* than shallower ones: not overfitting, an optimisation failure
(the "degradation problem", Fig. 1). ResNets let each stack of layers fit a residual
$\mathcal{F}(x) = \mathcal{H}(x) - x$ instead of the desired mapping $\mathcal{H}(x)$, through a
shortcut that adds the input back: the identity shortcut, where dimensions match,

$$\mathbf{y} = \mathcal{F}(\mathbf{x}, \{W_i\}) + \mathbf{x} \tag{1}$$

and the projection shortcut $W_s$, where they change,

$$\mathbf{y} = \mathcal{F}(\mathbf{x}, \{W_i\}) + W_s \mathbf{x} \tag{2}$$

and F is two 3x3 convolutions (basic block, Fig. 2 / Fig. 5 left) or 1x1-3x3-1x1 (bottleneck,
Fig. 5 right), each followed by batch normalisation, ReLU after the addition.

Shortcut options (§3.3, §4.1): (A) identity, zero-padding the extra channels and subsampling by
the stride, no parameters; (B) projection W_s (1x1 conv + BN) only where dimensions change; (C)
projections everywhere (not built: the paper finds it only marginally better than B).

Implemented:
- §4.2 CIFAR-10 nets: 3x3 conv stem, 3 stages of 2n layers with 16, 32, 64 filters, stride-2
  downsampling, global average pooling, 10-way FC: 6n+2 layers. ResNet-20/32/44/56/110/1202
  (option A) and the matching plain nets (Table 6, Fig. 6).
- §3.4 / Table 1 ImageNet nets: 7x7/2 stem + 3x3/2 max-pool, 4 stages, option B.
  ResNet-18/34 (basic), ResNet-50/101/152 (bottleneck), plain-18/34 (Table 2). ``stem="cifar"``
  gives them a 3x3/1 stem without max-pool for 32x32 images (as SimCLR does on CIFAR-10), and
  ``width`` narrows them.
- ``stride_in_1x1``: the paper's bottleneck strides in its first 1x1 conv (v1, default);
  torchvision's "v1.5" strides in the 3x3. Parameter names follow torchvision, so
  ``resnet50(stride_in_1x1=False).load_state_dict(torchvision_resnet50.state_dict())`` gives the
  same outputs, pretrained weights included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Shortcut = Literal["A", "B", "none"]


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


def conv1x1(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)


def shortcut_a(x: torch.Tensor, c_out: int, stride: int) -> torch.Tensor:
    """Option A (§3.3): identity, subsampled by the stride, extra channels zero-padded."""
    x = x[:, :, ::stride, ::stride]  # (B, C_in, H/s, W/s)
    pad = c_out - x.shape[1]
    # DEVIATION(D6): the zeros go half before, half after the channels (the paper does not say)
    return F.pad(x, (0, 0, 0, 0, pad // 2, pad - pad // 2))  # (B, C_out, H/s, W/s)


class ResidualBlock(nn.Module):
    """What both blocks share: y = ReLU(F(x) + shortcut(x)) (Eq. 1, Eq. 2), or y = ReLU(F(x)) in
    the plain nets. Subclasses build the convs of F (``residual``), then call ``init_shortcut``."""

    expansion = 1

    def init_shortcut(self, c_in: int, stride: int, shortcut: Shortcut) -> None:
        self.shortcut, self.stride = shortcut, stride
        self.reshape = stride != 1 or c_in != self.c_out
        self.downsample = None
        if shortcut == "B" and self.reshape:  # W_s of Eq. 2: 1x1 conv + BN
            self.downsample = nn.Sequential(conv1x1(c_in, self.c_out, stride),
                                            nn.BatchNorm2d(self.c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, H/s, W/s)
        out = self.residual(x)
        if self.shortcut == "none":  # plain net: y = F(x)
            return F.relu(out, inplace=True)
        if self.downsample is not None:  # Eq. 2: y = F(x) + W_s x
            identity = self.downsample(x)
        elif self.reshape:  # option A: zero-padded identity
            identity = shortcut_a(x, self.c_out, self.stride)
        else:  # Eq. 1: y = F(x) + x
            identity = x
        # $\mathbf{y} = \mathcal{F}(\mathbf{x}, \{W_i\}) + \mathbf{x}$ (Eq. 1), or
        # $+ W_s \mathbf{x}$ (Eq. 2), then the ReLU after the addition (Fig. 2)
        out += identity  # in place: BN's backward does not need its output
        return F.relu(out, inplace=True)


class BasicBlock(ResidualBlock):
    """Two 3x3 convs (Fig. 2 / Fig. 5 left), for ResNet-18/34 and every CIFAR net."""

    def __init__(self, c_in: int, width: int, stride: int = 1, shortcut: Shortcut = "B"):
        super().__init__()
        self.c_out = width * self.expansion
        self.conv1, self.bn1 = conv3x3(c_in, width, stride), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = conv3x3(width, self.c_out), nn.BatchNorm2d(self.c_out)
        self.init_shortcut(c_in, stride, shortcut)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return self.bn2(self.conv2(out))


class Bottleneck(ResidualBlock):
    """1x1 (reduce) - 3x3 - 1x1 (restore, x4) (Fig. 5 right), for ResNet-50/101/152.

    ``stride_in_1x1=True`` is the paper's v1 (the first 1x1 conv strides); False is torchvision's
    v1.5 (the 3x3 strides: about +0.5% top-1 for a little more compute).
    """

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1, shortcut: Shortcut = "B",
                 stride_in_1x1: bool = True):
        super().__init__()
        self.c_out = width * self.expansion
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1, self.bn1 = conv1x1(c_in, width, s1), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = conv3x3(width, width, s3), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = conv1x1(width, self.c_out), nn.BatchNorm2d(self.c_out)
        self.init_shortcut(c_in, stride, shortcut)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        return self.bn3(self.conv3(out))


class ResNet(nn.Module):
    """Stem, stages of residual (or plain) blocks, global average pooling, FC.

    Args:
        block: BasicBlock or Bottleneck.
        layers: blocks per stage, e.g. (3, 3, 3) for ResNet-20 (n=3), (3, 4, 6, 3) for ResNet-50.
        widths: filters per stage: (16, 32, 64) on CIFAR (§4.2), (64, 128, 256, 512) on ImageNet.
        stem: "cifar" = 3x3 conv; "imagenet" = 7x7/2 conv + 3x3/2 max-pool (Table 1, conv1).
        shortcut: "A" (zero-pad identity), "B" (projection where shapes change), "none" (plain).
        num_classes, in_channels: output classes and input channels.
        stride_in_1x1: bottleneck stride placement (see :class:`Bottleneck`).
    """

    def __init__(self, block: type[ResidualBlock], layers: tuple[int, ...], widths: tuple[int, ...],
                 stem: Literal["cifar", "imagenet"], shortcut: Shortcut, num_classes: int = 10,
                 in_channels: int = 3, stride_in_1x1: bool = True):
        super().__init__()
        c = widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, c, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1, self.maxpool = conv3x3(in_channels, c), nn.Identity()
        self.bn1 = nn.BatchNorm2d(c)
        kwargs = {"stride_in_1x1": stride_in_1x1} if block is Bottleneck else {}
        for i, (width, n) in enumerate(zip(widths, layers, strict=True)):
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1  # conv3_1, conv4_1, conv5_1 downsample
                blocks.append(block(c, width, stride, shortcut, **kwargs))
                c = width * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.num_stages = len(layers)
        self.fc = nn.Linear(c, num_classes)
        # §3.4: "We initialize the weights as in [13]" (He et al. 2015, fan_out for convs).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x)), inplace=True))  # (B, C_0, H', W')
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)  # halves H, W from the second stage on
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # (B, C_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, num_classes) logits
        return self.fc(self.features(x))


# ---- CIFAR-10 family (§4.2, Table 6): 6n+2 layers, option A -------------------------------------

def cifar_resnet(depth: int, *, plain: bool = False, width: int = 16, num_classes: int = 10,
                 in_channels: int = 3) -> ResNet:
    """A 6n+2-layer CIFAR net. ``width`` is the first stage's filters (16 in the paper;
    stages use width, 2*width, 4*width). ``plain=True`` removes every shortcut."""
    if (depth - 2) % 6 or depth < 8:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2, n >= 1 (8, 14, 20, ...), got {depth}")
    n = (depth - 2) // 6
    return ResNet(BasicBlock, (n, n, n), (width, 2 * width, 4 * width), "cifar",
                  "none" if plain else "A", num_classes, in_channels)


def resnet20(**kw) -> ResNet:
    return cifar_resnet(20, **kw)


def resnet32(**kw) -> ResNet:
    return cifar_resnet(32, **kw)


def resnet44(**kw) -> ResNet:
    return cifar_resnet(44, **kw)


def resnet56(**kw) -> ResNet:
    return cifar_resnet(56, **kw)


def resnet110(**kw) -> ResNet:
    return cifar_resnet(110, **kw)


def resnet1202(**kw) -> ResNet:
    return cifar_resnet(1202, **kw)


def plain20(**kw) -> ResNet:
    return cifar_resnet(20, plain=True, **kw)


def plain32(**kw) -> ResNet:
    return cifar_resnet(32, plain=True, **kw)


def plain44(**kw) -> ResNet:
    return cifar_resnet(44, plain=True, **kw)


def plain56(**kw) -> ResNet:
    return cifar_resnet(56, plain=True, **kw)


def plain110(**kw) -> ResNet:
    return cifar_resnet(110, plain=True, **kw)


def resnet_tiny(**kw) -> ResNet:
    """ResNet-8 at a quarter width (about 5k parameters): for tests."""
    return cifar_resnet(8, width=4, **kw)


# ---- ImageNet family (§3.4, Table 1): option B --------------------------------------------------

IMAGENET_WIDTHS = (64, 128, 256, 512)


def _imagenet(block: type[ResidualBlock], layers: tuple[int, ...], shortcut: Shortcut = "B",
              num_classes: int = 1000, in_channels: int = 3, stride_in_1x1: bool = True,
              stem: Literal["cifar", "imagenet"] = "imagenet", width: int = 64) -> ResNet:
    """``stem="cifar"``: a 3x3/1 first conv and no max-pool, for 32x32 images (SimCLR App. B.9:
    "we replace the first 7x7 Conv of stride 2 with 3x3 Conv of stride 1, and also remove the
    first max pooling operation"). ``width``: the first stage's filters (64 in the paper; stages
    use width, 2, 4, 8 x width), for narrower nets on a CPU."""
    widths = tuple(width * m for m in (1, 2, 4, 8))
    return ResNet(block, layers, widths, stem, shortcut, num_classes, in_channels, stride_in_1x1)


def resnet18(**kw) -> ResNet:
    return _imagenet(BasicBlock, (2, 2, 2, 2), **kw)


def resnet34(**kw) -> ResNet:
    return _imagenet(BasicBlock, (3, 4, 6, 3), **kw)


def resnet50(**kw) -> ResNet:
    return _imagenet(Bottleneck, (3, 4, 6, 3), **kw)


def resnet101(**kw) -> ResNet:
    return _imagenet(Bottleneck, (3, 4, 23, 3), **kw)


def resnet152(**kw) -> ResNet:
    return _imagenet(Bottleneck, (3, 8, 36, 3), **kw)


def plain18(**kw) -> ResNet:
    return _imagenet(BasicBlock, (2, 2, 2, 2), shortcut="none", **kw)


def plain34(**kw) -> ResNet:
    return _imagenet(BasicBlock, (3, 4, 6, 3), shortcut="none", **kw)


CIFAR_MODELS: dict[str, Callable[..., ResNet]] = {
    "resnet20": resnet20, "resnet32": resnet32, "resnet44": resnet44, "resnet56": resnet56,
    "resnet110": resnet110, "resnet1202": resnet1202, "plain20": plain20, "plain32": plain32,
    "plain44": plain44, "plain56": plain56, "plain110": plain110, "resnet_tiny": resnet_tiny,
}
IMAGENET_MODELS: dict[str, Callable[..., ResNet]] = {
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50, "resnet101": resnet101,
    "resnet152": resnet152, "plain18": plain18, "plain34": plain34,
}
MODELS = {**CIFAR_MODELS, **IMAGENET_MODELS}
