"""AlexNet training, entry-point tier: end to end, the plateau schedule, the colour augmentation,
Fig. 1's stop at a target error, loading a trained model, ImageNet's transforms and bad input.
(Fresh-process resume, kill -9, gradients and golden losses: the conformance suite.)"""

import dataclasses
import json

import pytest
import torch

from milestones.alexnet import data as D
from milestones.alexnet import train as T
from milestones.core.checkpoint import load_checkpoint
from milestones.core.config import ConfigError
from milestones.core.images import load_in_memory, rgb_pca
from milestones.core.metrics import read_metrics
from tests.conftest import make_image_folder, run_cli


def smoke(tmp_path, name="run", **overrides) -> T.Config:
    return dataclasses.replace(T.smoke(), out=str(tmp_path / name), **overrides)


def test_smoke_runs_end_to_end_and_writes_the_run_folder(tmp_path):
    summary = T.main(smoke(tmp_path))
    out = tmp_path / "run"
    for name in ("config.json", "metrics.jsonl", "last.pt", "best.pt", "model.safetensors",
                 "summary.json"):
        assert (out / name).is_file(), name
    assert summary["step"] == 8 and summary["stopped"] is None and summary["params"] == 18_962
    header, *records = read_metrics(out / "metrics.jsonl")
    assert header["data"]["train_images"] == 384 and len(header["pca"][0]) == 3
    assert [r["step"] for r in records if r["split"] == "train"] == [2, 4, 6, 8]
    assert json.loads((out / "summary.json").read_text())["final_test_error"] == \
        summary["final_test_error"]


def test_a_trained_model_loads_for_inference(tmp_path):
    summary = T.main(smoke(tmp_path))
    model, mean = T.load_trained(tmp_path / "run")
    data = load_in_memory("shapes", val_size=128, train_size=512, test_size=256)
    with torch.no_grad():
        errors = (model(data.test.x.float() / 255 - mean).argmax(1) != data.test.y).float().mean()
    assert errors.item() == pytest.approx(summary["final_test_error"])


def test_plateau_divides_the_rate_after_patience_evaluations_at_most_max_decays_times():
    cfg = T.Config(patience=2, max_decays=2, lr=0.01)
    p = T.Progress(lr=cfg.lr)
    seen = [T.plateau(cfg, p, e) for e in (0.5, 0.4, 0.41, 0.40, 0.39, 0.395, 0.396, 0.5, 0.5,
                                           0.5, 0.5)]
    #   new best, new best, worse, equal -> /10; new best; worse, worse -> /10; then capped
    assert seen == [False, False, False, True, False, False, True, False, False, False, False]
    assert p.lr == pytest.approx(1e-4) and p.decays == 2


