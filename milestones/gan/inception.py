r"""Inception-v3 (Szegedy et al., 2016, "Rethinking the Inception Architecture") from torch
primitives: the network whose pool3 features define FID (Heusel et al., 2017),

$$\mathrm{FID} = \lVert \mu_r - \mu_g \rVert^2
  + \operatorname{Tr}\big(\Sigma_r + \Sigma_g - 2 (\Sigma_r \Sigma_g)^{1/2}\big),$$

with $(\mu_r, \Sigma_r)$ and $(\mu_g, \Sigma_g)$ the mean and covariance of the 2,048 pool3
features of real and generated images (``evaluate.frechet_distance``).

FID is only comparable across papers with one particular network: the TensorFlow graph of
2015-12-05 that the FID authors used. pytorch-fid ported its weights to a PyTorch state_dict
(``pt_inception-2015-12-05-6726825d.pth``, released with pytorch-fid), and its graph differs from
torchvision's Inception-v3 in four places, marked ``FID`` below: the average pools of the
35×35, 17×17 and first 8×8 modules leave the padding out of the mean, and the last 8×8 module
pools by max. This file builds both graphs; which one a weights file holds is read from the file
(the FID graph has 1,008 classes, torchvision's ImageNet weights 1,000).

Nothing is downloaded: the user passes a local weights file (``--fid-inception PATH``), and the
tests check the graph against torchvision's ``inception_v3`` and pytorch-fid's ``InceptionV3``
with the same random weights.

    net = load_inception("pt_inception-2015-12-05-6726825d.pth")
    features = net(images)        # images (N, 3, H, W) in [0, 1] -> pool3 (N, 2048)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Pool = Literal["avg", "avg-no-pad", "max"]


class BasicConv2d(nn.Module):
    """conv (no bias) → batch norm (ε = 0.001, the TF graph's) → ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int | tuple[int, int],
                 stride: int = 1, padding: int | tuple[int, int] = 0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def pool3x3(x: torch.Tensor, pool: Pool) -> torch.Tensor:
    r"""The 3×3, stride-1 pool of a module's pool branch (size kept). TF's average pool with
    padding "SAME" divides by the pixels of the window that lie inside the image,
    $\frac{1}{|W \cap I|} \sum_{p \in W \cap I} x_p$: 4 at a corner, 6 on an edge, 9 inside
    (``count_include_pad=False``); torchvision's divides by 9 everywhere."""
    if pool == "max":  # FID: the last 8×8 module
        return F.max_pool2d(x, 3, stride=1, padding=1)
    # FID: "avg-no-pad" divides by the window's pixels inside the image (TF's padding="SAME")
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=pool == "avg")


class InceptionA(nn.Module):
    """The 35×35 module (Fig. 5): 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | pool→1×1."""

    def __init__(self, c_in: int, pool_features: int, pool: Pool = "avg"):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(c_in, 64, 1)
        self.branch5x5_1 = BasicConv2d(c_in, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(c_in, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, c_in, 35, 35) -> (N, 64 + 64 + 96 + pool_features, 35, 35)
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(pool3x3(x, self.pool))], 1)


class InceptionB(nn.Module):
    """35×35 → 17×17 grid reduction (Fig. 10): stride-2 3×3 | 1×1→3×3→3×3/2 | max pool /2."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, 288, 35, 35) -> (N, 384 + 96 + 288, 17, 17)
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    """The 17×17 module (Fig. 6): n×n convolutions factorised into 1×7 and 7×1."""

    def __init__(self, c_in: int, channels_7x7: int, pool: Pool = "avg"):
        super().__init__()
        c7, self.pool = channels_7x7, pool
        self.branch1x1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, 768, 17, 17) -> (N, 4 · 192, 17, 17)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7dbl = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                     self.branch7x7dbl_5):
            b7dbl = conv(b7dbl)
        return torch.cat([self.branch1x1(x), b7, b7dbl,
                          self.branch_pool(pool3x3(x, self.pool))], 1)


class InceptionD(nn.Module):
    """17×17 → 8×8 grid reduction: 1×1→3×3/2 | 1×1→1×7→7×1→3×3/2 | max pool /2."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, 768, 17, 17) -> (N, 320 + 192 + 768, 8, 8)
        b7 = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = conv(b7)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7,
                          F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """The 8×8 module (Fig. 7): 3×3 convolutions split into parallel 1×3 and 3×1, for the
    widest, highest-level features."""

    def __init__(self, c_in: int, pool: Pool = "avg"):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(c_in, 320, 1)
        self.branch3x3_1 = BasicConv2d(c_in, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(c_in, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, c_in, 8, 8) -> (N, 320 + 768 + 768 + 192 = 2048, 8, 8)
        b3 = self.branch3x3_1(x)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(b3), self.branch3x3_2b(b3),
            self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl),
            self.branch_pool(pool3x3(x, self.pool))], 1)


