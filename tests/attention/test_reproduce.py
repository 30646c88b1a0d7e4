"""The attention reproduce: claims() on hand-made results, BLEU by length. The smoke run of the
whole script (and of the benchmark) is in test_train.py."""

from milestones.attention import reproduce as R


def results(**models: dict[str, float]) -> dict:
    """A results dict as reproduce.main builds it: per model, means over seeds."""
    return {"models": {name: {key: {"mean": x, "std": 0.0, "n": 3} for key, x in values.items()}
                       for name, values in models.items()}}


def model(test: float, short: float, long: float) -> dict[str, float]:
    return {"test_bleu": test, "short_bleu": short, "long_bleu": long, "drop": short - long,
            "kept": long / short}


def test_claims_as_the_paper_found():
    c = R.claims(results(**{
        "RNNencdec-30": model(10, 20, 3), "RNNsearch-30": model(20, 30, 15),
        "RNNencdec-50": model(15, 22, 8), "RNNsearch-50": model(28, 30, 29),
        "Transformer": model(25, 30, 10)}))
    assert all(c.values()) and len(c) == 12, c


def test_claims_against_the_paper():
    c = R.claims(results(**{
        "RNNencdec-30": model(20, 20, 21), "RNNsearch-30": model(10, 30, 25),
        "RNNencdec-50": model(30, 19, 20), "RNNsearch-50": model(18, 30, 20),
        "Transformer": model(5, 30, 10)}))
    assert not any(c.values()), c


def test_claims_not_measured_are_none():
    c = R.claims(results(**{"RNNencdec-30": {"test_bleu": 1.0}, "RNNsearch-30": {
        "test_bleu": 2.0}}))
    assert c["Table 1: RNNsearch-30 beats RNNencdec-30 on all test sentences"] is True
    assert c["Fig. 2: RNNencdec-30's BLEU falls with length (long < short)"] is None


def test_bleu_by_length_bins():
    pairs = [("a b c", "x y z"), ("a b c d e f g h i j k l", "x y z w"), ("a", "b")]
    bins = R.length_bins([3, 12, 1], 10)
    assert bins == [(1, 10), (11, 20)]
    rows = R.bleu_by_length(["x y z", "q", "b"], pairs, bins)
    assert [r["n"] for r in rows] == [2, 1] and rows[1]["bleu"] == 0.0
    assert R.range_bleu(["x y z", "q", "b"], pairs, 30, 40) is None
