"""Data for ResNet: CIFAR-10 (§4.2), ImageNet (§3.4), Fashion-MNIST, and built-in ``shapes``.

Small datasets (CIFAR-10, Fashion-MNIST, shapes) are held in memory as uint8 tensors, on the
training device, and augmented a whole batch at a time (:class:`Batches`). The paper's CIFAR
augmentation (§4.2): "4 pixels are padded on each side, and a 32x32 crop is randomly sampled from
the padded image or its horizontal flip", with "the per-pixel mean subtracted". Batch ``i`` of
epoch ``e`` is a pure function of (seed, e, i), which makes resuming exact and costs no workers.

ImageNet goes through ``torchvision.datasets.ImageFolder`` and a DataLoader with workers
(:func:`imagenet_datasets`), with the paper's scale and colour augmentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from milestones.core.data import DataUnavailable, IndexBatches, data_root
from milestones.core.datasets import (
    CIFAR10_CLASSES,
    FASHION_CLASSES,
    Split,
    load_cifar10,
    load_fashion_mnist,
    split_train_val,
)

SHAPES = ("disk", "ring", "square", "triangle", "plus")
SHAPES_CLASSES = tuple(f"{s}-{t}" for s in SHAPES for t in ("solid", "striped"))
OFFLINE = "--dataset shapes (built in, procedurally generated)"


@dataclass
class InMemoryData:
    train: Split
    val: Split | None
    test: Split
    classes: tuple[str, ...]
    source: str  # where the data came from, for the run's records

    @property
    def in_channels(self) -> int:
        return self.train.x.shape[1]


# ---- shapes: the built-in offline dataset -------------------------------------------------------

def make_shapes(n: int, seed: int, size: int = 32, chunk: int = 4096) -> Split:
    """A procedural 10-class image dataset: 5 shapes x {solid, striped}, 32x32 RGB, uint8.

    Each image holds a large shape (disk, ring, square, triangle or plus) at a random position,
    scale, rotation and colour, filled solid or with stripes of random period and angle. Behind
    it lies a smaller decoy shape of any class, on a random colour gradient, with two small blobs
    and pixel noise. The label is the large shape's kind x texture: it takes shape, texture and
    relative size, not colour or position. Deterministic in (n, seed): the same call gives the
    same tensor on every machine.
    """
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, len(SHAPES_CLASSES), (n,), generator=g)
    xs = [_draw_shapes(y[i:i + chunk], g, size) for i in range(0, n, chunk)]
    return Split(torch.cat(xs), y)


def _draw_shapes(y: torch.Tensor, g: torch.Generator, size: int) -> torch.Tensor:
    n = len(y)

    def rand(*shape, lo=0.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, generator=g)

    grid = torch.arange(size, dtype=torch.float32) + 0.5
    py, px = grid.view(1, size, 1), grid.view(1, 1, size)  # pixel centres, (1, H, 1), (1, 1, W)

    def paint(img: torch.Tensor, label: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """Draw shape ``label // 2`` of radius ``r`` (n, 1, 1), striped if ``label % 2``."""
        cx, cy = rand(n, 1, 1, lo=0.25 * size, hi=0.75 * size), rand(n, 1, 1, lo=0.25 * size,
                                                                     hi=0.75 * size)
        th = rand(n, 1, 1, hi=2 * math.pi)  # the shape's frame: (u, v) in units of r
        u = ((px - cx) * torch.cos(th) + (py - cy) * torch.sin(th)) / r  # (n, H, W)
        v = (-(px - cx) * torch.sin(th) + (py - cy) * torch.cos(th)) / r
        rho2 = u**2 + v**2
        tri = torch.stack([u * math.cos(b) + v * math.sin(b)
                           for b in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]).amax(0)
        masks = torch.stack([
            rho2 <= 1,                                                          # disk
            (rho2 <= 1) & (rho2 >= 0.55**2),                                    # ring
            torch.maximum(u.abs(), v.abs()) <= 0.8,                             # square
            tri <= 0.5,                                                         # triangle
            ((u.abs() <= 0.3) & (v.abs() <= 1)) | ((v.abs() <= 0.3) & (u.abs() <= 1)),  # plus
        ], 1)  # (n, 5, H, W)
        mask = masks[torch.arange(n), label // 2].unsqueeze(1)  # (n, 1, H, W)
        # texture: stripes of period 3-5 px at a random angle, the colour and its dark shade
        period, phi = rand(n, 1, 1, lo=3.0, hi=5.0), rand(n, 1, 1, hi=math.pi)
        wave = torch.sin(2 * math.pi * (px * torch.cos(phi) + py * torch.sin(phi)) / period) > 0
        fg = rand(n, 3, 1, 1, lo=0.15, hi=1.0)
        fg = torch.where((label % 2).bool().view(n, 1, 1, 1) & wave.unsqueeze(1), fg * 0.25, fg)
        return torch.where(mask, fg.expand(-1, -1, size, size), img)

    # background: a gradient between two random colours, at a random angle
    c0, c1 = rand(n, 3, 1, 1), rand(n, 3, 1, 1)
    a = rand(n, 1, 1, hi=2 * math.pi)
    t = ((px * torch.cos(a) + py * torch.sin(a)) / size * 0.7 + 0.5).clamp(0, 1).unsqueeze(1)
    img = c0 + (c1 - c0) * t  # (n, 3, H, W)
    r = rand(n, 1, 1, lo=0.2 * size, hi=0.38 * size)
    decoy = torch.randint(0, len(SHAPES_CLASSES), (n,), generator=g)
    img = paint(img, decoy, r * rand(n, 1, 1, lo=0.4, hi=0.6))  # the decoy, behind
    img = paint(img, y, r)  # the labelled shape
    for _ in range(2):  # two small blobs
        bx, by, br = rand(n, 1, 1, hi=size), rand(n, 1, 1, hi=size), rand(n, 1, 1, lo=1.0, hi=2.5)
        blob = ((px - bx) ** 2 + (py - by) ** 2 <= br**2).unsqueeze(1)
        img = torch.where(blob, rand(n, 3, 1, 1), img)
    img = img + 0.06 * torch.randn(img.shape, generator=g)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)


