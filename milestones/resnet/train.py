"""Train a ResNet (or plain net) the paper's way: ``python -m milestones.resnet.train --help``.

    python -m milestones.resnet.train --preset quick                 # CPU minutes, built-in data
    python -m milestones.resnet.train --model resnet110              # §4.2 CIFAR-10 recipe (GPU)
    python -m milestones.resnet.train --preset imagenet --data-dir /data/imagenet   # §3.4
    torchrun --nproc_per_node=8 -m milestones.resnet.train --preset imagenet ...    # DDP

The loop below is the paper's recipe written out: SGD with momentum, step decays of the learning
rate at fixed iterations, ResNet-110's warm-up, error on a held-out split, test error at the end.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from milestones.core import runtime
from milestones.core.checkpoint import load_checkpoint
from milestones.core.config import ConfigError, require
from milestones.core.data import data_root
from milestones.core.images import (
    TrainData,
    final_evaluation,
    imagenet_data,
    in_memory_data,
    validate,
)
from milestones.core.run import Run, RunConfig, Window, cli, launch
from milestones.resnet import data as D
from milestones.resnet.model import CIFAR_MODELS, MODELS, cifar_resnet

ModelName = Literal["resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202",
                    "plain20", "plain32", "plain44", "plain56", "plain110", "resnet_tiny",
                    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                    "plain18", "plain34"]


@dataclasses.dataclass
class Config(RunConfig):
    """Train a ResNet or plain net (He et al. 2015). Defaults: the CIFAR-10 recipe of §4.2."""

    model: ModelName = "resnet20"
    """Network: CIFAR nets (6n+2 layers, option A) or ImageNet nets (option B)."""
    width: int | None = None
    """CIFAR nets only: first-stage filters (paper: 16); smaller is faster on CPU."""
    stride_in_1x1: bool = True
    """Bottleneck nets: stride in the first 1x1 (paper, v1) or, with --no-stride-in-1x1, in the
    3x3 (torchvision's v1.5, needed to load its weights)."""
    dataset: Literal["cifar10", "fashion-mnist", "shapes", "imagenet"] = "cifar10"
    """cifar10 (§4.2), imagenet (§3.4), fashion-mnist, or shapes (built in, offline)."""
    data_dir: str | None = None
    """Dataset folder; default <data root>/<dataset>. CIFAR-10 may be torchvision's files or an
    image folder train/<class>/*, test/<class>/*."""
    download: bool = False
    """Let torchvision download CIFAR-10 or Fashion-MNIST when it is not found."""
    train_size: int | None = None
    """Use only N training images (before the train/val split), picked at random with a fixed
    seed (not the first N: image folders come sorted by class)."""
    test_size: int | None = None
    """Evaluate on only N test images, picked at random with a fixed seed."""
    val_size: int = 5000  # DEVIATION(D10): 45k/5k for every run, unless --val-size 0
    """Training images held out for validation: §4.2's 45k/5k split. 0 trains on all 50k."""
    batch_size: int = 128  # DEVIATION(D4): BN sees all 128 on one device (paper: 64 per GPU)
    """Global mini-batch (§4.2: 128, on two GPUs); split across ranks under torchrun."""
    lr: float = 0.1
    """Initial learning rate (§4.2)."""
    momentum: float = 0.9
    """SGD momentum (§4.2)."""
    weight_decay: float = 1e-4
    """L2 weight decay (§4.2; §3.4 uses the same)."""
    steps: int = 64_000
    """Iterations in all: "terminate training at 64k iterations" (§4.2)."""
    lr_steps: tuple[int, ...] = (32_000, 48_000)
    """Iterations at which the learning rate is divided by 10 (§4.2: 32k and 48k)."""
    warmup: Literal["auto", "on", "off"] = "auto"
    """§4.2: train ResNet-110 at warmup_lr until the training error is below warmup_until_error,
    then at lr. auto = on for resnet110 and resnet1202."""
    warmup_lr: float = 0.01
    """Learning rate during the warm-up (§4.2)."""
    warmup_until_error: float = 0.8
    """Training error (over the last log window) that ends the warm-up (§4.2: 80%)."""
    log_every: int = 50
    """Iterations between training-metric records (and warm-up checks)."""
    eval_every: int = 2000
    """Iterations between validation runs (best.pt follows the validation error)."""
    ckpt_every: int = 2000
    """Iterations between last.pt checkpoints."""
    workers: int = 8
    """ImageNet only: DataLoader worker processes per rank."""
    ten_crop: bool = False
    """ImageNet only: evaluate with the standard 10 crops (§3.4) instead of one centre crop."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.model in MODELS, self, "model", f"choose from {', '.join(MODELS)}")
        cifar = self.model in CIFAR_MODELS and self.model != "resnet_tiny"
        require(self.width is None or (self.width > 0 and cifar), self, "width",
                "must be > 0, and applies to the CIFAR nets (resnet20 ... plain110) only")
        require(self.dataset in ("cifar10", "fashion-mnist", "shapes", "imagenet"), self,
                "dataset", "choose from cifar10, fashion-mnist, shapes, imagenet")
        require(self.data_dir is None or self.dataset != "shapes", self, "data_dir",
                "--dataset shapes is generated by code and reads no folder")
        for field in ("batch_size", "steps", "log_every", "eval_every", "ckpt_every"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        for field in ("lr", "warmup_lr"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(0 <= self.momentum < 1, self, "momentum", "must be in [0, 1)")
        require(self.weight_decay >= 0, self, "weight_decay", "must be >= 0")
        require(self.val_size >= 0, self, "val_size", "must be >= 0")
        require(self.train_size is None or self.train_size > self.val_size, self, "train_size",
                f"must be larger than --val-size ({self.val_size})")
        require(self.test_size is None or self.test_size > 0, self, "test_size", "must be > 0")
        increasing = list(self.lr_steps) == sorted(set(self.lr_steps))
        require(increasing and all(0 < s < self.steps for s in self.lr_steps), self, "lr_steps",
                f"must increase, within (0, {self.steps})")
        require(0 < self.warmup_until_error <= 1, self, "warmup_until_error", "must be in (0, 1]")
        require(self.workers >= 0, self, "workers", "must be >= 0")


def paper() -> Config:
    """§4.2: CIFAR-10, batch 128, lr 0.1 (/10 at 32k, 48k), 64k iterations, 45k/5k split."""
    return Config(preset="paper")


def imagenet() -> Config:
    """§3.4: ImageNet, ResNet-50, batch 256, lr 0.1 /10 every 30 epochs, 90 epochs (see README).
    DEVIATION(D8): fixed decays, not "divided by 10 when the error plateaus" up to 600k steps."""
    epoch = 1_281_167 // 256  # 5004 iterations
    return Config(preset="imagenet", model="resnet50", dataset="imagenet", batch_size=256,
                  steps=90 * epoch, lr_steps=(30 * epoch, 60 * epoch), val_size=0,
                  eval_every=epoch, ckpt_every=epoch // 4, log_every=100)


def quick() -> Config:
    """CPU minutes: ResNet-20 on the built-in shapes, the §4.2 schedule compressed to 1600 steps."""
    return Config(preset="quick", dataset="shapes", steps=1600, lr_steps=(800, 1200),
                  eval_every=400, ckpt_every=400, log_every=20)


def smoke() -> Config:
    """Seconds: a 5k-parameter ResNet-8 on a sliver of the built-in shapes. For tests."""
    return Config(preset="smoke", model="resnet_tiny", dataset="shapes", train_size=512,
                  val_size=128, test_size=256, batch_size=32, steps=8, lr_steps=(6,), log_every=2,
                  eval_every=4, ckpt_every=4, progress=False)


PRESETS = {"paper": paper, "imagenet": imagenet, "quick": quick, "smoke": smoke}


def build_model(cfg: Config, num_classes: int, in_channels: int) -> nn.Module:
    if cfg.width is not None:  # a CIFAR net at another width (checked in Config)
        plain = cfg.model.startswith("plain")
        depth = int(cfg.model.removeprefix("plain" if plain else "resnet"))
        return cifar_resnet(depth, plain=plain, width=cfg.width, num_classes=num_classes,
                            in_channels=in_channels)
    if cfg.model in ("resnet50", "resnet101", "resnet152"):
        return MODELS[cfg.model](num_classes=num_classes, in_channels=in_channels,
                                 stride_in_1x1=cfg.stride_in_1x1)
    return MODELS[cfg.model](num_classes=num_classes, in_channels=in_channels)


def load_trained(run_dir: str | Path, which: str = "last") -> tuple[nn.Module, torch.Tensor | None]:
    """A trained model from a run folder, in eval mode, and the pixel mean its inputs need::

        model, mean = load_trained("runs/resnet/quick-resnet20-s0")
        logits = model(images.float() / 255 - mean)   # images: uint8 (B, C, H, W)
    """
    ckpt = load_checkpoint(Path(run_dir) / f"{which}.pt")
    saved = {k: tuple(v) if isinstance(v, list) else v for k, v in ckpt["config"].items()}
    cfg = dataclasses.replace(Config(), **saved)
    weights = ckpt["model"]
    model = build_model(cfg, weights["fc.weight"].shape[0], weights["conv1.weight"].shape[1])
    model.load_state_dict(weights)
    mean = ckpt["pixel_mean"]
    return model.eval(), mean if mean.numel() else None  # ImageNet runs normalise per channel


def learning_rate(cfg: Config, step: int, warming: bool) -> float:
    """§4.2: lr, divided by 10 at each of lr_steps; warmup_lr while warming up (ResNet-110)."""
    if warming:
        return cfg.warmup_lr
    return cfg.lr / 10 ** sum(step >= s for s in cfg.lr_steps)


def load_data(cfg: Config, rt: runtime.Runtime) -> TrainData:
    """The dataset of ``cfg`` as :class:`~milestones.core.images.TrainData`. Raises
    DataUnavailable before anything is written."""
    if cfg.dataset == "imagenet":
        folder = cfg.data_dir or data_root(cfg.data_root) / "imagenet"
        return imagenet_data(folder, (D.imagenet_transforms(True),
                                      D.imagenet_transforms(False, cfg.ten_crop)),
                             batch_size=cfg.batch_size, seed=cfg.seed, workers=cfg.workers, rt=rt)
    data = D.load_in_memory(cfg.dataset, data_dir=cfg.data_dir, root=cfg.data_root,
                            download=cfg.download, val_size=cfg.val_size,
                            train_size=cfg.train_size, test_size=cfg.test_size)
    # §4.2: pad-crop-flip augmentation, "the per-pixel mean subtracted"
    return in_memory_data(data, batch_size=cfg.batch_size, seed=cfg.seed, augment=True, rt=rt)


@dataclasses.dataclass
class Progress:
    """The loop's own state beyond the step (checkpointed with the run)."""

    warming: bool  # §4.2: ResNet-110 trains at warmup_lr until the training error is below 80%


def main(cfg: Config) -> dict:
    """Train per ``cfg``; returns the run summary (also written to <out>/summary.json)."""
    return launch(train, cfg)


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    out = Path(cfg.out or f"runs/resnet/{cfg.preset}-{cfg.model}-s{cfg.seed}")
    with Run(cfg, rt, out) as run:
        if cfg.batch_size % rt.world_size:
            raise ConfigError("batch_size", cfg.batch_size,
                              f"must divide among {rt.world_size} ranks")
        data = load_data(cfg, rt)
        if data.steps_per_epoch == 0:
            raise ConfigError("batch_size", cfg.batch_size, "is larger than the training set")

        model = build_model(cfg, data.meta["classes"], data.meta["in_channels"]).to(rt.device)
        if rt.device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        # §4.2: SGD, momentum 0.9, weight decay 1e-4.
        # DEVIATION(D2): PyTorch's momentum (v = mu v + g, p -= lr v), not Caffe's
        # (v = mu v + lr g).
        # DEVIATION(D3): weight decay on every parameter, BN's included (the paper does not say).
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay)
        scaler = rt.grad_scaler()
        progress = Progress(warming=cfg.warmup == "on" or (
            cfg.warmup == "auto" and cfg.model in ("resnet110", "resnet1202")))
        window = Window("loss", "errors", "images", device=rt.device)  # sums over a log window
        run.track(model=model, optimizer=opt, scaler=scaler, window=window, progress=progress,
                  pixel_mean=data.pixel_mean if data.pixel_mean is not None else torch.zeros(0))
        params = sum(p.numel() for p in model.parameters())
        run.start({"data": data.meta, "params": params}, total_steps=cfg.steps, desc=cfg.model)
        compiled = runtime.maybe_compile(model, cfg.compile)
        net = runtime.wrap_ddp(compiled, rt)  # evaluation uses `compiled`: each rank its shard

        logged = run.train_time  # for the throughput of each log window
        net.train()
        while not run.should_stop():
            epoch, start = divmod(run.step, data.steps_per_epoch)
            for x, y in data.train(epoch, start):
                x, y = x.to(rt.device, non_blocking=True), y.to(rt.device, non_blocking=True)
                if rt.device.type == "cuda":
                    x = x.contiguous(memory_format=torch.channels_last)
                lr = learning_rate(cfg, run.step, progress.warming)
                for group in opt.param_groups:
                    group["lr"] = lr
                with rt.autocast():  # DEVIATION(D1): bf16 on CUDA by default (paper: fp32)
                    logits = net(x)  # (b, K)
                    loss = F.cross_entropy(logits.float(), y)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                run.step += 1
                run.track_loss(loss)
                window.add(loss=loss.detach() * len(y), errors=(logits.argmax(1) != y).sum(),
                           images=len(y))

                if run.step % cfg.log_every == 0:
                    run.check_finite()
                    sums = window.flush()
                    error = sums["errors"] / sums["images"]
                    run.log("train", loss=sums["loss"] / sums["images"], error=error, lr=lr,
                            epoch=round(run.step / data.steps_per_epoch, 3),
                            images_per_s=sums["images"] / max(run.train_time - logged, 1e-9))
                    logged = run.train_time
                    # DEVIATION(D5): the warm-up's training error is this log window's
                    if progress.warming and error < cfg.warmup_until_error:
                        progress.warming = False  # §4.2: "(about 400 iterations), then 0.1"
                        run.print(f"step {run.step}: training error {error:.3f} < "
                                  f"{cfg.warmup_until_error}: warm-up over, lr {cfg.lr}")
                if run.step % cfg.eval_every == 0 and run.step < cfg.steps and data.val:
                    validate(run, compiled, data, rt)  # best.pt follows it
                if run.step % cfg.ckpt_every == 0:
                    run.save()
                if run.should_stop():
                    break

        summary = {"model": cfg.model, "dataset": cfg.dataset, "preset": cfg.preset,
                   "seed": cfg.seed, "params": params,
                   "images_per_s": round(run.step * cfg.batch_size / run.train_time, 1)
                   if run.train_time else None}
        if not run.interrupted:  # a preempted run saves and leaves at once
            summary.update(final_evaluation(run, compiled, data, rt))
        return run.finish(summary)


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
