"""Pre-train an encoder with SimCLR (Algorithm 1): ``python -m milestones.simclr.train --help``.

    python -m milestones.simclr.train --preset quick          # built-in shapes, CPU minutes
    python -m milestones.simclr.train --data-dir cifar10      # App. B.9: ResNet-50, CIFAR-10
    python -m milestones.simclr.train --preset quick --objective supervised   # the baseline
    torchrun --nproc_per_node=8 -m milestones.simclr.train    # DDP: global negatives

The loop below is Algorithm 1 written out: for a minibatch of N images, draw two augmentations
of each, encode all 2N views (h = f(x)), project them (z = g(h)), and descend NT-Xent (Eq. 1),
with LARS, a linear warm-up and a cosine decay (§2.2, App. B.1). During training a k-NN monitor
scores the validation images; at the end the encoder is judged by linear evaluation on frozen
features (h, and z for comparison, §4.2), by k-NN, beside the same evaluations of a randomly
initialised encoder, and optionally by fine-tuning on 1% / 10% of the labels (§6).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from milestones.adam import SGD, Adam
from milestones.adam.optim import LARS, lars_param_groups
from milestones.core import runtime
from milestones.core.checkpoint import load_checkpoint
from milestones.core.config import ConfigError, require
from milestones.core.data import IndexBatches
from milestones.core.run import Run, RunConfig, Window, cli, launch
from milestones.simclr import evaluate as E
from milestones.simclr.augment import OPS, Augmentation, augment
from milestones.simclr.data import DATASETS, labelled_fraction, load_data
from milestones.simclr.model import (
    SimCLR,
    gather_views,
    nt_xent,
    simclr_resnet18,
    simclr_resnet34,
    simclr_resnet50,
    simclr_tiny,
)

Model = Literal["resnet18", "resnet34", "resnet50", "tiny"]


@dataclasses.dataclass
class Config(RunConfig):
    """Pre-train with SimCLR (Chen et al. 2020). Defaults: App. B.9's CIFAR-10 recipe (ResNet-50
    with the CIFAR stem, batch 1024, LARS, tau 0.5, colour strength 0.5)."""

    model: Model = "resnet50"
    """Encoder f: resnet18/34/50 (the resnet milestone's nets), tiny (tests)."""
    width: int = 64
    """Filters of the encoder's first stage (64 in the paper; stages double it)."""
    stem: Literal["auto", "cifar", "imagenet"] = "auto"
    """cifar: 3x3/1 conv, no max-pool (App. B.9); imagenet: 7x7/2 + max-pool; auto: cifar for
    images up to 64 pixels."""
    head: Literal["nonlinear", "linear", "none"] = "nonlinear"
    """Projection head g (§4.2): Linear-BN-ReLU-Linear, one linear layer, or none."""
    proj_dim: int = 128
    """Output size of g (§2.1: 128)."""
    objective: Literal["simclr", "supervised"] = "simclr"
    """simclr: NT-Xent on two views; supervised: cross-entropy of a linear classifier on h, one
    view (the baseline trained with the same encoder, augmentation and budget)."""
    dataset: Literal["cifar10", "cifar100", "fashion-mnist", "mnist", "shapes", "folder"] = \
        "cifar10"
    """cifar10 (App. B.9), cifar100, fashion-mnist, mnist, shapes (built in), folder (--data-dir
    with train/<class>/ and test/<class>/ images of one size: STL-10, ImageNet subsets)."""
    data_dir: str | None = None
    """Dataset folder; default <data root>/<dataset> and the known local copies."""
    download: bool = False
    """Let torchvision download CIFAR-10/100, MNIST or Fashion-MNIST when not found."""
    train_size: int | None = None
    """Use only N training images (picked at random with a fixed seed)."""
    val_size: int = 5000
    """Training images held out for the k-NN monitor and the linear classifier's l2 choice."""
    test_size: int | None = None
    """Evaluate on only N test images (picked at random with a fixed seed)."""
    augmentations: tuple[str, ...] = ("crop", "color")
    """The operations of T, in order (§3, Fig. 5): crop (random resized crop + flip), cutout,
    color (jitter p 0.8 + grey p 0.2), sobel, noise, blur, rotate. CIFAR: crop, color."""
    strength: float = 0.5
    """Colour distortion strength s (App. A; CIFAR-10: 0.5, ImageNet: 1.0)."""
    temperature: float = 0.5
    """tau of Eq. 1 (App. B.9's best for CIFAR-10: 0.5; ImageNet: 0.1)."""
    normalize: bool = True
    """l2-normalise z in the loss (cosine similarity, §5.1 / Table 5)."""
    optimizer: Literal["lars", "sgd", "adam"] = "lars"
    """lars (§2.2), sgd (momentum, Nesterov) or adam (milestones.adam)."""
    lr: float = 1.0
    """Base learning rate, scaled by the batch size (lr_scaling). App. B.9: 1.0."""
    lr_scaling: Literal["linear", "sqrt", "none"] = "linear"
    """linear: lr x B/256 (§2.2); sqrt: lr x sqrt(B) (App. B.1); none: lr as given."""
    weight_decay: float = 1e-6
    """l2 weight decay (§2.2: 1e-6), not on batch-norm and bias parameters (LARS)."""
    momentum: float = 0.9
    """Momentum of LARS / SGD (0.9)."""
    trust_coefficient: float = 0.001
    """LARS's eta (0.001)."""
    batch_size: int = 1024
    """Minibatch N (global; 2N views). App. B.9: 1024 for CIFAR-10."""
    epochs: int = 1000
    """Passes over the training images (App. B.9: the 94.0% model trained 1000 epochs)."""
    warmup_epochs: float = 10
    """Linear warm-up of the learning rate (§2.2: 10 epochs), then cosine decay to 0."""
    log_every: int = 20
    """Steps between training-metric records."""
    eval_every: int = 1000
    """Steps between k-NN monitor runs on the validation images (best.pt follows them)."""
    ckpt_every: int = 1000
    """Steps between last.pt checkpoints."""
    knn_k: int = 200
    """k of the k-NN monitor (Wu et al. 2018: 200)."""
    knn_temperature: float = 0.1
    """Temperature of the k-NN vote weights exp(sim / t) (0.1)."""
    knn_bank: int = 10_000
    """Training images in the k-NN monitor's memory bank (the final k-NN uses all)."""
    linear_max_iter: int = 200
    """L-BFGS iterations of each linear classifier in the final linear evaluation."""
    eval_train_size: int | None = None
    """Final evaluation: fit the linear classifier on only N training images (None: all)."""
    eval_random: bool = True
    """Final evaluation: also evaluate a randomly initialised encoder (same seed) the same way."""
    fine_tune: tuple[float, ...] = ()
    """Final evaluation: fine-tune on these fractions of the labels (§6: 0.01, 0.1)."""
    fine_tune_steps: int = 500
    """Updates of each fine-tuning (App. B.5: 60 epochs for 1%, 30 for 10% on ImageNet)."""
    sync_bn: bool = True
    """Under DDP on CUDA: batch-norm statistics over all devices (App. B.1's global BN)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.dataset in DATASETS, self, "dataset", f"choose from {', '.join(DATASETS)}")
        require(self.data_dir is None or self.dataset != "shapes", self, "data_dir",
                "--dataset shapes is generated by code and reads no folder")
        unknown = [a for a in self.augmentations if a not in OPS]
        require(not unknown, self, "augmentations",
                f"unknown {unknown}; choose from {', '.join(OPS)}")
        require(len(set(self.augmentations)) == len(self.augmentations), self, "augmentations",
                "each operation at most once")
        for field in ("width", "proj_dim", "epochs", "log_every", "eval_every", "ckpt_every",
                      "knn_k", "knn_bank", "linear_max_iter", "fine_tune_steps"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(self.batch_size >= 2, self, "batch_size",
                "must be >= 2: each image's negatives are the other images of its batch")
        require(self.temperature > 0, self, "temperature", "must be > 0 (Eq. 1 divides by it)")
        require(self.knn_temperature > 0, self, "knn_temperature", "must be > 0")
        require(self.lr > 0, self, "lr", "must be > 0")
        require(self.strength >= 0, self, "strength", "must be >= 0")
        require(self.weight_decay >= 0, self, "weight_decay", "must be >= 0")
        require(0 <= self.momentum < 1, self, "momentum", "must be in [0, 1)")
        require(self.trust_coefficient > 0, self, "trust_coefficient", "must be > 0")
        require(self.warmup_epochs >= 0, self, "warmup_epochs", "must be >= 0")
        require(self.val_size > 0, self, "val_size", "must be > 0 (the monitor scores it)")
        require(self.train_size is None or self.train_size > self.val_size, self, "train_size",
                f"must be larger than --val-size ({self.val_size})")
        for field in ("test_size", "eval_train_size"):
            value = getattr(self, field)
            require(value is None or value > 0, self, field, "must be > 0")
        require(all(0 < f <= 1 for f in self.fine_tune), self, "fine_tune",
                "fractions must be in (0, 1]")


def paper() -> Config:
    """App. B.9 on CIFAR-10: ResNet-50 (CIFAR stem), batch 1024, LARS lr 1.0 x B/256,
    tau 0.5, s 0.5, 1000 epochs, 10 warm-up epochs; 1% / 10% fine-tuning at the end."""
    return Config(preset="paper", fine_tune=(0.01, 0.1))


def quick() -> Config:
    """CPU minutes: a ResNet-18 at width 8 (CIFAR stem) pre-trained on 5,000 built-in shapes,
    batch 256, 15 epochs, LARS at base lr 4 (a short budget needs larger steps than App. B.9's
    1.0: chosen over 1 and 16 in a 120-step trial); linear evaluation beside a random
    encoder's."""
    return Config(preset="quick", model="resnet18", width=8, dataset="shapes", train_size=6000,
                  val_size=1000, test_size=2000, batch_size=256, epochs=15, warmup_epochs=1,
                  lr=4.0, log_every=5, eval_every=100, ckpt_every=100, knn_bank=5000)


def smoke() -> Config:
    """Seconds: the tiny encoder on a sliver of the built-in shapes. For tests."""
    return Config(preset="smoke", model="tiny", proj_dim=8, dataset="shapes", train_size=320,
                  val_size=64, test_size=64, batch_size=32, epochs=1, warmup_epochs=0.5,
                  log_every=2, eval_every=4, ckpt_every=4, knn_k=10, knn_bank=64,
                  linear_max_iter=10, fine_tune_steps=2, progress=False)


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke}


