"""Image classification data and evaluation, shared by the image milestones (ResNet, AlexNet, and
next GAN and SimCLR): one entry point for the in-memory datasets, batches augmented on the device,
ImageNet image folders, the PCA colour augmentation, and top-1 evaluation (10-crop included).

Small datasets (CIFAR-10, MNIST, Fashion-MNIST, the built-in shapes) are held in memory as uint8
tensors, on the training device, and augmented a whole batch at a time (:class:`Batches`): zero
padding, a random crop back to size and a horizontal flip. Batch ``i`` of epoch ``e`` is a pure
function of (seed, e, i), which makes resuming exact and costs no workers. Normalisation: the
per-pixel mean of the training images is subtracted, after /255.

ImageNet goes through ``torchvision.datasets.ImageFolder`` and a DataLoader with workers; each
milestone passes its paper's transforms (:func:`imagenet_datasets`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from milestones.core import runtime
from milestones.core.data import DataUnavailable, IndexBatches, data_root, make_loader
from milestones.core.datasets import (
    CIFAR10_CLASSES,
    FASHION_CLASSES,
    MNIST_CLASSES,
    Split,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
    split_train_val,
)
from milestones.core.shapes import SHAPES_CLASSES, load_shapes

OFFLINE = "--dataset shapes (built in, procedurally generated)"
IN_MEMORY = ("cifar10", "fashion-mnist", "mnist", "shapes")


@dataclasses.dataclass
class InMemoryData:
    train: Split
    val: Split | None
    test: Split
    classes: tuple[str, ...]
    source: str  # where the data came from, for the run's records

    @property
    def in_channels(self) -> int:
        return self.train.x.shape[1]


def load_in_memory(dataset: str, *, data_dir: str | None = None, root: str | None = None,
                   download: bool = False, val_size: int = 5000, train_size: int | None = None,
                   test_size: int | None = None) -> InMemoryData:
    """Load ``dataset`` (cifar10, fashion-mnist, mnist, shapes) and hold out ``val_size``
    training images.

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
    elif dataset == "mnist":
        (train, test, source), classes = (load_mnist(folder, base, download, OFFLINE),
                                          MNIST_CLASSES)
    elif dataset == "shapes":
        (train, test, source), classes = (load_shapes(train_size or 50_000, test_size or 10_000),
                                          SHAPES_CLASSES)
    else:
        raise ValueError(f"unknown in-memory dataset {dataset!r}")
    train, val = split_train_val(train.subset(train_size), val_size)
    test = test.subset(test_size)
    return InMemoryData(train, val, test, classes, source)


class Batches:
    """Mini-batches of an in-memory :class:`Split`, augmented and normalised on ``device``.

    Per epoch: a random order and, when ``augment``, per-image crop offsets and flips, all drawn
    from a generator seeded by (seed, epoch), so a run resumed at any step sees the same batches.
    Under DDP each rank takes its slice of every global batch (``batch_size`` is global).
    Normalisation: ``mean`` (the per-pixel mean of the training images) is subtracted, after /255.
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


# ---- ImageNet -----------------------------------------------------------------------------------

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# The PCA of ImageNet's RGB pixels (values in [0, 1]) as published with fb.resnet.torch: what
# AlexNet's colour augmentation uses when the training set's own PCA is not computed.
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))


def rgb_pca(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (3,) and eigenvectors (3, 3), one per column, of the 3x3 covariance of RGB
    pixel values (AlexNet §4.1), largest first. ``pixels``: (N, 3) floats in [0, 1]."""
    x = pixels.double() - pixels.double().mean(0)
    cov = x.T @ x / (len(x) - 1)  # (3, 3)
    eigval, eigvec = torch.linalg.eigh(cov)  # ascending
    return eigval.flip(0).float(), eigvec.flip(1).float()


