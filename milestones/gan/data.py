"""Data for the GAN milestone: real images (MNIST, Fashion-MNIST, CIFAR-10, any image folder such
as CelebA or LSUN), the built-in ``shapes`` images, and two built-in 2-D mixtures of Gaussians
(``ring``: 8 modes on a circle; ``grid``: 25 modes on a 5x5 grid), the standard toy problems for
mode coverage (Metz et al. 2017, Srivastava et al. 2017).

Images are held in memory as uint8 (N, C, H, W) with their labels (the labels are used only by
the evaluation: FID's classifier and DCGAN §5.1's linear probe). The GAN sees them in its
generator's range: [0, 1] for the sigmoid MLP of GAN §5, [-1, 1] for DCGAN's tanh (§3).

MNIST follows the released GAN configuration: train on training images 0-50k, validate (choose
the Parzen window's sigma) on 50k-60k, report on the 10k test images.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch

from milestones.core.data import DataUnavailable
from milestones.core.datasets import Split, load_image_folder, split_train_val
from milestones.core.images import load_in_memory

IMAGES = ("mnist", "fashion-mnist", "cifar10", "shapes", "folder")
MIXTURES = ("ring", "grid")
OFFLINE = "--dataset shapes (built-in images) or --dataset ring / grid (built-in 2-D mixtures)"
IMAGE_FILES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


@dataclasses.dataclass
class GanData:
    """A dataset for the GAN: train / val / test splits (x: uint8 images or float points)."""

    train: Split
    val: Split
    test: Split
    source: str  # where it came from, for the run's records
    classes: tuple[str, ...] = ()
    centers: torch.Tensor | None = None  # mixtures: the modes (K, 2)
    std: float = 0.0  # mixtures: each mode's standard deviation

    @property
    def points(self) -> bool:
        return self.centers is not None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def meta(self) -> dict:
        return {"source": self.source, "shape": list(self.shape), "train": len(self.train),
                "val": len(self.val), "test": len(self.test), "classes": len(self.classes)}


# ---- built-in 2-D mixtures of Gaussians ----------------------------------------------------------

def mixture_centers(name: str) -> tuple[torch.Tensor, float]:
    """(centers (K, 2), std): ``ring`` = 8 modes on a circle of radius 2, std 0.02 (Metz et al.
    2017); ``grid`` = 25 modes at {-4, -2, 0, 2, 4}^2, std 0.05 (Srivastava et al. 2017)."""
    if name == "ring":
        angle = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([2 * angle.cos(), 2 * angle.sin()], 1).float(), 0.02
    if name == "grid":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(axis, axis), 0.05
    raise ValueError(f"unknown mixture {name!r}; choose from {', '.join(MIXTURES)}")


def sample_mixture(name: str, n: int, seed: int) -> Split:
    """n points of the mixture ``name``, equal weights; y is each point's mode. Deterministic."""
    centers, std = mixture_centers(name)
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, len(centers), (n,), generator=g)
    x = centers[y] + std * torch.randn(n, 2, generator=g)  # (n, 2)
    return Split(x, y)


def load_mixture(name: str, train_size: int = 100_000, val_size: int = 10_000,
                 test_size: int = 10_000) -> GanData:
    """The built-in mixture as fixed train / val / test sets (seeds 1, 2, 3)."""
    centers, std = mixture_centers(name)
    return GanData(sample_mixture(name, train_size, 1), sample_mixture(name, val_size, 2),
                   sample_mixture(name, test_size, 3),
                   f"built-in {name} mixture ({len(centers)} modes, std {std}; train "
                   f"{train_size} seed 1, val {val_size} seed 2, test {test_size} seed 3)",
                   tuple(f"mode {i}" for i in range(len(centers))), centers, std)


# ---- images -------------------------------------------------------------------------------------

