"""Built-in fine-tuning tasks in the synthetic language of ``core.language`` (the built-in
pre-training corpus's language): they need no files and no network, and each asks for what
pre-training on that language can teach.

- ``agreement`` (a sentence-level task, CoLA-like): is the sentence grammatical? Half the
  sentences have one present-tense verb turned to the wrong number, which only its subject,
  words away, gives away. Scored as CoLA (Matthews correlation) and by accuracy.
- ``spans`` (a span task, SQuAD-like): a passage of four clauses and a question that is one of
  its verbs; the answer is that verb's subject (the noun phrase before it). A left-to-right
  model reads the subject before it has seen the verb, as Table 5's LTR reads a SQuAD passage.

    train, dev = agreement_task(4000, 1000)    # lists of glue.Example
    train, dev = span_task(3000, 500)          # lists of squad.Question
"""

from __future__ import annotations

import random

from milestones.bert.glue import BINARY, Example, Task
from milestones.bert.squad import Question

AGREEMENT = Task("agreement", "Agreement (built in)", "", BINARY, ("mcc", "accuracy"), a=0,
                 b=None, label=1, header=False)


def _wrong_number(words: list[str], rng: random.Random) -> list[str] | None:
    """The sentence with one present-tense verb in the other number, or None without one."""
    from milestones.core.language import synthetic_language

    lang = synthetic_language()
    present = []
    for i, word in enumerate(words):
        analysis = lang.analyse(word, "src")
        if analysis and analysis[0] == "verb" and analysis[2].startswith("pres."):
            present.append((i, analysis))
    if not present:
        return None
    i, (_, lemma, feats) = rng.choice(present)
    other = "pres.pl" if feats == "pres.sg" else "pres.sg"
    out = list(words)
    out[i] = lang.src_verb[lemma][other] + words[i][len(words[i].rstrip(",.")):]
    return out


def agreement_task(n_train: int = 4000, n_dev: int = 1000, seed: int = 0
                   ) -> tuple[list[Example], list[Example]]:
    """Sentences labelled 1 (grammatical) or 0 (one verb disagrees with its subject), half and
    half, each sentence once across both splits. Deterministic in ``seed``."""
    from milestones.core.language import synthetic_language

    lang = synthetic_language()
    rng = random.Random(f"bert-agreement:{seed}")
    seen: set[str] = set()
    examples: list[Example] = []
    while len(examples) < n_train + n_dev:
        sentence = lang.sentence(rng, 3, 14)[0]
        label = len(examples) % 2
        words = sentence.split()
        if label == 0:
            wrong = _wrong_number(words, rng)
            if wrong is None:
                continue
            words = wrong
        text = " ".join(words)
        if text in seen or sentence in seen:
            continue
        seen.update((text, sentence))
        examples.append(Example(text, None, label, len(examples) + 1))
    return examples[:n_train], examples[n_train:]


def span_task(n_train: int = 3000, n_dev: int = 500, seed: int = 0, clauses: int = 4
              ) -> tuple[list[Question], list[Question]]:
    """Passages of ``clauses`` one-clause sentences on one topic; the question is a verb that
    occurs once in the passage, the answer the noun phrase before it (its subject)."""
    from milestones.core.language import synthetic_language

    lang = synthetic_language()
    rng = random.Random(f"bert-spans:{seed}")
    questions: list[Question] = []
    while len(questions) < n_train + n_dev:
        topic = rng.sample(range(len(lang.src_noun)), 8)
        sentences = [lang.clause(rng, topic)[0] for _ in range(clauses)]
        verbs = []  # (sentence, index of its verb)
        for s, words in enumerate(sentences):
            for i, w in enumerate(words):
                a = lang.analyse(w, "src")
                if a and a[0] == "verb":
                    verbs.append((s, i))
                    break
        forms = [sentences[s][i] for s, i in verbs]
        unique = [(s, i) for s, i in verbs if forms.count(sentences[s][i]) == 1]
        if not unique:
            continue
        s, i = rng.choice(unique)
        texts = [" ".join(words) + "." for words in sentences]
        context = " ".join(texts)
        start = sum(len(t) + 1 for t in texts[:s])
        answer = " ".join(sentences[s][:i])
        n = len(questions)
        questions.append(Question(f"spans-{seed}-{n}", sentences[s][i], context, [answer],
                                  [start], f"passage {n}"))
    return questions[:n_train], questions[n_train:]
