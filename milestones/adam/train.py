"""Train one of the paper's models with one optimizer: ``python -m milestones.adam.train --help``.

    python -m milestones.adam.train --preset quick                        # MLP, built-in digits
    python -m milestones.adam.train --task logreg --optimizer adagrad --lr-schedule inv-sqrt
    python -m milestones.adam.train --task bow --optimizer adam --dropout 0.5
    python -m milestones.adam.train --preset paper                        # §6.3 CNN, CIFAR-10, GPU

Tasks are §6's models: ``logreg`` (§6.1, pixels), ``bow`` (§6.1, bag of words), ``mlp`` (§6.2,
2 x 1000 ReLU), ``cnn`` (§6.3, c64-c64-c128-1000 on whitened CIFAR-10), ``vae`` (§6.4). The loop
below is plain minibatch training: the optimizer is the experiment.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from milestones.adam import data as D
from milestones.adam.model import (
    MLP,
    VAE,
    BowLogisticRegression,
    ConvNet,
    LogisticRegression,
    negative_elbo,
)
from milestones.adam.optim import OPTIMIZERS
from milestones.core import runtime
from milestones.core.checkpoint import (
    export_safetensors,
    rng_state,
    save_checkpoint,
    set_rng_state,
    start_run,
)
from milestones.core.config import RunConfig, require, run, to_dict
from milestones.core.data import DataUnavailable
from milestones.core.metrics import MetricLogger, check_finite, environment

Task = Literal["logreg", "bow", "mlp", "cnn", "vae"]
DatasetName = Literal["auto", "builtin", "mnist", "fashion-mnist", "segments", "cifar10", "imdb",
                      "reviews"]
OptimizerName = Literal["adam", "adamw", "adamax", "sgd", "adagrad", "rmsprop", "adadelta"]
DEFAULT_LR = {"adam": 1e-3, "adamw": 1e-3, "adamax": 2e-3, "sgd": 1e-2, "adagrad": 1e-2,
              "rmsprop": 1e-3, "adadelta": 1.0}
IMAGE_TASKS = ("logreg", "mlp", "cnn", "vae")


@dataclasses.dataclass
class Config(RunConfig):
    """Train a model of Adam's §6 with one optimizer. Default: §6.3, the CNN on CIFAR-10."""

    task: Task = "cnn"
    """logreg, bow (§6.1), mlp (§6.2), cnn (§6.3) or vae (§6.4)."""
    dataset: DatasetName = "auto"
    """auto: cifar10 for cnn; imdb, else reviews, for bow; mnist, else fashion-mnist, else
    segments for the rest. builtin: segments (images) or reviews (bow), generated offline."""
    data_dir: str | None = None
    """Dataset folder (MNIST idx files, CIFAR-10 ...); default under the data root."""
    download: bool = False
    """Let torchvision download MNIST, Fashion-MNIST or CIFAR-10 when they are missing."""
    optimizer: OptimizerName = "adam"
    """adam (Algorithm 1), adamw, adamax (§7.1), sgd (+ Nesterov momentum), adagrad, rmsprop,
    adadelta."""
    lr: float | None = None
    """Step size alpha; default: adam 1e-3, adamax 2e-3 (§7.1), sgd/adagrad 1e-2, adadelta 1."""
    beta1: float = 0.9
    """Adam/AdaMax beta1 (Algorithm 1)."""
    beta2: float = 0.999
    """Adam/AdaMax beta2 (Algorithm 1)."""
    eps: float = 1e-8
    """Adam's epsilon (Algorithm 1)."""
    bias_correction: bool = True
    """Adam's bias correction (§3); --no-bias-correction for the §6.4 ablation."""
    amsgrad: bool = False
    """AMSGrad (Reddi et al. 2018; after the paper)."""
    momentum: float = 0.9
    """SGD's and RMSProp's momentum (SGD uses Nesterov's unless --no-nesterov)."""
    nesterov: bool = True
    """SGD with Nesterov momentum, the paper's "SGDNesterov"."""
    weight_decay: float = 0.0
    """L2 penalty lambda (§6.1's logistic regression is L2-regularised); decoupled for adamw."""
    lr_schedule: Literal["constant", "inv-sqrt"] = "constant"
    """constant, or inv-sqrt: alpha_t = alpha / sqrt(t), t the iteration (§6.1)."""
    dropout: float = 0.0
    """Dropout on hidden units (mlp, cnn) or on the bag-of-words features (bow: §6.1's 50%)."""
    input_dropout: float = 0.0
    """Dropout on the input pixels (mlp, cnn)."""
    hidden: int = 1000
    """mlp: units per hidden layer (§6.2: 1000); vae: hidden units (§6.4: 500 at the default)."""
    whiten: bool = True
    """cnn: ZCA-whiten the images (§6.3: "whitened input")."""
    epochs: float = 45
    """Passes over the training set (§6.3 plots 45 epochs)."""
    batch_size: int = 128
    """Minibatch size (§6: 128 throughout)."""
    train_size: int | None = None
    """Use only the first N training examples."""
    test_size: int | None = None
    """Evaluate on only the first N test examples."""
    log_every: int = 50
    """Iterations between training-loss records."""
    eval_every: float = 1.0
    """Epochs between test evaluations."""
    ckpt_every: int = 1000
    """Iterations between last.pt checkpoints."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.lr is None or self.lr > 0, self, "lr", "must be > 0")
        require(0 <= self.beta1 < 1, self, "beta1", "must be in [0, 1)")
        require(0 <= self.beta2 < 1, self, "beta2", "must be in [0, 1)")
        require(self.eps >= 0, self, "eps", "must be >= 0")
        require(0 <= self.momentum < 1, self, "momentum", "must be in [0, 1)")
        require(self.weight_decay >= 0, self, "weight_decay", "must be >= 0")
        for field in ("dropout", "input_dropout"):
            require(0 <= getattr(self, field) < 1, self, field, "must be in [0, 1)")
        for field in ("hidden", "batch_size", "log_every", "ckpt_every"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(self.epochs > 0, self, "epochs", "must be > 0")
        require(self.eval_every > 0, self, "eval_every", "must be > 0")
        bow = self.dataset in ("imdb", "reviews")
        require(self.dataset in ("auto", "builtin") or bow == (self.task == "bow"), self, "dataset",
                f"{self.dataset} does not fit --task {self.task} (bow takes imdb or reviews)")
        require(self.dataset != "cifar10" or self.task != "vae", self, "dataset",
                "the VAE models 28x28 grey digits: mnist, fashion-mnist or segments")


def paper() -> Config:
    """§6.3: the c64-c64-c128-1000 CNN on whitened CIFAR-10, Adam, dropout, 45 epochs (GPU)."""
    return Config(preset="paper", dropout=0.5, input_dropout=0.2)


def quick() -> Config:
    """CPU minutes: §6.2's 2 x 1000 MLP on the built-in digits, Adam, 3 epochs."""
    return Config(preset="quick", task="mlp", dataset="builtin", epochs=3, log_every=50)


