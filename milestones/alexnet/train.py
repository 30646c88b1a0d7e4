"""Train AlexNet (or its small relatives) the paper's way: ``python -m milestones.alexnet.train``.

    python -m milestones.alexnet.train --preset quick                # CPU minutes, built-in data
    python -m milestones.alexnet.train --data-dir /data/imagenet     # §4-§5 on ILSVRC (GPU)
    python -m milestones.alexnet.train --preset quick --model convnet4 --dataset cifar10 \\
        --data-dir ~/cifar10                                         # a real CIFAR-10 copy
    torchrun --nproc_per_node=8 -m milestones.alexnet.train ...      # DDP

The loop below is §5 written out: SGD with momentum 0.9 and weight decay 5e-4 on batches of 128,
random crops, flips and the PCA colour augmentation of §4.1, the learning rate divided by 10 when
the validation error stops improving (three times), dropout active in training only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from milestones.alexnet.data import lighting_noise, load_data, pixel_unit
from milestones.alexnet.model import (
    MODELS,
    AlexNet,
    ConvNet4,
    DropoutMLP,
    LeNet5,
    lrn_alpha_for,
)
from milestones.core import runtime
from milestones.core.checkpoint import load_checkpoint
from milestones.core.config import ConfigError, require
from milestones.core.images import IN_MEMORY, final_evaluation, validate
from milestones.core.run import Run, RunConfig, Window, cli, launch

ModelName = Literal["alexnet2012", "alexnet", "lenet5", "convnet4", "convnet4_tiny",
                    "dropout_mlp"]
FC_DROPOUT = ("alexnet2012", "alexnet", "convnet4", "convnet4_tiny", "dropout_mlp")
SWITCHED = ("alexnet2012", "convnet4", "convnet4_tiny")  # the nets with --act, --lrn, --pool


@dataclasses.dataclass
class Config(RunConfig):
    """Train AlexNet (Krizhevsky et al. 2012). Defaults: the paper's ImageNet recipe (§4, §5)."""

    model: ModelName = "alexnet2012"
    """alexnet2012 (the paper's two towers), alexnet (torchvision's single tower), lenet5,
    convnet4 (a four-layer CIFAR net), convnet4_tiny (tests), dropout_mlp (Srivastava et al.)."""
    dataset: Literal["imagenet", "cifar10", "fashion-mnist", "mnist", "shapes"] = "imagenet"
    """imagenet (§2), cifar10 (§3.3, Fig. 1), fashion-mnist, mnist, or shapes (built in)."""
    data_dir: str | None = None
    """Dataset folder; default <data root>/<dataset>. ImageNet: train/<wnid>/*, val/<wnid>/*.
    CIFAR-10: torchvision's files or an image folder train/<class>/*, test/<class>/*."""
    download: bool = False
    """Let torchvision download CIFAR-10, MNIST or Fashion-MNIST when it is not found."""
    train_size: int | None = None
    """In-memory datasets: use only N training images (before the train/val split), picked at
    random with a fixed seed."""
    test_size: int | None = None
    """In-memory datasets: evaluate on only N test images, picked at random."""
    val_size: int = 5000
    """In-memory datasets: training images held out for validation (ImageNet: its val/ set)."""
    act: Literal["relu", "tanh"] = "relu"
    """alexnet2012, convnet4: the nonlinearity, ReLU (§3.1) or tanh (Fig. 1's dashed line)."""
    lrn: bool = True
    """alexnet2012, convnet4: local response normalisation after layers 1 and 2 (§3.3)."""
    lrn_alpha: float | None = None
    """alexnet2012, convnet4: LRN's alpha. Default: the paper's 1e-4 (set for 0-255 pixels)
    carried over to our inputs, x 255^2 for in-memory images (pixels / 255) and x (255 x 0.226)^2
    for ImageNet's per-channel standardised ones (D7); 1e-4 gives the paper's number unchanged."""
    pool: Literal["overlapping", "non-overlapping"] = "overlapping"
    """alexnet2012, convnet4: max-pooling 3x3 stride 2 (§3.4) or 2x2 stride 2."""
    dropout: float | None = None
    """Dropout probability of the hidden fully connected layers; default the model's own: 0.5 in
    alexnet2012 and alexnet (§4.2) and dropout_mlp's hidden layers, none in convnet4."""
    input_dropout: float | None = None
    """dropout_mlp: dropout probability of the input units (default 0.2, Srivastava et al.)."""
    dropout_scaling: Literal["paper", "inverted"] = "paper"
    """paper: no scaling in training, outputs x(1-p) at test (§4.2); inverted: x1/(1-p) in
    training, the identity at test (nn.Dropout's)."""
    width: int | None = None
    """convnet4: filters of both convolutional layers (default 64)."""
    hidden: tuple[int, ...] | None = None
    """convnet4: units of its hidden layer (one value; default 384); dropout_mlp: its hidden
    layers (default 1024 1024 2048, Srivastava et al.)."""
    init_std: float | None = None
    """convnet4: weights from N(0, init_std^2), biases 0 (§5: 0.01), instead of PyTorch's default
    initialisation (alexnet2012 always starts as §5 says)."""
    augment: bool = True
    """Random crops and horizontal reflections (§4.1); in-memory images: pad 4 and crop."""
    lighting: float = 0.1
    """Std of the PCA colour augmentation's alpha_i (§4.1: 0.1); 0 turns it off. The PCA of the
    RGB pixels is computed from the training images (ImageNet: a sample of --pca-images)."""
    pca_images: int = 2000
    """ImageNet only: training images whose pixels the colour PCA is computed from."""
    batch_size: int = 128
    """Global mini-batch (§5: 128); split across ranks under torchrun."""
    lr: float = 0.01
    """Initial learning rate (§5: 0.01)."""
    momentum: float = 0.9
    """SGD momentum (§5)."""
    weight_decay: float = 5e-4
    """L2 weight decay (§5: 0.0005)."""
    steps: int = 90 * 10_009
    """Iterations in all (§5: "roughly 90 cycles" of 1.28M images at 128 per batch)."""
    schedule: Literal["plateau", "steps", "constant"] = "plateau"
    """plateau: lr /10 when the validation error stops improving (§5), at most --max-decays
    times; steps: lr /10 at each of --lr-steps; constant."""
    patience: int = 2
    """plateau: evaluations without a new best validation error before the lr is divided."""
    max_decays: int = 3
    """plateau: how many times the lr may be divided by 10 (§5: "reduced three times")."""
    lr_steps: tuple[int, ...] = ()
    """steps: iterations at which the lr is divided by 10."""
    target_error: float | None = None
    """Stop once a log window's training error is at or below this (Fig. 1's 25%: 0.25)."""
    log_every: int = 100
    """Iterations between training-metric records."""
    eval_every: int = 10_009
    """Iterations between validation runs (best.pt and the plateau schedule follow them)."""
    ckpt_every: int = 2500
    """Iterations between last.pt checkpoints."""
    workers: int = 8
    """ImageNet only: DataLoader worker processes per rank."""
    eval_train: bool = False
    """In-memory datasets: also evaluate the final model on the training images (no augmentation,
    dropout off), for the train/test gap of §4.2."""
    ten_crop: bool = False
    """ImageNet only: evaluate on the 10 patches of §4.1 (corners, centre, and their
    reflections), averaging the softmax, instead of one centre crop."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.model in MODELS, self, "model", f"choose from {', '.join(MODELS)}")
        require(self.dataset in ("imagenet", *IN_MEMORY), self, "dataset",
                "choose from imagenet, " + ", ".join(IN_MEMORY))
        require(self.data_dir is None or self.dataset != "shapes", self, "data_dir",
                "--dataset shapes is generated by code and reads no folder")
        require(self.dropout is None or 0 <= self.dropout < 1, self, "dropout",
                "must be in [0, 1) (a probability of dropping a unit)")
        require(self.input_dropout is None or (0 <= self.input_dropout < 1
                                                and self.model == "dropout_mlp"), self,
                "input_dropout", "must be in [0, 1), and applies to dropout_mlp only")
        require(self.dropout is None or self.model in FC_DROPOUT, self, "dropout",
                f"applies to {', '.join(FC_DROPOUT)} (lenet5 has no dropout)")
        switched = self.act != "relu" or not self.lrn or self.pool != "overlapping"
        require(not switched or self.model in SWITCHED, self, "act",
                f"--act, --no-lrn and --pool apply to {', '.join(SWITCHED)}")
        require(self.lrn_alpha is None or (self.lrn_alpha > 0 and self.lrn
                                            and self.model in SWITCHED), self, "lrn_alpha",
                f"must be > 0, and applies to {', '.join(SWITCHED)} with LRN on")
        require(self.init_std is None or (self.init_std > 0 and self.model == "convnet4"), self,
                "init_std", "must be > 0, and applies to convnet4 only")
        require(self.width is None or (self.width > 0 and self.model == "convnet4"), self,
                "width", "must be > 0, and applies to convnet4 only")
        hidden_ok = self.hidden is None or (all(h > 0 for h in self.hidden) and (
            (self.model == "convnet4" and len(self.hidden) == 1)
            or (self.model == "dropout_mlp" and len(self.hidden) > 0)))
        require(hidden_ok, self, "hidden", "positive sizes: one for convnet4, one or more for "
                "dropout_mlp")
        for field in ("batch_size", "steps", "log_every", "eval_every", "ckpt_every", "lr",
                      "patience", "pca_images"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(0 <= self.momentum < 1, self, "momentum", "must be in [0, 1)")
        for field in ("weight_decay", "lighting", "val_size", "max_decays", "workers"):
            require(getattr(self, field) >= 0, self, field, "must be >= 0")
        require(self.train_size is None or self.train_size > self.val_size, self, "train_size",
                f"must be larger than --val-size ({self.val_size})")
        require(self.test_size is None or self.test_size > 0, self, "test_size", "must be > 0")
        increasing = list(self.lr_steps) == sorted(set(self.lr_steps))
        require(increasing and all(0 < s < self.steps for s in self.lr_steps), self, "lr_steps",
                f"must increase, within (0, {self.steps})")
        require(self.target_error is None or 0 < self.target_error < 1, self, "target_error",
                "must be in (0, 1) (a fraction, e.g. 0.25)")


def paper() -> Config:
    """§4-§5 on ILSVRC: alexnet2012, batch 128, lr 0.01 /10 on plateaus (three times), ~90
    epochs, validation once per epoch."""
    return Config(preset="paper")


def quick() -> Config:
    """CPU minutes: the four-layer convnet4 (with LRN, overlapping pooling and dropout) on the
    built-in shapes."""
    return Config(preset="quick", model="convnet4", dataset="shapes", train_size=20_000,
                  val_size=2000, test_size=5000, dropout=0.5, width=32, hidden=(256,), steps=1500,
                  lr=0.1, eval_every=250, ckpt_every=250, log_every=25)


def smoke() -> Config:
    """Seconds: convnet4_tiny on a sliver of the built-in shapes. For tests."""
    return Config(preset="smoke", model="convnet4_tiny", dataset="shapes", train_size=512,
                  val_size=128, test_size=256, batch_size=32, steps=8, schedule="constant",
                  log_every=2, eval_every=4, ckpt_every=4, progress=False)


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke}


def build_model(cfg: Config, num_classes: int, in_channels: int, image_size: int) -> nn.Module:
    """The network of ``cfg`` for ``num_classes`` outputs and (C, H, W) = (in_channels,
    image_size, image_size) inputs."""
    p = cfg.dropout
    alpha = cfg.lrn_alpha or lrn_alpha_for(pixel_unit(cfg.dataset))
    if cfg.model in ("alexnet2012", "alexnet"):
        return AlexNet("2012" if cfg.model == "alexnet2012" else "owt", num_classes=num_classes,
                       dropout=0.5 if p is None else p, scaling=cfg.dropout_scaling,
                       lrn=cfg.lrn, pool=cfg.pool, act=cfg.act, in_channels=in_channels,
                       lrn_alpha=alpha)
    if cfg.model == "lenet5":
        return LeNet5(num_classes=num_classes, in_channels=in_channels)
    if cfg.model == "dropout_mlp":
        return DropoutMLP(num_classes=num_classes, in_features=in_channels * image_size**2,
                          hidden=cfg.hidden or (1024, 1024, 2048), scaling=cfg.dropout_scaling,
                          **({} if p is None else {"p_hidden": p}),
                          **({} if cfg.input_dropout is None else {"p_input": cfg.input_dropout}))
    tiny = cfg.model == "convnet4_tiny"
    return ConvNet4(num_classes=num_classes, in_channels=in_channels,
                    width=cfg.width or (8 if tiny else 64),
                    hidden=(cfg.hidden or (32 if tiny else 384,))[0], act=cfg.act, lrn=cfg.lrn,
                    pool=cfg.pool, dropout=(0.5 if tiny else 0.0) if p is None else p,
                    scaling=cfg.dropout_scaling, image_size=image_size, init_std=cfg.init_std,
                    lrn_alpha=alpha)


def load_trained(run_dir: str | Path, which: str = "last") -> tuple[nn.Module, torch.Tensor | None]:
    """A trained model from a run folder, in eval mode, and the pixel mean its inputs need::

        model, mean = load_trained("runs/alexnet/quick-convnet4-s0")
        logits = model(images.float() / 255 - mean)   # images: uint8 (B, C, H, W)
    """
    ckpt = load_checkpoint(Path(run_dir) / f"{which}.pt")
    saved = {k: tuple(v) if isinstance(v, list) else v for k, v in ckpt["config"].items()}
    cfg = dataclasses.replace(Config(), **saved)
    shape = ckpt["input_shape"]
    model = build_model(cfg, shape["classes"], shape["in_channels"], shape["image_size"])
    model.load_state_dict(ckpt["model"])
    mean = ckpt["pixel_mean"]
    return model.eval(), mean if mean.numel() else None  # ImageNet runs normalise per channel


@dataclasses.dataclass
class InputShape:
    """What the network was built for (saved with the run, so load_trained can rebuild it)."""

    classes: int
    in_channels: int
    image_size: int


@dataclasses.dataclass
class Progress:
    """The loop's own state beyond the step (checkpointed with the run)."""

    lr: float  # the current learning rate (the plateau schedule divides it)
    best_at_lr: float = float("inf")  # the best validation error since the lr last changed
    evals_without_gain: int = 0
    decays: int = 0
    target_reached_at: int | None = None  # the step whose log window reached --target-error