def build_model(cfg: Config, shape: tuple[int, ...]) -> SimCLR:
    """The encoder f and head g for ``cfg`` and images of ``shape`` (C, H, W)."""
    c, side = shape[0], max(shape[1:])
    stem = cfg.stem if cfg.stem != "auto" else ("cifar" if side <= 64 else "imagenet")
    head = cfg.head
    if cfg.model == "tiny":
        return simclr_tiny(head, cfg.proj_dim, c)
    build = {"resnet18": simclr_resnet18, "resnet34": simclr_resnet34,
             "resnet50": simclr_resnet50}[cfg.model]
    return build(head, stem, cfg.width, cfg.proj_dim, c)


def load_trained(run_dir: str | Path, which: str = "last") -> SimCLR:
    """A pre-trained model from a run folder, in eval mode::

        model = load_trained("runs/simclr/quick-resnet18-shapes-s0")
        h = model.encoder(images)            # (B, dim_h): the representation
    """
    ckpt = load_checkpoint(Path(run_dir) / f"{which}.pt")
    saved = {k: tuple(v) if isinstance(v, list) else v for k, v in ckpt["config"].items()}
    cfg = dataclasses.replace(Config(), **saved)
    model = build_model(cfg, tuple(ckpt["shape"].tolist()))
    model.load_state_dict(ckpt["model"])
    return model.eval()


