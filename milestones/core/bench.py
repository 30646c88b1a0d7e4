"""Timing for ``benchmarks/*.py``: repetitions interleaved, medians, ratios.

Two implementations timed one after the other drift apart with the machine (clock speed, caches,
other processes), so every round runs each candidate once, in turn: in the given order on even
rounds and reversed on odd ones (A B, B A, A B, ...). A comparison is the median of the per-round
ratios, with its interquartile range, beside each side's median time.

    times = interleaved({"ours": ours_step, "torch": torch_step}, reps=20, device=device)
    ratio_stats(times, "ours", "torch")  # {"ours_ms", "torch_ms", "ratio", "ratio_iqr"}
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import torch

from milestones.core.metrics import environment

R = TypeVar("R")


def header(benchmark: str, device: torch.device) -> dict:
    """The keys a benchmark's JSON starts with: what ran, on what, with which versions, when."""
    env = environment(device)
    return {"benchmark": benchmark, "device": str(device), "device_name": env["device_name"],
            "threads": env["threads"], "torch": env["torch"], "torchvision": env["torchvision"],
            "git_sha": env["git_sha"], "date": env["started"]}


def sync(device: torch.device | str) -> None:
    """Wait for the work queued on ``device`` (CUDA and MPS run asynchronously; CPU does not)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_ms(fn: Callable[[], object], device: torch.device | str) -> float:
    """Milliseconds of one call of ``fn``, the device's queue drained before and after."""
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return 1000 * (time.perf_counter() - t)


def alternate(fns: dict[str, Callable[[], R]], rounds: int, warmup: int = 0) -> dict[str, list[R]]:
    """What each of ``fns`` returns, ``rounds`` times: every round calls each once, in the given
    order on even rounds and reversed on odd ones; the first ``warmup`` rounds are discarded."""
    results: dict[str, list[R]] = {name: [] for name in fns}
    order = list(fns.items())
    for i in range(warmup + rounds):
        for name, fn in order if i % 2 == 0 else order[::-1]:
            value = fn()
            if i >= warmup:
                results[name].append(value)
    return results


def interleaved(fns: dict[str, Callable[[], object]], reps: int, warmup: int = 2,
                device: torch.device | str = "cpu") -> dict[str, list[float]]:
    """Milliseconds of ``reps`` calls of each of ``fns``, interleaved (see :func:`alternate`),
    after ``warmup`` rounds that are not kept (allocation, autotuning, caches)."""
    return alternate({name: partial(time_ms, fn, device) for name, fn in fns.items()}, reps,
                     warmup)


def ratio_stats(times: dict[str, list[float]], a: str, b: str, digits: int = 2) -> dict:
    """``a`` against ``b`` from :func:`interleaved` times: ``<a>_ms`` and ``<b>_ms`` (medians,
    ``digits`` decimals), ``ratio`` (the median over rounds of a / b: below 1, a is faster) and
    ``ratio_iqr`` (its first and third quartiles)."""
    paired = [x / y for x, y in zip(times[a], times[b], strict=True)]  # one ratio per round
    q = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
    return {f"{a}_ms": round(statistics.median(times[a]), digits),
            f"{b}_ms": round(statistics.median(times[b]), digits),
            "ratio": round(statistics.median(paired), 3),
            "ratio_iqr": [round(q[0], 3), round(q[2], 3)]}