class Lighting:
    """AlexNet's PCA colour augmentation (§4.1): to every pixel add
    [p_1, p_2, p_3] [alpha_1 lambda_1, alpha_2 lambda_2, alpha_3 lambda_3]^T, alpha_i ~ N(0, std),
    drawn once per image. p_i, lambda_i: eigenvectors and eigenvalues of the RGB covariance."""

    def __init__(self, std: float = 0.1, eigval=PCA_EIGVAL, eigvec=PCA_EIGVEC):
        self.std = std
        self.eigval, self.eigvec = torch.as_tensor(eigval), torch.as_tensor(eigvec)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:  # (3, H, W) float in [0, 1]
        alpha = torch.randn(3) * self.std
        return img + (self.eigvec @ (alpha * self.eigval)).view(3, 1, 1)


class StackCrops:
    """The ten crops, each transformed, as one (10, 3, H, W) tensor (picklable for workers)."""

    def __init__(self, each):
        self.each = each

    def __call__(self, crops) -> torch.Tensor:
        return torch.stack([self.each(c) for c in crops])


def imagenet_datasets(root: Path | str | None, train_transform, val_transform):
    """ImageFolder train/ and val/ under ``root`` (default <data root>/imagenet), with the
    transforms of the milestone's paper."""
    from torchvision.datasets import ImageFolder

    root = Path(root) if root else data_root() / "imagenet"
    if not ((root / "train").is_dir() and (root / "val").is_dir()):
        raise DataUnavailable(
            "imagenet", [root / "train", root / "val"],
            how="download ILSVRC-2012 from image-net.org (registration needed) and arrange "
                "train/<wnid>/*.JPEG and val/<wnid>/*.JPEG (e.g. with the valprep.sh script), "
                "then pass --data-dir",
            offline="--dataset shapes or --dataset cifar10 with a local copy")
    return (ImageFolder(str(root / "train"), train_transform),
            ImageFolder(str(root / "val"), val_transform))


# ---- what a classification loop needs -----------------------------------------------------------

@dataclasses.dataclass
class TrainData:
    """What the loop needs from a dataset: this rank's training batches from any point of any
    epoch, and the evaluation batches."""

    train: Callable[[int, int], Iterable]  # (epoch, first batch) -> (x, y) batches of this rank
    steps_per_epoch: int
    val: Callable[[], Iterable] | None  # -> (x, y) batches; None without a validation split
    test: Callable[[], Iterable] | None
    meta: dict  # source, classes, in_channels, sizes: for the run's header
    pixel_mean: torch.Tensor | None  # (C, H, W), subtracted from the inputs
    train_eval: Callable[[], Iterable] | None = None  # the training images, unaugmented, in order


def imagenet_data(folder: str | Path, transforms: tuple, *, batch_size: int, seed: int,
                  workers: int, rt: runtime.Runtime) -> TrainData:
    """ImageNet's train/ and val/ image folders as :class:`TrainData`; ``transforms`` = (train,
    val) transforms; ``batch_size`` is global."""
    b = batch_size // rt.world_size  # per rank
    train_set, val_set = imagenet_datasets(folder, *transforms)

    def loader(dataset, shuffle: bool, epoch: int = 0, start: int = 0):
        return make_loader(dataset, b, shuffle=shuffle, epoch=epoch, skip_batches=start,
                           drop_last=shuffle, seed=seed, workers=workers, rank=rt.rank,
                           world_size=rt.world_size, pin_memory=rt.device.type == "cuda")

    meta = {"source": str(Path(train_set.root).parent), "classes": len(train_set.classes),
            "in_channels": 3, "train_images": len(train_set), "val_images": len(val_set)}
    return TrainData(train=lambda epoch, start: loader(train_set, True, epoch, start),
                     steps_per_epoch=len(train_set) // rt.world_size // b,  # drop_last
                     val=lambda: loader(val_set, False), test=None, meta=meta, pixel_mean=None)