def view_augmentation(cfg: Config, side: int) -> Augmentation:
    """T of §3: the configured operations, a flip with the crop (as the paper's crop)."""
    return Augmentation(size=side, ops=tuple(cfg.augmentations),
                        flip="crop" in cfg.augmentations, strength=cfg.strength)


def peak_lr(cfg: Config) -> float:
    """§2.2: "learning rate = 0.3 x BatchSize/256"; App. B.1: 0.075 x sqrt(BatchSize)."""
    if cfg.lr_scaling == "linear":
        return cfg.lr * cfg.batch_size / 256
    if cfg.lr_scaling == "sqrt":
        return cfg.lr * math.sqrt(cfg.batch_size)
    return cfg.lr


def learning_rate(cfg: Config, step: int, steps_per_epoch: int) -> float:
    """Linear warm-up over warmup_epochs, then cosine decay to 0 at the last step (§2.2)."""
    total, warmup = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch
    if step < warmup:
        return peak_lr(cfg) * (step + 1) / warmup
    t = (step - warmup) / max(total - warmup, 1)
    return peak_lr(cfg) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def make_optimizer(cfg: Config, modules: list[nn.Module], lr: float) -> torch.optim.Optimizer:
    groups = lars_param_groups(nn.ModuleList(modules), cfg.weight_decay)
    if cfg.optimizer == "lars":
        return LARS(groups, lr=lr, momentum=cfg.momentum, eta=cfg.trust_coefficient)
    if cfg.optimizer == "sgd":
        return SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=True)
    return Adam(groups, lr=lr)


