"""GPT speed in one process; prints one JSON object.

    python benchmarks/gpt.py            # CPU: about 3 minutes on 2 cores
    python benchmarks/gpt.py --quick    # seconds (tests)
    python benchmarks/gpt.py --device cuda

1. Our GPT against Hugging Face's ``GPT2LMHeadModel`` at the same config and with the same
   weights (theirs converted into ours): forward + backward of the next-token loss, interleaved;
   ratio = ours / Hugging Face (bar: <= 1.05). Both use torch's fused attention (``sdpa``). The
   logits are checked equal first.
2. Generation with the key/value cache: our ``generate`` (greedy) against Hugging Face's
   ``generate()`` (greedy, its cache), tokens/s, the continuations checked equal; and ours
   without the cache (recomputing the context every token), what the cache saves.
3. Training tokens/s of the quick preset's step (nanoGPT's CPU model, AdamW), and on CUDA the
   model FLOPs utilisation of a GPT-2 124M step.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import torch

from milestones.core.bench import header, interleaved, ratio_stats
from milestones.gpt import train as T
from milestones.gpt.generate import generate
from milestones.gpt.model import GPT, GPTConfig, flops_per_token, from_hf_state_dict, hf_config
from milestones.gpt.model import lm_loss as next_token_loss


def twins(cfg: GPTConfig, device: torch.device):
    import transformers

    torch.manual_seed(0)
    theirs = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        **hf_config(cfg), attn_implementation="sdpa")).to(device)
    ours = GPT(cfg).to(device)
    ours.load_state_dict(from_hf_state_dict(theirs.state_dict()))
    return ours, theirs, transformers.__version__


def versus_hugging_face(cfg: GPTConfig, batch: int, device: torch.device, reps: int) -> dict:
    ours, theirs, version = twins(cfg, device)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, cfg.vocab_size, (batch, cfg.n_ctx + 1), generator=g).to(device)
    inputs, targets = x[:, :-1], x[:, 1:]
    with torch.no_grad():
        ours.eval(), theirs.eval()
        same = torch.allclose(ours(inputs), theirs(inputs).logits, atol=1e-4)
    ours.train(), theirs.train()

    def ours_step():
        ours.zero_grad(set_to_none=True)
        next_token_loss(ours(inputs), targets).backward()

    def theirs_step():
        theirs.zero_grad(set_to_none=True)
        next_token_loss(theirs(inputs).logits, targets).backward()

    times = interleaved({"ours": ours_step, "hugging_face": theirs_step}, reps, device=device)
    stats = ratio_stats(times, "ours", "hugging_face")
    tokens = batch * cfg.n_ctx
    return {"model": _name(cfg), "batch": batch, "context": cfg.n_ctx, "same_logits": bool(same),
            "transformers": version, **stats,
            "ours_tokens_per_s": round(1000 * tokens / stats["ours_ms"]),
            "hugging_face_tokens_per_s": round(1000 * tokens / stats["hugging_face_ms"])}


def generation(cfg: GPTConfig, batch: int, prompt_len: int, new: int, device: torch.device,
               reps: int) -> dict:
    ours, theirs, version = twins(cfg, device)
    ours.eval(), theirs.eval()
    g = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, cfg.vocab_size, (batch, prompt_len), generator=g).to(device)
    mask = torch.ones_like(prompt)
    outs = {}

    def ours_cached():
        outs["ours"] = generate(ours, prompt, new, temperature=0)

    def ours_uncached():
        outs["uncached"] = generate(ours, prompt, new, temperature=0, cache=False)

    def theirs_generate():
        with torch.no_grad():
            outs["theirs"] = theirs.generate(prompt, attention_mask=mask, max_new_tokens=new,
                                             min_new_tokens=new, do_sample=False,
                                             use_cache=True, pad_token_id=0)

    times = interleaved({"ours": ours_cached, "hugging_face": theirs_generate,
                         "ours_no_cache": ours_uncached}, reps, device=device)
    stats = ratio_stats(times, "ours", "hugging_face")
    cache = ratio_stats(times, "ours", "ours_no_cache")
    tokens = batch * new
    return {"model": _name(cfg), "batch": batch, "prompt": prompt_len, "new_tokens": new,
            "transformers": version,
            "same_tokens": bool(torch.equal(outs["ours"], outs["theirs"])
                                and torch.equal(outs["ours"], outs["uncached"])),
            **stats, "ours_tokens_per_s": round(1000 * tokens / stats["ours_ms"]),
            "hugging_face_tokens_per_s": round(1000 * tokens / stats["hugging_face_ms"]),
            "no_cache_ms": cache["ours_no_cache_ms"], "cache_speedup": round(
                cache["ours_no_cache_ms"] / cache["ours_ms"], 2)}


def training_step(cfg: GPTConfig, batch: int, device: torch.device, reps: int) -> dict:
    """The train.py step (forward, loss, backward, clipping, AdamW) at this size."""
    from milestones.core.bench import time_ms
    from milestones.gpt.train import peak_flops

    torch.manual_seed(0)
    model = GPT(cfg).to(device).train()
    opt = T.make_optimizer(T.quick(), model)
    g = torch.Generator().manual_seed(2)
    x = torch.randint(0, cfg.vocab_size, (batch, cfg.n_ctx + 1), generator=g).to(device)
    dtype = torch.bfloat16 if device.type == "cuda" else None

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = next_token_loss(model(x[:, :-1]), x[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(3):
        step()
    times = sorted(time_ms(step, device) for _ in range(reps))
    ms = times[len(times) // 2]
    tokens_per_s = 1000 * batch * cfg.n_ctx / ms
    flops = flops_per_token(cfg, model.num_params(non_embedding=True), cfg.n_ctx)
    peak = peak_flops(device)
    return {"model": _name(cfg), "batch": batch, "context": cfg.n_ctx, "step_ms": round(ms, 2),
            "tokens_per_s": round(tokens_per_s), "flops_per_s": tokens_per_s * flops,
            "dtype": "bf16" if dtype else "fp32",
            "mfu": None if peak is None else tokens_per_s * flops / peak}


def _name(cfg: GPTConfig) -> str:
    return (f"{cfg.n_layer} layers, d_model {cfg.d_model}, {cfg.n_head} heads, context "
            f"{cfg.n_ctx}, vocab {cfg.vocab_size}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, seconds (tests)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--reps", type=int, default=None, help="interleaved rounds (default 15)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    reps = args.reps or (3 if args.quick else 15)
    if args.quick:
        small = GPTConfig(vocab_size=500, n_ctx=32, n_layer=2, n_head=2, d_model=32, dropout=0.0)
        nano, batch, new = small, 2, 8
    else:  # GPT-2's vocabulary and layout at a CPU size; the quick preset's character model
        small = GPTConfig(vocab_size=50257, n_ctx=128, n_layer=4, n_head=4, d_model=256,
                          dropout=0.0)
        nano = dataclasses.replace(T.model_config(T.quick(), 65), n_ctx=128)
        batch, new = 8, 64
    result = {**header("gpt", device), "quick": args.quick,
              "versus_hugging_face": versus_hugging_face(small, batch, device, reps),
              "generation": generation(small, 1 if args.quick else 4, 8, new, device, reps),
              "training_step": training_step(nano, 2 if args.quick else 16, device, reps)}
    if device.type == "cuda" and not args.quick:  # GPT-2 124M in bf16: the MFU a GPU reaches
        from milestones.gpt.model import gpt_config

        result["gpt2_124m_step"] = training_step(gpt_config("gpt2", dropout=0.0), 16, device,
                                                 reps)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
