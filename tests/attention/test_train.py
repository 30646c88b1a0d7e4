"""RNNsearch / RNNencdec training: the entry point end to end, resume, DDP."""

import dataclasses
import json

import pytest
import torch

from milestones.attention import train as T
from milestones.core.checkpoint import load_checkpoint

pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'milestones[text]'")
pytest.importorskip("sacrebleu", reason="needs the text extra: pip install 'milestones[text]'")


def smoke(tmp_path, name="run", **overrides) -> T.Config:
    return dataclasses.replace(T.smoke(), out=str(tmp_path / name), data_root=str(tmp_path),
                               **overrides)


@pytest.mark.parametrize("model", ["rnnsearch", "rnnencdec"])
def test_smoke_writes_the_run_folder(tmp_path, model):
    summary = T.main(smoke(tmp_path, model=model))
    run = tmp_path / "run"
    for name in ("config.json", "metrics.jsonl", "last.pt", "best.pt", "model.safetensors",
                 "vocab-source.json", "vocab-target.json", "summary.json",
                 "test-translations.txt"):
        assert (run / name).is_file(), name
    assert summary["step"] == 12 and summary["stopped"] is None and summary["model"] == model
    assert 0 <= summary["test_bleu"] <= 100 and "nrefs:1" in summary["bleu_signature"]
    assert 0 < summary["test_known_fraction"] < 1  # the smoke shortlists leave words out
    lines = (run / "test-translations.txt").read_text().splitlines()
    assert len(lines) == json.loads((run / "metrics.jsonl").read_text().splitlines()[0])[
        "data"]["test"]
    # App. B.2's optimizer as train.py builds it: Adadelta, rho 0.95, epsilon 1e-6, step 1
    group = load_checkpoint(run / "last.pt")["optimizer"]["param_groups"][0]
    assert (group["rho"], group["eps"], group["lr"]) == (0.95, 1e-6, 1.0)


def test_resume_is_exact(tmp_path):
    straight = T.main(smoke(tmp_path, "straight"))
    T.main(smoke(tmp_path, "halves", max_steps=5))
    resumed = T.main(smoke(tmp_path, "halves", resume=True))
    assert resumed["step"] == straight["step"] and resumed["test_bleu"] == straight["test_bleu"]
    a = load_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "halves" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_steps_clip_the_gradient_norm_to_one(tmp_path, monkeypatch):
    """App. B.2: every update's gradient, as the optimizer sees it, has norm <= clip."""
    from milestones.adam import AdaDelta

    norms = []
    real_step = AdaDelta.step

    def step(self, closure=None):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(g) for g in grads]))))
        return real_step(self, closure)

    monkeypatch.setattr(AdaDelta, "step", step)
    T.main(smoke(tmp_path, clip=0.5))
    assert len(norms) == 12 and max(norms) <= 0.5 + 1e-5 and max(norms) > 0.4


def test_adam_is_a_switch(tmp_path):
    summary = T.main(smoke(tmp_path, optimizer="adam"))
    group = load_checkpoint(tmp_path / "run" / "last.pt")["optimizer"]["param_groups"][0]
    assert summary["step"] == 12 and group["lr"] == 1e-3 and "betas" in group


def test_an_unknown_model_is_one_message_and_exit_2(tmp_path):
    """(TSV lines with one column, empty or non-UTF-8 files: tests/test_bad_input.py.)"""
    from tests.conftest import run_cli

    res = run_cli("-m", "milestones.attention.train", "--preset", "smoke", "--model", "lstm",
                  "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and "invalid choice 'lstm'" in res.stderr
    assert "rnnsearch" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_entry_points(tmp_path):
    from milestones.attention.data import synthetic_corpus
    from tests.conftest import run_cli

    pairs = synthetic_corpus(60, 12, n_valid=1, n_test=1, test_max_len=12).train
    (tmp_path / "real.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs))
    res = run_cli("-m", "milestones.attention.reproduce", "--preset", "smoke", "--out",
                  str(tmp_path / "rep"), "--data-root", str(tmp_path), "--data-files",
                  str(tmp_path / "real.tsv"))
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert set(results["models"]) == {"RNNencdec-30", "RNNsearch-30", "RNNencdec-50",
                                      "RNNsearch-50", "Transformer", "Transformer, Eq. 3 x 0.2"}
    for entry in results["models"].values():
        run = entry["runs"][0]
        assert [b["lo"] for b in run["by_length"]] == [lo for lo, _ in results["bins"]]
    budget = results["models"]["Transformer"]["runs"][0]["budget_s"]
    assert budget == results["models"]["RNNsearch-30"]["runs"][0]["train_time_s"]
    assert results["real"]["dataset"] == "tsv" and 0 < results["real"]["data"]["train"] <= 58
    for name in ("fig2.png", "fig3.png", "fig3-real.png", "results.md", "data/train.tsv"):
        assert (tmp_path / "rep" / name).is_file(), name
    res = run_cli("benchmarks/attention.py", "--quick")
    assert res.returncode == 0, res.stderr
    gru = json.loads(res.stdout)["gru_layer_vs_torch"]
    assert gru["ratio_iqr"][0] <= gru["ratio"] <= gru["ratio_iqr"][1]
    assert abs(sum(gru["where_the_time_goes"]["self_cpu_share"].values())) <= 1


def test_two_process_ddp_with_gloo(tmp_path):
    """torchrun with 2 gloo processes: each rank takes its own batches, gradients averaged."""
    from milestones.core.metrics import read_metrics
    from tests.conftest import torchrun_smoke

    res = torchrun_smoke("milestones.attention.train", tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert read_metrics(tmp_path / "ddp" / "metrics.jsonl")[0]["world_size"] == 2
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["step"] == 12 and summary["stopped"] is None
