"""Transformer speed against torch's own layers, in one process; prints one JSON object.

    python benchmarks/transformer.py            # CPU, about 2 minutes on 2 cores
    python benchmarks/transformer.py --quick    # seconds (tests)
    python benchmarks/transformer.py --device cuda

1. Attention: our Eq. 1 written out against ``F.scaled_dot_product_attention`` (forward +
   backward, the same q, k, v).
2. An encoder layer (base: d_model 512, h 8, d_ff 2048, post-LN, no dropout) against
   ``nn.TransformerEncoderLayer`` with the same weights, forward + backward. Bar: <= 1.10 on CPU.
3. Training throughput: target tokens/s of a full step (forward, label-smoothed loss, backward,
   Adam) of the quick model on random sentence pairs.
4. Decoding: greedy decoding of 64 tokens with the key/value cache against recomputing the whole
   prefix every step. Bar: >= 3x.
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
from milestones.core.bench import header, interleaved, ratio_stats
from milestones.transformer import train as T
from milestones.transformer.decode import greedy_decode
from milestones.transformer.model import (
    EncoderLayer,
    Transformer,
    from_torch_state_dict,
    padding_mask,
    scaled_dot_product_attention,
)


def attention(batch: int, length: int, reps: int, device) -> dict:
    q, k, v = (torch.randn(batch, 8, length, 64, device=device, requires_grad=True)
               for _ in range(3))

    def run(fast: bool):
        def step():
            out, _ = scaled_dot_product_attention(q, k, v, fast=fast)
            out.sum().backward()
        return step

    times = interleaved({"ours": run(False), "torch": run(True)}, reps, device=device)
    return {"shape": [batch, 8, length, 64], **ratio_stats(times, "ours", "torch", digits=3)}


def encoder_layer(batch: int, length: int, reps: int, device) -> dict:
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(512, 8, 2048, dropout=0.0, batch_first=True).to(device)
    ours = EncoderLayer(512, 8, 2048, dropout=0.0).to(device)
    ours.load_state_dict(from_torch_state_dict(theirs.state_dict()))
    x = torch.randn(batch, length, 512, device=device)
    ids = torch.ones(batch, length, dtype=torch.long, device=device)
    ids[0, length // 2:] = 0  # some padding
    mask = padding_mask(ids)
    pad = ~mask[:, 0, 0, :]  # torch: True = ignore

    def ours_step():
        ours(x, mask).sum().backward()

    def torch_step():
        theirs(x, src_key_padding_mask=pad).sum().backward()

    ours.train()
    theirs.train()  # torch's fused inference fast path is for eval without grad; compare training
    times = interleaved({"ours": ours_step, "torch": torch_step}, reps, device=device)
    return {"batch": batch, "length": length, **ratio_stats(times, "ours", "torch", digits=3)}


def training_tokens_per_s(batch: int, length: int, steps: int, device) -> float:
    cfg = T.quick()
    torch.manual_seed(0)
    model = T.build_model(cfg, 1000).to(device)
    opt = Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    src = torch.randint(4, 1000, (batch, length), device=device)
    tgt = torch.randint(4, 1000, (batch, length + 1), device=device)

    def step():
        loss, _, n = T.label_smoothed_loss(model(src, tgt[:, :-1]), tgt[:, 1:], 0.1)
        (loss / n).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    times = interleaved({"step": step}, steps, warmup=1, device=device)["step"]
    return batch * length / (statistics.median(times) / 1000)


def decoding(batch: int, new_tokens: int, reps: int, device) -> dict:
    torch.manual_seed(0)
    model = Transformer(1000, N=6, d_model=512, h=8, d_ff=2048, dropout=0.0).to(device).eval()
    src = torch.randint(4, 1000, (batch, 20), device=device)

    def run(use_cache: bool):
        def go():
            with torch.no_grad():
                # eos_id -1 never matches: exactly new_tokens steps either way
                greedy_decode(model, src, bos_id=1, eos_id=-1, max_len=new_tokens,
                              use_cache=use_cache)
        return go

    times = interleaved({"cached": run(True), "uncached": run(False)}, reps, device=device)
    stats = ratio_stats(times, "cached", "uncached", digits=3)
    return {"batch": batch, "tokens": new_tokens, "cached_ms": stats["cached_ms"],
            "uncached_ms": stats["uncached_ms"],
            "speedup": round(stats["uncached_ms"] / stats["cached_ms"], 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    device = torch.device(args.device)
    q = args.quick
    result = {
        **header("transformer", device),
        "attention_eq1_vs_sdpa": attention(2 if q else 16, 16 if q else 128, 2 if q else 20,
                                           device),
        "encoder_layer_vs_torch": encoder_layer(2 if q else 16, 16 if q else 64,
                                                2 if q else 20, device),
        "training_target_tokens_per_s": round(training_tokens_per_s(
            4 if q else 32, 12 if q else 24, 2 if q else 10, device), 1),
        "decoding_cache_speedup": decoding(1 if q else 8, 8 if q else 64, 1 if q else 5, device),
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
