"""AlexNet speed against the reference implementations, in one process; prints one JSON object.

    python benchmarks/alexnet.py            # CPU: under a minute on 2 cores
    python benchmarks/alexnet.py --quick    # seconds (tests)
    python benchmarks/alexnet.py --device cuda

1. Forward + backward (training mode: dropout on) of our ``alexnet`` against torchvision's, the
   same weights, batch 16 at 224x224, repetitions interleaved (ours, theirs, theirs, ours, ...).
   ratio = the median over rounds of ours / torchvision (1.00 = as fast; lower is faster), with
   its interquartile range.
2. ``alexnet2012`` (two towers as grouped convolutions, LRN): its forward + backward throughput on
   the same batch, beside torchvision's single tower.
3. Our local response normalisation against ``nn.LocalResponseNorm`` on the paper's first-layer
   maps (batch 16, 96 x 55 x 55), forward + backward; and the largest difference of their outputs.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from milestones.alexnet.model import LocalResponseNorm, alexnet, alexnet2012
from milestones.core.bench import header, interleaved, ratio_stats


def fwd_bwd(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    def step() -> None:
        F.cross_entropy(model(x), y).backward()
        model.zero_grad(set_to_none=True)
    return step


def compare_models(batch: int, reps: int, device: torch.device) -> dict:
    torch.manual_seed(0)
    theirs = torchvision.models.alexnet(weights=None).to(device).train()
    ours = alexnet()
    ours.load_state_dict(theirs.state_dict())
    ours.to(device).train()
    paper = alexnet2012().to(device).train()
    x = torch.randn(batch, 3, 224, 224, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)
    times = interleaved({"ours": fwd_bwd(ours, x, y), "torchvision": fwd_bwd(theirs, x, y),
                         "alexnet2012": fwd_bwd(paper, x, y)}, reps, device=device)
    stats = ratio_stats(times, "ours", "torchvision")
    paper_stats = ratio_stats(times, "alexnet2012", "torchvision")
    return {"alexnet": {"batch": batch, "input": "224x224", "reps": reps, **stats,
                        "images_per_s": round(1000 * batch / stats["ours_ms"], 1)},
            "alexnet2012": {"batch": batch, "reps": reps, "ms": paper_stats["alexnet2012_ms"],
                            "vs_torchvision_alexnet": paper_stats["ratio"],
                            "images_per_s": round(1000 * batch / paper_stats["alexnet2012_ms"],
                                                  1)}}


def compare_lrn(batch: int, reps: int, device: torch.device) -> dict:
    torch.manual_seed(0)
    a = (torch.randn(batch, 96, 55, 55, device=device) * 10).requires_grad_()
    ours = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    ref = nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)  # its alpha: on the mean
    g = torch.randn_like(a)

    def step(norm):
        def run() -> None:
            (norm(a) * g).sum().backward()
            a.grad = None
        return run

    times = interleaved({"ours": step(ours), "torch": step(ref)}, reps, device=device)
    with torch.no_grad():
        diff = (ours(a) - ref(a)).abs().max().item()
    return {"input": f"{batch}x96x55x55", "reps": reps, **ratio_stats(times, "ours", "torch"),
            "max_abs_diff": diff}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, seconds (for tests)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--reps", type=int, default=None)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    reps = args.reps or (2 if args.quick else 15)
    result = header("alexnet", device)
    result.update(compare_models(2 if args.quick else 16, reps, device))
    result["lrn"] = compare_lrn(2 if args.quick else 16, reps * (1 if args.quick else 2), device)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
