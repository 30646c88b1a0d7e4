"""In-context learning in miniature (GPT-3 §3, Fig. 1.2 in spirit): a language model trained on a
mixture of tasks, each shown only through examples in the prompt.

    text = episodes(20_000, seed=0)                # training text, one episode a line
    prompt, answer = episode(rng, k=4)             # "cab>abc,fe>ef,...,dca>", "acd"
    accuracy = evaluate(model, tok, k=4, n=200)    # exact match of the greedy answer

An episode draws a task and its hidden parameter, then k solved examples and a query:

    x_1>y_1,x_2>y_2,...,x_k>y_k,x_q>y_q

over strings of 2-5 letters. The tasks: ``reverse`` the string, ``sort`` its letters, ``shift``
every letter by an offset drawn per episode (a Caesar cipher: the offset is in the examples
only), ``map`` the letters through a substitution drawn per episode on a 6-letter alphabet.
With no example (zero-shot) the query does not say which task is meant, so the model can at best
guess; each example says more, and the shift and the substitution can only be read off the
examples. GPT-3's claim is that a large enough model does that reading at inference time, from
the prompt alone, without any update of its weights, and better the more examples and the larger
the model.
"""

from __future__ import annotations

import random
import string

import torch

TASKS = ("reverse", "sort", "shift", "map")
LETTERS = string.ascii_lowercase
MAP_ALPHABET = "abcdef"  # the substitution task's letters (few, so examples cover them)


def _string(rng: random.Random, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 5)))


def episode(rng: random.Random, k: int, task: str | None = None) -> tuple[str, str]:
    """(prompt, answer): ``k`` solved examples of a task and a query; the prompt ends with the
    query's ">", the answer is the query's solution (without the line's end)."""
    task = task or rng.choice(TASKS)
    if task == "shift":
        offset = rng.randint(1, 25)
        solve = lambda x: "".join(LETTERS[(LETTERS.index(c) + offset) % 26] for c in x)  # noqa: E731
        alphabet = LETTERS
    elif task == "map":
        image = list(MAP_ALPHABET)
        rng.shuffle(image)
        table = dict(zip(MAP_ALPHABET, image, strict=True))
        solve = lambda x: "".join(table[c] for c in x)  # noqa: E731
        alphabet = MAP_ALPHABET
    elif task == "reverse":
        solve, alphabet = (lambda x: x[::-1]), LETTERS
    elif task == "sort":
        solve, alphabet = (lambda x: "".join(sorted(x))), LETTERS
    else:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    xs = [_string(rng, alphabet) for _ in range(k + 1)]
    shots = "".join(f"{x}>{solve(x)}," for x in xs[:-1])
    return f"{shots}{xs[-1]}>", solve(xs[-1])


def episodes(n: int, seed: int = 0, max_shots: int = 8) -> str:
    """The training text: ``n`` episodes, one a line, each with 0..max_shots examples."""
    rng = random.Random(f"gpt-incontext:{seed}")
    lines = []
    for _ in range(n):
        prompt, answer = episode(rng, rng.randint(0, max_shots))
        lines.append(f"{prompt}{answer}\n")
    return "".join(lines)


@torch.no_grad()
def evaluate(model, tok, k: int, n: int = 200, seed: int = 12345, task: str | None = None,
             batch: int = 50) -> float:
    """The share of ``n`` held-out episodes with ``k`` examples whose query the model answers
    exactly (greedy decoding up to the line's end or the next ","). Episodes come from their own
    random stream, not the training text's."""
    from milestones.gpt.generate import generate

    rng = random.Random(f"gpt-incontext-eval:{seed}:{k}:{task}")
    cases = [episode(rng, k, task) for _ in range(n)]
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, n, batch):
        part = cases[i:i + batch]
        # prompts of one length per call: pad on the left with line ends (a previous line)
        ids = [tok.encode(p) for p, _ in part]
        width = max(map(len, ids))
        pad = tok.encode("\n")[0]
        idx = torch.tensor([[pad] * (width - len(x)) + x for x in ids], device=device)
        out = generate(model, idx[:, -model.config.n_ctx + 8:], 7, temperature=0)
        for (_, answer), row in zip(part, out[:, -7:].tolist(), strict=True):
            text = tok.decode(row)
            guess = text.split("\n")[0].split(",")[0]
            correct += guess == answer
    return correct / n
