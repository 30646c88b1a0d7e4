"""Data for AlexNet: ImageNet the paper's way (§2, §4.1), and the in-memory image sets (CIFAR-10,
MNIST, Fashion-MNIST, the built-in shapes), through the shared :mod:`milestones.core.images`.

ImageNet: the shorter side rescaled to 256 and the central 256x256 patch (§2); random 224x224
patches and their reflections, and the PCA colour noise of §4.1 computed from the training images;
at test time the centre patch, or the ten patches of §4.1. In-memory sets: the per-pixel mean
subtracted, padded crops and flips, the same colour noise drawn on the device per batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from milestones.core import runtime
from milestones.core.data import data_root
from milestones.core.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Lighting,
    StackCrops,
    TrainData,
    imagenet_data,
    in_memory_data,
    load_in_memory,
    rgb_pca,
)

if TYPE_CHECKING:
    from milestones.alexnet.train import Config


def pixel_unit(dataset: str) -> float:
    """One unit of the net's inputs in the paper's units (0-255 pixels): in-memory images are
    divided by 255; ImageNet's are standardised per channel (std ~0.226 of [0, 1] pixels)."""
    return 255 * sum(IMAGENET_STD) / 3 if dataset == "imagenet" else 255.0


def imagenet_transforms(train: bool, ten_crop: bool = False, lighting: Lighting | None = None):
    """§4.1: the shorter side rescaled to 256 and the central 256x256 patch cropped (§2); random
    224x224 patches and their reflections, PCA colour noise; the ten patches at test time."""
    from torchvision.transforms import v2 as T

    # DEVIATION(D3): per-channel mean/std normalisation, not "subtracting the mean activity over
    # the training set from each pixel" (§2)
    norm = [T.ToImage(), T.ToDtype(torch.float32, scale=True)]
    std = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    square = [T.Resize(256), T.CenterCrop(256)]  # §2: rescale, then the central 256x256 patch
    if train:
        return T.Compose([*square, T.RandomCrop(224), T.RandomHorizontalFlip(), *norm,
                          *([lighting] if lighting else []), std])
    one = T.Compose([*norm, std])
    if ten_crop:  # §4.1: "five 224x224 patches (the four corner patches and the center patch)
        return T.Compose([*square, T.TenCrop(224), StackCrops(one)])  # as well as reflections"
    return T.Compose([*square, T.CenterCrop(224), one])


def imagenet_pca(folder: Path, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """§4.1's PCA "on the set of RGB pixel values throughout the ImageNet training set", from the
    pixels of ``n`` training images picked at random (their central 256x256 patches, 1/16 of the
    pixels each)."""
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2 as T

    tf = T.Compose([T.Resize(256), T.CenterCrop(256), T.ToImage(),
                    T.ToDtype(torch.float32, scale=True)])
    images = ImageFolder(str(folder / "train"), tf)
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]
    pixels = [images[int(i)][0][:, ::4, ::4].reshape(3, -1).T for i in pick]  # (4096, 3) each
    return rgb_pca(torch.cat(pixels))


def lighting_noise(x: torch.Tensor, eigval: torch.Tensor, eigvec: torch.Tensor, std: float,
                   g: torch.Generator) -> torch.Tensor:
    """§4.1 on a batch (b, 3, H, W): add [p_1 p_2 p_3][alpha_1 lambda_1, ..., alpha_3 lambda_3]^T
    to every pixel of each image, alpha_i ~ N(0, std) drawn once per image."""
    alpha = torch.randn(len(x), 3, generator=g, device=g.device) * std  # (b, 3)
    shift = (alpha * eigval) @ eigvec.T  # (b, 3): sum_i alpha_i lambda_i p_i
    return x + shift[:, :, None, None]


def load_data(cfg: Config, rt: runtime.Runtime) -> tuple[TrainData, tuple | None]:
    """The dataset of ``cfg`` as :class:`~milestones.core.images.TrainData`, and the PCA of its
    RGB pixels (eigenvalues, eigenvectors) for the in-memory colour augmentation (None: none, or
    done by ImageNet's transforms). Raises DataUnavailable before anything is written."""
    if cfg.dataset == "imagenet":
        folder = Path(cfg.data_dir or data_root(cfg.data_root) / "imagenet")
        light = None
        if cfg.lighting:
            from milestones.core.images import imagenet_datasets

            imagenet_datasets(folder, None, None)  # missing data fails before the PCA's work
            light = Lighting(cfg.lighting, *imagenet_pca(folder, cfg.pca_images, cfg.seed))
        data = imagenet_data(folder, (imagenet_transforms(True, lighting=light),
                                      imagenet_transforms(False, cfg.ten_crop)),
                             batch_size=cfg.batch_size, seed=cfg.seed, workers=cfg.workers, rt=rt)
        data.meta["image_size"] = 224
        return data, None
    images = load_in_memory(cfg.dataset, data_dir=cfg.data_dir, root=cfg.data_root,
                            download=cfg.download, val_size=cfg.val_size,
                            train_size=cfg.train_size, test_size=cfg.test_size)
    data = in_memory_data(images, batch_size=cfg.batch_size, seed=cfg.seed, augment=cfg.augment,
                          rt=rt)
    data.meta["image_size"] = images.train.x.shape[-1]
    pca = None
    if cfg.lighting and images.in_channels == 3:  # the PCA of the training set's RGB pixels
        x = images.train.x[:10_000].permute(0, 2, 3, 1).reshape(-1, 3).float() / 255
        pca = tuple(t.to(rt.device) for t in rgb_pca(x))
    return data, pca
