"""SQuAD v1.1 (Rajpurkar et al. 2016), the span-extraction task of §4.2: questions from the JSON
files as released, the windows of passage the model reads, the answer decoded from its start and
end logits, and the official evaluation script's exact match and F1.

    questions = load_squad("dev-v1.1.json")               # or XQuAD's xquad.en.json
    features = make_features(questions, tok, max_len=384, max_query_len=64, doc_stride=128)
    answers = best_spans(start_logits, end_logits, features, questions)   # {id: text}
    evaluate(answers, questions)                          # {"exact_match": 81.2, "f1": 88.5}

§4.2: "We represent the input question and passage as a single packed sequence, with the question
using the A embedding and the passage using the B embedding", "The score of a candidate span from
position i to position j is defined as S·T_i + E·T_j, and the maximum scoring span where j >= i is
used as a prediction." Passages longer than ``max_len`` are read in overlapping windows
``doc_stride`` tokens apart, as in the released ``run_squad.py``.
"""

from __future__ import annotations

import json
import random
import re
import string
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from milestones.core.config import ConfigError
from milestones.core.text import CorpusError

__all__ = ["Feature", "Question", "best_spans", "evaluate", "exact_match", "f1", "load_squad",
           "make_features", "normalize_answer", "split_by_article"]


@dataclass
class Question:
    """A question on a passage, its reference answers and their character offsets."""

    id: str
    question: str
    context: str
    answers: list[str]
    starts: list[int]  # answer_start: the character offset of each answer in the context
    article: str  # the article's title


def load_squad(path: str | Path) -> list[Question]:
    """The questions of a SQuAD v1.1 JSON file (``data[].paragraphs[].qas[]``), in file order.
    A broken structure or an answer not found at its ``answer_start`` is a
    :class:`~milestones.core.text.CorpusError` naming the question."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, None, "no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CorpusError(path, e.lineno, f"not JSON: {e.msg}") from None
    except UnicodeDecodeError:
        raise CorpusError(path, None, "not UTF-8 text") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise CorpusError(path, None, "expected a JSON object with a 'data' list of articles")
    questions = []
    for i, article in enumerate(data["data"]):
        where = f"article {i}"
        try:
            title = str(article.get("title", where))
            for j, paragraph in enumerate(article["paragraphs"]):
                where = f"article {i} ({title!r}), paragraph {j}"
                context = paragraph["context"]
                for qa in paragraph["qas"]:
                    where = f"question {qa.get('id', '?')!r}"
                    questions.append(_question(qa, context, title, path))
        except (KeyError, TypeError, AttributeError) as e:
            what = f"no key {e}" if isinstance(e, KeyError) else f"unexpected structure ({e})"
            raise CorpusError(path, None, f"{where}: {what}") from None
    if not questions:
        raise CorpusError(path, None, "no questions")
    return questions


def _question(qa: dict, context: str, title: str, path: Path) -> Question:
    qid = str(qa["id"])
    if qa.get("is_impossible") or not qa["answers"]:
        raise CorpusError(path, None, f"question {qid!r} has no answer (SQuAD 2.0's unanswerable "
                          "questions are not supported)")
    answers, starts = [], []
    for answer in qa["answers"]:
        text, start = answer["text"], answer["answer_start"]
        found = context[start:start + len(text)] if isinstance(start, int) else None
        if found != text:
            raise CorpusError(path, None, f"question {qid!r}: answer {text!r} is not at "
                              f"answer_start {start!r} of its context (found {found!r})")
        answers.append(text)
        starts.append(start)
    return Question(qid, qa["question"], context, answers, starts, title)


def split_by_article(questions: Sequence[Question], n_eval_articles: int, seed: int = 0
                     ) -> tuple[list[Question], list[Question]]:
    """(train, eval): the questions of ``n_eval_articles`` articles drawn with ``seed`` for
    eval, the rest for train, both in their original order (no passage is in both)."""
    articles = list(dict.fromkeys(q.article for q in questions))
    if not 0 < n_eval_articles < len(articles):
        raise ConfigError("n_eval_articles", n_eval_articles,
                          f"must be between 1 and {len(articles) - 1} ({len(articles)} articles)")
    held = set(random.Random(seed).sample(articles, n_eval_articles))
    return ([q for q in questions if q.article not in held],
            [q for q in questions if q.article in held])


# ---- the official evaluation (evaluate-v1.1.py) --------------------------------------------------

_PUNCTUATION = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower-case, drop punctuation, the articles a / an / the, and extra whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCTUATION)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", s).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised reference, else 0.0."""
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(g) for g in golds))


def _f1(prediction: str, gold: str) -> float:
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, golds: Sequence[str]) -> float:
    """Token-level F1 of the normalised answers, the best over the references."""
    return max(_f1(prediction, g) for g in golds)


def evaluate(predictions: dict[str, str], questions: Sequence[Question]) -> dict[str, float]:
    """``{"exact_match": %, "f1": %}`` over ``questions``, as the official script computes them:
    a question without a prediction scores 0 (and is reported in a warning)."""
    if not questions:
        raise ValueError("no questions to evaluate")
    em = total_f1 = 0.0
    unanswered = [q.id for q in questions if q.id not in predictions]
    for q in questions:
        if q.id in predictions:
            em += exact_match(predictions[q.id], q.answers)
            total_f1 += f1(predictions[q.id], q.answers)
    if unanswered:
        warnings.warn(f"{len(unanswered)} unanswered question(s) score 0 (e.g. {unanswered[0]})",
                      stacklevel=2)
    return {"exact_match": 100.0 * em / len(questions), "f1": 100.0 * total_f1 / len(questions)}


