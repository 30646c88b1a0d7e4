"""core.bench: interleaved repetitions, medians and ratios."""

import time

import pytest

from milestones.core.bench import alternate, header, interleaved, ratio_stats, sync, time_ms


def test_alternate_reverses_the_order_every_round_and_drops_the_warmup():
    calls = []

    def make(name):
        def fn():
            calls.append(name)
            return len(calls)
        return fn

    got = alternate({"a": make("a"), "b": make("b"), "c": make("c")}, rounds=2, warmup=1)
    assert calls == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert got == {"a": [6, 7], "b": [5, 8], "c": [4, 9]}  # the first round is not kept


def test_interleaved_times_each_function_reps_times():
    times = interleaved({"sleep": lambda: time.sleep(0.002), "none": lambda: None}, reps=3)
    assert len(times["sleep"]) == len(times["none"]) == 3
    assert min(times["sleep"]) >= 1.9 and min(times["none"]) < 1.9  # milliseconds
    assert 2 <= time_ms(lambda: time.sleep(0.002), "cpu") < 200
    sync("cpu")  # nothing to wait for


def test_ratio_stats_is_the_median_of_per_round_ratios():
    times = {"ours": [2.0, 3.0, 10.0, 4.0], "torch": [1.0, 2.0, 4.0, 4.0]}
    stats = ratio_stats(times, "ours", "torch")
    assert list(stats) == ["ours_ms", "torch_ms", "ratio", "ratio_iqr"]
    assert stats["ours_ms"] == 3.5 and stats["torch_ms"] == 3.0
    assert stats["ratio"] == 1.75  # per round: 2, 1.5, 2.5, 1; median 1.75 (not 3.5 / 3)
    assert stats["ratio_iqr"] == [1.125, 2.375]
    one = ratio_stats({"a": [2.0], "b": [4.0]}, "a", "b", digits=3)
    assert one == {"a_ms": 2.0, "b_ms": 4.0, "ratio": 0.5, "ratio_iqr": [0.5, 0.5]}
    with pytest.raises(ValueError):  # rounds must pair up
        ratio_stats({"a": [1.0, 2.0], "b": [1.0]}, "a", "b")


def test_header_says_what_ran_where():
    import torch

    h = header("resnet", torch.device("cpu"))
    assert list(h) == ["benchmark", "device", "device_name", "threads", "torch", "torchvision",
                       "git_sha", "date"]
    assert h["benchmark"] == "resnet" and h["device"] == "cpu"