def smoke() -> Config:
    """Seconds: a small MLP on a sliver of the built-in digits. For tests."""
    return Config(preset="smoke", task="mlp", dataset="builtin", hidden=32, train_size=512,
                  test_size=256, batch_size=32, epochs=0.5, log_every=2, eval_every=0.25,
                  ckpt_every=4, progress=False)


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke}


def resolve_dataset(cfg: Config) -> list[str]:
    """The datasets to try, in order."""
    if cfg.dataset == "builtin":
        return ["reviews" if cfg.task == "bow" else "segments"]
    if cfg.dataset != "auto":
        return [cfg.dataset]
    return {"cnn": ["cifar10"], "bow": ["imdb", "reviews"]}.get(
        cfg.task, ["mnist", "fashion-mnist", "segments"])


def load_data(cfg: Config) -> D.Dataset:
    """The first dataset that is here; DataUnavailable (for the first) if none is."""
    errors = []
    for name in resolve_dataset(cfg):
        try:
            if cfg.task == "bow":
                data = D.load_bow(name, cfg.data_root)
            else:
                data = D.load_images(name, cfg.data_dir, cfg.data_root, cfg.download,
                                     cfg.train_size, cfg.test_size)
            return dataclasses.replace(data, train=data.train.subset(cfg.train_size),
                                       test=data.test.subset(cfg.test_size))
        except DataUnavailable as e:
            errors.append(e)
    raise errors[0]


