r"""A Simple Framework for Contrastive Learning of Visual Representations. Chen, Kornblith,
Norouzi, Hinton (2020). arXiv:2002.05709.

Learn an image representation without labels by making two random views of the same image agree.
For a minibatch of N images, two augmentations $t, t' \sim \mathcal{T}$ give 2N views; the
encoder f (a ResNet) maps each view to a representation $h = f(\tilde x)$, a small projection
head g maps it to $z = g(h)$, and the contrastive loss pulls each positive pair (the two views
of one image) together against the other 2(N - 1) views of the batch as negatives (§2.1):

$$\mathrm{sim}(\boldsymbol{u}, \boldsymbol{v}) = \boldsymbol{u}^\top \boldsymbol{v} \,/\,
\lVert\boldsymbol{u}\rVert \lVert\boldsymbol{v}\rVert \qquad \text{(cosine similarity)}$$

$$\ell_{i,j} = -\log \frac{\exp(\mathrm{sim}(\boldsymbol{z}_i, \boldsymbol{z}_j)/\tau)}
{\sum_{k=1}^{2N} \mathbb{1}_{[k \neq i]}
\exp(\mathrm{sim}(\boldsymbol{z}_i, \boldsymbol{z}_k)/\tau)} \tag{1}$$

the NT-Xent loss of a positive pair, averaged over both orders of every pair (Algorithm 1):

$$\mathcal{L} = \frac{1}{2N} \sum_{k=1}^{N} \big[\ell(2k-1, 2k) + \ell(2k, 2k-1)\big]$$

The head is thrown away after pre-training: h, taken before g, is the representation (§4.2,
Fig. 8: h beats z by more than 10 points of linear evaluation). g is an MLP with one hidden
layer, $z = W^{(2)} \sigma(W^{(1)} h)$, 128-dimensional output.

Implemented: the encoders (the ``resnet`` milestone's ResNet-18/34/50, with the CIFAR stem of
App. B.9 for 32x32 images), the projection heads of §4.2 (non-linear, linear, none), NT-Xent
(Eq. 1) with and without the l2 normalisation of §5.1 / Table 5, and its all-gather across data
parallel processes with the gradient flowing back through it (global negatives, App. B.1's
"global BN" is the DDP default of averaging gradients, see D3).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from milestones.resnet.model import ResNet, resnet18, resnet34, resnet50, resnet_tiny

Head = Literal["nonlinear", "linear", "none"]


class ProjectionHead(nn.Module):
    r"""g(h) of §2.1 and the three heads of §4.2 / Fig. 8.

    - ``nonlinear``: $z = W^{(2)} \mathrm{ReLU}(\mathrm{BN}(W^{(1)} h))$, Linear-BN-ReLU-Linear,
      hidden width = the representation's (2048 for ResNet-50);
    - ``linear``: $z = W h$;
    - ``none``: $z = h$ (identity; the loss acts on the representation itself).

    Args:
        dim_h: the representation's size (the encoder's last stage: 2048 for ResNet-50).
        dim_z: the output size (128 in the paper; ignored for ``none``).
        kind: nonlinear, linear or none.
    """

    def __init__(self, dim_h: int, dim_z: int = 128, kind: Head = "nonlinear"):
        super().__init__()
        if kind not in ("nonlinear", "linear", "none"):
            raise ValueError(f"projection head must be nonlinear, linear or none, got {kind!r}")
        self.kind = kind
        self.dim_out = dim_h if kind == "none" else dim_z
        if kind == "nonlinear":
            # DEVIATION(D1): BN after the hidden layer only (the Linear-BN-ReLU-Linear);
            # the released code also puts BN (without bias) after the output layer
            self.layers = nn.Sequential(nn.Linear(dim_h, dim_h, bias=False),
                                        nn.BatchNorm1d(dim_h), nn.ReLU(inplace=True),
                                        nn.Linear(dim_h, dim_z))
        elif kind == "linear":
            self.layers = nn.Sequential(nn.Linear(dim_h, dim_z))
        else:
            self.layers = nn.Sequential()

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, dim_h) -> (B, dim_z)
        return self.layers(h)


class SimCLR(nn.Module):
    """The encoder f and the projection head g: ``forward(x) -> (h, z)``.

    Args:
        encoder: a :class:`~milestones.resnet.model.ResNet` (its classifier ``fc`` becomes the
            identity, so ``encoder(x)`` is h and the parameter names stay torchvision's: an
            ImageNet ResNet-50's weights load into ``encoder`` with ``strict=False``).
        dim_z: the projection's output size (128).
        head: nonlinear, linear or none (§4.2).
    """

    def __init__(self, encoder: ResNet, dim_z: int = 128, head: Head = "nonlinear"):
        super().__init__()
        self.dim_h = encoder.fc.in_features
        encoder.fc = nn.Identity()
        self.encoder = encoder
        self.head = ProjectionHead(self.dim_h, dim_z, head)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)  # (B, dim_h): the representation, what downstream tasks use
        return h, self.head(h)  # (B, dim_h), (B, dim_z)


# ---- NT-Xent (Eq. 1) ----------------------------------------------------------------------------

def nt_xent(z: torch.Tensor, temperature: float, normalize: bool = True) -> torch.Tensor:
    r"""The normalized temperature-scaled cross-entropy loss of Eq. 1, averaged over all 2N
    anchors.

    Args:
        z: (2N, d) projections, the two views of image k at rows k and N + k (the first view of
            every image, then the second view of every image). N is ``len(z) // 2``: any batch,
            a partial last one included.
        temperature: tau > 0.
        normalize: l2-normalise z first (cosine similarity); False uses raw dot products
            (§5.1 / Table 5's "without l2 norm").
    """
    n2 = z.shape[0]
    if n2 < 2 or n2 % 2:
        raise ValueError(f"nt_xent needs 2N rows (two views of N >= 1 images), got {n2}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = n2 // 2
    if normalize:
        z = F.normalize(z, dim=1)  # sim(u, v) = u^T v / (||u|| ||v||)
    logits = z @ z.T / temperature  # (2N, 2N): sim(z_i, z_k) / tau
    # the sum over k != i: the anchor's similarity with itself is left out of the denominator
    self_mask = torch.eye(n2, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    # l(i, j) = -log softmax_k(logits_i)[j], with j = i + N (first views), i - N (second views)
    positive = torch.arange(n2, device=z.device).roll(n)  # (2N,): [N, ..., 2N-1, 0, ..., N-1]
    return F.cross_entropy(logits, positive)


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward returns this rank's slice of the summed gradients: every rank
    computes the loss on the global batch, so each copy of z_r gets a gradient from every rank's
    loss; summing them here and DDP's averaging afterwards give exactly the gradient of one
    process holding the whole batch. (all_reduce, not reduce_scatter: gloo has no
    reduce_scatter.)"""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # (n, d) -> (world * n, d)
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.n:(ctx.rank + 1) * ctx.n]


def gather_views(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """The global (2N, d) batch of Eq. 1 from this rank's first and second views (n, d) each:
    [all ranks' first views, all ranks' second views], so every anchor sees the 2(N - 1)
    negatives of all ranks ("global" negatives, App. B.1). Without DDP: cat(z1, z2)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return torch.cat([z1, z2])
    return torch.cat([_GatherWithGrad.apply(z1), _GatherWithGrad.apply(z2)])


# ---- builders -----------------------------------------------------------------------------------

def simclr_resnet50(head: Head = "nonlinear", stem: Literal["cifar", "imagenet"] = "imagenet",
                    width: int = 64, dim_z: int = 128, in_channels: int = 3) -> SimCLR:
    """§4: ResNet-50 (23.5M parameters without its classifier), MLP head 2048-2048-128.
    ``stem="cifar"``: App. B.9's CIFAR-10 encoder. ``width`` 128, 256: the 2x and 4x nets."""
    return SimCLR(resnet50(stem=stem, width=width, in_channels=in_channels), dim_z, head)


def simclr_resnet18(head: Head = "nonlinear", stem: Literal["cifar", "imagenet"] = "cifar",
                    width: int = 64, dim_z: int = 128, in_channels: int = 3) -> SimCLR:
    """ResNet-18 (the released code's CIFAR-10 recipe), at ``width`` filters in its first stage
    (64 in full; narrower for a CPU)."""
    return SimCLR(resnet18(stem=stem, width=width, in_channels=in_channels), dim_z, head)


def simclr_resnet34(head: Head = "nonlinear", stem: Literal["cifar", "imagenet"] = "cifar",
                    width: int = 64, dim_z: int = 128, in_channels: int = 3) -> SimCLR:
    return SimCLR(resnet34(stem=stem, width=width, in_channels=in_channels), dim_z, head)


def simclr_tiny(head: Head = "nonlinear", dim_z: int = 8, in_channels: int = 3) -> SimCLR:
    """ResNet-8 at a quarter width (16-dimensional h): for tests."""
    return SimCLR(resnet_tiny(in_channels=in_channels), dim_z, head)
