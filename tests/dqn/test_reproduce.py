"""DQN's reproduce: claims() and the learning-rate choice on hand-made results (Extended Data
Table 3). The smoke run of the whole script is in test_train.py."""

from milestones.dqn import reproduce as R


def stat(x: float) -> dict:
    return {"mean": x, "std": 0.0, "n": 3}


def results(**envs: dict[str, float]) -> dict:
    """A results dict as reproduce.main builds it: per environment and variant, the mean over
    seeds of the best evaluation (the paper's score); the mean over training is the score
    halved, so both orderings agree."""
    return {"envs": {env: {v: {"best_eval_return": stat(x), "mean_eval_return": stat(x / 2)}
                           for v, x in scores.items()} for env, scores in envs.items()}}


PAPER_ORDER = {"replay+target": 300.0, "replay only": 200.0, "target only": 100.0,
               "neither": 10.0}


def test_claims_the_papers_ordering_holds():
    c = R.claims(results(CartPole=PAPER_ORDER))["CartPole"]["paper_score"]
    assert c == {"ordering_holds": True,
                 "pairs": {"replay+target > replay only": True, "replay only > target only": True,
                           "target only > neither": True},
                 "observed_order": ["replay+target", "replay only", "target only", "neither"]}


def test_claims_a_swapped_pair_or_a_tie_breaks_the_ordering():
    swapped = {**PAPER_ORDER, "target only": 250.0}
    tie = {**PAPER_ORDER, "neither": 100.0}
    c = {env: x["paper_score"] for env, x in R.claims(results(A=swapped, B=tie)).items()}
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
    c = {env: x["mean_over_training"] for env, x in c.items()}
    assert c["Acrobot"]["pairs"] == {"replay+target > neither": True}
    assert c["Acrobot"]["ordering_holds"] is True
    assert c["CartPole"] == {"ordering_holds": False, "pairs": {"replay+target > neither": False},
                             "observed_order": ["neither", "replay+target"]}


def test_claims_check_the_papers_score_and_the_mean_over_training_separately():
    """CartPole's ceiling: every variant that once balanced the pole scores 500 by the paper's
    score (a tie: the ordering fails) while the mean over training still orders them."""
    r = results(CartPole=PAPER_ORDER)
    for v, best in {"replay+target": 500.0, "replay only": 500.0}.items():
        r["envs"]["CartPole"][v]["best_eval_return"] = stat(best)
    c = R.claims(r)["CartPole"]
    assert c["paper_score"]["pairs"]["replay+target > replay only"] is False
    assert c["paper_score"]["ordering_holds"] is False
    assert c["mean_over_training"]["ordering_holds"] is True


def test_choose_lr_by_the_papers_score_then_the_mean_over_training_then_the_smaller_rate():
    def row(factor, best, mean):
        return {"lr_factor": factor, "best_eval_return": stat(best),
                "mean_eval_return": stat(mean)}

    assert R.choose_lr([row(0.5, 300, 90), row(1, 400, 80), row(2, 350, 200)])["lr_factor"] == 1
    assert R.choose_lr([row(0.5, 500, 90), row(1, 500, 250), row(2, 500, 200)])["lr_factor"] == 1
    assert R.choose_lr([row(0.5, 500, 90), row(1, 500, 90), row(2, 10, 9)])["lr_factor"] == 0.5


def test_quick_figures_draw_every_seed_from_the_recorded_quick_json(tmp_path):
    import json
    from pathlib import Path

    recorded = Path(R.__file__).parent / "results" / "quick.json"
    paths = R.quick_figures(json.loads(recorded.read_text()), tmp_path)
    assert paths == [tmp_path / "quick-curves.png"] and paths[0].stat().st_size > 10_000