# ---- features: what the model reads --------------------------------------------------------------

@dataclass
class Feature:
    """``[CLS] question [SEP] window [SEP]``: one window of one question's passage."""

    input_ids: list[int]
    segment_ids: list[int]  # 0: [CLS] question [SEP]; 1: window [SEP]
    start: int  # training target: the answer's first token, or 0 ([CLS]) if not in the window
    end: int  # its last token (inclusive), or 0
    question: int  # index into the questions list
    offsets: list[tuple[int, int] | None]  # each token's characters in the context; None outside


def _token_span(offsets: Sequence[tuple[int, int]], char_start: int, char_end: int, qid: str
                ) -> tuple[int, int]:
    """First and last token overlapping the characters [char_start, char_end)."""
    inside = [i for i, (s, e) in enumerate(offsets) if s < char_end and e > char_start]
    if not inside:
        raise ValueError(f"question {qid!r}: no token of the context covers its answer "
                         f"(characters {char_start}:{char_end})")
    return inside[0], inside[-1]


def make_features(questions: Sequence[Question], tok, max_len: int = 384, max_query_len: int = 64,
                  doc_stride: int = 128) -> list[Feature]:
    """Every question's windows, in order. The question is cut to ``max_query_len`` tokens; the
    passage is read in windows of ``max_len - len(question) - 3`` tokens that start
    ``doc_stride`` tokens apart (the last one ends with the passage). A window's target is its
    span of the (first) answer when the answer lies wholly inside it, else (0, 0): [CLS]."""
    for name, value in (("max_query_len", max_query_len), ("doc_stride", doc_stride)):
        if value < 1:
            raise ConfigError(name, value, "must be at least 1")
    if max_len - max_query_len - 3 < 1:
        raise ConfigError("max_len", max_len, f"leaves no room for the passage after a question "
                          f"of up to {max_query_len} tokens and [CLS] [SEP] [SEP]")
    passages: dict[str, tuple[list[int], list[tuple[int, int]]]] = {}
    features = []
    for index, q in enumerate(questions):
        if q.context not in passages:
            passages[q.context] = tok.encode_with_offsets(q.context)
        doc_ids, doc_offsets = passages[q.context]
        query = tok.encode(q.question)[:max_query_len]
        answer = _token_span(doc_offsets, q.starts[0], q.starts[0] + len(q.answers[0]), q.id)
        room = max_len - len(query) - 3
        first = len(query) + 2  # where the window starts in the input
        start = 0
        while True:
            length = min(room, len(doc_ids) - start)
            window = range(start, start + length)
            target = ((answer[0] - start + first, answer[1] - start + first)
                      if answer[0] in window and answer[1] in window else (0, 0))
            features.append(Feature(
                input_ids=[tok.cls_id, *query, tok.sep_id, *doc_ids[start:start + length],
                           tok.sep_id],
                segment_ids=[0] * first + [1] * (length + 1),
                start=target[0], end=target[1], question=index,
                offsets=[None] * first + [doc_offsets[i] for i in window] + [None]))
            if start + length >= len(doc_ids):
                break
            start += min(length, doc_stride)
    return features


def best_spans(start_logits, end_logits, features: Sequence[Feature],
               questions: Sequence[Question], max_answer_len: int = 30, n_best: int = 20
               ) -> dict[str, str]:
    """``{question id: answer text}``: over all windows of a question, the span i <= j inside the
    passage, at most ``max_answer_len`` tokens long, with the highest start_i + end_j among the
    ``n_best`` best starts and ends of each window (the released code's search). Logits: one row
    per feature (padding beyond a feature's length is ignored)."""
    if not len(start_logits) == len(end_logits) == len(features):
        raise ValueError(f"{len(start_logits)} start and {len(end_logits)} end logit rows for "
                         f"{len(features)} features")
    best: dict[int, tuple[float, int, int]] = {}  # question -> (score, char start, char end)
    answers = {questions[f.question].id: "" for f in features}  # "" where no span qualifies
    for f, s_row, e_row in zip(features, start_logits, end_logits, strict=True):
        n = len(f.input_ids)
        s, e = _as_array(s_row)[:n], _as_array(e_row)[:n]
        starts = [i for i in np.argsort(-s, kind="stable")[:n_best] if f.offsets[i] is not None]
        ends = [j for j in np.argsort(-e, kind="stable")[:n_best] if f.offsets[j] is not None]
        for i in starts:
            for j in ends:
                if not i <= j < i + max_answer_len:
                    continue
                total = float(s[i] + e[j])
                if f.question not in best or total > best[f.question][0]:
                    best[f.question] = (total, f.offsets[i][0], f.offsets[j][1])
    answers.update({questions[k].id: questions[k].context[a:b] for k, (_, a, b) in best.items()})
    return answers


def _as_array(row) -> np.ndarray:
    if hasattr(row, "detach"):  # a torch tensor, on any device
        row = row.detach().float().cpu().numpy()
    return np.asarray(row, dtype=np.float64)
