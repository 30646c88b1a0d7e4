"""The multi30k preset and its entry point (``milestones.transformer.multi30k``), offline: tiny
parallel text files generated here stand in for Multi30k."""

import dataclasses
import json

import pytest

from milestones.core.language import synthetic_corpus
from milestones.transformer import multi30k as M
from milestones.transformer import train as T

pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'milestones[text]'")
pytest.importorskip("sacrebleu", reason="needs the text extra: pip install 'milestones[text]'")


def write_multi30k(folder, n_train=300, n_valid=12, n_test=10):
    """<split>.de / <split>.en (the raw Multi30k layout), from the built-in language pair."""
    corpus = synthetic_corpus(n_train=n_train, n_valid=n_valid, n_test=n_test, n_long=0, seed=1)
    folder.mkdir(parents=True, exist_ok=True)
    for split, pairs in (("train", corpus.train), ("val", corpus.valid),
                         ("test_2016_flickr", corpus.test)):
        (folder / f"{split}.de").write_text("".join(f"{s}\n" for s, _ in pairs))
        (folder / f"{split}.en").write_text("".join(f"{t}\n" for _, t in pairs))
    return folder


def test_the_multi30k_preset():
    cfg = T.multi30k()
    assert (cfg.preset, cfg.dataset, cfg.lang_pair) == ("multi30k", "multi30k", "de-en")
    assert cfg.bleu_sentences >= 1014  # the whole validation set at every evaluation
    assert cfg.data_dir is None  # <data root>/multi30k/, else Hugging Face: never a fixed path
    assert T.PRESETS["multi30k"] is T.multi30k
    q = T.quick()
    assert (cfg.N, cfg.d_model, cfg.h, cfg.d_ff) == (q.N, q.d_model, q.h, q.d_ff)  # quick model
    with pytest.raises(ValueError, match="data_dir"):
        dataclasses.replace(T.quick(), data_dir="somewhere")  # read by --dataset multi30k only


def test_smoke_trains_reports_and_reuses(tmp_path):
    folder = write_multi30k(tmp_path / "m30k")
    cfg = dataclasses.replace(M.smoke(), data_dir=str(folder), data_root=str(tmp_path / "root"),
                              out=str(tmp_path / "out"), device="cpu")
    results = M.main(cfg)
    (run,) = results["runs"]
    assert run["steps"] == T.smoke().steps and run["valid_sentences"] == 12
    for key in ("valid_bleu", "valid_chrf", "valid_length_ratio", "test_bleu",
                "test_bleu_lowercase", "test_chrf", "test_length_ratio"):
        assert key in run and results[key]["n"] == 1
    assert set(results["copy_source"]) == {"valid", "test"}
    assert results["copy_source"]["valid"]["length_ratio"] > 0 and results["peers"]
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["provenance"]["runs"] == 1 and "peers" in saved
    assert "copying the source" in (tmp_path / "out" / "results.md").read_text()
    summary = (tmp_path / "out" / "runs" / "de-en-s0" / "summary.json").read_text()
    again = M.main(cfg)  # the finished run is reused, not trained again
    assert again["runs"][0]["test_bleu"] == run["test_bleu"]
    assert (tmp_path / "out" / "runs" / "de-en-s0" / "summary.json").read_text() == summary


def test_runs_take_the_preset_unless_told():
    run = M.run_config(M.cpu(), seed=1)
    assert (run.lr_scale, run.steps, run.seed) == (T.multi30k().lr_scale, T.multi30k().steps, 1)
    run = M.run_config(dataclasses.replace(M.cpu(), lr_scale=1.0, steps=100), seed=0)
    assert (run.lr_scale, run.steps) == (1.0, 100)  # e.g. Eq. 3 at the paper's full rate
    with pytest.raises(ValueError, match="lr_scale"):
        dataclasses.replace(M.cpu(), lr_scale=0.0)