def plateau(cfg: Config, progress: Progress, val_error: float) -> bool:
    """§5: "divide the learning rate by 10 when the validation error rate stopped improving with
    the current learning rate" -- after ``patience`` evaluations without a new best, at most
    ``max_decays`` times. True when it divided the rate."""
    if val_error < progress.best_at_lr:
        progress.best_at_lr, progress.evals_without_gain = val_error, 0
        return False
    progress.evals_without_gain += 1
    if progress.evals_without_gain < cfg.patience or progress.decays >= cfg.max_decays:
        return False
    progress.lr /= 10
    progress.decays += 1
    progress.best_at_lr, progress.evals_without_gain = val_error, 0
    return True


def scheduled_lr(cfg: Config, step: int, progress: Progress) -> float:
    if cfg.schedule == "steps":
        return cfg.lr / 10 ** sum(step >= s for s in cfg.lr_steps)
    return progress.lr  # constant, or as the plateau rule left it


def main(cfg: Config) -> dict:
    """Train per ``cfg``; returns the run summary (also written to <out>/summary.json)."""
    return launch(train, cfg)


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    out = Path(cfg.out or f"runs/alexnet/{cfg.preset}-{cfg.model}-s{cfg.seed}")
    with Run(cfg, rt, out) as run:
        if cfg.batch_size % rt.world_size:
            raise ConfigError("batch_size", cfg.batch_size,
                              f"must divide among {rt.world_size} ranks")
        data, pca = load_data(cfg, rt)
        if data.steps_per_epoch == 0:
            raise ConfigError("batch_size", cfg.batch_size, "is larger than the training set")
        meta = data.meta
        model = build_model(cfg, meta["classes"], meta["in_channels"],
                            meta["image_size"]).to(rt.device)
        # §5: SGD, momentum 0.9, weight decay 0.0005, batch 128.
        # DEVIATION(D4): PyTorch's momentum (v = mu v + g + wd w, w -= lr v), not the paper's
        # (v = 0.9 v - 0.0005 eps w - eps g, w += v): the same while eps is constant
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay)
        scaler = rt.grad_scaler()
        progress = Progress(lr=cfg.lr)
        window = Window("loss", "errors", "images", device=rt.device)  # sums over a log window
        run.track(model=model, optimizer=opt, scaler=scaler, window=window, progress=progress,
                  pixel_mean=data.pixel_mean if data.pixel_mean is not None else torch.zeros(0),
                  input_shape=InputShape(meta["classes"], meta["in_channels"],
                                         meta["image_size"]))
        params = sum(p.numel() for p in model.parameters())
        run.start({"data": meta, "params": params, "pca": [t.tolist() for t in pca] if pca
                   else None}, total_steps=cfg.steps, desc=cfg.model)
        compiled = runtime.maybe_compile(model, cfg.compile)
        net = runtime.wrap_ddp(compiled, rt)  # evaluation uses `compiled`: each rank its shard

        logged = run.train_time  # for the throughput of each log window
        net.train()
        while not run.should_stop() and progress.target_reached_at is None:
            epoch, start = divmod(run.step, data.steps_per_epoch)
            for x, y in data.train(epoch, start):
                x, y = x.to(rt.device, non_blocking=True), y.to(rt.device, non_blocking=True)
                if pca is not None and cfg.lighting:  # §4.1, drawn from (seed, step): resumable
                    g = torch.Generator(rt.device).manual_seed(
                        (cfg.seed * 1_000_003 + run.step) * 8 + rt.rank)
                    x = lighting_noise(x, *pca, cfg.lighting, g)
                lr = scheduled_lr(cfg, run.step, progress)
                for group in opt.param_groups:
                    group["lr"] = lr
                with rt.autocast():  # DEVIATION(D5): bf16 on CUDA by default (paper: fp32)
                    logits = net(x)  # (b, K)
                    loss = F.cross_entropy(logits.float(), y)  # multinomial logistic regression
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
                    if cfg.target_error is not None and error <= cfg.target_error:
                        progress.target_reached_at = run.step  # Fig. 1: the run has its answer
                        run.print(f"step {run.step}: training error {error:.4f} <= "
                                  f"{cfg.target_error}: target reached")
                        break
                if run.step % cfg.eval_every == 0 and run.step < cfg.steps and data.val:
                    metrics = validate(run, compiled, data, rt)  # best.pt follows it
                    if cfg.schedule == "plateau" and plateau(cfg, progress, metrics["error"]):
                        run.print(f"step {run.step}: validation error stopped improving: lr "
                                  f"{progress.lr:g} (decay {progress.decays})")
                if run.step % cfg.ckpt_every == 0:
                    run.save()
                if run.should_stop():
                    break

        summary = {"model": cfg.model, "dataset": cfg.dataset, "preset": cfg.preset,
                   "seed": cfg.seed, "params": params, "lr_decays": progress.decays,
                   "target_reached_at": progress.target_reached_at,
                   "images_per_s": round(run.step * cfg.batch_size / run.train_time, 1)
                   if run.train_time else None}
        if not run.interrupted:  # a preempted run saves and leaves at once
            summary.update(final_evaluation(run, compiled, data, rt, train_eval=cfg.eval_train))
        return run.finish(summary)


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
