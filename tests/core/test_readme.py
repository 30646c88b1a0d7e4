"""core.readme: README numbers rendered from committed JSON, and numbers written by hand found."""

import json
from pathlib import Path

import pytest

import milestones
from milestones.core import readme as R


def test_templates_render_from_their_json_and_check_finds_stale_text(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "quick.json").write_text(json.dumps(
        {"seed": 0, "summary": {"final_test_error": 0.0218, "train_time_s": 349.2},
         "models": {"plain-20": {"error": {"mean": 37.871, "std": 1.1}}}}))
    page = tmp_path / "README.md"
    page.write_text("# m\n\n## Results\n\n<!-- template q=results/quick.json\n"
                    "Seed {q.seed}: **{pct(q.summary.final_test_error)}% test error**, "
                    "{q.summary.train_time_s / 60:.1f} min; "
                    "plain-20 {pm(q.models.plain_20.error)}\n"
                    "-->\nold text\n<!-- /template -->\n")
    assert R.main([str(page), "--check"]) == 1  # "old text" is not what the JSON says
    assert R.main([str(page)]) == 0
    assert "Seed 0: **2.18% test error**, 5.8 min; plain-20 37.87 ± 1.10\n<!-- /template -->" \
        in page.read_text()
    assert R.main([str(page), "--check"]) == 0
    assert R.unrendered_numbers(page) == []


def test_numbers_written_by_hand_in_the_results_are_found(tmp_path):
    page = tmp_path / "README.md"
    page.write_text("## Results\n\nResNet-56 (`--steps 2000`, §4.2, Table 6, D11) reached 6.97%.\n"
                    "A 4×84×84 input, Fig. 2.\n\n## How to run\n\n3 seeds\n")
    assert R.unrendered_numbers(page) == ["ResNet-56 (`--steps 2000`, §4.2, Table 6, D11) "
                                          "reached 6.97%."]


MILESTONES = sorted(m.name for m in milestones.REGISTRY if m.implemented)


@pytest.mark.parametrize("name", MILESTONES)
def test_every_number_in_a_milestone_readme_comes_from_its_json(name):
    """The README's templates render to exactly its text (else: python -m milestones.core.readme)
    from the committed results/*.json, and its Results section states no number by hand."""
    readme = Path(milestones.__file__).parent / name / "README.md"
    assert R.main([str(readme), "--check"]) == 0, f"{readme} is out of date with its JSON"
    assert R.unrendered_numbers(readme) == []


def test_ranked_claims_and_keys_that_are_not_names(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps(
        {"arms": {"SGD+dropout": {"loss": [0.5, 0.7]}, "Adam": {"loss": [0.25]}},
         "claims": {"adam wins": True, "E: a ~ b": False}, "1 head": {"2": 3.5}}))
    out = R.render("{ranked(r.arms, 'loss', 2)} | {claims(r.claims)} | {r._1_head._2}",
                   {"r": tmp_path / "r.json"})
    assert out == "Adam 0.25 ± 0.00, SGD+dropout 0.60 ± 0.14 | adam wins: **yes**, " \
                  "E: a ~ b: **no** | 3.5"