def main(cfg: Config) -> dict:
    """Pre-train per ``cfg``; returns the run summary (also written to <out>/summary.json)."""
    return launch(train, cfg)


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    out = Path(cfg.out or f"runs/simclr/{cfg.preset}-{cfg.model}-{cfg.dataset}-s{cfg.seed}")
    with Run(cfg, rt, out) as run:
        if cfg.batch_size % rt.world_size:
            raise ConfigError("batch_size", cfg.batch_size,
                              f"must divide among {rt.world_size} ranks")
        data = load_data(cfg.dataset, data_dir=cfg.data_dir, root=cfg.data_root,
                         download=cfg.download, val_size=cfg.val_size,
                         train_size=cfg.train_size, test_size=cfg.test_size)
        batches = IndexBatches(len(data.train), cfg.batch_size, shuffle=True, seed=cfg.seed,
                               rank=rt.rank, world_size=rt.world_size)
        if len(batches) == 0:
            raise ConfigError("batch_size", cfg.batch_size,
                              f"is larger than the {len(data.train)} training images")
        shape = tuple(data.train.x.shape[1:])
        num_classes = len(data.classes)

        model = build_model(cfg, shape).to(rt.device)
        classifier = nn.Linear(model.dim_h, num_classes).to(rt.device)  # supervised only
        trained = [model] if cfg.objective == "simclr" else [model.encoder, classifier]
        opt = make_optimizer(cfg, trained, learning_rate(cfg, 0, len(batches)))
        scaler = rt.grad_scaler()
        window = Window("loss", "accuracy", "n", device=rt.device)
        run.track(model=model, classifier=classifier, opt=opt, scaler=scaler, window=window,
                  shape=torch.tensor(shape))
        params = {"encoder": sum(p.numel() for p in model.encoder.parameters()),
                  "head": sum(p.numel() for p in model.head.parameters())}
        run.start({"data": {"source": data.source, "shape": list(shape),
                            "train": len(data.train), "val": len(data.val),
                            "test": len(data.test), "classes": num_classes},
                   "params": params, "steps_per_epoch": len(batches)},
                  total_steps=cfg.epochs * len(batches), desc=f"{cfg.objective} {cfg.dataset}")
        net = model
        if rt.distributed and rt.device.type == "cuda" and cfg.sync_bn:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # App. B.1: global BN
        # DEVIATION(D3): on CPU processes (gloo) each rank's batch norm sees its own views only
        net = runtime.wrap_ddp(runtime.maybe_compile(net, cfg.compile), rt)
        clf = runtime.wrap_ddp(classifier, rt) if cfg.objective == "supervised" else classifier

        aug = view_augmentation(cfg, shape[-1])
        x_train, y_train = data.train.x.to(rt.device), data.train.y.to(rt.device)
        logged = run.train_time
        order_of = (None, None)  # (epoch, its order): one permutation per epoch, not per step
        model.train()
        while not run.should_stop():
            epoch, i = divmod(run.step, len(batches))
            if order_of[0] != epoch:
                order_of = (epoch, batches.order(epoch)[0])
            idx = next(batches.slices(order_of[1], i)).to(rt.device)  # (n,) this rank's images
            lr = learning_rate(cfg, run.step, len(batches))
            for group in opt.param_groups:
                group["lr"] = lr
            # the step's augmentations depend on (seed, rank, step) only: resuming is exact
            g = torch.Generator().manual_seed((cfg.seed * 1_000_003 + run.step) * 64 + rt.rank)
            x = E.to_input(x_train[idx])  # (n, C, H, W) in [0, 1]

            if cfg.objective == "simclr":
                # Algorithm 1: two views t(x), t'(x) of every image, t, t' ~ T
                views = torch.cat([augment(x, aug, g), augment(x, aug, g)])  # (2n, C, H, W)
                with rt.autocast():
                    _, z = net(views)  # h = f(x~), z = g(h): (2n, dim_z)
                z1, z2 = z.float().chunk(2)  # first views, second views
                # Eq. 1 over the global batch: every other view of every rank is a negative
                loss = nt_xent(gather_views(z1, z2), cfg.temperature, cfg.normalize)
                acc = _positive_is_nearest(z1.detach(), z2.detach())
            else:  # the supervised baseline: one view, cross-entropy on a linear layer over h
                with rt.autocast():
                    h, _ = net(augment(x, aug, g))
                    logits = clf(h).float()
                loss = F.cross_entropy(logits, y_train[idx])
                acc = (logits.detach().argmax(1) == y_train[idx]).float().mean()
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

            run.step += 1
            run.track_loss(loss)
            window.add(loss=loss.detach(), accuracy=acc, n=1)
            if run.step % cfg.log_every == 0:
                run.check_finite()
                sums = window.flush()
                # accuracy: simclr, how often a view's nearest other view is its positive
                run.log("train", loss=sums["loss"] / sums["n"],
                        accuracy=sums["accuracy"] / sums["n"], lr=lr,
                        epoch=round(run.step / len(batches), 3),
                        images_per_s=sums["n"] * cfg.batch_size
                        / max(run.train_time - logged, 1e-9))
                logged = run.train_time
            if run.step % cfg.eval_every == 0 and run.step < run.total:
                with run.paused():
                    knn = monitor(model, data, cfg, num_classes)
                run.log("val", knn_accuracy=knn)
                run.keep_best("val_knn_accuracy", knn, maximize=True)
            if run.step % cfg.ckpt_every == 0:
                run.save()

        summary = {"model": cfg.model, "dataset": cfg.dataset, "preset": cfg.preset,
                   "objective": cfg.objective, "seed": cfg.seed, "params": params,
                   "head": cfg.head, "temperature": cfg.temperature, "normalize": cfg.normalize,
                   "augmentations": list(cfg.augmentations)}
        if not run.interrupted:
            with run.paused():
                final = final_evaluation(model, classifier, data, cfg, rt)
            run.log("test", **{k: v for k, v in final.items() if not isinstance(v, dict)})
            summary.update(final)
        return run.finish(summary, exports={"encoder": model.encoder})


