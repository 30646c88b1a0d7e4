"""Data for SimCLR: CIFAR-10 (App. B.9), CIFAR-100, image folders (STL-10, ImageNet-sized
subsets, anything with train/<class>/ and test/<class>/ images of one size), MNIST,
Fashion-MNIST and the built-in ``shapes``, held in memory as uint8 (N, C, H, W) tensors.

Pre-training uses the training images without their labels; the labels serve the evaluations
(linear evaluation, the k-NN monitor, fine-tuning on 1% / 10% of them). A validation split is
held out of the training images for the k-NN monitor and the linear classifier's weight decay.
"""

from __future__ import annotations

from pathlib import Path

import torch

from milestones.core.data import DataUnavailable, data_root
from milestones.core.datasets import Split, load_image_folder, split_train_val
from milestones.core.images import InMemoryData, load_in_memory

DATASETS = ("cifar10", "cifar100", "fashion-mnist", "mnist", "shapes", "folder")
OFFLINE = "--dataset shapes (built in, procedurally generated)"


def load_data(dataset: str, *, data_dir: str | None = None, root: str | None = None,
              download: bool = False, val_size: int = 5000, train_size: int | None = None,
              test_size: int | None = None) -> InMemoryData:
    """``dataset`` in memory with ``val_size`` training images held out; ``train_size`` and
    ``test_size`` keep that many images, picked at random with a fixed seed."""
    if dataset in ("cifar10", "fashion-mnist", "mnist", "shapes"):
        return load_in_memory(dataset, data_dir=data_dir, root=root, download=download,
                              val_size=val_size, train_size=train_size, test_size=test_size)
    if dataset == "cifar100":
        train, test, classes, source = load_cifar100(
            Path(data_dir) if data_dir else data_root(root) / "cifar100", download)
    elif dataset == "folder":
        if data_dir is None:
            raise DataUnavailable("folder", [], how="pass --data-dir <folder> holding "
                                  "train/<class>/* and test/<class>/* images", offline=OFFLINE)
        train, test, classes, source = load_folder(Path(data_dir))
    else:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    train, val = split_train_val(train.subset(train_size), val_size)
    return InMemoryData(train, val, test.subset(test_size), classes, source)


def load_cifar100(root: Path, download: bool) -> tuple[Split, Split, tuple[str, ...], str]:
    """CIFAR-100 (50k / 10k, 100 fine labels) from torchvision's files in ``root``, or from an
    image folder there (train/<class>/*, test/<class>/*)."""
    how = (f"add --download to fetch it with torchvision into {root} (161 MB), or put "
           "torchvision's cifar-100-python/ folder (or train/<class>/, test/<class>/ images) "
           "there")
    if not (root / "cifar-100-python").is_dir() and (root / "train").is_dir() and not download:
        return load_folder(root)
    if not ((root / "cifar-100-python").is_dir() or download):
        raise DataUnavailable("cifar100", [root / "cifar-100-python", root / "train"], how,
                              OFFLINE)
    from torchvision.datasets import CIFAR100

    try:
        sets = [CIFAR100(str(root), train=t, download=download) for t in (True, False)]
    except Exception as e:  # URLError offline, or a damaged archive
        raise DataUnavailable("cifar100", [root], how, OFFLINE, f"{type(e).__name__}: {e}") \
            from None
    train, test = (Split(torch.from_numpy(s.data).permute(0, 3, 1, 2).contiguous(),
                         torch.tensor(s.targets)) for s in sets)
    return train, test, tuple(sets[0].classes), f"torchvision CIFAR100 at {root}"


def load_folder(folder: Path) -> tuple[Split, Split, tuple[str, ...], str]:
    """train/<class>/* and test/<class>/* images of one size (e.g. STL-10 at 96x96)."""
    how = ("arrange the images as train/<class>/* and test/<class>/* (the same class names), "
           "all of one size")
    tried = [folder / "train", folder / "test"]
    if not all(p.is_dir() for p in tried):
        raise DataUnavailable("folder", tried, how, OFFLINE)
    classes = tuple(sorted(p.name for p in (folder / "train").iterdir()
                           if p.is_dir() and not p.name.startswith(".")))
    if not classes:
        raise DataUnavailable("folder", [folder / "train"], how, OFFLINE,
                              "no class folders in train/")
    train = load_image_folder(folder / "train", classes, dataset="folder", offline=OFFLINE)
    size = tuple(train.x.shape[2:])
    test = load_image_folder(folder / "test", classes, dataset="folder", size=size,
                             offline=OFFLINE)
    return train, test, classes, f"image folder {folder}"


def labelled_fraction(split: Split, fraction: float, seed: int = 0) -> Split:
    """A class-balanced subset holding ``fraction`` of ``split``'s examples (the 1% and 10%
    label subsets of §6 / Table 7): the same share of every class, at least one per class."""
    g = torch.Generator().manual_seed(seed)
    keep = []
    for c in split.y.unique():
        idx = (split.y == c).nonzero().flatten()
        n = max(1, round(fraction * len(idx)))
        keep.append(idx[torch.randperm(len(idx), generator=g)[:n]])
    idx = torch.cat(keep).sort().values
    return Split(split.x[idx], split.y[idx])
