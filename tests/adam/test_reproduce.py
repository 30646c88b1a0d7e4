"""Adam's reproduce (smoke), the claims of each figure on hand-made losses, and the benchmark
(quick)."""

import dataclasses
import json
import math
from pathlib import Path

import pytest

from milestones.adam import reproduce as R
from tests.conftest import run_cli


@pytest.mark.slow
def test_reproduce_smoke_writes_every_figure(tmp_path):
    res = run_cli("-m", "milestones.adam.reproduce", "--preset", "smoke", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    for fig in ("fig1", "fig1bow", "fig2", "fig4", "playground"):
        assert fig in results, fig
    assert set(results["fig1"]["arms"]) == {"Adam", "SGDNesterov", "AdaGrad"}
    assert len(results["fig4"]["points"]) == 12  # 2 beta1 x 3 beta2 x 1 alpha x 2 corrections
    md = (tmp_path / "results.md").read_text()
    assert "## fig4" in md and "Claims:" in md
    for png in ("fig1/fig1_logreg.png", "fig1bow/fig1_bow.png", "fig2.png",
                "fig4_bias_correction.png", "playground/rosenbrock.png", "playground/beale.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG", png


def test_reproduce_rejects_unknown_figures():
    res = run_cli("-m", "milestones.adam.reproduce", "--figures", "fig9")
    assert res.returncode == 2 and "--figures" in res.stdout + res.stderr


def test_benchmark_quick_compares_the_same_work():
    """Each of our optimizers against torch's on identical parameters: the ratio is the median of
    the per-round ratios (inside their quartiles) and within a factor of 5 of parity even on a
    busy machine; Adam keeps two copies of the parameters (three with AMSGrad)."""
    res = run_cli("benchmarks/adam.py", "--quick", "--reps", "7")
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(res.stdout)
    assert result["adam_state_copies"] == 2.0 and result["adam_amsgrad_state_copies"] == 3.0
    for name in ("adam_vs_torch_foreach", "adamw_vs_torch_foreach",
                 "adam_amsgrad_vs_torch_foreach", "adam_per_tensor_vs_torch_per_tensor"):
        stats = result[name]
        assert stats["ratio_iqr"][0] <= stats["ratio"] <= stats["ratio_iqr"][1], name
        assert 0.2 < stats["ratio"] < 5, (name, stats)


# ---- the claims of each figure, on hand-made training losses -----------------------------------

@pytest.fixture
def fake_runs(monkeypatch):
    """reproduce's figures with their trainings replaced: tune_and_run returns, for each arm,
    the final training losses given in ``losses[<figure folder>][<arm>]``; nothing is plotted."""
    losses: dict = {}

    def tune_and_run(cfg, fig, base, arms, epochs, seeds, tune_epochs):
        got = losses[Path(base.out).relative_to(cfg.out).as_posix()]
        assert set(got) == set(arms)
        return {label: {"optimizer": arms[label][0], "lr": 1e-3, "final_train_loss": got[label]}
                for label in arms}

    monkeypatch.setattr(R, "tune_and_run", tune_and_run)
    monkeypatch.setattr(R, "plot_arms", lambda *a, **k: None)
    monkeypatch.setattr(R, "plot_fig4", lambda *a, **k: None)
    monkeypatch.setattr(R.T, "load_data", lambda cfg: None)  # Fig. 3's check for CIFAR-10
    return losses


def cfg(tmp_path) -> R.Config:
    return dataclasses.replace(R.smoke(), out=str(tmp_path))


def test_fig1_claims_adam_within_5_percent_of_sgd_nesterov_and_below_adagrad(tmp_path, fake_runs):
    """Adam as fast as SGD with Nesterov momentum (within 5%), faster than AdaGrad; the losses
    are means over seeds, a diverged seed (inf) makes the mean inf."""
    cases = [({"Adam": [1.0, 1.1], "SGDNesterov": [1.0, 1.0], "AdaGrad": [1.2, 1.2]}, True, True),
             ({"Adam": [1.05], "SGDNesterov": [1.0], "AdaGrad": [1.05]}, True, False),
             ({"Adam": [1.06], "SGDNesterov": [1.0], "AdaGrad": [2.0]}, False, True),
             ({"Adam": [0.5, math.inf], "SGDNesterov": [1.0], "AdaGrad": [2.0]}, False, False)]
    for losses, as_fast, faster in cases:
        fake_runs["fig1"] = losses
        claims = R.fig1(cfg(tmp_path), tmp_path)["claims"]
        assert claims == {"adam_as_fast_as_sgd_nesterov": as_fast,
                          "adam_faster_than_adagrad": faster}, losses


def test_fig1bow_claims_compare_adagrad_adam_and_sgd_nesterov(tmp_path, fake_runs):
    fake_runs["fig1bow"] = {"Adam": [0.3], "AdaGrad": [0.3], "RMSProp": [0.1],
                            "SGDNesterov": [0.5]}
    assert R.fig1bow(cfg(tmp_path), tmp_path)["claims"] == {
        "adagrad_beats_sgd_nesterov": True, "adam_beats_sgd_nesterov": True,
        "adam_as_fast_as_adagrad": True}
    fake_runs["fig1bow"] = {"Adam": [0.4], "AdaGrad": [0.5], "RMSProp": [0.1],
                            "SGDNesterov": [0.38]}
    assert R.fig1bow(cfg(tmp_path), tmp_path)["claims"] == {
        "adagrad_beats_sgd_nesterov": False, "adam_beats_sgd_nesterov": False,
        "adam_as_fast_as_adagrad": True}
    fake_runs["fig1bow"] = {"Adam": [0.4], "AdaGrad": [0.38], "RMSProp": [0.1],
                            "SGDNesterov": [0.5]}
    assert R.fig1bow(cfg(tmp_path), tmp_path)["claims"]["adam_as_fast_as_adagrad"] is False


def test_fig2_claims_adam_has_the_lowest_loss_in_each_setting(tmp_path, fake_runs):
    """Adam's training loss is the lowest of the five, in each setting."""
    others = {"AdaGrad": [0.4], "RMSProp": [0.3], "SGDNesterov": [0.5], "AdaDelta": [0.6]}
    fake_runs["fig2/dropout"] = {"Adam": [0.2], **others}
    fake_runs["fig2/deterministic"] = {"Adam": [0.35], **others}
    assert R.fig2(cfg(tmp_path), tmp_path)["claims"] == {
        "adam_lowest_training_loss_dropout": True,
        "adam_lowest_training_loss_deterministic": False}


def test_fig3_claims_adam_and_sgd_against_adagrad_with_and_without_dropout(tmp_path, fake_runs):
    fake_runs["fig3"] = {"AdaGrad": [1.0], "AdaGrad+dropout": [1.5],
                         "SGDNesterov": [0.5], "SGDNesterov+dropout": [1.6],
                         "Adam": [1.2], "Adam+dropout": [1.4]}
    assert R.fig3(cfg(tmp_path), tmp_path)["claims"] == {
        "adam_beats_adagrad": False, "sgd_beats_adagrad": True,
        "adam+dropout_beats_adagrad+dropout": True, "sgd+dropout_beats_adagrad+dropout": False}


def test_fig4_claims_bias_correction_helps_where_its_best_loss_is_lower(tmp_path, fake_runs,
                                                                        monkeypatch):
    """Bias correction helps when the best test loss over the step sizes is lower with it than
    without, per (beta1, beta2) and epoch; a diverged run counts as an infinite loss."""
    c = dataclasses.replace(cfg(tmp_path), fig4_epochs=(1, 2), fig4_lrs=(1e-3, 1e-2))

    def loss(b1, b2, lr, bc, epoch):  # None: diverged
        if bc:
            return 100.0 + epoch + 10 * lr  # best at the smaller step size: 101.01, 102.01
        if b2 == 0.9999:  # uncorrected: diverges at the larger step size (beta1 0.9: at both)
            return None if lr == 1e-2 or b1 == 0.9 else 90.0
        # beta2 0.99, 0.999: better than corrected at the smaller step size after epoch 1 only
        return (100.0 if epoch == 1 else 103.0) if lr == 1e-3 else 200.0

    def run_all(cfg, runs):
        for run in runs:
            out = Path(run.out)
            out.mkdir(parents=True)
            values = {e: loss(run.beta1, run.beta2, run.lr, run.bias_correction, e)
                      for e in (1, 2)}
            if None in values.values():
                (out / "summary.json").write_text(json.dumps({"diverged": "at step 3"}))
                continue
            (out / "summary.json").write_text(json.dumps({"steps": 20}))
            rows = [{"config": {}}] + [{"step": 10 * e, "split": "test", "loss": v}
                                       for e, v in values.items()]
            (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    monkeypatch.setattr(R, "run_all", run_all)
    r = R.fig4(c, tmp_path)
    assert len(r["points"]) == 2 * 3 * 2 * 2
    assert r["claims"] == {
        "bias_correction_helps_beta1_0_beta2_0.999_epoch_1": False,
        "bias_correction_helps_beta1_0_beta2_0.999_epoch_2": True,
        "bias_correction_helps_beta1_0_beta2_0.9999_epoch_1": False,
        "bias_correction_helps_beta1_0_beta2_0.9999_epoch_2": False,
        "bias_correction_helps_beta1_0.9_beta2_0.999_epoch_1": False,
        "bias_correction_helps_beta1_0.9_beta2_0.999_epoch_2": True,
        "bias_correction_helps_beta1_0.9_beta2_0.9999_epoch_1": True,
        "bias_correction_helps_beta1_0.9_beta2_0.9999_epoch_2": True}
    diverged = [p for p in r["points"] if p["loss"] == {"1": None, "2": None}]
    assert sorted((p["beta1"], p["lr"]) for p in diverged) == [(0.0, 1e-2), (0.9, 1e-3),
                                                                (0.9, 1e-2)]



def test_figures_draw_fig2_and_fig4_from_the_results_alone(tmp_path):
    """figures() on the committed results.json: Fig. 2 and Fig. 4 (its diverged runs are null)."""
    results = json.loads((Path(R.__file__).parent / "results" / "results.json").read_text())
    assert any(p["loss"][str(e)] is None for p in results["fig4"]["points"]
               for e in results["fig4"]["epochs"])  # the figure has diverged runs to mark
    paths = R.figures(results, tmp_path)
    assert paths == [tmp_path / "fig2.png", tmp_path / "fig4_bias_correction.png"]
    for path in paths:
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000, path
    assert R.figures({"config": {}}, tmp_path / "none") == []  # only the experiments held


def test_diverged_is_a_non_finite_or_missing_loss():
    assert R.diverged(None) and R.diverged(math.inf) and R.diverged(math.nan)
    assert not R.diverged(365.0) and not R.diverged(0.0)


def test_beyond_edge_steps_half_a_decade_past_the_edge_holding_the_best_loss():
    assert R.beyond_edge({3e-4: 1.0, 1e-3: 2.0, 3e-3: 3.0}) == 1e-4
    assert R.beyond_edge({3e-3: 3.0, 1e-2: 2.0, 3e-2: 1.0}) == 0.1
    assert R.beyond_edge({1e-2: 3.0, 3e-2: 2.0, 0.1: 1.0}) == 0.3
    assert R.beyond_edge({1e-3: 2.0, 3e-3: 1.0, 1e-2: 2.0}) is None  # inside
    assert R.beyond_edge({1e-3: 1.0, 3e-3: 2.0, 1e-2: 1.0}) == 3e-4  # ties: the smaller rate
    assert R.beyond_edge({1e-3: 1.0}) is None  # one point has no edge to step past
    # a diverged run (inf) is never the best; nothing finite: nothing to extend
    assert R.beyond_edge({1e-3: 2.0, 3e-3: 1.0, 1e-2: math.inf}) is None
    assert R.beyond_edge({1e-3: 1.0, 3e-3: 2.0, 1e-2: math.inf}) == 3e-4
    assert R.beyond_edge({1e-3: math.inf, 3e-3: math.inf}) is None


def test_tune_and_run_extends_a_grid_past_the_edge_until_the_best_is_inside(tmp_path,
                                                                             monkeypatch):
    """An arm whose best rate is the grid's smallest is tuned again half a decade lower, up to
    extend_edges times; the seeds then run at the best of everything tried."""
    optimum = {"adam": 1e-4, "sgd": 0.1}  # Adam's Fig. 2 grid starts at 3e-4; SGD's holds 0.1
    ran = []

    def run_all(cfg, runs):
        ran.extend((r.optimizer, r.lr, r.seed, r.epochs) for r in runs)

    def final_train_loss(run):  # lowest at the optimum, a factor 10 away costs 1
        return abs(math.log10(run.lr / optimum[run.optimizer]))

    monkeypatch.setattr(R, "run_all", run_all)
    monkeypatch.setattr(R, "final_train_loss", final_train_loss)
    monkeypatch.setattr(R, "_test", lambda run: {})
    c = dataclasses.replace(R.cpu(), out=str(tmp_path))
    base = R.base_config(c, task="mlp", out=str(tmp_path / "fig2"))
    arms = {"Adam": ("adam", {}), "SGDNesterov": ("sgd", {})}
    r = R.tune_and_run(c, "fig2", base, arms, 5, (0, 1, 2), 1)
    # 3e-4 at the edge -> 1e-4 tried, now the edge -> 3e-5 tried: 1e-4 is inside
    assert r["Adam"]["lr"] == 1e-4 and r["Adam"]["extended"] == ["0.0001", "3e-05"]
    assert list(r["Adam"]["grid"]) == ["3e-05", "0.0001", "0.0003", "0.001", "0.003"]
    assert not r["Adam"]["at_edge"]
    assert r["SGDNesterov"]["lr"] == 0.1 and r["SGDNesterov"]["extended"] == []
    # tuned on seed 0 for 1 epoch, then all three seeds for 5 epochs at the chosen rate
    assert ("adam", 3e-5, 0, 1) in ran
    assert sorted(x for x in ran if x[3] == 5) == sorted(
        [("adam", 1e-4, s, 5) for s in (0, 1, 2)] + [("sgd", 0.1, s, 5) for s in (0, 1, 2)])
    # without extension the choice stays at the edge, and says so
    r0 = R.tune_and_run(dataclasses.replace(c, extend_edges=0), "fig2", base, arms, 5, (0,), 1)
    assert r0["Adam"]["lr"] == 3e-4 and r0["Adam"]["at_edge"] and r0["Adam"]["extended"] == []
    # one extension only: 1e-4 is chosen, still at the edge of what was tried
    r1 = R.tune_and_run(dataclasses.replace(c, extend_edges=1), "fig2", base, arms, 5, (0,), 1)
    assert r1["Adam"]["lr"] == 1e-4 and r1["Adam"]["at_edge"]