def load_images(dataset: str, *, data_dir: str | None = None, root: str | None = None,
                download: bool = False, val_size: int = 10_000, train_size: int | None = None,
                test_size: int | None = None, image_size: int = 64) -> GanData:
    """``dataset`` in memory as uint8 images. ``folder``: every image under ``data_dir`` (in
    class sub-folders, as ImageFolder, or directly in it), centre-cropped and resized to
    ``image_size``; its test split is ``test_size`` (default 10%) held-out images."""
    if dataset == "folder":
        return _load_folder(data_dir, val_size, train_size, test_size, image_size)
    paper_split = dataset == "mnist" and val_size == 10_000 and train_size is None
    data = load_in_memory(dataset, data_dir=data_dir, root=root, download=download,
                          val_size=0 if paper_split else val_size, train_size=train_size,
                          test_size=test_size)
    train, val = data.train, data.val
    if paper_split:  # mnist.yaml: train on 0-50k, validate on 50k-60k
        train, val = Split(data.train.x[:50_000], data.train.y[:50_000]), \
            Split(data.train.x[50_000:], data.train.y[50_000:])
    if val is None:
        raise DataUnavailable(dataset, [data.source], how="use --val-size > 0",
                              offline=OFFLINE, why="no validation images")
    return GanData(train, val, data.test, data.source, data.classes)


def _load_folder(data_dir: str | None, val_size: int, train_size: int | None,
                 test_size: int | None, image_size: int) -> GanData:
    how = ("give --data-dir a folder of images (e.g. CelebA's img_align_celeba, or LSUN "
           "exported to JPEG), all of one size")
    if data_dir is None:
        raise DataUnavailable("image folder", [], how, OFFLINE, why="no --data-dir given")
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataUnavailable("image folder", [folder], how, OFFLINE, why="not a folder")
    subdirs = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    direct = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_FILES]
    classes = tuple(subdirs) if subdirs and not direct else ("",)
    if classes == ("",) and not direct:
        raise DataUnavailable("image folder", [folder], how, OFFLINE,
                              why="no images in it (.jpg, .png, ...) nor in sub-folders")
    split = load_image_folder(folder, classes, dataset="image folder", offline=OFFLINE,
                              square=image_size).subset(train_size)
    n_test = test_size if test_size is not None else max(1, len(split) // 10)
    if len(split) <= n_test + val_size:
        raise DataUnavailable("image folder", [folder], how, OFFLINE,
                              why=f"{len(split)} images: fewer than --test-size ({n_test}) + "
                                  f"--val-size ({val_size}) + 1")
    rest, test = split_train_val(split, n_test, seed=1)
    train, val = split_train_val(rest, val_size, seed=2)
    return GanData(train, val, test, f"image folder {folder} ({len(split)} images, resized to "
                   f"{image_size}x{image_size})", tuple(c or folder.name for c in classes))


def load_data(dataset: str, *, data_dir: str | None = None, root: str | None = None,
              download: bool = False, val_size: int = 10_000, train_size: int | None = None,
              test_size: int | None = None, image_size: int = 64) -> GanData:
    """Any dataset of this milestone by name (see :data:`IMAGES`, :data:`MIXTURES`)."""
    if dataset in MIXTURES:
        return load_mixture(dataset, train_size or 100_000, val_size, test_size or 10_000)
    return load_images(dataset, data_dir=data_dir, root=root,
                       download=download, val_size=val_size, train_size=train_size,
                       test_size=test_size, image_size=image_size)


# ---- ranges -------------------------------------------------------------------------------------

def to_model(x: torch.Tensor, output: str) -> torch.Tensor:
    """Data as G produces it: uint8 images to [0, 1] (sigmoid G) or [-1, 1] (tanh G); points
    unchanged."""
    if x.dtype != torch.uint8:
        return x.float()
    x = x.float() / 255
    return x * 2 - 1 if output == "tanh" else x


def to_unit(x: torch.Tensor, output: str) -> torch.Tensor:
    """G's images in [0, 1] (the Parzen estimate of Table 1 is on pixels in [0, 1])."""
    return (x + 1) / 2 if output == "tanh" else x