def _positive_is_nearest(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """The share of views whose most similar other view (cosine) is their positive."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T).fill_diagonal_(-2)
    positive = torch.arange(len(z), device=z.device).roll(len(z1))
    return (sim.argmax(1) == positive).float().mean()


def monitor(model: SimCLR, data, cfg: Config, num_classes: int) -> float:
    """The k-NN monitor: validation images classified by their k nearest training images in h."""
    bank = data.train.subset(cfg.knn_bank)
    return E.knn_accuracy(E.encode(model.encoder, bank.x), bank.y,
                          E.encode(model.encoder, data.val.x), data.val.y, num_classes,
                          cfg.knn_k, cfg.knn_temperature)


def evaluate_encoder(model: SimCLR, data, cfg: Config, num_classes: int) -> dict:
    """Linear evaluation of h (and of z = g(h), when there is a head) on frozen features, and
    k-NN accuracy on the test images with every training image in the bank."""
    train = data.train.subset(cfg.eval_train_size)
    h = {name: E.encode(model.encoder, split.x)
         for name, split in (("train", train), ("val", data.val), ("test", data.test))}
    ys = (train.y, data.val.y, data.test.y)
    result = {"linear": E.linear_evaluation(h["train"], ys[0], h["val"], ys[1], h["test"],
                                            ys[2], num_classes, max_iter=cfg.linear_max_iter),
              "knn_accuracy": E.knn_accuracy(h["train"], ys[0], h["test"], ys[2], num_classes,
                                             cfg.knn_k, cfg.knn_temperature)}
    if model.head.kind != "none":
        head = model.head.eval()
        with torch.no_grad():
            device = next(head.parameters()).device
            z = {k: head(v.to(device)).float().cpu() for k, v in h.items()}
        model.head.train()
        result["linear_z"] = E.linear_evaluation(z["train"], ys[0], z["val"], ys[1], z["test"],
                                                 ys[2], num_classes,
                                                 max_iter=cfg.linear_max_iter)
    return result


def final_evaluation(model: SimCLR, classifier: nn.Module, data, cfg: Config,
                     rt: runtime.Runtime) -> dict:
    """Linear evaluation, k-NN, the random-encoder reference, fine-tuning, the supervised
    classifier's own test accuracy."""
    num_classes = len(data.classes)
    if not rt.is_main:
        return {}
    result = {}
    ours = evaluate_encoder(model, data, cfg, num_classes)
    result.update(linear_accuracy=ours["linear"]["test_accuracy"], linear=ours["linear"],
                  knn_accuracy=ours["knn_accuracy"])
    if "linear_z" in ours:
        result.update(linear_accuracy_z=ours["linear_z"]["test_accuracy"],
                      linear_z=ours["linear_z"])
    if cfg.objective == "supervised":
        classifier.eval()
        with torch.no_grad():
            logits = classifier(E.encode(model.encoder, data.test.x).to(rt.device)).cpu()
        classifier.train()
        result["supervised_accuracy"] = E.accuracy(logits, data.test.y)
    if cfg.eval_random:
        with torch.random.fork_rng(devices=[]):  # the run's own RNG streams stay as they were
            torch.manual_seed(cfg.seed)
            random_model = build_model(cfg, tuple(data.train.x.shape[1:])).to(rt.device)
        rand = evaluate_encoder(random_model, data, cfg, num_classes)
        result.update(random_linear_accuracy=rand["linear"]["test_accuracy"],
                      random_knn_accuracy=rand["knn_accuracy"])
    aug = Augmentation(size=data.train.x.shape[-1], ops=("crop",), flip=True)
    for fraction in cfg.fine_tune:
        labelled = labelled_fraction(data.train, fraction, seed=cfg.seed)
        ft = E.fine_tune(model.encoder, model.dim_h, labelled, data.test, num_classes,
                         steps=cfg.fine_tune_steps, seed=cfg.seed,
                         augment=lambda x, g: augment(x, aug, g))
        result[f"fine_tune_{fraction:g}_accuracy"] = ft["test_accuracy"]
    return result


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
