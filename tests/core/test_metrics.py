"""core.metrics: metrics.jsonl with a provenance header, resume truncation, TensorBoard, NaN."""

import json

import pytest
import torch

from milestones.core.metrics import (
    MetricLogger,
    NonFiniteLoss,
    check_finite,
    environment,
    read_metrics,
)


def test_header_then_records(tmp_path):
    log = MetricLogger(tmp_path, {"config": {"lr": 0.1}}, total_steps=10, progress=False)
    log.log(5, "train", loss=torch.tensor(1.5), error=0.5)
    log.log(10, "val", error=0.25)
    log.close()
    header, *records = read_metrics(tmp_path / "metrics.jsonl")
    assert header["split"] == "header" and header["config"] == {"lr": 0.1}
    assert records == [{"step": 5, "split": "train", "loss": 1.5, "error": 0.5},
                       {"step": 10, "split": "val", "error": 0.25}]


def test_resume_keeps_the_lines_the_checkpoint_saw(tmp_path):
    log = MetricLogger(tmp_path, {}, total_steps=30, progress=False)
    for step in (10, 20):
        log.log(step, "train", loss=float(step))
    kept = log.lines  # what a checkpoint at step 20 records
    log.log(20, "val", loss=0.5)  # written after the checkpoint: dropped on resume
    log.log(30, "train", loss=30.0)
    log.close()
    log = MetricLogger(tmp_path, {}, total_steps=30, start_step=20, keep_lines=kept,
                       progress=False)
    log.log(30, "train", loss=31.0)
    log.close()
    steps = [(r.get("step"), r["split"], r.get("loss")) for r in read_metrics(
        tmp_path / "metrics.jsonl")]
    assert steps == [(None, "header", None), (10, "train", 10.0), (20, "train", 20.0),
                     (20, "event", None), (30, "train", 31.0)]
    assert log.lines == 5


def test_non_finite_values_are_written_as_strict_json(tmp_path):
    log = MetricLogger(tmp_path, {}, total_steps=1, progress=False)
    log.log(1, "val", loss=float("nan"), error=float("inf"), nested=[1.0, float("-inf")])
    log.finish({"loss": float("nan")})
    line = (tmp_path / "metrics.jsonl").read_text().splitlines()[1]
    record = json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in {line}"))
    assert record["loss"] == "nan" and record["error"] == "inf" and record["nested"][1] == "-inf"
    assert json.loads((tmp_path / "summary.json").read_text())["loss"] == "nan"


def test_finish_writes_the_summary(tmp_path, capsys):
    log = MetricLogger(tmp_path, {}, total_steps=1, progress=False)
    log.finish({"step": 1, "error": 0.5})
    assert json.loads((tmp_path / "summary.json").read_text()) == {
        "step": 1, "error": 0.5, "out": str(tmp_path)}
    assert 'summary: {"step": 1' in capsys.readouterr().err


def test_disabled_logger_writes_nothing(tmp_path):
    log = MetricLogger(tmp_path, {}, total_steps=1, enabled=False)
    log.log(1, "train", loss=1.0)
    log.advance()
    log.print("hidden")
    log.finish({"step": 1})
    assert list(tmp_path.iterdir()) == []


def test_progress_bar_and_tensorboard(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    log = MetricLogger(tmp_path, {}, total_steps=4, tensorboard=True, desc="demo")
    for step in range(1, 5):
        log.advance()
        log.log(step, "train", loss=1.0 / step)
    log.print("a message")
    log.close()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    err = capsys.readouterr().err
    assert "demo" in err and "4/4" in err and "a message" in err


def test_non_finite_loss_names_the_step():
    check_finite([torch.tensor(1.0), torch.tensor(2.0)], steps=[1, 2])
    with pytest.raises(NonFiniteLoss, match="nan at step 12"):
        check_finite([torch.tensor(1.0), torch.tensor(float("nan")), torch.tensor(float("inf"))],
                     steps=[11, 12, 13])


def test_environment_records_provenance():
    env = environment(torch.device("cpu"))
    for key in ("python", "torch", "torchvision", "numpy", "git_sha", "host", "device", "started"):
        assert key in env
    json.dumps(env)
