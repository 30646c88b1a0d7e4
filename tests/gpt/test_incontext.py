"""The in-context tasks: each episode's answer follows its task, the hidden parameters are drawn
per episode, and the evaluation scores exact answers as right and others as wrong."""

import importlib
import random

import pytest
import torch

from milestones.gpt import incontext as I
from milestones.gpt.data import CharTokenizer
from milestones.gpt.model import GPT, GPTConfig


def parse(prompt: str) -> list[tuple[str, str]]:
    return [tuple(pair.split(">")) for pair in prompt.rstrip(">").split(",")[:-1]]


@pytest.mark.parametrize("task", I.TASKS)
def test_examples_and_answer_follow_the_task(task):
    rng = random.Random(0)
    for _ in range(50):
        prompt, answer = I.episode(rng, 6, task)
        shots = parse(prompt)
        query = prompt.split(",")[-1].rstrip(">")
        pairs = [*shots, (query, answer)]
        assert len(shots) == 6 and all(len(x) == len(y) == 1 for x, y in pairs)
        if task == "lookup":  # one table on at most 4 letters
            assert len({x for x, _ in pairs}) <= I.DOMAIN
            assert all(dict(pairs)[x] == y for x, y in pairs)
        else:  # one offset, not 0
            offsets = {(ord(y) - ord(x)) % 26 for x, y in pairs}
            assert len(offsets) == 1 and offsets != {0}


def test_the_hidden_parameter_changes_between_episodes():
    rng = random.Random(1)
    offsets = set()
    for _ in range(40):
        prompt, answer = I.episode(rng, 0, "shift")
        offsets.add((ord(answer) - ord(prompt[0])) % 26)
    assert len(offsets) > 10  # zero-shot, the offset cannot be known


def test_training_text_is_one_episode_a_line_and_seeded():
    text = I.episodes(200, seed=3)
    assert text == I.episodes(200, seed=3) != I.episodes(200, seed=4)
    lines = text.splitlines()
    assert len(lines) == 200 and all(">" in line for line in lines)
    assert max(line.count(",") for line in lines) == 8  # up to 8 examples before the query


def test_evaluation_scores_exact_answers(monkeypatch):
    """A stand-in generation that writes the right answers scores 1.0, wrong ones 0.0."""
    G = importlib.import_module("milestones.gpt.generate")  # (the package exports the function)
    tok = CharTokenizer.fit([I.LETTERS + ">,\n"])
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, n_ctx=64, n_layer=1, n_head=1, d_model=8))
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
    answers.update({p: a + "x" for p, a in answers.items()})  # one letter too many
    assert I.evaluate(model, tok, 2, n=20, batch=7) == 0.0
