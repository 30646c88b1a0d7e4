"""core.run: the run lifecycle a training loop calls (open, track, save, restore, stop, finish).

A toy loop (a linear model, SGD, a window, a dataclass, a python RNG) stands in for a milestone;
the conformance suite (tests/test_milestones.py) runs the same contract on the real ones.
"""

import dataclasses
import errno
import json
import random
import signal

import pytest
import torch
from torch import nn

from milestones.core import runtime
from milestones.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from milestones.core.config import ConfigError
from milestones.core.metrics import NonFiniteLoss, read_metrics
from milestones.core.run import Run, RunConfig, Window, launch


@dataclasses.dataclass
class Loop:
    seen: list[int] = dataclasses.field(default_factory=list)
    note: str = "start"


def toy(cfg: RunConfig, steps: int = 8, nan_at: int | None = None, bad_weights_at=None) -> dict:
    """A whole training run through the Run helper, as a milestone's train.py writes it."""
    return launch(lambda cfg, rt: train(cfg, rt, steps, nan_at, bad_weights_at), cfg)


def train(cfg: RunConfig, rt, steps: int, nan_at: int | None, bad_weights_at) -> dict:
    with Run(cfg, rt, cfg.out) as run:
        model = nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        window, loop, draws = Window("loss", "n"), Loop(), random.Random(cfg.seed)
        run.track(model=model, optimizer=opt, window=window, loop=loop, draws=draws)
        run.start({"params": 4}, total_steps=steps)
        while not run.should_stop():
            x = torch.randn(4, 3)
            loss = model(x).pow(2).mean() + draws.random()
            if run.step + 1 == nan_at:
                loss = loss * float("nan")
            opt.zero_grad()
            loss.backward()
            opt.step()
            if run.step + 1 == bad_weights_at:
                with torch.no_grad():
                    model.weight[0, 0] = float("inf")
            run.step += 1
            run.track_loss(loss)
            window.add(loss=loss.detach() * 4, n=4)
            loop.seen.append(run.step)
            if run.step % 2 == 0:
                sums = window.flush()
                run.log("train", loss=sums["loss"] / sums["n"])
            if run.step % 3 == 0:
                run.keep_best("val_loss", float(run.step % 5))
                run.save()
        if not run.interrupted:
            run.log("test", value=len(loop.seen))
        return run.finish({"seen": len(loop.seen)})


def cfg_at(tmp_path, name="run", **kw) -> RunConfig:
    return RunConfig(out=str(tmp_path / name), device="cpu", progress=False, **kw)


def records(path):
    return [r for r in read_metrics(path / "metrics.jsonl") if r["split"] not in ("header",
                                                                                  "event")]


def test_a_run_writes_its_folder_and_a_finished_run_is_not_redone(tmp_path):
    summary = toy(cfg_at(tmp_path))
    out = tmp_path / "run"
    assert summary["step"] == summary["steps"] == 8 and summary["stopped"] is None
    assert summary["best"] == {"metric": "val_loss", "value": 1.0, "step": 6}
    for name in ("config.json", "metrics.jsonl", "last.pt", "best.pt", "model.safetensors",
                 "summary.json"):
        assert (out / name).is_file(), name
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["finished"] and ckpt["loop"]["seen"] == list(range(1, 9))
    lines = (out / "metrics.jsonl").read_text()
    again = toy(cfg_at(tmp_path, resume=True))  # nothing to do: the same summary, no new lines
    assert again == summary and (out / "metrics.jsonl").read_text() == lines


def test_resume_equals_a_run_that_never_stopped(tmp_path):
    straight = toy(cfg_at(tmp_path, "straight"))
    toy(cfg_at(tmp_path, "halves", max_steps=4))  # stops at 4, last saved at 3: "test" after
    resumed = toy(cfg_at(tmp_path, "halves", resume=True))
    assert records(tmp_path / "halves") == records(tmp_path / "straight")
    assert resumed["best"] == straight["best"]
    a, b = (load_checkpoint(tmp_path / n / "last.pt") for n in ("straight", "halves"))
    for key in ("model", "window", "loop", "draws", "step", "best"):
        assert json.dumps(a[key], default=lambda t: t.tolist()) == json.dumps(
            b[key], default=lambda t: t.tolist()), key
    assert a["optimizer"]["state"][0]["momentum_buffer"].equal(
        b["optimizer"]["state"][0]["momentum_buffer"])


def test_an_existing_run_folder_is_refused_unless_resumed_or_overwritten(tmp_path):
    toy(cfg_at(tmp_path, max_steps=3))
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}
    with pytest.raises(ConfigError, match="--resume.*--overwrite"):
        toy(cfg_at(tmp_path))
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()} == before
    summary = toy(cfg_at(tmp_path, overwrite=True))
    assert summary["step"] == 8 and records(tmp_path / "run")[0]["step"] == 2


