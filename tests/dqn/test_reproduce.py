"""DQN's reproduce: claims() on hand-made results (the ordering of Extended Data Table 3).
The smoke run of the whole script is in test_train.py."""

from milestones.dqn import reproduce as R


def results(**envs: dict[str, float]) -> dict:
    """A results dict as reproduce.main builds it: per environment and variant, the mean over
    seeds of the mean-over-training evaluation return."""
    return {"envs": {env: {v: {"mean_eval_return": {"mean": x, "std": 0.0, "n": 3}}
                           for v, x in scores.items()} for env, scores in envs.items()}}


PAPER_ORDER = {"replay+target": 300.0, "replay only": 200.0, "target only": 100.0,
               "neither": 10.0}


def test_claims_the_papers_ordering_holds():
    c = R.claims(results(CartPole=PAPER_ORDER))["CartPole"]
    assert c == {"ordering_holds": True,
                 "pairs": {"replay+target > replay only": True, "replay only > target only": True,
                           "target only > neither": True},
                 "observed_order": ["replay+target", "replay only", "target only", "neither"]}


def test_claims_a_swapped_pair_or_a_tie_breaks_the_ordering():
    swapped = {**PAPER_ORDER, "target only": 250.0}
    tie = {**PAPER_ORDER, "neither": 100.0}
    c = R.claims(results(A=swapped, B=tie))
    assert c["A"]["ordering_holds"] is False
    assert c["A"]["pairs"] == {"replay+target > replay only": True,
                               "replay only > target only": False,
                               "target only > neither": True}
    assert c["A"]["observed_order"] == ["replay+target", "target only", "replay only", "neither"]
    assert c["B"]["ordering_holds"] is False  # "better than" is strict
    assert c["B"]["pairs"]["target only > neither"] is False


def test_claims_compare_the_variants_present_in_the_papers_order():
    """Each environment separately; with a subset of the variants, neighbours in the paper's
    order are compared, whatever the order of the dict."""
    c = R.claims(results(Acrobot={"neither": -400.0, "replay+target": -100.0},
                         CartPole={"neither": 50.0, "replay+target": 20.0}))
    assert c["Acrobot"]["pairs"] == {"replay+target > neither": True}
    assert c["Acrobot"]["ordering_holds"] is True
    assert c["CartPole"] == {"ordering_holds": False, "pairs": {"replay+target > neither": False},
                             "observed_order": ["neither", "replay+target"]}
