"""RNNsearch speed against torch's own GRU, in one process; prints one JSON object.

    python benchmarks/attention.py            # CPU, about a minute on 2 cores
    python benchmarks/attention.py --quick    # seconds (tests)
    python benchmarks/attention.py --device cuda

1. The GRU layer: our bidirectional ``model.GRU`` (the recurrence written out in Python, torch's
   reset-after form so the weights are the same) against ``nn.GRU(bidirectional=True)`` (one
   fused C++/cuDNN call), forward + backward on the same batch. Aim: <= 1.5. Also the paper's
   form (reset before U: two matrix products per step instead of one), forward alone, and the
   operators the time goes to (``torch.profiler``, self time).
2. Training throughput: target words/s of a full step (forward, loss, backward, clipping, Adam)
   of the quick RNNsearch-30 and of the Transformer's quick model, on the same random batch of
   80 pairs of 30 words.
Repetitions interleaved, medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import torch
from torch import nn

from milestones.adam import Adam
from milestones.attention import train as T
from milestones.attention.model import GRU, gru_weights_from_torch, sentence_nll
from milestones.core.bench import header, interleaved, ratio_stats


def gru_layer(batch: int, length: int, m: int, n: int, reps: int, device) -> dict:
    torch.manual_seed(0)
    theirs = nn.GRU(m, n, batch_first=True, bidirectional=True).to(device)
    ours = GRU(m, n, bidirectional=True, reset_after=True).to(device)
    paper = GRU(m, n, bidirectional=True).to(device)
    for layer in (ours, paper):
        layer.forward_cell.load_state_dict(gru_weights_from_torch(theirs.state_dict()))
        layer.backward_cell.load_state_dict(gru_weights_from_torch(theirs.state_dict(),
                                                                   reverse=True))
    x = torch.randn(batch, length, m, device=device, requires_grad=True)
    mask = torch.ones(batch, length, dtype=torch.bool, device=device)

    def step(layer, torch_gru=False):
        def go():
            out = layer(x)[0] if torch_gru else layer(x, mask)[0]
            out.sum().backward()
        return go

    def forward(layer, torch_gru=False):
        def go():
            with torch.no_grad():
                layer(x) if torch_gru else layer(x, mask)
        return go

    times = interleaved({"ours": step(ours), "torch": step(theirs, True),
                         "paper_form": step(paper)}, reps, device=device)
    fwd = interleaved({"ours": forward(ours), "torch": forward(theirs, True)}, reps,
                      device=device)
    stats = ratio_stats(times, "ours", "torch", digits=3)
    return {"batch": batch, "length": length, "m": m, "n": n, **stats,
            "paper_form_ms": round(statistics.median(times["paper_form"]), 3),
            "paper_form_vs_torch": round(statistics.median(times["paper_form"])
                                         / statistics.median(times["torch"]), 3),
            "forward_only": ratio_stats(fwd, "ours", "torch", digits=3),
            "where_the_time_goes": profile(step(ours), device)}


def profile(fn, device) -> dict:
    """Share of self time per operator over one forward + backward (top 6)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    fn()  # warm
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=acts) as prof:
        fn()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:6]
    return {"calls": int(sum(e.count for e in events)),
            "self_cpu_share": {e.key: round(e.self_cpu_time_total / total, 3) for e in top}}


def training_words_per_s(batch: int, length: int, steps: int, device) -> dict:
    from milestones.transformer import train as TT

    torch.manual_seed(0)
    src = torch.randint(4, 500, (batch, length), device=device)
    tgt = torch.randint(4, 500, (batch, length + 1), device=device)
    cfg = T.quick()
    rnn = T.build_model(cfg, 500, 500).to(device)
    rnn_opt = Adam(rnn.parameters(), lr=cfg.lr)
    tcfg = TT.quick()
    trans = TT.build_model(tcfg, 1000).to(device)
    trans_opt = Adam(trans.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)

    def rnn_step():
        loss, _ = sentence_nll(rnn(src, tgt[:, :-1]), tgt[:, 1:])
        loss.backward()
        nn.utils.clip_grad_norm_(rnn.parameters(), cfg.clip)
        rnn_opt.step()
        rnn_opt.zero_grad(set_to_none=True)

    def trans_step():
        loss, _, n = TT.label_smoothed_loss(trans(src, tgt[:, :-1]), tgt[:, 1:], 0.1)
        (loss / n).backward()
        trans_opt.step()
        trans_opt.zero_grad(set_to_none=True)

    times = interleaved({"rnnsearch": rnn_step, "transformer": trans_step}, steps, warmup=1,
                        device=device)
    words = batch * length
    return {"batch": batch, "length": length,
            **{f"{k}_words_per_s": round(words / (statistics.median(v) / 1000), 1)
               for k, v in times.items()},
            "rnnsearch_params": sum(p.numel() for p in rnn.parameters()),
            "transformer_params": sum(p.numel() for p in trans.parameters())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    device = torch.device(args.device)
    q = args.quick
    result = {
        **header("attention", device),
        "gru_layer_vs_torch": gru_layer(4 if q else 80, 6 if q else 30, 16 if q else 128,
                                        24 if q else 256, 2 if q else 15, device),
        "training": training_words_per_s(8 if q else 80, 6 if q else 30, 2 if q else 8,
                                          device),
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