def test_an_unusable_out_fails_before_anything_is_written(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        toy(cfg_at(tmp_path, "file"))
    with pytest.raises(ConfigError, match="is a file"):
        toy(cfg_at(tmp_path, "file/run"))
    with pytest.raises(ConfigError, match="cannot be written"):  # read-only even for root
        toy(RunConfig(out="/proc/milestones-run", device="cpu", progress=False))


def test_a_corrupt_last_checkpoint_names_best_pt_and_writes_nothing(tmp_path):
    toy(cfg_at(tmp_path, max_steps=7))
    last = tmp_path / "run" / "last.pt"
    last.write_bytes(last.read_bytes()[:100])
    config = (tmp_path / "run" / "config.json").read_text()
    with pytest.raises(CheckpointError, match="best.pt is a whole checkpoint too"):
        toy(cfg_at(tmp_path, resume=True))
    assert load_checkpoint(tmp_path / "run" / "best.pt")["step"] == 6
    assert (tmp_path / "run" / "config.json").read_text() == config


def test_a_checkpoint_that_does_not_fit_fails_naming_the_changed_fields(tmp_path):
    toy(cfg_at(tmp_path, max_steps=4))
    config = (tmp_path / "run" / "config.json").read_text()
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    ckpt["model"]["weight"] = torch.zeros(2, 3)  # as if --model had changed
    ckpt["config"]["seed"] = 5
    save_checkpoint(tmp_path / "run" / "last.pt", ckpt)
    with pytest.raises(CheckpointError, match=r"does not fit this run.*'seed': \(5, 0\)"):
        toy(cfg_at(tmp_path, resume=True))
    assert (tmp_path / "run" / "config.json").read_text() == config


def test_a_non_finite_loss_is_never_saved(tmp_path):
    with pytest.raises(NonFiniteLoss, match="at step 5.*last.pt, is kept"):
        toy(cfg_at(tmp_path), nan_at=5)  # the save at step 6 checks steps 4..6 first
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 3
    assert load_checkpoint(tmp_path / "run" / "best.pt")["step"] == 3


def test_non_finite_weights_are_never_saved(tmp_path):
    with pytest.raises(NonFiniteLoss, match="`model` holds non-finite weights after step 3"):
        toy(cfg_at(tmp_path), bad_weights_at=3)  # the loss at step 3 was still finite
    assert not (tmp_path / "run" / "last.pt").exists()


def test_a_full_disk_keeps_the_previous_checkpoint_and_says_so(tmp_path, monkeypatch):
    toy(cfg_at(tmp_path, max_steps=3))
    import milestones.core.run as R

    def full(path, state):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(R, "save_checkpoint", full)
    with pytest.raises(CheckpointError, match="No space left on device.*previous one is intact"):
        toy(cfg_at(tmp_path, resume=True))
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 3


def test_temp_files_of_a_killed_save_are_removed(tmp_path):
    toy(cfg_at(tmp_path, max_steps=3))
    (tmp_path / "run" / ".last.pt.tmp12345").write_bytes(b"half a checkpoint")
    toy(cfg_at(tmp_path, resume=True))
    assert not list((tmp_path / "run").glob(".*tmp*"))


def test_a_time_budget_is_not_the_stop_reason_of_a_complete_run(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime.StopFlag, "check", lambda self, device=None: "max_minutes")
    assert toy(cfg_at(tmp_path, "a"), steps=0)["stopped"] is None
    assert toy(cfg_at(tmp_path, "b"), steps=3)["stopped"] == "max_minutes"


def test_sigterm_in_the_final_evaluation_saves_and_reports_it(tmp_path, monkeypatch):
    calls = []
    real_log = Run.log

    def log(self, split, **values):  # SIGTERM arrives while the final evaluation runs
        if split == "test" and not calls:
            calls.append(1)
            signal.raise_signal(signal.SIGTERM)
        return real_log(self, split, **values)

    monkeypatch.setattr(Run, "log", log)
    summary = toy(cfg_at(tmp_path))
    assert summary["stopped"] == "SIGTERM" and summary["step"] == 8
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert not ckpt["finished"] and not (tmp_path / "run" / "model.safetensors").exists()
    resumed = toy(cfg_at(tmp_path, resume=True))  # the final evaluation, once, then done
    assert resumed["stopped"] is None
    assert [r["split"] for r in records(tmp_path / "run")].count("test") == 1


def test_window_sums_and_checks_its_names():
    w = Window("loss", "n")
    w.add(loss=torch.tensor(2.0), n=4)
    w.add(loss=1.0, n=torch.tensor(2))
    assert w.flush() == {"loss": 3.0, "n": 6.0} and w.flush() == {"loss": 0.0, "n": 0.0}
    with pytest.raises(KeyError):
        w.add(loss=1.0)


def test_cuda_on_a_machine_without_it_is_a_config_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        runtime.setup(RunConfig(device="cuda"))
    with pytest.raises(ConfigError, match="CUDA is not available"):
        runtime.setup(RunConfig(device="cuda:1"))
