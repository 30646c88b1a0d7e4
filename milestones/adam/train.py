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
import math
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
from milestones.core.config import require
from milestones.core.data import DataUnavailable, MissingPackage
from milestones.core.run import Run, RunConfig, Window, cli, launch

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
    """SGD's momentum (Nesterov's unless --no-nesterov). RMSProp runs without momentum, as in the
    paper's comparison."""
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
    """Use only N training examples, picked at random with a fixed seed (after the validation
    examples are set aside)."""
    val_size: int = 5000  # DEVIATION(D12): the paper holds none out
    """Training examples held out for validation (best.pt follows the validation loss); drawn
    before --train-size applies. 0: no validation split, no best.pt."""
    test_size: int | None = None
    """Evaluate on only N test examples, picked at random with a fixed seed."""
    log_every: int = 50
    """Iterations between training-loss records."""
    eval_every: float = 1.0
    """Epochs between evaluations (validation and test: the test curve is what §6 measures)."""
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
        for field in ("train_size", "test_size"):
            require(getattr(self, field) is None or getattr(self, field) > 0, self, field,
                    "must be > 0")
        require(self.epochs > 0, self, "epochs", "must be > 0")
        require(self.eval_every > 0, self, "eval_every", "must be > 0")
        require(self.val_size >= 0, self, "val_size", "must be >= 0")
        bow = self.dataset in ("imdb", "reviews")
        require(self.dataset in ("auto", "builtin") or bow == (self.task == "bow"), self, "dataset",
                f"{self.dataset} does not fit --task {self.task} (bow takes imdb or reviews)")
        require(self.dataset != "cifar10" or self.task != "vae", self, "dataset",
                "the VAE models 28x28 grey digits: mnist, fashion-mnist or segments")
        require(self.data_dir is None or self.dataset not in ("builtin", "segments", "reviews"),
                self, "data_dir", f"--dataset {self.dataset} is generated by code and reads no "
                "folder")


def paper() -> Config:
    """§6.3: the c64-c64-c128-1000 CNN on whitened CIFAR-10, Adam, dropout, 45 epochs (GPU)."""
    return Config(preset="paper", dropout=0.5, input_dropout=0.2)


def quick() -> Config:
    """CPU minutes: §6.2's 2 x 1000 MLP on the built-in digits, Adam, 3 epochs."""
    return Config(preset="quick", task="mlp", dataset="builtin", epochs=3, log_every=50)


def smoke() -> Config:
    """Seconds: a small MLP on a sliver of the built-in digits. For tests."""
    return Config(preset="smoke", task="mlp", dataset="builtin", hidden=32, train_size=512,
                  val_size=128, test_size=256, batch_size=32, epochs=0.5, log_every=2,
                  eval_every=0.25, ckpt_every=4, progress=False)


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke}


def resolve_dataset(cfg: Config) -> list[str]:
    """The datasets to try, in order."""
    if cfg.dataset == "builtin":
        return ["reviews" if cfg.task == "bow" else "segments"]
    if cfg.dataset != "auto":
        return [cfg.dataset]
    # DEVIATION(D3): without IMDB (no network), the built-in sparse reviews stand in
    return {"cnn": ["cifar10"], "bow": ["imdb", "reviews"]}.get(
        cfg.task, ["mnist", "fashion-mnist", "segments"])


def load_data(cfg: Config) -> D.Dataset:
    """The first dataset that is here; DataUnavailable (for the first) if none is."""
    errors = []
    for name in resolve_dataset(cfg):
        try:
            if cfg.task == "bow":
                return D.load_bow(name, cfg.data_root, val_size=cfg.val_size,
                                  train_size=cfg.train_size, test_size=cfg.test_size)
            return D.load_images(name, cfg.data_dir, cfg.data_root, cfg.download,
                                 val_size=cfg.val_size, train_size=cfg.train_size,
                                 test_size=cfg.test_size)
        except (DataUnavailable, MissingPackage) as e:  # e.g. imdb without `datasets`
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
    # DEVIATION(D4): t counts iterations (the paper does not say; §4's analysis does)
    return base / math.sqrt(step + 1) if cfg.lr_schedule == "inv-sqrt" else base


