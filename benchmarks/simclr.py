"""SimCLR speed in one process; prints one JSON object.

    python benchmarks/simclr.py            # CPU: about 2 minutes on 2 cores
    python benchmarks/simclr.py --quick    # seconds (tests)
    python benchmarks/simclr.py --device cuda

1. Pre-training against supervised training of the same encoder: one step of Algorithm 1 (two
   augmented views of N images, encoder + head on 2N views, NT-Xent, LARS) against one plain
   supervised step (one augmented view, encoder + linear classifier, cross-entropy, LARS), the
   same images and encoder; ratio = SimCLR step time / supervised step time (the price of the
   second view, the head and the loss), and images/s of each.
2. NT-Xent (ours: one masked (2N, 2N) similarity matrix and cross-entropy to the positive) against
   a straightforward reference written the way most PyTorch peers write it (positives and
   negatives gathered with a boolean mask into a (2N, 2N - 1) logit matrix, the positive in
   column 0), forward + backward on the same z; ratio = ours / reference (bar: <= 1.05).
3. The augmentation alone: images/s of our batched crop + flip + colour distortion (CIFAR-10,
   32x32) against torchvision.transforms.v2 applied image by image (the usual Dataset path, one
   process, no workers), same operations; ratio = torchvision time / ours.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
import torch.nn.functional as F
from torch import nn

from milestones.core.bench import header, interleaved, ratio_stats
from milestones.simclr import train as T
from milestones.simclr.augment import augment
from milestones.simclr.model import nt_xent


def reference_nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent as the common PyTorch reproductions compute it: labels of the 2N views, a boolean
    mask picking each view's positive, the positive's logit first, cross-entropy to class 0."""
    n = z.shape[0] // 2
    labels = torch.cat([torch.arange(n)] * 2).to(z.device)
    labels = (labels[None, :] == labels[:, None]).float()  # (2N, 2N) same image
    z = F.normalize(z, dim=1)
    similarity = z @ z.T
    eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    labels = labels[~eye].view(2 * n, -1)  # (2N, 2N - 1)
    similarity = similarity[~eye].view(2 * n, -1)
    positives = similarity[labels.bool()].view(2 * n, -1)  # (2N, 1)
    negatives = similarity[~labels.bool()].view(2 * n, -1)  # (2N, 2N - 2)
    logits = torch.cat([positives, negatives], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(2 * n, dtype=torch.long, device=z.device))


def loss_compare(quick: bool, device: torch.device, reps: int) -> dict:
    n, d = (64, 32) if quick else (512, 128)
    z = torch.randn(2 * n, d, device=device, requires_grad=True)
    same = abs(nt_xent(z, 0.5).item() - reference_nt_xent(z, 0.5).item()) < 1e-4

    def run(fn):
        def step():
            z.grad = None
            fn(z, 0.5).backward()
        return step

    times = interleaved({"ours": run(nt_xent), "reference": run(reference_nt_xent)}, reps,
                        device=device)
    return {"batch": n, "dim": d, "same_value": same, **ratio_stats(times, "ours", "reference",
                                                                      3)}


def step_compare(quick: bool, device: torch.device, reps: int) -> dict:
    cfg = T.quick()  # ResNet-18 at width 8, CIFAR stem, batch 256, LARS
    if quick:
        cfg = T.smoke()
    n = cfg.batch_size
    torch.manual_seed(0)
    model = T.build_model(cfg, (3, 32, 32)).to(device)
    classifier = nn.Linear(model.dim_h, 10).to(device)
    x = torch.rand(n, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (n,), device=device)
    aug = T.view_augmentation(cfg, 32)
    opt_simclr = T.make_optimizer(cfg, [model], 1.0)
    opt_sup = T.make_optimizer(cfg, [model.encoder, classifier], 1.0)
    g = torch.Generator().manual_seed(0)

    def simclr_step():
        views = torch.cat([augment(x, aug, g), augment(x, aug, g)])
        _, z = model(views)
        loss = nt_xent(z, cfg.temperature)
        opt_simclr.zero_grad(set_to_none=True)
        loss.backward()
        opt_simclr.step()

    def supervised_step():
        h, _ = model(augment(x, aug, g))
        loss = F.cross_entropy(classifier(h), y)
        opt_sup.zero_grad(set_to_none=True)
        loss.backward()
        opt_sup.step()

    times = interleaved({"simclr": simclr_step, "supervised": supervised_step}, reps,
                        device=device)
    stats = ratio_stats(times, "simclr", "supervised")
    name = "tiny (ResNet-8, width 4)" if cfg.model == "tiny" else f"{cfg.model} width {cfg.width}"
    return {"model": f"{name}, CIFAR stem, batch {n}", **stats,
            "simclr_images_per_s": round(1000 * n / stats["simclr_ms"], 1),
            "supervised_images_per_s": round(1000 * n / stats["supervised_ms"], 1)}


def augment_compare(quick: bool, device: torch.device, reps: int) -> dict:
    from torchvision.transforms import v2

    n = 64 if quick else 512
    cfg = T.quick()
    aug = T.view_augmentation(cfg, 32)
    s = cfg.strength
    per_image = v2.Compose([  # the same operations as App. A's PyTorch pseudo-code
        v2.RandomResizedCrop(32, scale=aug.scale, ratio=aug.ratio, antialias=False),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=0.8),
        v2.RandomGrayscale(p=0.2)])
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    x_dev = x.to(device)
    g = torch.Generator().manual_seed(0)
    times = interleaved({
        "ours": lambda: augment(x_dev, aug, g),
        "torchvision": lambda: torch.stack([per_image(img.float().div(255)) for img in x]),
    }, reps, device=device)
    stats = ratio_stats(times, "ours", "torchvision")
    return {"images": n, "size": 32, "ops": "crop + flip + colour (s 0.5)",
            "ours_images_per_s": round(1000 * n / stats["ours_ms"]),
            "torchvision_images_per_s": round(1000 * n / stats["torchvision_ms"]),
            "speedup": round(stats["torchvision_ms"] / stats["ours_ms"], 1), **stats}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, seconds (tests)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--reps", type=int, default=None, help="interleaved rounds (default 20)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    reps = args.reps or (3 if args.quick else 20)
    result = {**header("simclr", device), "quick": args.quick,
              "step": step_compare(args.quick, device, reps),
              "nt_xent": loss_compare(args.quick, device, reps),
              "augmentation": augment_compare(args.quick, device, reps)}
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