def test_the_plateau_schedule_acts_in_a_run(tmp_path):
    """lr 0.1 on a 4-step evaluation cadence, patience 1: the validation error cannot improve at
    every evaluation of a 40-step smoke run, so the rate is divided at least once, and the
    training records show it."""
    summary = T.main(smoke(tmp_path, schedule="plateau", patience=1, lr=0.1, steps=40))
    lrs = [r["lr"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl")[1:]
           if r["split"] == "train"]
    assert summary["lr_decays"] >= 1 and min(lrs) == pytest.approx(0.1 / 10 ** summary[
        "lr_decays"]) and lrs[0] == 0.1


def test_rgb_pca_recovers_the_principal_axis_of_coloured_pixels():
    g = torch.Generator().manual_seed(0)
    axis = torch.tensor([0.6, 0.0, 0.8])
    pixels = 0.5 + torch.randn(20_000, 1, generator=g) * 0.2 * axis + 0.01 * torch.randn(
        20_000, 3, generator=g)
    eigval, eigvec = rgb_pca(pixels)
    assert eigval[0] == pytest.approx(0.04 + 1e-4, rel=0.05) and eigval[2] < 2e-4
    assert abs(eigvec[:, 0] @ axis).item() == pytest.approx(1, abs=1e-3)


def test_lighting_adds_one_colour_shift_per_image_along_the_pcs():
    eigval, eigvec = torch.tensor([0.2, 0.02, 0.004]), torch.linalg.qr(torch.randn(3, 3))[0]
    x = torch.zeros(4, 3, 5, 5)
    out = D.lighting_noise(x, eigval, eigvec, 0.1, torch.Generator().manual_seed(0))
    shift = out[:, :, 0, 0]  # (4, 3)
    assert torch.equal(out, shift[:, :, None, None].expand_as(out))  # the same at every pixel
    coeffs = shift @ eigvec  # alpha_i lambda_i
    alpha = coeffs / eigval
    assert alpha.abs().max() < 0.6 and alpha.std() > 0.02  # N(0, 0.1) draws


def test_target_error_stops_the_run_where_the_window_reached_it(tmp_path):
    """Fig. 1 needs the step at which the training error reached 25%; a run stops there."""
    summary = T.main(smoke(tmp_path, target_error=0.99, steps=20))
    assert summary["target_reached_at"] == 2 and summary["step"] == 2
    assert summary["stopped"] is None and "final_test_error" in summary


def test_imagenet_transforms_give_224_crops_and_ten_patches(tmp_path):
    from PIL import Image

    img = Image.new("RGB", (320, 260), (200, 10, 10))
    train = D.imagenet_transforms(True, lighting=None)(img)
    assert train.shape == (3, 224, 224)
    ten = D.imagenet_transforms(False, ten_crop=True)(img)
    assert ten.shape == (10, 3, 224, 224)


def test_missing_imagenet_is_one_clear_error_before_the_pca_work(tmp_path):
    from milestones.core.data import DataUnavailable

    cfg = smoke(tmp_path, dataset="imagenet", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(DataUnavailable, match="image-net.org"):
        T.main(cfg)
    assert not (tmp_path / "run").exists()


def test_imagenet_folders_train_with_the_papers_transforms(tmp_path):
    """An ImageFolder copy of two classes: a tiny convnet at 224x224 for two steps, the PCA computed
    from the training images, 10-crop validation."""
    make_image_folder(tmp_path / "imagenet", ("n01", "n02"), 4, size=(280, 300),
                      splits=("train", "val"))
    cfg = smoke(tmp_path, dataset="imagenet", data_dir=str(tmp_path / "imagenet"),
                batch_size=4, steps=2, eval_every=2, ckpt_every=2, log_every=1,
                workers=0, pca_images=3, ten_crop=True)
    summary = T.main(cfg)
    assert summary["step"] == 2 and 0 <= summary["final_val_error"] <= 1
    assert load_checkpoint(tmp_path / "run" / "last.pt")["input_shape"]["image_size"] == 224


@pytest.mark.parametrize("field,value,message", [
    ("dropout", 1.5, "[0, 1)"), ("model", "vgg16", "choose from"),
    ("dropout", 0.5, "lenet5 has no dropout"), ("act", "tanh", "apply to"),
    ("hidden", (10, 10), "one for convnet4"), ("target_error", 25.0, "fraction"),
])
def test_bad_values_name_the_field(field, value, message):
    base = {"model": "lenet5"} if message in ("lenet5 has no dropout", "apply to") else {}
    base = {"model": "convnet4"} if field == "hidden" else base
    with pytest.raises(ConfigError, match=field) as e:
        T.Config(**{**base, field: value})
    assert message in str(e.value)


def test_an_unknown_model_on_the_command_line_exits_2_naming_the_choices(tmp_path):
    res = run_cli("-m", "milestones.alexnet.train", "--preset", "smoke", "--model", "vgg16",
                  "--out", str(tmp_path / "run"))
    assert res.returncode == 2
    assert "vgg16" in res.stderr and "--model" in res.stderr and "alexnet2012" in res.stderr
    assert not (tmp_path / "run").exists()


def test_two_process_ddp_equals_one_process(tmp_path):
    """torchrun with 2 gloo processes, each half of every batch: with dropout and the colour noise
    off (their draws differ per rank by design), the same losses as one process."""
    import subprocess
    import sys

    from tests.conftest import REPO

    args = ["--preset", "smoke", "--dropout", "0", "--lighting", "0"]
    one = T.main(smoke(tmp_path, "one", dropout=0.0, lighting=0.0))
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "milestones.alexnet.train", *args, "--out", str(tmp_path / "ddp")],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    header, *records = read_metrics(tmp_path / "ddp" / "metrics.jsonl")
    assert header["world_size"] == 2

    def losses(name):
        return [r["loss"] for r in read_metrics(tmp_path / name / "metrics.jsonl")[1:]
                if r["split"] == "train"]

    assert losses("ddp") == pytest.approx(losses("one"), rel=1e-4)
    ddp = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert ddp["final_test_error"] == pytest.approx(one["final_test_error"], abs=1 / 256)


def test_lrn_alpha_defaults_to_the_papers_carried_over_to_each_datasets_inputs():
    def alphas(**fields):
        cfg = T.Config(model="convnet4", **fields)
        model = T.build_model(cfg, 10, 3, 32)
        return [m.alpha for m in model.modules() if type(m).__name__ == "LocalResponseNorm"]

    assert alphas(dataset="cifar10") == pytest.approx([1e-4 * 255**2] * 2)  # pixels / 255
    assert alphas(dataset="imagenet") == pytest.approx([1e-4 * (255 * 0.226) ** 2] * 2, rel=1e-3)
    assert alphas(dataset="cifar10", lrn_alpha=1e-4) == [1e-4] * 2  # the paper's number as it is
    with pytest.raises(ConfigError, match="lrn_alpha"):
        T.Config(model="convnet4", lrn=False, lrn_alpha=1.0)
