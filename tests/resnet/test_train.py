"""ResNet training, entry-point tier: end to end, exact resume, signals, budgets, bad input, DDP."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from milestones.core.checkpoint import load_checkpoint
from milestones.core.config import EXIT_ERROR, EXIT_OK, EXIT_PREEMPTED, EXIT_USAGE, ConfigError
from milestones.core.metrics import NonFiniteLoss, read_metrics
from milestones.resnet import data as D
from milestones.resnet import train as T
from tests.conftest import REPO, run_cli


def smoke(tmp_path, name="run", **overrides) -> T.Config:
    return dataclasses.replace(T.smoke(), out=str(tmp_path / name), **overrides)


def test_smoke_runs_end_to_end_and_writes_the_run_folder(tmp_path):
    summary = T.main(smoke(tmp_path))
    out = tmp_path / "run"
    for name in ("config.json", "metrics.jsonl", "last.pt", "best.pt", "model.safetensors",
                 "summary.json"):
        assert (out / name).is_file(), name
    assert summary["step"] == 8 and summary["stopped"] is None
    assert 0 <= summary["final_test_error"] <= 1 and summary["best_step"] in (4, 8)
    assert json.loads((out / "summary.json").read_text())["final_test_error"] == \
        summary["final_test_error"]
    header, *records = read_metrics(out / "metrics.jsonl")
    assert header["config"]["preset"] == "smoke" and "git_sha" in header["env"]
    assert header["data"]["train_images"] == 384 and header["params"] == 5006
    assert [r["step"] for r in records if r["split"] == "train"] == [2, 4, 6, 8]
    assert [r["lr"] for r in records if r["split"] == "train"] == [0.1, 0.1, 0.1, 0.01]
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 8 and ckpt["config"]["preset"] == "smoke"
    assert set(load_file(out / "model.safetensors")) == set(ckpt["model"])


def test_a_trained_model_loads_for_inference(tmp_path):
    summary = T.main(smoke(tmp_path))
    model, mean = T.load_trained(tmp_path / "run")
    data = D.load_in_memory("shapes", val_size=128, train_size=512, test_size=256)
    with torch.no_grad():
        errors = (model(data.test.x.float() / 255 - mean).argmax(1) != data.test.y).float().mean()
    assert errors.item() == pytest.approx(summary["final_test_error"])


def test_resume_in_a_fresh_process_is_exact(tmp_path):
    """8 steps straight == 4 steps, then a new process resuming for 4 more: same losses, same
    weights, same optimizer state."""
    straight = T.main(smoke(tmp_path, "straight"))
    half = T.main(smoke(tmp_path, "halves", max_steps=4))
    assert half["stopped"] == "max_steps" and half["step"] == 4
    res = run_cli("-m", "milestones.resnet.train", "--preset", "smoke", "--out",
                  str(tmp_path / "halves"), "--resume")
    assert res.returncode == EXIT_OK, res.stderr
    resumed = json.loads((tmp_path / "halves" / "summary.json").read_text())
    assert resumed["step"] == 8 and resumed["final_test_error"] == straight["final_test_error"]

    def train_records(name):
        return [(r["step"], r["loss"], r["error"], r["lr"]) for r in
                read_metrics(tmp_path / name / "metrics.jsonl") if r["split"] == "train"]

    assert train_records("halves") == train_records("straight")
    a, b = (load_checkpoint(tmp_path / name / "last.pt") for name in ("straight", "halves"))
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for key, state in a["optimizer"]["state"].items():
        momentum = b["optimizer"]["state"][key]["momentum_buffer"]
        assert torch.equal(state["momentum_buffer"], momentum)


def test_sigterm_saves_a_checkpoint_and_exits_75(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "milestones.resnet.train", "--preset", "smoke", "--steps", "100000",
         "--lr-steps", "50000", "--log-every", "1", "--ckpt-every", "100000", "--out", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until it is training
        if (out / "metrics.jsonl").exists() and len(read_metrics(out / "metrics.jsonl")) > 3:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_PREEMPTED, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped"] == "SIGTERM" and 3 <= summary["step"] < 100000
    assert load_checkpoint(out / "last.pt")["step"] == summary["step"]
    res = run_cli("-m", "milestones.resnet.train", "--preset", "smoke", "--steps", "100000",
                  "--lr-steps", "50000", "--log-every", "1", "--ckpt-every", "100000", "--out",
                  str(out), "--resume", "--max-steps", str(summary["step"] + 2))
    assert res.returncode == EXIT_OK, res.stderr
    assert json.loads((out / "summary.json").read_text())["step"] == summary["step"] + 2


def test_time_budget_ends_cleanly_with_a_final_evaluation(tmp_path):
    code = T.cli(T.main, T.Config, T.PRESETS, args=[
        "--preset", "smoke", "--steps", "100000", "--lr-steps", "50000", "--max-minutes", "0.02",
        "--out", str(tmp_path / "run")])
    assert code == EXIT_OK
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["stopped"] == "max_minutes" and summary["step"] < 100000
    assert "final_test_error" in summary and (tmp_path / "run" / "model.safetensors").exists()


def test_non_finite_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(tmp_path,
                                                                              monkeypatch):
    real, calls = T.F.cross_entropy, []

    def poisoned(*args, **kwargs):
        calls.append(1)
        loss = real(*args, **kwargs)
        return loss * float("nan") if len(calls) == 5 else loss

    monkeypatch.setattr(T.F, "cross_entropy", poisoned)
    with pytest.raises(NonFiniteLoss, match="at step 5"):
        T.main(smoke(tmp_path))
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 4  # the last good one
    calls.clear()
    code = T.cli(T.main, T.Config, T.PRESETS, args=["--preset", "smoke", "--out",
                                                    str(tmp_path / "cli")])
    assert code == EXIT_ERROR


def test_bad_config_value_fails_before_writing_anything(tmp_path):
    res = run_cli("-m", "milestones.resnet.train", "--preset", "smoke", "--lr", "-1", "--out",
                  str(tmp_path / "run"))
    assert res.returncode == EXIT_USAGE
    assert "--lr" in res.stdout + res.stderr and "must be > 0" in res.stdout + res.stderr
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="lr_steps"):
        dataclasses.replace(T.smoke(), lr_steps=(4, 100))
    with pytest.raises(ConfigError, match="--width"):
        dataclasses.replace(T.smoke(), model="resnet50", width=8)


def test_missing_dataset_is_one_clear_message(tmp_path):
    res = run_cli("-m", "milestones.resnet.train", "--preset", "smoke", "--dataset", "cifar10",
                  "--data-root", str(tmp_path / "empty"), "--out", str(tmp_path / "run"))
    assert res.returncode == EXIT_USAGE
    assert "Traceback" not in res.stderr
    for part in ("dataset 'cifar10' is not available", "looked in:", str(tmp_path / "empty"),
                 "--download", "offline:", "--dataset shapes"):
        assert part in res.stderr, part
    assert not (tmp_path / "run").exists()


def test_help_lists_every_field():
    res = run_cli("-m", "milestones.resnet.train", "--help")
    assert res.returncode == 0
    for flag in ("--model", "--lr-steps", "--warmup", "--max-minutes", "--resume", "--seed",
                 "--dtype", "--compile", "--data-root", "§4.2"):
        assert flag in res.stdout, flag
    assert "smoke" in res.stdout and "imagenet" in res.stdout


def test_resnet110_warms_up_until_training_error_is_below_80_percent():
    cfg = T.Config(model="resnet110")
    assert T.learning_rate(cfg, 0, warming=True) == 0.01
    assert [T.learning_rate(cfg, s, False) for s in (0, 31999, 32000, 48000)] == [0.1, 0.1, 0.01,
                                                                                  0.001]


def test_warmup_switches_off_once_the_error_drops(tmp_path):
    T.main(smoke(tmp_path, warmup="on", warmup_until_error=0.95, log_every=2))
    lrs = [r["lr"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl")
           if r["split"] == "train"]
    assert lrs[0] == 0.01 and 0.1 in lrs  # warm-up, then back to lr


def test_bf16_autocast_path(tmp_path):
    summary = T.main(smoke(tmp_path, dtype="bf16"))
    assert summary["step"] == 8 and summary["final_test_loss"] < 10


@pytest.mark.slow
@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                    reason="torch.compile's CPU backend needs a C++ compiler")
def test_compile_path_trains_as_the_eager_model_does(tmp_path):
    """--compile really compiles (inductor, ~15 s on CPU) and the compiled smoke run's losses
    equal the eager run's; the checkpoint holds the plain module's names."""
    eager = T.main(smoke(tmp_path, "eager"))
    compiled = T.main(smoke(tmp_path, "compiled", compile=True))
    assert compiled["step"] == eager["step"] == 8

    def losses(name):
        return [r["loss"] for r in read_metrics(tmp_path / name / "metrics.jsonl")
                if r["split"] == "train"]

    assert losses("compiled") == pytest.approx(losses("eager"), rel=1e-3)
    assert compiled["final_test_loss"] == pytest.approx(eager["final_test_loss"], rel=1e-3)
    assert "_orig_mod" not in "".join(load_checkpoint(tmp_path / "compiled" / "last.pt")["model"])


def test_two_process_ddp_with_gloo(tmp_path):
    out = tmp_path / "ddp"
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "milestones.resnet.train", "--preset", "smoke", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    header, *records = read_metrics(out / "metrics.jsonl")
    assert header["world_size"] == 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 8 and summary["final_test_error"] is not None
    train = [r for r in records if r["split"] == "train"]
    assert len(train) == 4 and all(0 < r["loss"] < 10 for r in train)
