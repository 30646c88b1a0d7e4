"""core.readme: README numbers rendered from committed JSON, and numbers written by hand found."""

import json

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
