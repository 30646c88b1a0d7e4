"""core.report: statistics over seeds, table numbers, strict results.json."""

import json
import math
import statistics

import pytest

from milestones.core.report import fmt, mean_std, over_seeds, paired_difference, write_results


def test_mean_std_is_the_sample_statistics():
    xs = [8.71, 9.02, 8.55]
    assert mean_std(xs) == {"mean": statistics.mean(xs), "std": statistics.stdev(xs), "n": 3}
    assert mean_std([2.5]) == {"mean": 2.5, "std": 0.0, "n": 1}
    assert mean_std(iter([1, 3])) == {"mean": 2.0, "std": math.sqrt(2), "n": 2}
    with pytest.raises(ValueError):
        mean_std([])


def test_a_diverged_run_is_kept_not_dropped():
    s = mean_std([0.3, math.inf, 0.2])  # Adam's reproduce: a diverged run's loss is inf
    assert s["mean"] == math.inf and math.isnan(s["std"]) and s["n"] == 3
    assert math.isnan(mean_std([0.3, math.nan])["mean"])
    assert math.isnan(mean_std([math.inf, -math.inf])["mean"])
    assert fmt(s) == "diverged"


def test_over_seeds_leaves_out_what_was_not_measured():
    runs = [{"bleu": 20.0, "long": None, "ppl": 5.0}, {"bleu": 22.0, "long": None, "ppl": None}]
    assert over_seeds(runs, ("bleu", "long", "ppl")) == {
        "bleu": {"mean": 21.0, "std": math.sqrt(2), "n": 2},
        "ppl": {"mean": 5.0, "std": 0.0, "n": 1}}


def test_fmt():
    s = mean_std([8.71, 9.02, 8.55])
    assert fmt(s) == "8.76 ± 0.24" and fmt(s, 1) == "8.8 ± 0.2"
    assert fmt(None) == "-" and fmt({}) == "-"
    assert fmt(mean_std([0.25])) == "0.25 ± 0.00"
    assert fmt(mean_std([0.25]), 4, bare_single=True) == "0.2500"
    assert fmt(s, bare_single=True) == "8.76 ± 0.24"


def test_write_results_is_strict_json_and_prints_the_table(tmp_path, capsys):
    results = {"loss": mean_std([1.0, math.inf]), "grid": (1e-3, math.nan), "n": 2,
               "runs": [{"x": -math.inf}]}
    write_results(tmp_path / "out", results, "| a | b |\n")

    def no_constants(name):
        raise AssertionError(f"bare {name} in results.json")

    saved = json.loads((tmp_path / "out" / "results.json").read_text(),
                       parse_constant=no_constants)
    provenance = saved.pop("provenance")
    assert saved == {"loss": {"mean": None, "std": None, "n": 2}, "grid": [0.001, None], "n": 2,
                     "runs": [{"x": None}]}
    from milestones.core.metrics import code_sha256

    assert provenance["code_sha256"] == code_sha256() and provenance["runs"] == 0
    md = (tmp_path / "out" / "results.md").read_text()
    assert md.startswith("| a | b |\n\nMade by `") and f"code {code_sha256()}" in md
    assert capsys.readouterr().out == md + "\n"
    assert results["grid"] == (1e-3, results["grid"][1])  # the caller's dict is left as it was


def test_paired_difference_pairs_by_seed_and_says_whether_noise_hides_it():
    a = [{"seed": 0, "x": 10.0}, {"seed": 1, "x": 12.0}, {"seed": 2, "x": 11.0}]
    b = [{"seed": 2, "x": 10.0}, {"seed": 0, "x": 9.0}, {"seed": 1, "x": 11.0}]
    d = paired_difference(a, b, "x")  # differences 1, 1, 1: no noise at all
    assert d["mean"] == 1.0 and d["std"] == 0.0 and d["n"] == 3 and d["resolved"] is True
    noisy = [{"seed": 0, "x": 12.0}, {"seed": 1, "x": 10.0}, {"seed": 2, "x": 11.0}]
    d = paired_difference(noisy, b, "x")  # differences 3, -1, 1: mean 1, std 2
    assert d["mean"] == 1.0 and d["std"] == 2.0
    assert d["ci95"] == pytest.approx(4.303 * 2.0 / 3 ** 0.5) and d["resolved"] is False
    one = paired_difference(a[:1], b, "x")
    assert one["n"] == 1 and one["ci95"] is None and one["resolved"] is False
    assert paired_difference(a, [{"seed": 5, "x": 1.0}], "x") is None