def build_model(cfg: Config, data: D.Dataset) -> nn.Module:
    if cfg.task == "bow":
        return BowLogisticRegression(D.VOCAB_SIZE, data.n_classes, cfg.dropout)
    c, h, w = data.train.x.shape[1:]
    if cfg.task == "logreg":
        return LogisticRegression(c * h * w, data.n_classes)
    if cfg.task == "mlp":
        return MLP(c * h * w, cfg.hidden, 2, data.n_classes, cfg.dropout, cfg.input_dropout)
    if cfg.task == "cnn":
        return ConvNet(c, h, data.n_classes, dropout=cfg.dropout, input_dropout=cfg.input_dropout)
    return VAE(c * h * w, hidden=500 if cfg.hidden == 1000 else cfg.hidden)


def build_optimizer(cfg: Config, params) -> torch.optim.Optimizer:
    lr = cfg.lr or DEFAULT_LR[cfg.optimizer]
    kw: dict = {"lr": lr, "weight_decay": cfg.weight_decay}
    if cfg.optimizer in ("adam", "adamw"):
        kw.update(betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, amsgrad=cfg.amsgrad,
                  bias_correction=cfg.bias_correction)
    elif cfg.optimizer == "adamax":
        kw.update(betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)
    elif cfg.optimizer == "sgd":
        kw.update(momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)
    elif cfg.optimizer == "rmsprop":
        kw.update(momentum=0.0)
    return OPTIMIZERS[cfg.optimizer](params, **kw)


def loss_fn(cfg: Config, model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """(loss, errors in the batch or None): cross-entropy, or the VAE's negative ELBO (§6.4)."""
    if cfg.task == "vae":
        logits, mu, logvar = model(x)
        return negative_elbo(logits, x, mu, logvar), None
    logits = model(x)
    return F.cross_entropy(logits.float(), y), (logits.argmax(1) != y).sum()


@torch.no_grad()
def evaluate(cfg: Config, model: nn.Module, batches, rt: runtime.Runtime) -> dict[str, float]:
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=rt.device)  # loss sum, errors, count
    for x, y in batches:
        with rt.autocast():
            loss, errors = loss_fn(cfg, model, x, y)
        totals += torch.stack([loss.double() * len(y), (errors if errors is not None else
                               torch.zeros((), device=rt.device)).double(),
                               torch.tensor(len(y), dtype=torch.float64, device=rt.device)])
    runtime.all_reduce(totals)
    model.train()
    loss, errors, count = totals.tolist()
    out = {"loss": loss / max(count, 1)}
    if cfg.task != "vae":
        out["error"] = errors / max(count, 1)
    return out


def learning_rate(cfg: Config, base: float, step: int) -> float:
    """alpha, or alpha / sqrt(t) at iteration t = step + 1 (§6.1)."""
    return base / math.sqrt(step + 1) if cfg.lr_schedule == "inv-sqrt" else base


