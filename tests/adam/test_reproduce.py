"""Adam's reproduce (smoke) and benchmark (quick) entry points."""

import json

from tests.conftest import run_cli


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
    for png in ("fig1/fig1_logreg.png", "fig1bow/fig1_bow.png", "fig2/fig2_dropout.png",
                "fig4/fig4_bias_correction.png", "playground/rosenbrock.png",
                "playground/beale.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG", png


def test_reproduce_rejects_unknown_figures():
    res = run_cli("-m", "milestones.adam.reproduce", "--figures", "fig9")
    assert res.returncode == 2 and "--figures" in res.stdout + res.stderr


def test_benchmark_quick():
    res = run_cli("benchmarks/adam.py", "--quick")
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(res.stdout)
    assert result["adam_state_copies"] == 2.0 and result["adam_amsgrad_state_copies"] == 3.0
    assert result["adam_vs_torch_foreach"]["ratio"] > 0