def load_shapes(train_size: int = 50_000,
                test_size: int = 10_000) -> tuple[Split, Split, str]:
    return (make_shapes(train_size, seed=1), make_shapes(test_size, seed=2),
            f"built-in shapes (procedural, train {train_size} seed 1, test {test_size} seed 2)")


# ---- one entry point for the in-memory datasets -------------------------------------------------

def load_in_memory(dataset: str, *, data_dir: str | None = None, root: str | None = None,
                   download: bool = False, val_size: int = 5000, train_size: int | None = None,
                   test_size: int | None = None) -> InMemoryData:
    """Load ``dataset`` (cifar10, fashion-mnist, shapes) and hold out ``val_size`` training images.

    ``data_dir`` is the dataset's own folder, ``root`` the data root (see core.data.data_root).
    ``train_size`` and ``test_size`` cap the training set (before the split) and the test set.
    """
    base, folder = data_root(root), Path(data_dir) if data_dir else None
    if dataset == "cifar10":
        (train, test, source), classes = (load_cifar10(folder or base / "cifar10", download,
                                                       OFFLINE), CIFAR10_CLASSES)
    elif dataset == "fashion-mnist":
        (train, test, source), classes = (load_fashion_mnist(folder, base, download, OFFLINE),
                                          FASHION_CLASSES)
    elif dataset == "shapes":
        (train, test, source), classes = (load_shapes(train_size or 50_000, test_size or 10_000),
                                          SHAPES_CLASSES)
    else:
        raise ValueError(f"unknown in-memory dataset {dataset!r}")
    train, val = split_train_val(train.subset(train_size), val_size)
    test = test.subset(test_size)
    return InMemoryData(train, val, test, classes, source)


# ---- batches with the paper's augmentation, on the device ---------------------------------------

class Batches:
    """Mini-batches of an in-memory :class:`Split`, augmented and normalised on ``device``.

    Per epoch: a random order and, when ``augment``, per-image crop offsets and flips, all drawn
    from a generator seeded by (seed, epoch), so a run resumed at any step sees the same batches.
    Under DDP each rank takes its slice of every global batch (``batch_size`` is global).
    Normalisation: the per-pixel mean of the training images is subtracted (§4.2), after /255.
    """

    def __init__(self, data: Split, batch_size: int, *, mean: torch.Tensor, device: torch.device,
                 shuffle: bool, augment: bool, pad: int = 4, seed: int = 0, drop_last: bool = True,
                 rank: int = 0, world_size: int = 1):
        self.index = IndexBatches(len(data), batch_size, shuffle=shuffle, seed=seed,
                                  drop_last=drop_last, rank=rank, world_size=world_size)
        self.x, self.y = data.x.to(device), data.y.to(device)
        self.mean = mean.to(device)
        self.augment, self.pad = augment, pad

    def __len__(self) -> int:
        return len(self.index)

    def epoch(self, epoch: int, start: int = 0):
        """Yield (x float (b, C, H, W), y (b,)) for batches start.. of ``epoch``, on the device."""
        order, g = self.index.order(epoch)
        if self.augment:  # drawn for the whole epoch, after its order, from the same generator
            offsets = torch.randint(0, 2 * self.pad + 1, (len(order), 2), generator=g)
            flips = torch.rand(len(order), generator=g) < 0.5
        for idx in self.index.slices(order, start):
            idx_dev = idx.to(self.x.device)
            x = self.x[idx_dev]  # (b, C, H, W) uint8
            if self.augment:
                x = pad_crop_flip(x, offsets[idx].to(x.device), flips[idx].to(x.device), self.pad)
            yield x.float().div_(255).sub_(self.mean), self.y[idx_dev]


