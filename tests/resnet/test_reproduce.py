"""ResNet entry points beyond train: reproduce (smoke), its claims on hand-made results, and the
benchmark (quick)."""

import copy
import json
from pathlib import Path

import pytest

from milestones.resnet import reproduce as R
from tests.conftest import run_cli


def test_reproduce_smoke_writes_table_json_and_plots(tmp_path):
    res = run_cli("-m", "milestones.resnet.reproduce", "--preset", "smoke", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["dataset"] == "shapes" and set(results["models"]) == set(R.NAMES)
    for model in results["models"].values():
        assert 0 <= model["final_train_error"]["mean"] <= 100
        assert len(model["runs"]) == 1
    assert set(results["claims"]) == {"plain56_trains_worse_than_plain20",
                                      "resnet56_at_least_as_good_as_resnet20"}
    md = (tmp_path / "results.md").read_text()
    assert "| plain-56 |" in md and "Table 6" in md and "fig6.png" in md
    assert (tmp_path / "fig6.png").read_bytes()[:4] == b"\x89PNG"
    for model in results["models"].values():  # the curves, for figures() from results alone
        curve = model["runs"][0]["curve"]
        assert curve["train"]["iteration"] and len(curve["train"]["error"]) == len(
            curve["train"]["iteration"])
    again = run_cli("-m", "milestones.resnet.reproduce", "--preset", "smoke", "--out",
                    str(tmp_path))  # finished runs are reused, not retrained
    assert again.returncode == 0 and "summary:" not in again.stderr


def test_reproduce_rejects_bad_models():
    res = run_cli("-m", "milestones.resnet.reproduce", "--preset", "smoke", "--models", "resnet50")
    assert res.returncode == 2 and "--models" in res.stdout + res.stderr


def test_benchmark_quick_compares_the_same_work():
    """Ours and torchvision's resnet18 run the same ops on the same weights: the ratio is the
    median of the per-round ratios (inside their quartiles) and near 1 even on a busy machine
    (a different workload on one side, or times in other units, would not be); the loop's
    overhead is bare / ours - 1."""
    res = run_cli("benchmarks/resnet.py", "--quick", "--reps", "5")
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(res.stdout[res.stdout.index("{"):])
    r18, loop = result["resnet18"], result["train_loop"]
    assert r18["reps"] == 5 and r18["ratio_iqr"][0] <= r18["ratio"] <= r18["ratio_iqr"][1]
    assert 1 / 3 < r18["ratio"] < 3, r18
    assert loop["overhead"] == pytest.approx(
        loop["bare_images_per_s"] / loop["ours_images_per_s"] - 1, abs=1e-3)


# ---- claims(): measured numbers -> "reproduced: yes/no", on hand-made results ------------------

def results(**train_errors: list[float]) -> dict:
    """A results dict as reproduce.main builds it: per model, one run per seed."""
    return {"models": {m: {"runs": [{"seed": s, "final_train_error": e}
                                    for s, e in enumerate(errors)]}
                       for m, errors in train_errors.items()}}


def test_claims_degradation_holds_when_plain56_trains_worse_on_every_seed():
    c = R.claims(results(plain20=[30.0, 35.0, 40.0], plain56=[60.0, 36.0, 41.5],
                         resnet20=[30.0, 31.0, 32.0], resnet56=[29.0, 31.0, 31.5]))
    assert c["plain56_trains_worse_than_plain20"] == {"holds": True, "seeds": 3, "of": 3,
                                                      "gap_pp": [30.0, 1.0, 1.5]}
    # a tie counts as "at least as good"
    assert c["resnet56_at_least_as_good_as_resnet20"] == {"holds": True, "seeds": 3, "of": 3,
                                                          "gap_pp": [-1.0, 0.0, -0.5]}


def test_claims_fail_seed_by_seed():
    """One seed against the claim is enough; a tie is not "worse"."""
    c = R.claims(results(plain20=[30.0, 35.0, 40.0], plain56=[60.0, 35.0, 39.0],
                         resnet20=[30.0, 31.0, 32.0], resnet56=[29.0, 33.0, 32.5]))
    plain, res = (c["plain56_trains_worse_than_plain20"],
                  c["resnet56_at_least_as_good_as_resnet20"])
    assert (plain["holds"], plain["seeds"], plain["gap_pp"]) == (False, 1, [30.0, 0.0, -1.0])
    assert (res["holds"], res["seeds"], res["gap_pp"]) == (False, 1, [-1.0, 2.0, 0.5])
    tie = R.claims(results(plain20=[30.0, 35.0], plain56=[60.0, 35.0]))
    assert tie["plain56_trains_worse_than_plain20"] == {"holds": False, "seeds": 1, "of": 2,
                                                        "gap_pp": [30.0, 0.0]}


def test_claims_need_both_nets_of_a_pair():
    assert R.claims(results(plain20=[30.0], plain56=[60.0])) == {
        "plain56_trains_worse_than_plain20": {"holds": True, "seeds": 1, "of": 1,
                                              "gap_pp": [30.0]}}
    assert R.claims(results(plain20=[30.0], resnet56=[20.0])) == {}


COMMITTED = Path(R.__file__).parent / "results" / "results.json"


def with_curves(results: dict) -> dict:
    """``results`` with a made-up error curve on every run (as reproduce stores them now)."""
    results = copy.deepcopy(results)
    for e in results["models"].values():
        for run in e["runs"]:
            err = run["final_train_error"]
            run["curve"] = {"train": {"iteration": [25, 50, 75, 100],
                                      "error": [90.0, 70.0, err + 5, err]},
                            "val": {"iteration": [50, 100], "error": [75.0, err + 1]}}
    return results


@pytest.mark.parametrize("curves", [False, True], ids=["final-errors", "curves"])
def test_figures_draw_fig6_from_the_results_alone(tmp_path, curves):
    """figures() on the committed results.json (final errors only), and with curves."""
    results = json.loads(COMMITTED.read_text())
    if curves:
        results = with_curves(results)
    paths = R.figures(results, tmp_path)
    assert paths == [tmp_path / "fig6.png"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[0].stat().st_size > 10_000
