"""AlexNet entry points beyond train: reproduce (smoke), its measures and claims on hand-made
inputs, and the benchmark (quick)."""

import json
import math

import pytest

from milestones.alexnet import reproduce as R
from tests.conftest import run_cli


@pytest.mark.slow
def test_reproduce_smoke_writes_tables_json_and_plots(tmp_path):
    res = run_cli("-m", "milestones.alexnet.reproduce", "--preset", "smoke", "--out",
                  str(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    r = json.loads((tmp_path / "results.json").read_text())
    assert r["dataset"] == "shapes" and r["digits"] == "shapes"
    assert set(r["fig1"]["chosen_lr"]) == {"relu", "tanh"} and len(r["fig1"]["tuning"]["relu"]) == 2
    assert set(r["dropout"]["sizes"]) == {"200", "400"}
    assert set(r["lrn_pool"]["variants"]) == set(R.ABLATIONS)
    assert len(r["lrn_pool"]["variants"]["no LRN"]["runs"]) == 2
    # each variant's rate: its lowest validation error on the first seed, the others run at it
    for v, tuning in r["lrn_pool"]["tuning"].items():
        assert [t["lr"] for t in tuning] == [0.01, 0.1]
        best = min(tuning, key=lambda t: (t["val_error"], t["lr"]))
        assert r["lrn_pool"]["chosen_lr"][v] == best["lr"]
        assert r["lrn_pool"]["variants"][v]["runs"][0]["val_error"] == best["val_error"]
    assert (tmp_path / "runs" / "lrn_pool" / f"no-lrn-lr{r['lrn_pool']['chosen_lr']['no LRN']:g}-s1"
            ).is_dir()
    md = (tmp_path / "results.md").read_text()
    for part in ("## Fig. 1", "## Dropout", "## Response normalisation", "## The claims"):
        assert part in md
    for name in ("fig1.png", "dropout.png", "lrn_pool.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    again = run_cli("-m", "milestones.alexnet.reproduce", "--preset", "smoke", "--out",
                    str(tmp_path))  # finished runs are reused, not retrained
    assert again.returncode == 0 and "summary:" not in again.stderr


def test_reproduce_rejects_an_unknown_experiment():
    res = run_cli("-m", "milestones.alexnet.reproduce", "--preset", "smoke", "--experiments",
                  "vgg")
    assert res.returncode == 2 and "experiments" in res.stdout + res.stderr


# ---- measures and claims on hand-made inputs -----------------------------------------------------

def run(epochs):
    return {"epochs_to_25": epochs}


def test_speedup_is_tanh_over_relu_and_a_lower_bound_when_tanh_never_gets_there():
    s = R.speedup([run(5), run(4)], [run(30), run(12)], max_epochs=30)
    assert s["per_seed"] == [6.0, 3.0] and s["mean"] == 4.5 and not s["lower_bound"]
    s = R.speedup([run(5), run(10)], [run(math.inf), run(20)], max_epochs=30)
    assert s["per_seed"] == [6.0, 2.0] and s["lower_bound"]
    s = R.speedup([run(math.inf)], [run(3)], max_epochs=30)  # ReLU never got there: no ratio
    assert s["per_seed"] == [None] and s["n"] == 0


def fig1_results(relu, tanh):
    return {"fig1": {"speedup": R.speedup([run(e) for e in relu], [run(e) for e in tanh], 30)}}


def test_claim_relu_faster_holds_only_when_every_seed_is_faster():
    c = R.claims(fig1_results([5, 5, 5], [30, 29, 31]))
    assert c["relu_reaches_25pct_faster_than_tanh"]["holds"]
    assert c["relu_about_6x_faster"]["holds"]
    c = R.claims(fig1_results([5, 5, 5], [6, 5, 7]))  # a tie on one seed is not faster
    assert not c["relu_reaches_25pct_faster_than_tanh"]["holds"]
    assert c["relu_reaches_25pct_faster_than_tanh"]["seeds"] == 2
    assert not c["relu_about_6x_faster"]["holds"]  # 1.2x is not 6x


def dropout_row(none_train, none_test, d_train, d_test, none_conv, d_conv):
    def side(trains, tests, conv):
        runs = [{"seed": i, "train_error": a, "test_error": b, "gap": b - a, "converged_at": c}
                for i, (a, b, c) in enumerate(zip(trains, tests, conv, strict=True))]
        return {"runs": runs, **R.over_seeds(runs, ("train_error", "test_error", "gap"))}

    row = {"none": side(none_train, none_test, none_conv),
           "dropout": side(d_train, d_test, d_conv)}
    row["test_gain"] = R.paired_difference(row["none"]["runs"], row["dropout"]["runs"],
                                           "test_error")
    ratio = [d / n for n, d in zip(none_conv, d_conv, strict=True)]
    row["iterations_ratio"] = R.mean_std(ratio)
    return row


def test_claims_on_dropout_read_the_gap_the_gain_and_the_iterations():
    sizes = {"1000": dropout_row([0, 0, 0], [10, 11, 12], [2, 2, 3], [8, 9, 9.5],
                                 [100, 100, 100], [200, 180, 220]),
             "50000": dropout_row([0, 0, 0], [2, 2.1, 2.2], [0.5, 0.6, 0.4], [2.1, 2.3, 2.4],
                                  [100, 100, 100], [300, 300, 300])}
    c = R.claims({"dropout": {"sizes": sizes}})
    assert c["dropout_narrows_the_train_test_gap"] == {"holds": True, "sizes": 2, "of": 2}
    assert c["dropout_lowers_test_error"]["resolved_at"] == ["1000"]
    assert c["dropout_lowers_test_error"]["worse_at"] == ["50000"]
    assert not c["dropout_lowers_test_error"]["holds"]
    assert c["dropout_roughly_doubles_iterations"]["ratio_by_size"] == {"1000": 2.0,
                                                                        "50000": 3.0}
    assert c["dropout_roughly_doubles_iterations"]["holds"]  # 2x and 3x: "roughly doubles"


def test_claims_on_lrn_need_a_resolved_positive_difference():
    base = [{"seed": s, "test_error": 20.0 + s} for s in range(5)]
    better = [{"seed": s, "test_error": 21.0 + s + (0.1 if s % 2 else -0.1)} for s in range(5)]
    noisy = [{"seed": s, "test_error": 20.0 + s + (2 if s % 2 else -2)} for s in range(5)]
    c = R.claims({"lrn_pool": {"lrn_effect": R.paired_difference(better, base, "test_error"),
                               "overlap_effect": R.paired_difference(noisy, base,
                                                                     "test_error")}})
    assert c["lrn_lowers_test_error"]["holds"] and c["lrn_lowers_test_error"]["resolved"]
    assert not c["overlapping_pooling_lowers_test_error"]["holds"]
    c = R.claims({"lrn_pool": {"lrn_effect": R.paired_difference(base, better, "test_error"),
                               "overlap_effect": None}})
    assert not c["lrn_lowers_test_error"]["holds"]  # resolved, but the other way


def test_converged_at_is_the_first_evaluation_within_5_percent_of_the_best(tmp_path):
    from types import SimpleNamespace

    lines = [{"split": "header"}] + [{"step": s, "split": "val", "error": e}
                                     for s, e in ((10, 0.5), (20, 0.2), (30, 0.104), (40, 0.1),
                                                  (50, 0.12))]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert R.converged_at(SimpleNamespace(out=str(tmp_path))) == 30


def test_benchmark_quick_compares_the_same_work():
    res = run_cli("benchmarks/alexnet.py", "--quick", "--reps", "3")
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(res.stdout[res.stdout.index("{"):])
    a, lrn = result["alexnet"], result["lrn"]
    assert a["reps"] == 3 and a["ratio_iqr"][0] <= a["ratio"] <= a["ratio_iqr"][1]
    assert 1 / 3 < a["ratio"] < 3, a  # the same convolutions on the same weights
    assert lrn["max_abs_diff"] < 1e-5 and lrn["ratio"] > 0
    assert result["alexnet2012"]["images_per_s"] > 0
