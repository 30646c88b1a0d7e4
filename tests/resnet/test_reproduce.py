"""ResNet entry points beyond train: reproduce (smoke) and the benchmark (quick)."""

import json

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
    assert "| plain-56 |" in md and "Table 6" in md and "fig6_plain.png" in md
    for png in ("fig6_plain.png", "fig6_resnet.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    again = run_cli("-m", "milestones.resnet.reproduce", "--preset", "smoke", "--out",
                    str(tmp_path))  # finished runs are reused, not retrained
    assert again.returncode == 0 and "summary:" not in again.stderr


def test_reproduce_rejects_bad_models():
    res = run_cli("-m", "milestones.resnet.reproduce", "--preset", "smoke", "--models", "resnet50")
    assert res.returncode == 2 and "--models" in res.stdout + res.stderr


def test_benchmark_quick_prints_ratios():
    res = run_cli("benchmarks/resnet.py", "--quick")
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(res.stdout[res.stdout.index("{"):])
    assert result["resnet18"]["ratio"] > 0 and "overhead" in result["train_loop"]
