"""The BERT reproduce: its smoke run end to end (the built-in parts; GLUE where its files are),
claims() on hand-made results, and the benchmark's quick run."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from milestones.bert import reproduce as R

GLUE = Path(__file__).resolve().parents[3] / "shared" / "data" / "glue"


@pytest.mark.slow
def test_the_smoke_reproduction_writes_every_table_and_figure(tmp_path):
    parts = R.PARTS if GLUE.is_dir() else ("table5", "masking")
    cfg = dataclasses.replace(R.smoke(), out=str(tmp_path / "rep"), data_root=str(tmp_path),
                              parts=parts, glue_dir=str(GLUE) if GLUE.is_dir() else None)
    R.main(cfg)
    out = tmp_path / "rep"
    results = json.loads((out / "results.json").read_text())
    assert set(results["builtin"]) == {*R.ARMS, "random init"}
    for arm in results["builtin"].values():
        assert {"agreement", "spans"} <= set(arm)
        assert arm["spans"]["f1"]["n"] == 2
    names = ["table5-objectives.png", "results.md"]
    if GLUE.is_dir():
        assert set(results["glue"]) == set(R.GLUE_TASKS)
        names.append("glue-pretrained-vs-random.png")
    for name in names:
        assert (out / name).is_file(), name
    ltr = out / "runs" / "finetune" / "pretrain-builtin-ltr-spans-pretrained-lr0.0001-s0"
    assert json.loads((ltr / "metrics.jsonl").read_text().splitlines()[0])["causal"]


def test_claims_read_the_numbers():
    stat = lambda m: {"mean": m, "std": 0.0, "n": 3}  # noqa: E731
    diff = lambda m, ok: {"mean": m, "std": 0.01, "n": 3, "ci95": 0.02, "resolved": ok}  # noqa: E731

    def arm(agreement, spans):  # three seeds around each mean
        return {task: {"runs": [{"seed": s, metric: m + 0.01 * s} for s in range(3)],
                       metric: stat(m + 0.01)}
                for task, metric, m in (("agreement", "accuracy", agreement),
                                        ("spans", "f1", spans))}

    r = {"glue": {"cola": {"difference": diff(0.05, True)}, "rte": {"difference": diff(-0.01,
                                                                                        False)}},
         "builtin": {"MLM + NSP (BERT)": arm(0.8, 0.9), "MLM, no NSP": arm(0.8, 0.9),
                     "LTR, no NSP": arm(0.78, 0.5), "MLM + NSP, 100% [MASK]": arm(0.7, 0.9),
                     "random init": arm(0.5, 0.3)}}
    c, details = R.claims(r)
    assert c[R.HELPS] and details["glue_resolved_gains"] == ["cola"]
    assert details["glue_mean_gain"] == pytest.approx(0.02)
    assert c[R.SPANS_LEARNED] and c[R.AGREEMENT_LEARNED] and c[R.MASKING]
    assert c[R.LTR_SPANS] and details["ltr_drop_points"]["spans_f1"] == pytest.approx(40)
    assert details["ltr_drop_points"]["agreement_accuracy"] == pytest.approx(2)
    r["builtin"]["LTR, no NSP"] = arm(0.78, 0.9)  # no span loss: Table 5's finding not seen
    r["builtin"]["MLM, no NSP"] = arm(0.8, 0.3)  # and no gain over random init either
    c, _ = R.claims(r)
    assert not c[R.SPANS_LEARNED] and not c[R.LTR_SPANS]


def test_the_fine_tuning_runs_are_set_up_as_planned(tmp_path):
    """Each fine-tuning reads its pre-training run's folder (or only its shape, for random
    init); STS-B carves its dev split; the built-in tasks take every example."""
    cfg = dataclasses.replace(R.cpu(), out=str(tmp_path))
    pre = R.novels_run(cfg)
    for arm in ("novels", "builtin-ltr"):
        (tmp_path / "runs" / f"pretrain-{arm}").mkdir(parents=True)
    run = R.finetune_run(cfg, pre, "stsb", "random", 1e-4, 2)
    assert run.dev_size == cfg.stsb_dev and run.checkpoint == pre.out and run.init == "random"
    assert run.max_len == 128 and run.train_size == cfg.glue_train_size
    spans = R.finetune_run(cfg, R.builtin_run(cfg, "LTR, no NSP"), "spans", "pretrained", 1e-4,
                           0)
    assert spans.train_size is None and spans.max_len == 64
    assert R.builtin_run(cfg, "LTR, no NSP").objective == "ltr"


def test_benchmark_quick_compares_the_same_work():
    """Ours and Hugging Face's BERT give the same outputs from the same weights before they are
    timed; scoring only the chosen positions is cheaper than scoring all."""
    pytest.importorskip("transformers")
    repo = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "benchmarks/bert.py", "--quick", "--reps", "3"],
                         cwd=repo, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(res.stdout[res.stdout.index("{"):])
    hf = result["versus_hugging_face"]
    assert hf["same_outputs"] and hf["ratio_iqr"][0] <= hf["ratio"] <= hf["ratio_iqr"][1]
    assert result["pretraining_step"]["tokens_per_s"] > 0