class InceptionV3(nn.Module):
    """Inception-v3 up to its pool3 features (Table 1 of the paper, without the auxiliary
    classifier): images (N, 3, H, W) in [0, 1] → (N, 2048). ``fid=True`` builds the FID graph.

    The classifier ``fc`` is kept so that a weights file loads key for key; the features do not
    use it."""

    def __init__(self, fid: bool = True, num_classes: int | None = None):
        super().__init__()
        self.fid = fid
        a, c = ("avg-no-pad", "avg-no-pad") if fid else ("avg", "avg")
        e1, e2 = ("avg-no-pad", "max") if fid else ("avg", "avg")
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32, a)
        self.Mixed_5c = InceptionA(256, 64, a)
        self.Mixed_5d = InceptionA(288, 64, a)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128, c)
        self.Mixed_6c = InceptionC(768, 160, c)
        self.Mixed_6d = InceptionC(768, 160, c)
        self.Mixed_6e = InceptionC(768, 192, c)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, e1)
        self.Mixed_7c = InceptionE(2048, e2)
        self.fc = nn.Linear(2048, num_classes or (1008 if fid else 1000))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # both graphs take x in [-1, 1]: the TF graph's input, and what torchvision's
        # transform_input makes of ImageNet-normalised pixels
        x = 2 * F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False) - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (N, 64, 147, 147)
        x = F.max_pool2d(x, 3, stride=2)                                   # (N, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))                      # (N, 192, 71, 71)
        x = F.max_pool2d(x, 3, stride=2)                                   # (N, 192, 35, 35)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d,         # (N, 288, 35, 35)
                      self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,         # (N, 768, 17, 17)
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a,         # (N, 1280, 8, 8)
                      self.Mixed_7b, self.Mixed_7c):                       # (N, 2048, 8, 8)
            x = block(x)
        return x.mean(dim=(2, 3))                                          # pool3: (N, 2048)


def load_inception(path: str | Path) -> InceptionV3:
    """An Inception-v3 in eval mode from a local state_dict file: pytorch-fid's FID weights
    (``pt_inception-2015-12-05-*.pth``, 1,008 classes: the FID graph) or torchvision's ImageNet
    weights (``inception_v3_google-*.pth``, 1,000 classes: torchvision's graph; its auxiliary
    classifier is dropped). Raises ValueError, saying what was found, for any other file."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # not a torch file, or not readable as one
        raise ValueError(f"{path} is not a torch state_dict file ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from e
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise ValueError(f"{path} holds no Inception-v3 state_dict (no fc.weight key); expected "
                         "pytorch-fid's pt_inception-2015-12-05-6726825d.pth or torchvision's "
                         "inception_v3_google-0cc3c7bd.pth")
    classes = state["fc.weight"].shape[0]
    net = InceptionV3(fid=classes == 1008, num_classes=classes)
    state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as e:  # a tensor of another shape
        raise ValueError(f"{path} is not an Inception-v3 state_dict: "
                         f"{str(e).splitlines()[-1].strip()}") from e
    if missing or unexpected:
        raise ValueError(f"{path} is not an Inception-v3 state_dict: {len(missing)} keys missing "
                         f"(e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. "
                         f"{unexpected[:2]})")
    return net.eval().requires_grad_(False)
