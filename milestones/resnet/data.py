"""Data for ResNet: CIFAR-10 (§4.2), ImageNet (§3.4), Fashion-MNIST, and the built-in ``shapes``,
through the shared image toolbox :mod:`milestones.core.images`.

The paper's CIFAR augmentation (§4.2): "4 pixels are padded on each side, and a 32x32 crop is
randomly sampled from the padded image or its horizontal flip", with "the per-pixel mean
subtracted" (:class:`~milestones.core.images.Batches`). ImageNet (§3.4) goes through
``ImageFolder`` with the transforms below: scale augmentation, 224 crops, flips, colour
augmentation; one centre crop or the standard 10 crops at test time.
"""

from __future__ import annotations

from pathlib import Path

import torch

from milestones.core import images
from milestones.core.datasets import Split
from milestones.core.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Batches,
    InMemoryData,
    Lighting,
    StackCrops,
    load_in_memory,
    pad_crop_flip,
    pixel_mean,
)

__all__ = ["Batches", "InMemoryData", "Split", "imagenet_datasets", "imagenet_transforms",
           "load_in_memory", "pad_crop_flip", "pixel_mean"]


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


def imagenet_datasets(root: Path | str | None = None, ten_crop: bool = False):
    """ImageFolder train/ and val/ under ``root`` (default <data root>/imagenet), with §3.4's
    transforms."""
    return images.imagenet_datasets(root, imagenet_transforms(True),
                                    imagenet_transforms(False, ten_crop))