def main(cfg: Config) -> dict:
    """Train per ``cfg``; returns the run summary (also written to <out>/summary.json)."""
    rt = runtime.setup(cfg)
    try:
        return train(cfg, rt)
    finally:
        runtime.shutdown(rt)


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    data = load_data(cfg)  # DataUnavailable before anything is written
    whiten = None
    if cfg.task == "cnn" and cfg.whiten:  # §6.3: whitened input, fitted on the training images
        whiten = D.zca(data.train.x.flatten(1).float() / 255)
    kw = dict(device=rt.device, seed=cfg.seed, rank=rt.rank, world_size=rt.world_size,
              whiten=whiten)
    train_batches = D.TensorBatches(data.train, cfg.batch_size, shuffle=True, **kw)
    test_batches = D.TensorBatches(data.test, cfg.batch_size, shuffle=False, drop_last=False, **kw)
    steps_per_epoch = len(train_batches)
    require(steps_per_epoch > 0, cfg, "batch_size", "is larger than the training set")
    total = max(1, round(cfg.epochs * steps_per_epoch))
    eval_every = max(1, round(cfg.eval_every * steps_per_epoch))
    out = Path(cfg.out or f"runs/adam/{cfg.preset}-{cfg.task}-{cfg.optimizer}-s{cfg.seed}")

    model = build_model(cfg, data).to(rt.device)
    opt = build_optimizer(cfg, model.parameters())
    base_lr = [g["lr"] for g in opt.param_groups]
    step = 0
    window = torch.zeros(3, dtype=torch.float64, device=rt.device)  # loss sum, errors, examples
    ckpt = start_run(out, cfg, is_main=rt.is_main, map_location=rt.device)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
        window.copy_(ckpt["window"])
        set_rng_state(ckpt["rng"])
    header = {"config": to_dict(cfg), "env": environment(rt.device), "world_size": rt.world_size,
              "data": {"name": data.name, "source": data.source, "train": len(data.train),
                       "test": len(data.test)},
              "params": sum(p.numel() for p in model.parameters())}
    log = MetricLogger(out, header, total_steps=total, start_step=step, enabled=rt.is_main,
                       progress=cfg.progress, tensorboard=cfg.tensorboard,
                       desc=f"{cfg.task}/{cfg.optimizer}")
    net = runtime.wrap_ddp(runtime.maybe_compile(model, cfg.compile), rt)

    def state() -> dict:
        return {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "window": window.cpu(), "rng": rng_state(), "config": to_dict(cfg),
                "env": header["env"]}

    budget = min(total, cfg.max_steps or total)
    stop_reason, losses, t0 = None, [], time.perf_counter()
    net.train()
    with runtime.StopFlag(cfg.max_minutes) as stop:
        while step < budget and stop_reason is None:
            epoch, start = divmod(step, steps_per_epoch)
            for x, y in train_batches.epoch(epoch, start):
                for group, lr in zip(opt.param_groups, base_lr, strict=True):
                    group["lr"] = learning_rate(cfg, lr, step)
                with rt.autocast():
                    loss, errors = loss_fn(cfg, net, x, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                losses.append(loss.detach())
                window += torch.stack([loss.detach().double() * len(y),
                                       (errors if errors is not None else
                                        torch.zeros((), device=rt.device)).double(),
                                       torch.tensor(len(y), dtype=torch.float64,
                                                    device=rt.device)])
                log.advance()
                if step % cfg.log_every == 0:
                    check_finite(losses, step - len(losses) + 1)
                    losses.clear()
                    loss_sum, err_sum, n = runtime.all_reduce(window.clone()).tolist()
                    window.zero_()
                    record = {"loss": loss_sum / n, "lr": opt.param_groups[-1]["lr"],
                              "epoch": round(step / steps_per_epoch, 4)}
                    if cfg.task != "vae":
                        record["error"] = err_sum / n
                    log.log(step, "train", **record)
                if step % eval_every == 0 or step == budget:
                    log.log(step, "test", **evaluate(cfg, net, test_batches.epoch(0), rt))
                if step % cfg.ckpt_every == 0 and rt.is_main:
                    save_checkpoint(out / "last.pt", state())
                if not rt.distributed or step % 10 == 0:
                    stop_reason = stop.check(rt.device)
                if step >= budget or stop_reason is not None:
                    break
    check_finite(losses, step - len(losses) + 1)
    if stop_reason is None and step < total:
        stop_reason = "max_steps"
    summary = {"task": cfg.task, "optimizer": cfg.optimizer, "dataset": data.name,
               "preset": cfg.preset, "seed": cfg.seed, "step": step, "steps": total,
               "stopped": stop_reason, "params": header["params"],
               "train_time_s": round(time.perf_counter() - t0, 2)}
    if stop_reason not in ("SIGTERM", "SIGINT"):
        test = evaluate(cfg, net, test_batches.epoch(0), rt)
        summary.update({f"final_test_{k}": v for k, v in test.items()})
        if rt.is_main:
            export_safetensors(model, out / "model.safetensors",
                               {"config": json.dumps(to_dict(cfg))})
    if rt.is_main:
        save_checkpoint(out / "last.pt", state())
    log.finish(summary)
    return {**summary, "out": str(out)}


if __name__ == "__main__":
    raise SystemExit(run(main, Config, PRESETS))
