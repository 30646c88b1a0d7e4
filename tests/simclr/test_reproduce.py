"""The SimCLR reproduce: its smoke run end to end, the run plan, and claims() on hand-made
results."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from milestones.simclr import reproduce as R


@pytest.mark.slow
def test_the_smoke_reproduction_writes_every_table_and_figure(tmp_path):
    cfg = R.smoke()
    cfg.out = str(tmp_path / "rep")
    cfg.data_root = str(tmp_path)
    R.main(cfg)
    out = tmp_path / "rep"
    results = json.loads((out / "results.json").read_text())
    assert {"augmentations", "head", "temperature", "baselines", "finetune",
            "claims"} <= set(results)
    assert len(results["claims"]) == 11
    assert set(results["finetune"]) == {"0.01", "0.1"}
    assert (out / "runs" / "default-s0" / "fine-tune-0.1-random.json").is_file()
    for name in ("fig5-augmentations.png", "fig8-head.png", "pca-features.png",
                 "fig-training.png", "results.md"):
        assert (out / name).is_file(), name


def test_equal_configurations_share_one_run():
    """The default run (crop + colour, non-linear head, tau 0.5, normalised) appears in every
    part; it is trained once."""
    cfg = R.cpu()
    parts = R.plan(cfg)
    default = parts["head"][("nonlinear", 0)].out
    assert parts["augmentations"][("crop", "color")].out == default
    assert parts["temperature"][(0.5, True)].out == default
    assert parts["baselines"][("simclr", 0)].out == default
    unique = {run.out for runs in parts.values() for run in runs.values()}
    # 16 Fig. 5 cells, 8 more head runs, 7 more temperatures, 3 supervised runs
    assert len(unique) == 16 + 8 + 7 + 3


def test_claims_read_the_numbers():
    stat = lambda m: {"mean": m, "std": 0.0, "n": 3}  # noqa: E731
    r = {"augmentations": {"cells": {"crop": {"ops": ["crop"], "linear_accuracy": 0.4},
                                     "crop + color": {"ops": ["crop", "color"],
                                                      "linear_accuracy": 0.5}},
                           "best_single": "crop", "best_pair": "crop + color"},
         "head": {"nonlinear": {"linear_accuracy": stat(0.5), "linear_accuracy_z": stat(0.4)},
                  "linear": {"linear_accuracy": stat(0.45), "linear_accuracy_z": stat(0.47)},
                  "none": {"linear_accuracy": stat(0.46)}},
         "temperature": {"a": {"temperature": 0.5, "normalize": True, "linear_accuracy": 0.5},
                         "b": {"temperature": 1.0, "normalize": True, "linear_accuracy": 0.4},
                         "c": {"temperature": 0.5, "normalize": False,
                               "linear_accuracy": 0.45},
                         "d": {"temperature": 0.1, "normalize": False,
                               "linear_accuracy": None, "diverged": "the loss is nan"}},
         "baselines": {"simclr": {"linear_accuracy": stat(0.5),
                                  "random_linear_accuracy": stat(0.3)},
                       "supervised": {"supervised_accuracy": stat(0.6)}}}
    c = R.claims(r)
    assert c["Fig. 5: crop + colour is the best pair"]
    assert c["§4.2: h beats z (non-linear head)"] and not c["§4.2: h beats z (linear head)"]
    assert not c["Fig. 8: non-linear head > linear head > no head"]  # none beat linear here
    assert c["Table 5: with l2 normalisation, an intermediate tau (0.1 or 0.5) is best"]
    assert c["Table 5: the best normalised run beats every unnormalised one"]
    assert c["pre-training beats a random encoder in linear evaluation"]


def test_benchmark_quick_compares_the_same_work():
    """The two losses agree on the same z; the SimCLR step does more work than the supervised
    one (two views and the head: about twice the encoder passes); the ratios are medians inside
    their quartiles."""
    repo = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "benchmarks/simclr.py", "--quick", "--reps", "3"],
                         cwd=repo, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(res.stdout[res.stdout.index("{"):])
    assert result["nt_xent"]["same_value"]
    step = result["step"]
    assert step["ratio_iqr"][0] <= step["ratio"] <= step["ratio_iqr"][1]
    assert 1.2 < step["ratio"] < 4, step
    aug = result["augmentation"]
    assert aug["ours_images_per_s"] > 0 and aug["torchvision_images_per_s"] > 0
