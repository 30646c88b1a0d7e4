"""ResNet speed against the reference implementations, in one process; prints one JSON object.

    python benchmarks/resnet.py            # CPU: about 3 minutes on 2 cores
    python benchmarks/resnet.py --quick    # seconds (tests)
    python benchmarks/resnet.py --device cuda

1. Forward + backward of our resnet18 (batch 32, 32x32) and resnet50 (batch 8, 224x224) against
   torchvision's, the same weights, repetitions interleaved (ours, theirs, theirs, ours, ...).
   ratio = the median over rounds of ours / torchvision (1.00 = as fast; lower is faster), with
   its interquartile range; the medians of each side's times too.
2. Our training loop (``train.main``: augmentation on the fly, LR schedule, metrics, NaN checks)
   against a bare PyTorch loop (forward, loss, backward, SGD step) on the same model and the same
   batches; throughput after a warm-up window, runs interleaved, medians.
   overhead = bare / ours - 1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision

from milestones.core.bench import alternate, header, interleaved, ratio_stats, sync
from milestones.core.metrics import read_metrics
from milestones.resnet import data as D
from milestones.resnet import train as T
from milestones.resnet.model import resnet18, resnet50


def compare_models(name: str, batch: int, size: int, reps: int, device: torch.device) -> dict:
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)(weights=None).to(device)
    ours = {"resnet18": resnet18, "resnet50": lambda: resnet50(stride_in_1x1=False)}[name]()
    ours.load_state_dict(theirs.state_dict())
    ours.to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)

    def fwd_bwd(model):
        def step() -> None:
            F.cross_entropy(model(x), y).backward()
            model.zero_grad(set_to_none=True)
        return step

    times = interleaved({"ours": fwd_bwd(ours), "torchvision": fwd_bwd(theirs)}, reps,
                        device=device)
    return {"batch": batch, "input": f"{size}x{size}", "reps": reps,
            **ratio_stats(times, "ours", "torchvision")}


def loop_config(quick: bool, device: str, out: str) -> T.Config:
    return T.Config(preset="benchmark", model="resnet_tiny" if quick else "resnet20",
                    dataset="shapes", train_size=3000, val_size=0, test_size=128,
                    steps=12 if quick else 60, lr_steps=(10 if quick else 50,),
                    log_every=4 if quick else 20, eval_every=10**6, ckpt_every=10**6,
                    progress=False, device=device, out=out)


def ours_images_per_s(cfg: T.Config) -> float:
    """train.main's own throughput records, after the first (warm-up) window."""
    T.main(cfg)
    rows = [r for r in read_metrics(Path(cfg.out) / "metrics.jsonl") if r["split"] == "train"]
    return statistics.mean(r["images_per_s"] for r in rows[1:])


def bare_images_per_s(cfg: T.Config, device: torch.device) -> float:
    """The same model, data and batches, trained by the plainest loop there is."""
    torch.manual_seed(cfg.seed)
    data = D.load_in_memory("shapes", val_size=0, train_size=cfg.train_size, test_size=1)
    model = T.build_model(cfg, 10, 3).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    batches = D.Batches(data.train, cfg.batch_size, mean=D.pixel_mean(data.train), device=device,
                        shuffle=True, augment=True, seed=cfg.seed)
    images, t0 = 0, None
    stream = itertools.chain.from_iterable(batches.epoch(e) for e in itertools.count())
    for step, (x, y) in enumerate(stream, start=1):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step == cfg.log_every:  # start the clock after the same warm-up window
            sync(device)
            t0 = time.perf_counter()
        elif step > cfg.log_every:
            images += len(y)
        if step == cfg.steps:
            break
    sync(device)
    return images / (time.perf_counter() - t0)


def compare_loops(quick: bool, reps: int, device: torch.device) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        runs = itertools.count()

        def ours() -> float:
            return ours_images_per_s(loop_config(quick, str(device), f"{tmp}/run{next(runs)}"))

        def bare() -> float:
            return bare_images_per_s(loop_config(quick, str(device), ""), device)

        rates = alternate({"ours": ours, "bare": bare}, reps)
    o, b = statistics.median(rates["ours"]), statistics.median(rates["bare"])
    cfg = loop_config(quick, str(device), "")
    return {"model": cfg.model, "batch": cfg.batch_size, "steps_timed": cfg.steps - cfg.log_every,
            "reps": reps, "ours_images_per_s": round(o, 1), "bare_images_per_s": round(b, 1),
            "overhead": round(b / o - 1, 4)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, seconds (for tests)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--reps", type=int, default=None)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    reps = args.reps or (2 if args.quick else 25)
    result = header("resnet", device)
    if args.quick:
        result["resnet18"] = compare_models("resnet18", 4, 32, reps, device)
    else:
        result["resnet18"] = compare_models("resnet18", 32, 32, reps, device)
        result["resnet50"] = compare_models("resnet50", 8, 224, reps, device)
    result["train_loop"] = compare_loops(args.quick, 2 if args.quick else 5, device)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
