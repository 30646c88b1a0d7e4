"""Entry-point and learning tests of the GAN training loop (Algorithm 1)."""

import dataclasses
import json
import math

import pytest
import torch

from milestones.core.data import DataUnavailable
from milestones.gan import data as D
from milestones.gan import train as T


def run(tmp_path, name="run", **overrides) -> dict:
    cfg = dataclasses.replace(T.smoke(), out=str(tmp_path / name), data_root=str(tmp_path),
                              **overrides)
    return T.main(cfg)


def test_smoke_runs_end_to_end_and_writes_samples(tmp_path):
    summary = run(tmp_path)
    out = tmp_path / "run"
    assert summary["step"] == 8 and summary["stopped"] is None
    assert (out / "samples.png").is_file() and (out / "model.safetensors").is_file()
    assert math.isfinite(summary["test_parzen"]) and summary["test_parzen_sem"] > 0
    assert summary["best"]["metric"] == "val_parzen"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r.get("split") == "train"]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "g_grad"} <= set(train[0])


def test_load_trained_gives_the_runs_generator(tmp_path):
    run(tmp_path)
    model = T.load_trained(tmp_path / "run")
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    g = torch.Generator().manual_seed(0)
    a = model.sample(4, generator=g)
    assert a.shape == (4, 3, 32, 32) and not model.training
    assert ckpt is not None


def test_the_saturating_objective_is_a_switch(tmp_path):
    a = run(tmp_path, "a", max_steps=2)
    b = run(tmp_path, "b", max_steps=2, saturating=True)
    assert b["saturating"] and not a["saturating"]


def test_k_discriminator_steps_draw_k_minibatches(tmp_path):
    run(tmp_path, k=3, max_steps=2)
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert ckpt["state"]["progress"]["batches"] == 6


def test_fid_against_its_references(tmp_path):
    s = run(tmp_path, steps=4, fid=True, fid_samples=64, fid_classifier_steps=10)
    assert s["fid_features"] == "our shapes classifier"
    assert 0 <= s["fid_train_vs_test"] < s["fid_untrained"]
    assert (tmp_path / "gan" / "classifier-shapes.pt").is_file()  # cached under the data root


def test_sgd_schedule_follows_mnist_yaml():
    cfg = T.paper()
    assert T.learning_rate(cfg, 0) == 0.1
    assert T.learning_rate(cfg, 1000) == pytest.approx(0.1 / 1.000004 ** 1000)
    assert T.learning_rate(cfg, 10**8) == 1e-6  # min_lr
    assert T.momentum_at(cfg, 0.5) == 0.5 and T.momentum_at(cfg, 1) == 0.5
    assert T.momentum_at(cfg, 125.5) == pytest.approx(0.6)
    assert T.momentum_at(cfg, 250) == pytest.approx(0.7) and T.momentum_at(cfg, 900) == 0.7
    adam = dataclasses.replace(T.quick())
    assert adam.opt == "adam" and T.learning_rate(adam, 10**6) == 2e-4 and adam.m == 128
    assert cfg.opt == "sgd" and cfg.m == 100


def test_the_generator_learns_the_ring(tmp_path):
    """Algorithm 1 with DCGAN's ingredients moves G's samples onto the 8 modes: the Parzen
    log-likelihood of the test points rises far above an untrained G's, and modes get covered."""
    kw = dict(dataset="ring", model="dcgan", hidden=128, nz=16, lr=1e-3, train_size=20_000,
              val_size=2000, test_size=2000, batch_size=128, log_every=100, eval_every=500,
              ckpt_every=2000, eval_samples=1000, eval_val=1000, parzen_samples=2500,
              width=128, kernel=5)
    untrained = run(tmp_path, "untrained", steps=1, **kw)
    trained = run(tmp_path, "trained", steps=2000, **kw)
    assert trained["test_parzen"] > untrained["test_parzen"] + 1.0
    assert trained["modes"] >= 3 > untrained["modes"]  # seeds 0-2 reach 5, 4, 5 of 8


# ---- data ---------------------------------------------------------------------------------------

def test_mixtures_are_the_standard_ones():
    ring, std = D.mixture_centers("ring")
    assert std == 0.02 and torch.allclose(ring.norm(dim=1), torch.full((8,), 2.0))
    grid, std = D.mixture_centers("grid")
    assert std == 0.05 and len(grid) == 25 and set(grid.flatten().tolist()) == {-4, -2, 0, 2, 4}
    s = D.sample_mixture("ring", 5000, seed=0)
    assert torch.equal(s.x, D.sample_mixture("ring", 5000, seed=0).x)
    assert (s.x - ring[s.y]).std().item() == pytest.approx(0.02, rel=0.05)


def test_an_image_folder_is_cropped_and_resized(tmp_path):
    from PIL import Image

    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        for i in range(6):
            Image.new("RGB", (178, 218), (i * 40, 0, 0)).save(tmp_path / sub / f"{i}.png")
    data = D.load_data("folder", data_dir=str(tmp_path), val_size=2, test_size=2, image_size=32)
    assert data.shape == (3, 32, 32) and data.train.x.dtype == torch.uint8
    assert (len(data.train), len(data.val), len(data.test)) == (8, 2, 2)
    assert data.classes == ("a", "b")


def test_a_folder_with_too_few_images_is_refused(tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 64)).save(tmp_path / "0.png")
    with pytest.raises(DataUnavailable, match="fewer than"):
        D.load_data("folder", data_dir=str(tmp_path), val_size=2, test_size=2)


def test_mnist_uses_the_released_split():
    try:
        data = D.load_data("mnist")
    except DataUnavailable:
        pytest.skip("MNIST's files are not installed")
    assert (len(data.train), len(data.val), len(data.test)) == (50_000, 10_000, 10_000)


def test_ranges():
    x = torch.tensor([0, 255], dtype=torch.uint8)
    assert D.to_model(x, "tanh").tolist() == [-1, 1] and D.to_model(x, "sigmoid").tolist() == [0, 1]
    assert D.to_unit(torch.tensor([-1.0, 1.0]), "tanh").tolist() == [0, 1]


def test_two_process_ddp_with_gloo(tmp_path):
    """torchrun with 2 gloo processes: each rank takes half of every minibatch, G's and D's
    gradients averaged; both ranks end with the same weights."""
    from milestones.core.metrics import read_metrics
    from tests.conftest import torchrun_smoke

    res = torchrun_smoke("milestones.gan.train", tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert read_metrics(tmp_path / "ddp" / "metrics.jsonl")[0]["world_size"] == 2
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["step"] == 8 and summary["stopped"] is None


def test_evaluation_subsets_are_random_not_the_first_classes():
    """Image folders come sorted by class: the validation and FID subsets must not be its first
    classes."""
    from milestones.core.datasets import Split

    y = torch.arange(10).repeat_interleave(100)  # sorted by class, as an image folder
    split = Split(torch.arange(1000)[:, None].float(), y)
    rows = T.real_rows(split, 100, "linear")
    assert len(set(y[rows[:, 0].long()].tolist())) == 10
