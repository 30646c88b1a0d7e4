"""Adam's step time against torch.optim's, in one process; prints one JSON object.

    python benchmarks/adam.py             # CPU, ResNet-50's 25.6M parameters, about a minute
    python benchmarks/adam.py --quick     # seconds (tests)
    python benchmarks/adam.py --device cuda   # adds torch's fused=True kernel

For each pair (ours, torch's) the same parameters get the same gradients; the steps are
interleaved (ours, theirs, theirs, ours, ...) and the ratio is the median over rounds of
ours / theirs (lower is faster). Also the optimizer state's size in parameter copies (Adam keeps
m and v: 2; AMSGrad adds the running max: 3).
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
import torchvision

from milestones.adam import Adam, AdamW
from milestones.core.bench import header, interleaved, ratio_stats


def compare(ours_fn, theirs_fn, params_fn, reps: int, device) -> dict:
    """Interleaved step times of two optimizers on two identical parameter sets."""
    ours, theirs = ours_fn(params_fn()), theirs_fn(params_fn())
    # two warm-up rounds (state allocation)
    times = interleaved({"ours": ours.step, "torch": theirs.step}, reps, warmup=2, device=device)
    return ratio_stats(times, "ours", "torch")


def state_copies(opt, params) -> float:
    """Optimizer state (without the step counters) / parameter size."""
    n = sum(p.numel() for p in params)
    kept = sum(t.numel() for s in opt.state.values() for k, t in s.items() if k != "step")
    return round(kept / n, 4)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--reps", type=int, default=None)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    reps = args.reps or (3 if args.quick else 20)
    g = torch.Generator().manual_seed(0)
    net = torchvision.models.resnet18() if args.quick else torchvision.models.resnet50()
    shapes = [tuple(q.shape) for q in net.parameters()][:10 if args.quick else None]

    def params():
        ps = [torch.randn(s, generator=g).to(device).requires_grad_() for s in shapes]
        for q in ps:
            q.grad = torch.randn(q.shape, generator=g).to(device) * 1e-2
        return ps

    n = sum(torch.Size(s).numel() for s in shapes)
    result = {**header("adam", device), "parameters": n, "tensors": len(shapes), "reps": reps,
              "adam_vs_torch_foreach": compare(
                  lambda ps: Adam(ps, foreach=True), lambda ps: torch.optim.Adam(ps, foreach=True),
                  params, reps, device),
              "adamw_vs_torch_foreach": compare(
                  lambda ps: AdamW(ps, foreach=True),
                  lambda ps: torch.optim.AdamW(ps, foreach=True), params, reps, device),
              "adam_amsgrad_vs_torch_foreach": compare(
                  lambda ps: Adam(ps, amsgrad=True), lambda ps: torch.optim.Adam(
                      ps, amsgrad=True, foreach=True), params, reps, device),
              "adam_per_tensor_vs_torch_per_tensor": compare(
                  lambda ps: Adam(ps, foreach=False),
                  lambda ps: torch.optim.Adam(ps, foreach=False), params, reps, device)}
    if device.type == "cuda":
        result["adam_vs_torch_fused"] = compare(
            lambda ps: Adam(ps), lambda ps: torch.optim.Adam(ps, fused=True), params, reps, device)
    ps = params()
    for name, opt in (("adam", Adam(ps)), ("adam_amsgrad", Adam(ps, amsgrad=True))):
        opt.step()
        result[f"{name}_state_copies"] = state_copies(opt, ps)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
