"""ResNet data: the paper's augmentation, exact batches for resume and DDP, shapes, ImageNet."""

import dataclasses

import pytest
import torch
import torchvision.transforms.functional as TF

from milestones.core import datasets as DS
from milestones.core.config import EXIT_USAGE, ConfigError
from milestones.core.data import DataUnavailable
from milestones.core.run import cli
from milestones.resnet import data as D
from milestones.resnet import reproduce as R
from milestones.resnet import train as T
from tests.conftest import make_image_folder


def test_pad_crop_flip_matches_a_per_image_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (16, 3, 32, 32), generator=g, dtype=torch.uint8)
    offsets = torch.randint(0, 9, (16, 2), generator=g)
    flips = torch.rand(16, generator=g) < 0.5
    out = D.pad_crop_flip(x, offsets, flips, pad=4)
    for i in range(16):
        ref = TF.crop(TF.pad(x[i], [4]), int(offsets[i, 0]), int(offsets[i, 1]), 32, 32)
        ref = TF.hflip(ref) if flips[i] else ref
        assert torch.equal(out[i], ref), i


def _images(n=40, c=3, hw=8, seed=0) -> D.Split:
    g = torch.Generator().manual_seed(seed)
    return D.Split(torch.randint(0, 256, (n, c, hw, hw), generator=g, dtype=torch.uint8),
                      torch.arange(n) % 10)


def _batches(data, **kw) -> D.Batches:
    args = dict(mean=D.pixel_mean(data), device=torch.device("cpu"), shuffle=True, augment=True,
                seed=3)
    return D.Batches(data, 8, **{**args, **kw})


def test_batches_are_a_function_of_seed_epoch_and_index():
    data = _images()
    a, b = list(_batches(data).epoch(2)), list(_batches(data).epoch(2))
    assert len(a) == 5 and all(torch.equal(x1, x2) and torch.equal(y1, y2)
                               for (x1, y1), (x2, y2) in zip(a, b, strict=True))
    c = list(_batches(data).epoch(3))
    assert not torch.equal(a[0][0], c[0][0])
    tail = list(_batches(data).epoch(2, start=3))  # resuming mid-epoch
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a[3:], tail, strict=True))


def test_ddp_ranks_split_each_global_batch():
    data = _images()
    single = list(_batches(data).epoch(1))
    ranks = [list(_batches(data, rank=r, world_size=2).epoch(1)) for r in range(2)]
    for i, (x, y) in enumerate(single):
        assert torch.equal(torch.cat([ranks[0][i][0], ranks[1][i][0]]), x)
        assert torch.equal(torch.cat([ranks[0][i][1], ranks[1][i][1]]), y)


def test_evaluation_batches_cover_every_image_once_in_order():
    data = _images(n=43)
    mean = D.pixel_mean(data)
    batches = _batches(data, shuffle=False, augment=False, drop_last=False)
    xs, ys = zip(*batches.epoch(0), strict=True)
    assert len(batches) == 6 and torch.equal(torch.cat(ys), data.y)
    restored = ((torch.cat(xs) + mean) * 255).round().to(torch.uint8)
    assert torch.equal(restored, data.x)


def test_per_pixel_mean():
    data = _images(n=100)
    assert torch.allclose(D.pixel_mean(data), data.x.float().mean(0) / 255, atol=1e-6)


def test_load_in_memory_caps_and_splits():
    data = D.load_in_memory("shapes", val_size=50, train_size=300, test_size=40)
    assert (len(data.train), len(data.val), len(data.test)) == (250, 50, 40)
    assert data.in_channels == 3 and len(data.classes) == 10


def test_bad_image_data_is_one_message_and_exit_2(tmp_path, capsys):
    make_image_folder(tmp_path, DS.CIFAR10_CLASSES, 1, size=(64, 64))  # CIFAR-10 at the wrong size
    code = cli(T.main, T.Config, T.PRESETS, ["--preset", "smoke", "--dataset", "cifar10",
                                             "--data-dir", str(tmp_path), "--out",
                                             str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "Traceback" not in err and not (tmp_path / "run").exists()
    assert err.count("error:") == 1 and "0000.png is 64x64 pixels" in err


def test_a_folder_for_the_built_in_shapes_is_refused(tmp_path, capsys):
    """The folder used to be ignored without a word."""
    with pytest.raises(SystemExit) as e:
        cli(T.main, T.Config, T.PRESETS, ["--preset", "smoke", "--dataset", "shapes",
                                          "--data-dir", str(tmp_path)])
    out = capsys.readouterr()
    assert e.value.code == EXIT_USAGE and "--data-dir" in out.out + out.err
    with pytest.raises(ConfigError, match="data_dir"):
        dataclasses.replace(T.smoke(), data_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="data_dir"):
        R.Config(dataset="shapes", data_dir=str(tmp_path))


def test_reproduce_does_not_swap_a_given_folder_for_shapes(tmp_path, monkeypatch):
    monkeypatch.setitem(DS.LOCAL_COPIES, "fashion-mnist", ())  # Debian's copy, if installed
    auto = R.Config(dataset="auto", data_root=str(tmp_path / "root"))
    assert R.pick_dataset(auto) == "shapes"  # nothing found: the built-in data
    with pytest.raises(DataUnavailable, match="cifar10"):
        R.pick_dataset(dataclasses.replace(auto, data_dir=str(tmp_path / "mine")))


def test_imagenet_folder_and_transforms(tmp_path):
    make_image_folder(tmp_path, ["n01", "n02"], 2, size=(300, 400), ext="jpg",
                      splits=("train", "val"))
    train, val = D.imagenet_datasets(tmp_path)
    x, y = train[0]
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32 and y == 0
    assert val[3][0].shape == (3, 224, 224) and val[3][1] == 1
    _, val10 = D.imagenet_datasets(tmp_path, ten_crop=True)
    assert val10[0][0].shape == (10, 3, 224, 224)
    with pytest.raises(DataUnavailable, match="image-net.org"):
        D.imagenet_datasets(tmp_path / "missing")
