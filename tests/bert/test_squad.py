"""SQuAD v1.1 (§4.2): the JSON reader on XQuAD's English file (SQuAD v1.1 dev questions), the
windows of passage and their targets, span decoding, and the official evaluation's rules."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from milestones.bert.squad import (
    Feature,
    Question,
    best_spans,
    evaluate,
    exact_match,
    f1,
    load_squad,
    make_features,
    normalize_answer,
    split_by_article,
)
from milestones.bert.tokenizer import train_wordpiece
from milestones.core.config import ConfigError
from milestones.core.text import CorpusError

XQUAD = [Path(__file__).resolve().parents[3] / "shared" / "data" / "xquad-en" / "xquad.en.json",
         Path("/work/shared/data/xquad-en/xquad.en.json")]


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    for path in XQUAD:
        if path.is_file():
            return load_squad(path)
    pytest.skip(f"XQuAD's English file is not at {' or '.join(map(str, XQUAD))}")


@pytest.fixture(scope="module")
def tok(questions):
    return train_wordpiece(list(dict.fromkeys(q.context for q in questions)), vocab_size=2000)


def mid_word(q: Question) -> bool:
    """The answer starts or ends inside a word of the context (e.g. "2,70" of "2,700")."""
    a, b = q.starts[0], q.starts[0] + len(q.answers[0])
    return ((a > 0 and q.context[a - 1].isalnum() and q.context[a].isalnum())
            or (b < len(q.context) and q.context[b - 1].isalnum() and q.context[b].isalnum()))


# ---- the real file -------------------------------------------------------------------------------

def test_xquad(questions):
    assert len(questions) == 1190 and len({q.article for q in questions}) == 48
    assert len({q.context for q in questions}) == 240
    assert all(len(q.answers) == len(q.starts) == 1 for q in questions)
    first = questions[0]
    assert first.id == "56beb4343aeaaa14008c925b" and first.answers == ["308"]
    assert first.article == "Super_Bowl_50" and first.context[34:37] == "308"


def test_split_by_article(questions):
    train, held = split_by_article(questions, 12, seed=0)
    assert len({q.article for q in train}) == 36 and len({q.article for q in held}) == 12
    assert not {q.article for q in train} & {q.article for q in held}
    assert len(train) + len(held) == 1190
    assert split_by_article(questions, 12, seed=0) == (train, held)
    assert split_by_article(questions, 12, seed=1)[1] != held
    with pytest.raises(ConfigError, match="n_eval_articles"):
        split_by_article(questions, 48)


def decoded(q: Question, feature) -> str:
    return q.context[feature.offsets[feature.start][0]:feature.offsets[feature.end][1]]


@pytest.mark.parametrize("max_len, doc_stride", [(384, 128), (96, 32)])
def test_every_answer_maps_to_its_tokens(questions, tok, max_len, doc_stride):
    features = make_features(questions, tok, max_len=max_len, max_query_len=64,
                             doc_stride=doc_stride)
    targets = {}
    for f in features:
        assert len(f.input_ids) == len(f.segment_ids) == len(f.offsets) <= max_len
        if f.start:
            targets.setdefault(f.question, f)
    assert sorted(targets) == list(range(len(questions)))  # every answer fits some window
    exceptions = []
    for k, f in targets.items():
        q, text = questions[k], decoded(questions[k], f)
        if normalize_answer(text) != normalize_answer(q.answers[0]):
            exceptions.append(q)
            assert q.answers[0] in text  # the whole tokens around the answer
    assert all(mid_word(q) for q in exceptions) and len(exceptions) <= 3


def test_windows_cover_a_long_passage(questions, tok):
    q = max(questions, key=lambda q: len(q.context))
    ids, offsets = tok.encode_with_offsets(q.context)
    assert len(ids) > 300
    max_len, stride = 64, 24
    features = make_features([q], tok, max_len=max_len, max_query_len=16, doc_stride=stride)
    query = tok.encode(q.question)[:16]
    first, room = len(query) + 2, max_len - len(query) - 3
    seen = []
    for f in features:
        assert f.input_ids[:first] == [tok.cls_id, *query, tok.sep_id]
        assert f.input_ids[-1] == tok.sep_id and f.offsets[-1] is None
        assert f.segment_ids == [0] * first + [1] * (len(f.input_ids) - first)
        assert f.offsets[:first] == [None] * first and len(f.input_ids) <= max_len
        seen.append([offsets.index(o) for o in f.offsets[first:-1]])
    assert [s[0] for s in seen] == list(range(0, stride * len(seen), stride))
    assert all(len(s) == room for s in seen[:-1]) and seen[-1][-1] == len(ids) - 1
    answer = {i for i, (a, b) in enumerate(offsets)
              if a < q.starts[0] + len(q.answers[0]) and b > q.starts[0]}
    for f, window in zip(features, seen, strict=True):
        if answer <= set(window):
            assert (f.start, f.end) == (first + min(answer) - window[0],
                                        first + max(answer) - window[0])
            assert normalize_answer(decoded(q, f)) == normalize_answer(q.answers[0])
        else:  # not wholly inside: [CLS]
            assert (f.start, f.end) == (0, 0)
    assert any(f.start for f in features) and any(not f.start for f in features)


def test_best_spans_recovers_the_gold_answers(questions, tok):
    features = make_features(questions, tok, max_len=96, max_query_len=64, doc_stride=32)
    width = max(len(f.input_ids) for f in features)
    start, end = np.full((len(features), width), -5.0), np.full((len(features), width), -5.0)
    for k, f in enumerate(features):  # one-hot at the targets ([CLS] for answerless windows)
        start[k, f.start] = end[k, f.end] = 5.0
    longest = max(f.end - f.start + 1 for f in features if f.start)  # some answers: 30+ tokens
    for s, e in ((start, end), (torch.tensor(start), torch.tensor(end))):
        predictions = best_spans(s, e, features, questions, max_answer_len=longest)
        assert len(predictions) == 1190
        wrong = [q for q in questions
                 if normalize_answer(predictions[q.id]) != normalize_answer(q.answers[0])]
        assert all(mid_word(q) for q in wrong) and len(wrong) <= 3
        em = evaluate(predictions, questions)["exact_match"]
        assert em == pytest.approx(100 * (1 - len(wrong) / 1190))


def test_best_spans_rules():
    q = Question("q1", "Who?", "ab cd ef gh", ["cd"], [3], "t")
    offsets = [None, None, None, (0, 2), (3, 5), (6, 8), (9, 11), None]
    f = Feature([2, 9, 3, 10, 11, 12, 13, 3], [0, 0, 0, 1, 1, 1, 1, 1], 4, 4, 0, offsets)
    #         [CLS] Who [SEP]  ab  cd  ef  gh [SEP]
    start = [9.0, 9.0, 0, 0, 1.0, 0, 2.5, 9.0]  # [CLS], question, [SEP]: never picked
    end = [9.0, 9.0, 0, 0, 2.0, 1.0, 0, 9.0]  # the best start (gh) lies after the good ends
    assert best_spans([start], [end], [f], [q]) == {"q1": "cd"}
    end = [0, 0, 0, 0, 0, 4.0, 0, 0]  # "cd ef" scores 1 + 4, "ef" alone 0 + 4
    assert best_spans([start], [end], [f], [q]) == {"q1": "cd ef"}
    assert best_spans([start], [end], [f], [q], max_answer_len=1) == {"q1": "ef"}
    assert best_spans([start], [end], [f], [q], n_best=1) == {"q1": ""}  # only [CLS] looked at
    with pytest.raises(ValueError, match="features"):
        best_spans([start, start], [end], [f], [q])


def test_bad_settings(questions, tok):
    with pytest.raises(ConfigError, match="max_len"):
        make_features(questions[:1], tok, max_len=60, max_query_len=64, doc_stride=128)
    with pytest.raises(ConfigError, match="doc_stride"):
        make_features(questions[:1], tok, doc_stride=0)


# ---- the official evaluation ---------------------------------------------------------------------

def test_normalize_answer():
    assert normalize_answer("The Cat!") == "cat"
    assert normalize_answer("  An apple,  a day. ") == "apple day"
    assert normalize_answer("theory of the atom") == "theory of atom"  # words, not prefixes
    assert normalize_answer("U.S.-led") == "usled"  # punctuation removed, not split on


def test_exact_match_and_f1():
    assert exact_match("The Cat!", ["cat"]) == 1.0
    assert exact_match("a dog", ["cat", "the dog"]) == 1.0 and exact_match("dogs", ["dog"]) == 0.0
    assert f1("the big cat", ["a cat sat"]) == pytest.approx(0.5)  # [big cat] vs [cat sat]
    assert f1("cat", ["dog", "the cat", "cat sat"]) == 1.0  # the best reference
    assert f1("cat cat", ["cat"]) == pytest.approx(2 / 3)  # precision 1/2, recall 1
    assert f1("the", ["a"]) == 0.0  # both empty after normalising: no common tokens


def test_evaluate_in_percent():
    qs = [Question(str(i), "?", "x", [a], [0], "t") for i, a in enumerate(["Paris", "the cat"])]
    assert evaluate({"0": "paris", "1": "cat"}, qs) == {"exact_match": 100.0, "f1": 100.0}
    assert evaluate({"0": "Paris.", "1": "a black cat"}, qs) == pytest.approx(
        {"exact_match": 50.0, "f1": 100 * (1 + 2 / 3) / 2})
    with pytest.warns(UserWarning, match="1 unanswered"):
        assert evaluate({"0": "Paris"}, qs) == {"exact_match": 50.0, "f1": 50.0}


# ---- bad files -----------------------------------------------------------------------------------

def squad_file(tmp_path: Path, qa: dict, context: str = "Paris is in France.") -> Path:
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"version": "1.1", "data": [
        {"title": "Paris", "paragraphs": [{"context": context, "qas": [qa]}]}]}))
    return path


def test_bad_files(tmp_path):
    good = {"id": "q1", "question": "Where?", "answers": [{"text": "France", "answer_start": 12}]}
    assert load_squad(squad_file(tmp_path, good))[0].answers == ["France"]
    moved = {**good, "answers": [{"text": "France", "answer_start": 11}]}
    with pytest.raises(CorpusError, match=r"squad\.json: question 'q1': answer 'France' is not "
                       r"at answer_start 11 .*found ' Franc'"):
        load_squad(squad_file(tmp_path, moved))
    with pytest.raises(CorpusError, match=r"question 'q1': no key 'question'"):
        load_squad(squad_file(tmp_path, {k: v for k, v in good.items() if k != "question"}))
    with pytest.raises(CorpusError, match=r"question 'q1' has no answer"):
        load_squad(squad_file(tmp_path, {**good, "answers": []}))
    path = tmp_path / "broken.json"
    path.write_text('{"data": [\n  {"title": "x",}\n]}')
    with pytest.raises(CorpusError, match=r"broken\.json, line 2: not JSON"):
        load_squad(path)
    path.write_text('{"data": [{"title": "x", "paragraphs": [{"qas": []}]}]}')
    with pytest.raises(CorpusError, match=r"article 0 \('x'\), paragraph 0: no key 'context'"):
        load_squad(path)
    with pytest.raises(CorpusError, match="no such file"):
        load_squad(tmp_path / "missing.json")
