"""Entry-point and learning tests of SimCLR's pre-training loop (Algorithm 1)."""

import dataclasses
import json
import math

import pytest
import torch

from milestones.core.data import DataUnavailable
from milestones.simclr import data as D
from milestones.simclr import train as T


def run(tmp_path, name="run", **overrides) -> dict:
    cfg = dataclasses.replace(T.smoke(), out=str(tmp_path / name), data_root=str(tmp_path),
                              **overrides)
    return T.main(cfg)


def test_smoke_runs_end_to_end(tmp_path):
    summary = run(tmp_path, fine_tune=(0.1,))
    out = tmp_path / "run"
    assert summary["step"] == 8 and summary["stopped"] is None  # (320 - 64 held out) / 32
    assert (out / "encoder.safetensors").is_file() and (out / "best.pt").is_file()
    for key in ("linear_accuracy", "linear_accuracy_z", "knn_accuracy",
                "random_linear_accuracy", "random_knn_accuracy", "fine_tune_0.1_accuracy"):
        assert 0 <= summary[key] <= 1, key
    assert summary["best"]["metric"] == "val_knn_accuracy"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r.get("split") == "train"]
    assert {"loss", "accuracy", "lr", "images_per_s"} <= set(train[0])
    assert math.isfinite(train[-1]["loss"])


def test_the_supervised_baseline_trains_the_encoder_and_a_classifier(tmp_path):
    summary = run(tmp_path, objective="supervised", eval_random=False)
    assert 0 <= summary["supervised_accuracy"] <= 1 and "linear_accuracy" in summary
    assert "random_linear_accuracy" not in summary


def test_load_trained_gives_the_runs_encoder(tmp_path):
    run(tmp_path)
    model = T.load_trained(tmp_path / "run")
    h, z = model(torch.rand(2, 3, 32, 32))
    assert h.shape == (2, 16) and z.shape == (2, 8) and not model.training


def test_schedule_warms_up_then_decays_to_zero():
    cfg = dataclasses.replace(T.paper(), batch_size=512, epochs=100, warmup_epochs=10)
    peak = 1.0 * 512 / 256  # §2.2: lr x B/256
    assert T.peak_lr(cfg) == peak
    assert T.learning_rate(cfg, 0, 10) == pytest.approx(peak / 100)
    assert T.learning_rate(cfg, 99, 10) == pytest.approx(peak)
    assert T.learning_rate(cfg, 100, 10) == pytest.approx(peak)  # cosine starts at the peak
    assert T.learning_rate(cfg, 550, 10) == pytest.approx(peak / 2)
    assert T.learning_rate(cfg, 999, 10) < peak * 1e-4
    sqrt = dataclasses.replace(cfg, lr=0.075, lr_scaling="sqrt")
    assert T.peak_lr(sqrt) == pytest.approx(0.075 * math.sqrt(512))


def test_lars_excludes_batch_norm_and_biases():
    model = T.build_model(T.smoke(), (3, 32, 32))
    opt = T.make_optimizer(T.smoke(), [model], 0.1)
    decayed, excluded = opt.param_groups
    assert all(p.dim() >= 2 for p in decayed["params"])
    assert all(p.dim() == 1 for p in excluded["params"])
    assert excluded["weight_decay"] == 0 and not excluded["adapt"] and decayed["adapt"]


def test_the_cifar_stem_is_chosen_for_small_images():
    cfg = dataclasses.replace(T.quick(), width=8)
    assert T.build_model(cfg, (3, 32, 32)).encoder.conv1.kernel_size == (3, 3)
    assert T.build_model(cfg, (3, 96, 96)).encoder.conv1.kernel_size == (7, 7)


@pytest.mark.slow
def test_pretraining_makes_the_positives_findable(tmp_path):
    """160 steps of NT-Xent on the built-in shapes (about 20 s): the loss falls, and the share
    of views whose nearest other view is their positive (chance: 1 in 255) more than doubles
    between the first and the last 40 steps (measured once: 3.2% -> 8.9%)."""
    run(tmp_path, model="resnet18", width=8, proj_dim=32, train_size=2600, val_size=600,
        test_size=600, batch_size=128, epochs=8, warmup_epochs=1, lr=4.0, log_every=40,
        eval_every=1000, ckpt_every=1000, knn_k=50, knn_bank=2000, linear_max_iter=20,
        eval_random=False)
    records = [json.loads(line)
               for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r.get("split") == "train"]
    assert train[-1]["loss"] < train[0]["loss"] - 0.3
    assert train[-1]["accuracy"] > 2 * train[0]["accuracy"]


# ---- data and bad input ------------------------------------------------------------------

def test_an_image_folder_with_train_and_test(tmp_path):
    from tests.conftest import make_image_folder

    make_image_folder(tmp_path / "stl", ("cat", "dog"), 6, size=(40, 40))
    data = D.load_data("folder", data_dir=str(tmp_path / "stl"), val_size=2)
    assert data.classes == ("cat", "dog") and data.train.x.shape[1:] == (3, 40, 40)
    assert (len(data.train), len(data.val), len(data.test)) == (10, 2, 12)


def test_a_folder_without_train_and_test_is_refused(tmp_path):
    with pytest.raises(DataUnavailable, match="train"):
        D.load_data("folder", data_dir=str(tmp_path))


def test_cifar100_from_an_image_folder(tmp_path):
    from tests.conftest import make_image_folder

    make_image_folder(tmp_path / "c100", ("apple", "bear", "cloud"), 3)
    data = D.load_data("cifar100", data_dir=str(tmp_path / "c100"), val_size=1)
    assert data.classes == ("apple", "bear", "cloud") and data.train.x.shape[1:] == (3, 32, 32)


def test_cifar100_without_its_files_says_how_to_get_them(tmp_path):
    with pytest.raises(DataUnavailable, match="--download"):
        D.load_data("cifar100", root=str(tmp_path))


def test_two_process_ddp_with_gloo(tmp_path):
    """torchrun with 2 gloo processes: each rank augments and encodes half of every batch, the
    loss sees the global batch's negatives; both ranks finish the same run."""
    from milestones.core.metrics import read_metrics
    from tests.conftest import torchrun_smoke

    res = torchrun_smoke("milestones.simclr.train", tmp_path, "--no-eval-random")
    assert res.returncode == 0, res.stderr[-3000:]
    assert read_metrics(tmp_path / "ddp" / "metrics.jsonl")[0]["world_size"] == 2
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["step"] == 8 and summary["stopped"] is None