def pad_crop_flip(x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor,
                  pad: int) -> torch.Tensor:
    """Zero-pad by ``pad``, crop back to (H, W) at per-image ``offsets`` (b, 2) = (dy, dx), then
    mirror the images where ``flips`` (b,) is True. Works on any dtype, a whole batch at once."""
    b, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))  # (b, C, H+2p, W+2p)
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)  # (b, H)
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)  # (b, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)  # mirrored crop = flipped image
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = xp[batch, :, rows[:, :, None], cols[:, None, :]]  # (b, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def pixel_mean(images: Split) -> torch.Tensor:
    """The per-pixel mean (C, H, W) of a training set, in [0, 1]."""
    total = torch.zeros(images.x.shape[1:], dtype=torch.float64)
    for i in range(0, len(images), 8192):
        total += images.x[i:i + 8192].double().sum(0)
    return (total / len(images) / 255).float()


# ---- ImageNet (§3.4) ----------------------------------------------------------------------------

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# The PCA of ImageNet's RGB pixels used by AlexNet's colour augmentation ([21] in the paper),
# as published with fb.resnet.torch.
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))


class Lighting:
    """AlexNet's PCA colour augmentation: add sum_i alpha_i lambda_i p_i, alpha_i ~ N(0, 0.1)."""

    def __init__(self, std: float = 0.1):
        self.std, self.eigval, self.eigvec = std, torch.tensor(PCA_EIGVAL), torch.tensor(PCA_EIGVEC)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:  # (3, H, W) float in [0, 1]
        alpha = torch.randn(3) * self.std
        return img + (self.eigvec @ (alpha * self.eigval)).view(3, 1, 1)


def imagenet_transforms(train: bool, ten_crop: bool = False):
    from torchvision.transforms import v2 as T

    norm = [T.ToImage(), T.ToDtype(torch.float32, scale=True)]
    # DEVIATION(D7): per-channel mean/std normalisation (torchvision's), not a per-pixel mean
    if train:  # §3.4: shorter side in [256, 480], 224 crop, flip, colour augmentation
        return T.Compose([T.RandomResize(256, 481), T.RandomCrop(224), T.RandomHorizontalFlip(),
                          *norm, Lighting(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    one = T.Compose([*norm, T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    # DEVIATION(D9): one centre crop unless ten_crop; no fully-convolutional multi-scale test
    if ten_crop:  # §3.4: "standard 10-crop testing"
        return T.Compose([T.Resize(256), T.TenCrop(224), StackCrops(one)])
    return T.Compose([T.Resize(256), T.CenterCrop(224), one])


class StackCrops:
    """The ten crops, each normalised, as one (10, 3, H, W) tensor (picklable for workers)."""

    def __init__(self, each):
        self.each = each

    def __call__(self, crops) -> torch.Tensor:
        return torch.stack([self.each(c) for c in crops])


def imagenet_datasets(root: Path | str | None = None, ten_crop: bool = False):
    """ImageFolder train/ and val/ under ``root`` (default <data root>/imagenet)."""
    from torchvision.datasets import ImageFolder

    root = Path(root) if root else data_root() / "imagenet"
    if not ((root / "train").is_dir() and (root / "val").is_dir()):
        raise DataUnavailable(
            "imagenet", [root / "train", root / "val"],
            how="download ILSVRC-2012 from image-net.org (registration needed) and arrange "
                "train/<wnid>/*.JPEG and val/<wnid>/*.JPEG (e.g. with the valprep.sh script), "
                "then pass --data-dir",
            offline="--dataset shapes or --dataset cifar10 with a local copy")
    return (ImageFolder(str(root / "train"), imagenet_transforms(True)),
            ImageFolder(str(root / "val"), imagenet_transforms(False, ten_crop)))
