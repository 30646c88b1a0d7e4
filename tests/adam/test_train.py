"""Adam's training entry point: every task end to end, exact resume, bad input, the CLI."""

import dataclasses
import json

import pytest
import torch

from milestones.adam import train as T
from milestones.core.checkpoint import load_checkpoint
from milestones.core.config import EXIT_OK, EXIT_USAGE, ConfigError
from milestones.core.metrics import read_metrics
from tests.conftest import run_cli


def smoke(tmp_path, name="run", **overrides) -> T.Config:
    return dataclasses.replace(T.smoke(), out=str(tmp_path / name), **overrides)


def test_smoke_writes_the_run_folder(tmp_path):
    summary = T.main(smoke(tmp_path))
    for name in ("config.json", "metrics.jsonl", "last.pt", "model.safetensors", "summary.json"):
        assert (tmp_path / "run" / name).is_file(), name
    assert summary["step"] == summary["steps"] == 8 and summary["stopped"] is None
    header, *records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert header["data"]["name"] == "segments" and header["params"] == 26_506
    assert [r["step"] for r in records if r["split"] == "test"] == [4, 8]


@pytest.mark.parametrize("task, extra", [
    ("logreg", {"optimizer": "adagrad", "lr_schedule": "inv-sqrt", "weight_decay": 1e-4}),
    ("bow", {"dropout": 0.5, "optimizer": "rmsprop"}),
    ("cnn", {"optimizer": "sgd", "dropout": 0.5, "input_dropout": 0.2}),
    ("vae", {"bias_correction": False, "beta2": 0.9999, "beta1": 0.0}),
    ("mlp", {"optimizer": "adadelta"}),
    ("mlp", {"optimizer": "adamax"}),
    ("mlp", {"optimizer": "adamw", "weight_decay": 0.01, "amsgrad": True}),
])
def test_every_task_and_optimizer_runs(tmp_path, task, extra):
    summary = T.main(smoke(tmp_path, task=task, **extra))
    assert summary["step"] == summary["steps"] and summary["final_test_loss"] < 1e4
    assert ("final_test_error" in summary) == (task != "vae")


def test_inverse_square_root_schedule():
    cfg = dataclasses.replace(T.smoke(), lr_schedule="inv-sqrt")
    assert [T.learning_rate(cfg, 0.1, s) for s in (0, 3, 99)] == pytest.approx([0.1, 0.05, 0.01])
    assert T.learning_rate(T.smoke(), 0.1, 99) == 0.1


def test_resume_in_a_fresh_process_is_exact(tmp_path):
    straight = T.main(smoke(tmp_path, "straight", epochs=1.0))
    half = T.main(smoke(tmp_path, "halves", epochs=1.0, max_steps=7))
    assert half["stopped"] == "max_steps"
    res = run_cli("-m", "milestones.adam.train", "--preset", "smoke", "--epochs", "1",
                  "--out", str(tmp_path / "halves"), "--resume")
    assert res.returncode == EXIT_OK, res.stderr
    resumed = json.loads((tmp_path / "halves" / "summary.json").read_text())
    assert resumed["final_test_loss"] == straight["final_test_loss"]

    def train_losses(name):
        return [(r["step"], r["loss"]) for r in read_metrics(tmp_path / name / "metrics.jsonl")
                if r["split"] == "train"]

    assert train_losses("halves") == train_losses("straight")
    a, b = (load_checkpoint(tmp_path / n / "last.pt") for n in ("straight", "halves"))
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    for key, state in a["optimizer"]["state"].items():
        for name, value in state.items():
            assert torch.equal(value, b["optimizer"]["state"][key][name]), name


def test_bad_hyper_parameters_fail_before_any_work(tmp_path):
    for args, flag in ((["--lr", "-0.1"], "--lr"), (["--beta1", "1.0"], "--beta1"),
                       (["--beta2", "-0.5"], "--beta2"), (["--dropout", "1.5"], "--dropout")):
        res = run_cli("-m", "milestones.adam.train", "--preset", "smoke", "--out",
                      str(tmp_path / "run"), *args)
        assert res.returncode == EXIT_USAGE and flag in res.stdout + res.stderr, args
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="--dataset"):
        dataclasses.replace(T.smoke(), task="bow", dataset="mnist")


def test_missing_dataset_is_one_clear_message(tmp_path):
    res = run_cli("-m", "milestones.adam.train", "--preset", "smoke", "--task", "cnn",
                  "--dataset", "cifar10", "--data-root", str(tmp_path / "none"), "--out",
                  str(tmp_path / "run"))
    assert res.returncode == EXIT_USAGE and "Traceback" not in res.stderr
    assert "dataset 'cifar10' is not available" in res.stderr and "offline:" in res.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("dataset", ["builtin", "segments", "reviews"])
def test_a_folder_for_a_built_in_dataset_is_refused(tmp_path, dataset):
    """The folder used to be ignored without a word."""
    task = "bow" if dataset == "reviews" else "mlp"
    with pytest.raises(ConfigError, match="data_dir"):
        dataclasses.replace(T.smoke(), task=task, dataset=dataset, data_dir=str(tmp_path))
    with pytest.raises(SystemExit) as e:
        T.cli(T.main, T.Config, T.PRESETS, ["--preset", "smoke", "--task", task, "--dataset",
                                            dataset, "--data-dir", str(tmp_path)])
    assert e.value.code == EXIT_USAGE


def test_help():
    res = run_cli("-m", "milestones.adam.train", "--help")
    assert res.returncode == 0
    for flag in ("--optimizer", "--beta2", "--bias-correction", "--lr-schedule", "--task",
                 "§6.3", "Algorithm 1"):
        assert flag in res.stdout, flag


def test_two_process_ddp_equals_one_process(tmp_path):
    """No batch norm here, so DDP over 2 gloo processes (16 examples each, gradients averaged)
    computes what one process does with the 32: same weights up to float summation order."""
    import subprocess
    import sys

    from tests.conftest import REPO

    single = T.main(smoke(tmp_path, "single"))
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "milestones.adam.train", "--preset", "smoke", "--out", str(tmp_path / "ddp")],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert read_metrics(tmp_path / "ddp" / "metrics.jsonl")[0]["world_size"] == 2
    ddp = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert ddp["final_test_loss"] == pytest.approx(single["final_test_loss"], rel=1e-5)
    a, b = (load_checkpoint(tmp_path / n / "last.pt")["model"] for n in ("single", "ddp"))
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