def in_memory_data(data: InMemoryData, *, batch_size: int, seed: int, augment: bool,
                   rt: runtime.Runtime) -> TrainData:
    """An :class:`InMemoryData` as :class:`TrainData`: training batches shuffled (and, with
    ``augment``, padded, cropped and flipped), the per-pixel mean subtracted everywhere."""
    mean = pixel_mean(data.train)

    def batches(split: Split, train: bool) -> Batches:
        return Batches(split, batch_size, mean=mean, device=rt.device, shuffle=train,
                       augment=train and augment, drop_last=train, seed=seed, rank=rt.rank,
                       world_size=rt.world_size)

    train = batches(data.train, True)
    val = batches(data.val, False) if data.val else None
    test = batches(data.test, False)
    meta = {"source": data.source, "classes": len(data.classes), "in_channels": data.in_channels,
            "train_images": len(data.train), "val_images": len(data.val) if data.val else 0,
            "test_images": len(data.test),
            # the baseline a net must beat: always the training set's most frequent class
            "majority_class_test_error": majority_class_error(data.train, data.test)}
    train_eval = batches(data.train, False)
    return TrainData(train=train.epoch, steps_per_epoch=len(train),
                     val=(lambda: val.epoch(0)) if val else None, test=lambda: test.epoch(0),
                     meta=meta, pixel_mean=mean, train_eval=lambda: train_eval.epoch(0))


def majority_class_error(train: Split, test: Split) -> float:
    """The test error of a guess that ignores the image: the training set's most frequent
    class, every time."""
    majority = torch.bincount(train.y).argmax()
    return (test.y != majority).float().mean().item()


@torch.no_grad()
def evaluate(model: nn.Module, batches, rt: runtime.Runtime) -> dict[str, float]:
    """Mean cross-entropy and top-1 error over every batch (summed across ranks).
    10-crop batches (b, 10, C, H, W) average the softmax over the crops."""
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=rt.device)  # loss, errors, count
    for x, y in batches:
        if len(y) == 0:
            continue
        x, y = x.to(rt.device, non_blocking=True), y.to(rt.device, non_blocking=True)
        with rt.autocast():
            logits = model(x.flatten(0, 1) if x.dim() == 5 else x)
        logp = logits.float().log_softmax(-1)
        if x.dim() == 5:  # (b*10, K) -> (b, K): log of the mean probability
            logp = logp.view(len(y), x.shape[1], -1).exp().mean(1).log()
        totals += torch.stack([F.nll_loss(logp, y, reduction="sum").double(),
                               (logp.argmax(1) != y).sum().double(),
                               torch.tensor(len(y), dtype=torch.float64, device=rt.device)])
    runtime.all_reduce(totals)
    model.train()
    loss, errors, count = totals.tolist()
    return {"loss": loss / max(count, 1), "error": errors / max(count, 1)}


def validate(run, model: nn.Module, data: TrainData, rt: runtime.Runtime) -> dict[str, float]:
    """Evaluate on the validation split (not counted as training time), log it, and keep best.pt
    on the validation error. ``run``: the :class:`~milestones.core.run.Run`."""
    with run.paused():
        metrics = evaluate(model, data.val(), rt)
    run.log("val", **metrics)
    run.keep_best("val_error", metrics["error"])
    return metrics


def final_evaluation(run, model: nn.Module, data: TrainData, rt: runtime.Runtime,
                     train_eval: bool = False) -> dict:
    """The end of a classification run: the validation error (and the best one, with its step),
    with ``train_eval`` the error on the un-augmented training images, and the test error; each
    logged, returned as the summary's ``final_*`` entries."""
    out: dict = {}
    if data.val is not None:
        out["final_val_error"] = validate(run, model, data, rt)["error"]
        out.update(best_val_error=run.best["value"], best_step=run.best["step"])
    for split, batches in (("train_eval", data.train_eval if train_eval else None),
                           ("test", data.test)):
        if batches is None:
            continue
        with run.paused():
            metrics = evaluate(model, batches(), rt)
        run.log(split, **metrics)
        name = "train" if split == "train_eval" else split
        out[f"final_{name}_error"], out[f"final_{name}_loss"] = metrics["error"], metrics["loss"]
    return out
