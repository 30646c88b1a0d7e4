"""The Transformer's reproduce: claims() on hand-made results (Table 3 rows A, D, E). The smoke
run of the whole script is in test_train.py."""

import json
from pathlib import Path

import pytest

from milestones.transformer import reproduce as R


def results(**variants: dict[str, float]) -> dict:
    """A results dict as reproduce.main builds it: per variant, means over seeds."""
    return {"variants": {name: {key: {"mean": x, "std": 0.0, "n": 3} for key, x in values.items()}
                         for name, values in variants.items()}}


BASE = {"test_bleu": 30.0, "valid_perplexity": 5.0, "long_bleu": 20.0}
A, D_PPL, D_BLEU = ("A: one head is worse (BLEU)", "D: label smoothing raises perplexity",
                    "D: label smoothing raises BLEU")
E_TEST, E_LONG = ("E: learned ~ sinusoidal on test (within 1 BLEU)",
                  "E: sinusoids extrapolate better to longer sentences")


def test_claims_as_the_paper_found():
    c = R.claims(results(base=BASE, **{
        "1 head": {"test_bleu": 29.0, "valid_perplexity": 5.3},
        "no label smoothing": {"test_bleu": 29.5, "valid_perplexity": 4.7},
        "learned positions": {"test_bleu": 30.5, "valid_perplexity": 5.0, "long_bleu": 15.0}}))
    assert c == {A: True, D_PPL: True, D_BLEU: True, E_TEST: True, E_LONG: True}


def test_claims_against_the_paper():
    c = R.claims(results(base=BASE, **{
        "1 head": {"test_bleu": 31.0, "valid_perplexity": 5.3},
        "no label smoothing": {"test_bleu": 30.5, "valid_perplexity": 5.2},
        "learned positions": {"test_bleu": 28.5, "valid_perplexity": 5.0, "long_bleu": 21.0}}))
    assert c == {A: False, D_PPL: False, D_BLEU: False, E_TEST: False, E_LONG: False}


def test_claims_ties_are_not_differences():
    """"Worse", "raises" and "better" are strict; "within 1 BLEU" includes 1, on either side."""
    tie = {"test_bleu": 30.0, "valid_perplexity": 5.0, "long_bleu": 20.0}
    c = R.claims(results(base=BASE, **{"1 head": tie, "no label smoothing": tie,
                                       "learned positions": tie}))
    assert c == {A: False, D_PPL: False, D_BLEU: False, E_TEST: True, E_LONG: False}
    for bleu, within in ((29.0, True), (31.0, True), (28.75, False), (31.25, False)):
        c = R.claims(results(base=BASE, **{"learned positions": {**tie, "test_bleu": bleu}}))
        assert c[E_TEST] is within, bleu


@pytest.mark.parametrize("present", [("base",), ("1 head", "no label smoothing"),
                                     ("base", "learned positions")])
def test_claims_need_the_base_row_and_the_measurements(present):
    rows = {"base": {"test_bleu": 30.0, "valid_perplexity": 5.0},  # no long_bleu measured
            "1 head": {"test_bleu": 29.0, "valid_perplexity": 5.3},
            "no label smoothing": {"test_bleu": 29.5, "valid_perplexity": 4.7},
            "learned positions": {"test_bleu": 30.5, "valid_perplexity": 5.0, "long_bleu": 1.0}}
    c = R.claims(results(**{name: rows[name] for name in present}))
    assert c == ({E_TEST: True} if "learned positions" in present else {})


def test_figures_draw_table3_and_eq3_from_the_results_alone(tmp_path):
    """figures() on the committed results.json: table3.png and lr_schedule.png, no run folders."""
    results = json.loads((Path(R.__file__).parent / "results" / "results.json").read_text())
    paths = R.figures(results, tmp_path)
    assert paths == [tmp_path / "table3.png", tmp_path / "lr_schedule.png"]
    for path in paths:
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000, path
