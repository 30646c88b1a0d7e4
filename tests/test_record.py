"""milestones.record: the committed JSON behind a README's numbers."""

import json

import pytest

from milestones import record
from milestones.adam import train as T
from milestones.core import metrics


def test_quick_records_every_seed_with_its_evaluations(monkeypatch):
    monkeypatch.setattr(T, "quick", T.smoke)  # the same path, in seconds
    rec = record.record_quick("adam", [0, 1])
    assert [run["seed"] for run in rec["runs"]] == [0, 1]
    for run in rec["runs"]:
        assert run["summary"]["step"] == run["summary"]["steps"] > 0 and "out" not in run["summary"]
        splits = {e["split"] for e in run["evaluations"]}
        assert "test" in splits and splits <= set(record.EVALUATIONS)
    assert rec["runs"][0]["summary"]["final_test_loss"] != rec["runs"][1]["summary"][
        "final_test_loss"]  # two seeds, two runs
    assert rec["config"]["preset"] == "smoke" and rec["threads"] >= 1 and rec["data"]


def test_a_dirty_tree_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(metrics, "code_version", lambda: {"git_dirty": True})
    assert record.main(["quick", "adam"]) == 2
    assert "uncommitted" in capsys.readouterr().err


def test_a_record_writes_its_json_and_renders_the_readme(monkeypatch, tmp_path):
    (tmp_path / "adam").mkdir()
    readme = tmp_path / "adam" / "README.md"
    readme.write_text("## Results\n\n<!-- template b=results/benchmark.json\n"
                      "ratio {b.result.ratio:.2f} at {b.provenance.git_sha}\n-->\n"
                      "<!-- /template -->\n")
    monkeypatch.setattr(metrics, "code_version", lambda: {"git_sha": "abc", "git_dirty": False})
    monkeypatch.setattr(record, "PACKAGE", tmp_path)
    monkeypatch.setattr(record, "record_benchmark", lambda name, args: {"ratio": 1.004})
    assert record.main(["benchmark", "adam"]) == 0
    assert (tmp_path / "adam" / "results" / "benchmark.json").is_file()
    assert "-->\nratio 1.00 at abc\n<!-- /template -->" in readme.read_text()


def test_results_are_judged_by_the_provenance_of_the_reproduction(monkeypatch, tmp_path):
    """A reproduction's results.json names the code that made it: one made from a clean commit
    is recorded even while the tree has edits (a README being written), a dirty one is not."""
    (tmp_path / "adam").mkdir()
    (tmp_path / "adam" / "README.md").write_text("## Results\n")
    monkeypatch.setattr(metrics, "code_version", lambda: {"git_dirty": True})
    monkeypatch.setattr(record, "PACKAGE", tmp_path)
    for dirty, code in ((False, 0), (True, 2)):
        source = tmp_path / f"out-{dirty}"
        source.mkdir()
        (source / "results.json").write_text(json.dumps({"provenance": {"git_dirty": dirty}}))
        (source / "results.md").write_text("# table\n")
        assert record.main(["results", "adam", "--from", str(source)]) == code


def test_figures_are_redrawn_from_the_committed_results_alone(monkeypatch, tmp_path):
    import sys
    import types

    (tmp_path / "results.json").write_text(json.dumps({"score": 1.5}))
    fake = types.ModuleType("milestones.fake.reproduce")
    fake.figures = lambda results, out: [out / f"score-{results['score']}.png"]
    monkeypatch.setitem(sys.modules, "milestones.fake.reproduce", fake)
    assert record.redraw_figures("fake", tmp_path) == [tmp_path / "score-1.5.png"]
    del fake.figures
    with pytest.raises(SystemExit, match="no figure"):
        record.redraw_figures("fake", tmp_path)


def test_a_second_study_is_recorded_under_its_own_name(monkeypatch, tmp_path, capsys):
    (tmp_path / "adam").mkdir()
    (tmp_path / "adam" / "README.md").write_text("## Results\n")
    monkeypatch.setattr(record, "PACKAGE", tmp_path)
    source = tmp_path / "out"
    source.mkdir()
    (source / "results.json").write_text(json.dumps({"provenance": {"git_dirty": False}}))
    (source / "results.md").write_text("# table\n")
    (source / "curve.png").write_bytes(b"png")
    assert record.main(["results", "adam", "--from", str(source), "--as", "second"]) == 0
    results = tmp_path / "adam" / "results"
    assert sorted(p.name for p in results.iterdir()) == ["curve.png", "second.json", "second.md"]
    assert record.main(["quick", "adam", "--as", "second"]) == 2
    assert "--as NAME goes with `results` or `benchmark`" in capsys.readouterr().err
