"""GAN speed against a plain PyTorch loop, in one process; prints one JSON object.

    python benchmarks/gan.py            # CPU: about 3 minutes on 2 cores
    python benchmarks/gan.py --quick    # seconds (tests)
    python benchmarks/gan.py --device cuda

1. Our training loop (``train.main``: Algorithm 1 with k = 1, milestones.adam's Adam, the
   logit-form losses, NaN checks, gradient norms, metrics) against a plain loop written the way
   the PyTorch DCGAN example writes it (``nn.BCEWithLogitsLoss`` on filled label tensors,
   ``errD_real.backward(); errD_fake.backward()``, ``torch.optim.Adam``), on the same DCGAN, the
   same initial weights, the same real minibatches and the same z. Both sample a fresh z for G's
   step, as Algorithm 1 does (the example reuses D's). Throughput after a warm-up window, runs
   interleaved; ratio = plain steps/s over ours (1.00: as fast; above 1: ours is slower).
2. The Parzen window of Table 1: 10,000 samples x 10,000 test points x 784 pixels, one sigma
   (the cost of the test-set evaluation; choosing sigma adds 10 sigmas x 1,000 points).
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
from torch import nn

from milestones.core.bench import alternate, header, sync
from milestones.core.data import IndexBatches
from milestones.core.metrics import read_metrics
from milestones.gan import evaluate as E
from milestones.gan import train as T
from milestones.gan.data import load_data, to_model


def loop_config(quick: bool, device: str, out: str, steps: int) -> T.Config:
    """A DCGAN at 32x32 (the quick preset's width 32 and kernel 4, batch 128) on the built-in
    shapes, so that nothing needs a download; no evaluation inside the timed steps."""
    return T.Config(preset="bench", model="dcgan", dataset="shapes", width=8 if quick else 32,
                    kernel=4, train_size=4096, val_size=256, test_size=256, steps=steps,
                    log_every=5 if quick else 20, eval_every=10**9, ckpt_every=10**9,
                    eval_samples=64, eval_val=64, parzen_samples=64, fid=False, device=device,
                    out=out, progress=False, overwrite=True)


def ours(cfg: T.Config) -> float:
    """Steps/s of train.main over its log windows after the first (warm-up)."""
    T.main(cfg)
    windows = [r["steps_per_s"] for r in read_metrics(Path(cfg.out) / "metrics.jsonl")
               if r.get("split") == "train"]
    return statistics.median(windows[1:])


def plain(cfg: T.Config, device: torch.device) -> float:
    """The PyTorch example's loop on the same model, weights, batches and z; steps/s after the
    first log window."""
    torch.manual_seed(cfg.seed)  # as runtime.setup: the same init and the same z stream
    data = load_data(cfg.dataset, val_size=cfg.val_size, train_size=cfg.train_size,
                     test_size=cfg.test_size)
    model = T.initial_model(cfg, data).to(device)
    netG, netD = model.generator, model.discriminator
    criterion = nn.BCEWithLogitsLoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    x_all = data.train.x.to(device)
    batches = IndexBatches(len(x_all), cfg.m, shuffle=True, seed=cfg.seed)
    order = itertools.chain.from_iterable(batches.epoch(e) for e in itertools.count())
    real_label, fake_label = 1.0, 0.0
    times = []
    t = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        real = to_model(x_all[next(order).to(device)], "tanh")
        b = len(real)
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        label = torch.full((b,), real_label, device=device)
        errD_real = criterion(netD(real), label)
        errD_real.backward()
        noise = model.sample_z(b, device)
        fake = netG(noise)
        label.fill_(fake_label)
        errD_fake = criterion(netD(fake.detach()), label)
        errD_fake.backward()
        optimizerD.step()
        # (2) Update G: maximize log(D(G(z))), on a fresh z as Algorithm 1
        netG.zero_grad()
        label.fill_(real_label)
        errG = criterion(netD(netG(model.sample_z(b, device))), label)
        errG.backward()
        optimizerG.step()
        if step % cfg.log_every == 0:
            sync(device)
            now = time.perf_counter()
            times.append(cfg.log_every / (now - t))
            t = now
    return statistics.median(times[1:])


def compare_loops(quick: bool, device: torch.device, rounds: int) -> dict:
    steps = 20 if quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        cfg = loop_config(quick, str(device), str(Path(tmp) / "run"), steps)
        rates = alternate({"ours": lambda: ours(cfg), "plain": lambda: plain(cfg, device)},
                          rounds)
    ratios = [p / o for o, p in zip(rates["ours"], rates["plain"], strict=True)]
    return {"model": f"dcgan32 width {cfg.width}, kernel 4, batch {cfg.m}", "steps": steps,
            "rounds": rounds, "ours_steps_per_s": round(statistics.median(rates["ours"]), 2),
            "plain_steps_per_s": round(statistics.median(rates["plain"]), 2),
            "ratio": round(statistics.median(ratios), 3),
            "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)]}


def parzen_time(quick: bool, device: torch.device) -> dict:
    n = 1000 if quick else 10_000
    g = torch.Generator().manual_seed(0)
    samples, test = torch.rand(n, 784, generator=g), torch.rand(n, 784, generator=g)
    t = time.perf_counter()
    ll = E.parzen_log_likelihood(samples.to(device), test.to(device), 0.2)
    sync(device)
    return {"samples": n, "test_points": n, "dims": 784, "seconds": round(time.perf_counter() - t,
                                                                          2),
            "finite": bool(torch.isfinite(ll).all())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, seconds (tests)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    rounds = args.rounds or (2 if args.quick else 5)
    result = {**header("gan", device), "quick": args.quick,
              "loop": compare_loops(args.quick, device, rounds),
              "parzen": parzen_time(args.quick, device)}
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
