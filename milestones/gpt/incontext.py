"""In-context learning in miniature (GPT-3 §3, Fig. 1.2 in spirit): a language model trained on a
mixture of tasks, each shown only through examples in the prompt.

    text = episodes(20_000, seed=0)                # training text, one episode a line
    prompt, answer = episode(rng, k=4)             # "c>q,a>m,c>q,d>x,a>", "m"
    accuracy = evaluate(model, tok, k=4, n=200)    # exact match of the greedy answer

An episode draws a task and its hidden parameter, then k solved examples and a query:

    x_1>y_1,x_2>y_2,...,x_k>y_k,x_q>y_q

over single letters. The tasks: ``lookup``, a table from 4 letters (drawn per episode) to
letters (drawn per episode), so the answer is in the prompt only if an example showed the
query's letter (the chance of that is 1 - (3/4)^k); and ``shift``, every letter moved on by an
offset drawn per episode (a Caesar cipher: one example shows the offset, and the model has to
apply it to another letter). Without examples (zero-shot) the answer cannot be known (1 in 26 by
chance); every example says more. GPT-3's claim is that a large enough model does this reading
at inference time, from the prompt alone, without any update of its weights, and better the more
examples and the larger the model. (Looking a letter up in the prompt is the "induction head"
circuit of Olsson et al. 2022, which needs two layers of attention.)
"""

from __future__ import annotations

import random
import string

import torch

TASKS = ("lookup", "shift")
LETTERS = string.ascii_lowercase
DOMAIN = 4  # letters a lookup table is defined on, per episode


def episode(rng: random.Random, k: int, task: str | None = None) -> tuple[str, str]:
    """(prompt, answer): ``k`` solved examples of a task and a query; the prompt ends with the
    query's ">", the answer is the query's solution (without the line's end)."""
    task = task or rng.choice(TASKS)
    if task == "lookup":
        domain = rng.sample(LETTERS, DOMAIN)
        table = {x: rng.choice(LETTERS) for x in domain}
        xs = [rng.choice(domain) for _ in range(k + 1)]
        ys = [table[x] for x in xs]
    elif task == "shift":
        offset = rng.randint(1, 25)
        xs = [rng.choice(LETTERS) for _ in range(k + 1)]
        ys = [LETTERS[(LETTERS.index(x) + offset) % 26] for x in xs]
    else:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    shots = "".join(f"{x}>{y}," for x, y in zip(xs[:-1], ys[:-1], strict=True))
    return f"{shots}{xs[-1]}>", ys[-1]


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
        out = generate(model, idx, 7, temperature=0)  # (past the context, its window slides)
        for (_, answer), row in zip(part, out[:, -7:].tolist(), strict=True):
            text = tok.decode(row)
            guess = text.split("\n")[0].split(",")[0]
            correct += guess == answer
    return correct / n