def main(cfg: Config) -> dict:
    """Train per ``cfg``; returns the run summary (also written to <out>/summary.json)."""
    return launch(train, cfg)


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    out = Path(cfg.out or f"runs/adam/{cfg.preset}-{cfg.task}-{cfg.optimizer}-s{cfg.seed}")
    with Run(cfg, rt, out) as run:
        data = load_data(cfg)  # DataUnavailable before anything is written
        whiten = None
        if cfg.task == "cnn" and cfg.whiten:  # §6.3: whitened input, fitted on the training set
            whiten = D.zca(data.train.x.flatten(1).float() / 255)

        def batches(split: D.Split, shuffle: bool) -> D.TensorBatches:
            return D.TensorBatches(split, cfg.batch_size, shuffle=shuffle, drop_last=shuffle,
                                   device=rt.device, seed=cfg.seed, rank=rt.rank,
                                   world_size=rt.world_size, whiten=whiten)

        train_batches = batches(data.train, True)
        val_batches = batches(data.val, False) if data.val is not None else None
        test_batches = batches(data.test, False)
        steps_per_epoch = len(train_batches)
        require(steps_per_epoch > 0, cfg, "batch_size", "is larger than the training set")
        total = max(1, round(cfg.epochs * steps_per_epoch))
        eval_every = max(1, round(cfg.eval_every * steps_per_epoch))

        model = build_model(cfg, data).to(rt.device)
        opt = build_optimizer(cfg, model.parameters())
        scaler = rt.grad_scaler()  # fp16 only
        base_lr = [g["lr"] for g in opt.param_groups]
        window = Window("loss", "errors", "examples", device=rt.device)
        run.track(model=model, optimizer=opt, scaler=scaler, window=window)
        params = sum(p.numel() for p in model.parameters())
        run.start({"data": {"name": data.name, "source": data.source, "train": len(data.train),
                            "val": len(data.val) if data.val is not None else 0,
                            "test": len(data.test)}, "params": params},
                  total_steps=total, desc=f"{cfg.task}/{cfg.optimizer}")
        net = runtime.wrap_ddp(runtime.maybe_compile(model, cfg.compile), rt)

        def evaluate_all() -> dict:
            """Validation (best.pt follows its loss) and test, at this step."""
            with run.paused():
                val = evaluate(cfg, net, val_batches.epoch(0), rt) if val_batches else None
                test = evaluate(cfg, net, test_batches.epoch(0), rt)
            if val is not None:
                run.log("val", **val)
                run.keep_best("val_loss", val["loss"])
            run.log("test", **test)
            return test

        net.train()
        while not run.should_stop():
            epoch, start = divmod(run.step, steps_per_epoch)
            for x, y in train_batches.epoch(epoch, start):
                for group, lr in zip(opt.param_groups, base_lr, strict=True):
                    group["lr"] = learning_rate(cfg, lr, run.step)
                with rt.autocast():
                    loss, errors = loss_fn(cfg, net, x, y)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                run.step += 1
                run.track_loss(loss)
                window.add(loss=loss.detach() * len(y), examples=len(y),
                           errors=errors if errors is not None else 0)
                if run.step % cfg.log_every == 0:
                    run.check_finite()
                    sums = window.flush()
                    record = {"loss": sums["loss"] / sums["examples"],
                              "lr": opt.param_groups[-1]["lr"],
                              "epoch": round(run.step / steps_per_epoch, 4)}
                    if cfg.task != "vae":
                        record["error"] = sums["errors"] / sums["examples"]
                    run.log("train", **record)
                if run.step % eval_every == 0:
                    evaluate_all()
                if run.step % cfg.ckpt_every == 0:
                    run.save()
                if run.should_stop():
                    break

        summary = {"task": cfg.task, "optimizer": cfg.optimizer, "dataset": data.name,
                   "preset": cfg.preset, "seed": cfg.seed, "params": params}
        if not run.interrupted:
            if run.step % eval_every:  # a final evaluation (else the loop has just made it)
                evaluate_all()
            with run.paused():  # the summary's numbers
                test = evaluate(cfg, net, test_batches.epoch(0), rt)
            summary.update({f"final_test_{k}": v for k, v in test.items()})
        return run.finish(summary)


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
