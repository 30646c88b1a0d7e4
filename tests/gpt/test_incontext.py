"""The in-context tasks: each episode's answer follows its task, the hidden parameters are drawn
per episode, and the evaluation scores a model that knows the answers as perfect."""

import random

import pytest

from milestones.gpt import incontext as I
from milestones.gpt.data import CharTokenizer


def parse(prompt: str) -> list[tuple[str, str]]:
    return [tuple(pair.split(">")) for pair in prompt.rstrip(">").split(",")[:-1]]


@pytest.mark.parametrize("task", I.TASKS)
def test_examples_and_answer_follow_the_task(task):
    rng = random.Random(0)
    for _ in range(50):
        prompt, answer = I.episode(rng, 4, task)
        shots = parse(prompt)
        query = prompt.split(",")[-1].rstrip(">")
        assert len(shots) == 4 and all(2 <= len(x) <= 5 and len(y) == len(x) for x, y in shots)
        for x, y in [*shots, (query, answer)]:
            if task == "reverse":
                assert y == x[::-1]
            elif task == "sort":
                assert y == "".join(sorted(x))
            elif task == "shift":
                offsets = {(ord(b) - ord(a)) % 26 for a, b in zip(x, y, strict=True)}
                assert len(offsets) == 1 and offsets != {0}
            else:
                assert set(x) <= set(I.MAP_ALPHABET) and set(y) <= set(I.MAP_ALPHABET)


def test_the_hidden_parameter_changes_between_episodes():
    rng = random.Random(1)
    offsets = set()
    for _ in range(40):
        prompt, answer = I.episode(rng, 0, "shift")
        x = prompt.rstrip(">")
        offsets.add((ord(answer[0]) - ord(x[0])) % 26)
    assert len(offsets) > 10  # zero-shot, the offset cannot be known


def test_training_text_is_one_episode_a_line_and_seeded():
    text = I.episodes(200, seed=3)
    assert text == I.episodes(200, seed=3) != I.episodes(200, seed=4)
    lines = text.splitlines()
    assert len(lines) == 200 and all(">" in line for line in lines)
    assert max(line.count(",") for line in lines) == 8  # up to 8 examples before the query


def test_evaluation_scores_exact_answers(monkeypatch):
    """A stand-in generation that writes the right answers: evaluate() scores it 1.0."""
    import importlib

    import torch

    from milestones.gpt.model import GPT, GPTConfig

    G = importlib.import_module("milestones.gpt.generate")  # (the package exports the function)
    tok = CharTokenizer.fit([I.LETTERS + ">,\n"])
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, n_ctx=128, n_layer=1, n_head=1,
                          d_model=8))
    answers = {}

    def oracle(model, idx, new, temperature=0):
        rows = []
        for row in idx.tolist():
            prompt = tok.decode(row).lstrip("\n")
            rows.append(row + tok.encode((answers[prompt] + "\n" + "a" * new)[:new]))
        return torch.tensor(rows)

    rng = random.Random("gpt-incontext-eval:12345:2:None")
    for _ in range(20):
        p, a = I.episode(rng, 2)
        answers[p] = a
    monkeypatch.setattr(G, "generate", oracle)
    assert I.evaluate(model, tok, 2, n=20, batch=7) == 1.0
    answers.update({p: a[::-1] + "x" for p, a in answers.items()})  # wrong answers
    assert I.evaluate(model, tok, 2, n=20, batch=7) == 0.0
