"""The GPT reproduce: its smoke run end to end, the power-law fits on made-up laws, and claims()
on hand-made results."""

import dataclasses
import json
import math

import pytest

from milestones.gpt import reproduce as R
from milestones.gpt.model import GPT, GPTConfig


@pytest.mark.slow
def test_the_smoke_reproduction_writes_every_table_and_figure(tmp_path):
    cfg = dataclasses.replace(R.smoke(), out=str(tmp_path / "rep"), data_root=str(tmp_path))
    R.main(cfg)
    out = tmp_path / "rep"
    results = json.loads((out / "results.json").read_text())
    for arm in R.SHAKESPEARE_ARMS:
        assert [r["seed"] for r in results["shakespeare"][arm]["runs"]] == [0, 1]
    assert len(results["scaling"]["points"]) == 4
    assert set(results["incontext"]) == {"1x16", "1x32"}
    row = results["incontext"]["1x32"]["runs"][0]
    assert {"0-shot", "2-shot", "lookup@2", "shift@2"} <= set(row)
    for name in ("results.md", "shakespeare-val-loss.png", "scaling-laws.png", "incontext.png"):
        assert (out / name).is_file(), name


def test_the_non_embedding_count_is_the_models():
    for n_layer, d_model in ((1, 16), (3, 96), (4, 192)):
        model = GPT(GPTConfig(vocab_size=65, n_ctx=32, n_layer=n_layer, n_head=1,
                              d_model=d_model))
        assert R.non_embedding_params(n_layer, d_model) == model.num_params(non_embedding=True)


def test_runs_keep_to_the_token_range_and_spend_the_budget():
    cfg = R.Config()
    runs = R.scaling_runs(cfg)
    assert runs
    for (size, c), run in runs.items():
        n = R.non_embedding_params(*R.shape(size))
        tokens = run.steps * run.batch_size * run.n_ctx
        assert cfg.min_tokens * 0.99 <= tokens <= cfg.max_tokens * 1.01
        assert 6 * n * tokens == pytest.approx(c, rel=0.02)


def test_the_fits_recover_made_up_laws():
    """Losses made from L = (N_c/N)^0.1 + a budget term, with the compute-optimal N growing as
    C^0.5 by construction: the fits find the exponents back."""
    points = []
    for c in (1e11, 1e12, 1e13):
        n_opt = 2.0 * c ** 0.5
        for k in (-1.0, -0.5, 0.0, 0.5, 1.0):
            n = n_opt * math.exp(k)
            loss = 3.0 * (c / 1e11) ** -0.05 * (1 + 0.2 * k * k)  # a parabola in log N
            points.append({"N": round(n), "budget": c, "C": c, "val_loss": loss, "size": f"{k}",
                           "tokens": c / (6 * n)})
    fits = R.fit_scaling(points)
    assert fits["a"] == pytest.approx(0.5, abs=0.01)
    assert fits["L_C"]["alpha"] == pytest.approx(0.05, abs=0.005)
    assert all(o["inside"] for o in fits["N_opt"].values())
    law = R.power_law([1e3, 1e4, 1e5], [(1e6 / n) ** 0.1 for n in (1e3, 1e4, 1e5)])
    assert law["alpha"] == pytest.approx(0.1) and law["k"] == pytest.approx(1e6 ** 0.1)


def test_approach_3_recovers_a_made_up_loss_surface():
    """Runs whose losses follow L = 1.5 + 300/N^0.5 + 200/D^0.4 exactly: the fit finds the five
    parameters back, and a = β/(α+β)."""
    truth = {"E": 1.5, "A": 300.0, "B": 200.0, "alpha": 0.5, "beta": 0.4}
    points = [{"N": n, "tokens": d, "val_loss": truth["E"] + truth["A"] / n ** truth["alpha"]
               + truth["B"] / d ** truth["beta"]}
              for n in (1e4, 3e4, 1e5, 3e5, 1e6) for d in (1e5, 1e6, 1e7)]
    fit = R.fit_loss_surface(points)
    for key, value in truth.items():
        assert fit[key] == pytest.approx(value, rel=0.02), key
    assert fit["a"] == pytest.approx(0.4 / 0.9, rel=0.02)
    assert R.fit_loss_surface(points[:5]) is None


def test_claims_read_the_numbers():
    stat = lambda m: {"mean": m, "std": 0.0, "n": 3}  # noqa: E731
    fit = lambda a: {"alpha": a, "k": 1.0, "points": 4}  # noqa: E731
    arm = lambda loss, minutes: {"steps": 2000, "val_loss": stat(loss),  # noqa: E731
                                 "minutes": stat(minutes)}
    icl = lambda zero, eight: {"runs": [  # noqa: E731
        {"seed": s, "0-shot": zero + 0.01 * s, "8-shot": eight + 0.02 * s} for s in range(3)]}
    r = {"shakespeare": {"iterations": arm(1.90, 1.5), "time": arm(1.85, 2.5)},
         "scaling": {"fits": {"L_ND": {"alpha": 0.3, "beta": 0.3, "a": 0.5}, "L_C": fit(-0.01),
                              "a": 0.4, "N_opt": {"1e+12": {"inside": True}},
                              "frontier": {"1e+12": {"size": "2x64"}}}},
         "incontext": {"1x64": icl(0.1, 0.3), "4x128": icl(0.1, 0.6)}}
    c, details = R.claims(r)
    assert c == {R.NANOGPT: True, R.L_OF_N: True, R.L_OF_C: False, R.N_OPT: True,
                 R.MORE_SHOTS: True, R.LARGER: True}
    r["incontext"]["4x128"] = icl(0.1, 0.1)  # no gain from the examples, no gain from size
    c, _ = R.claims(r)
    assert not c[R.MORE_SHOTS] and not c[R.LARGER]
    assert details["alpha_C"] == -0.01 and details["isoflop_minima_inside"] == ["1e+12"]
    r["shakespeare"]["time"] = arm(1.85, 3.5)  # the loss, but too slowly
    assert R.claims(r)[0][R.NANOGPT] is False


def test_benchmark_quick_compares_the_same_work():
    """Ours and Hugging Face's GPT-2 give the same logits and the same greedy continuations from
    the same weights before they are timed."""
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("transformers")
    repo = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "benchmarks/gpt.py", "--quick", "--reps", "3"],
                         cwd=repo, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(res.stdout[res.stdout.index("{"):])
    assert result["versus_hugging_face"]["same_logits"]
    assert result["generation"]["same_tokens"]
    assert result["training_step"]["tokens_per_s"] > 0 and result["training_step"]["mfu"] is None
