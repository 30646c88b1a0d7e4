"""Everything a short GPU lease should measure, in one command; writes one JSON object.

The GPU machine has torch but not tyro, gymnasium or ale-py, and no network. Here, first:
``bash benchmarks/gpu_prepare.sh`` (the wheels into the git-ignored ``.gpu-wheels/``). There,
with ``.gpu-wheels`` carried along, from the repository's root (``python3`` is the interpreter
that holds torch there)::

    python3 -m pip install -q --disable-pip-version-check --no-index --find-links .gpu-wheels \
        tyro gymnasium ale-py \
      && python3 -m pip install -q --disable-pip-version-check --no-index --no-deps \
        --no-build-isolation -e . ; \
    PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py --out $OUT/gpu_check.json

(``;`` before the last command on purpose: without the wheels the script still runs and records
what it could not do; it imports the repository's code with or without the editable install.)
On a CPU, the same code paths with tiny shapes, in under a minute on 2 cores::

    python benchmarks/gpu_check.py --dry-run

For every implemented milestone of ``milestones.REGISTRY`` (``specs()`` below says what to time
for each; one without an entry still gets its smoke run), in this order:

1. smoke: ``train.main(smoke preset, device="cuda", dtype="auto" = bf16, out=<tmp>)``, the real
   entry point; ok / failed (the error's first line, where it was raised) / skipped (a missing
   package), seconds, the run's headline numbers, and whether the checkpoints' and safetensors'
   keys are free of wrapper prefixes (``_orig_mod.``, ``module.``).
2. nccl: ``torchrun --standalone --nproc_per_node=<GPUs>`` running this script as a worker:
   process group init (NCCL; gloo on CPU), an all-reduce, three DDP steps (are the replicas
   equal?), ResNet's smoke ``train.main`` inside the group, the shutdown. With one GPU the group
   has one rank, so ``train.py``'s own DDP path (``rt.distributed``) runs only with two or more.
3. throughput, eager: the model and batch each paper preset trains (the table below), synthetic
   inputs; one step = forward, loss, backward, the milestone's optimizer step. Cases ``fp32``
   (TF32 matmuls, which ``runtime.setup`` turns on for CUDA), ``bf16`` (the library's autocast)
   and ``bf16+fused`` (torch's fused optimizer in place of the milestone's, where one exists).
   The median and quartiles of per-step times after warm-up (CUDA events around each step: the
   GPU's time when it is the bottleneck, launch gaps included when the CPU is), a wall-clock
   mean as a cross-check, items/s, peak memory (``torch.cuda.max_memory_allocated``, reset per
   case: weights, optimizer state, activations), FLOPs per step counted once with
   ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convolutions, attention; forward and
   backward), achieved TFLOP/s, and MFU = achieved FLOP/s / the GPU's dense bf16 peak (989.4e12
   for H100 SXM and H200; ``--peak-tflops`` for others, else omitted; fp32 cases are divided by
   the bf16 peak too). Out of memory halves the batch and says so.
4. optimizers: the step alone of the optimizer each milestone trains with, against torch's
   foreach and fused kernels, on the parameters of its model (same gradients, interleaved
   rounds, medians); for ours also with its ``step`` counters on the device (see ``_resumed``:
   what a run resumed before core.run loaded checkpoints onto the CPU had). And loop: ResNet-20
   through ``train.main`` (built-in data) against the bare bf16 step, and whether a Python number
   made into a CUDA tensor (what ``Window.add`` did before it kept Python numbers on the host)
   waits for the GPU.
5. smoke-compile: ResNet's smoke with ``compile=True`` (the compile path; checkpoint keys).
6. throughput, compiled: case ``bf16+compile`` (``runtime.maybe_compile``; the first step,
   compilation included, is timed apart). In the order resnet20, Transformer base, (7),
   resnet50, the CNN, DQN last (``train.py`` never compiles it): the budget cuts the least
   useful.
7. resume (DQN, Transformer: their own optimizers, the most state): the smoke run stopped
   halfway by ``max_steps``, then resumed from last.pt loaded onto the GPU, its results beside
   the straight run's.
8. time-to-target (only with ``--cifar-dir``): ResNet-20 on CIFAR-10, the §4.2 recipe through
   the real ``train.main`` with ``max_minutes = --target-minutes``; the wall time from its first
   metrics line (data loaded, model built) to the first validation error <= ``--target-error``.
   It will not fit in the default budget after everything else: run it alone with
   ``--items time-to-target --cifar-dir .gpu-wheels/data/cifar10-jpg.tar.gz`` if time is left.

| milestone | workload | one step |
|---|---|---|
| resnet | resnet20-cifar | 128 images 3x32x32, SGD momentum 0.9, wd 1e-4 (§4.2) |
| resnet | resnet50-imagenet | 256 images 3x224x224 (§3.4), channels_last, same SGD |
| adam | cnn-cifar | §6.3 c64-c64-c128-1000 with dropout, 128 images 3x32x32, Adam |
| dqn | nature-dqn | 32 transitions 4x84x84 uint8, target net, Huber, centred RMSProp |
| dqn | nature-dqn+replay | the same, each minibatch sampled from a replay memory and copied |
| transformer | base-wmt | base (63M), 781 pairs x 32 tokens a side (~25k, §5.1), Adam |
| transformer | base-long | base, 97 pairs x 256 tokens a side (~25k, the longest kept) |

A global budget (``--budget-minutes``, default 9) is checked before each item against a guess of
its cost on an H100 (``est_s`` in the JSON's plan): what does not fit is recorded as skipped.
Each item is isolated: an exception is recorded (with the warnings it raised) and the script
goes on; after a CUDA error that leaves the context unusable, the remaining in-process items are
skipped with that reason. The JSON is rewritten after every item, so a run killed at its time
limit still leaves its results. It holds the machine (GPUs, torch, CUDA, cuDNN, NCCL, driver,
packages, the git SHA or the one gpu_prepare.sh recorded, a hash of the code), the command line,
the date and every item's numbers or error. Progress goes to stderr, the JSON to ``--out`` and
stdout, and a one-line-per-item table to stderr at the end.

Honesty: this script was written and tested on a machine without a GPU. ``--dry-run`` (CPU, one
thread, tiny shapes, 2 timed steps, no compile unless ``--compile on``, a one-process gloo
torchrun) proves that its code paths run end to end, also under torch 2.11 and Python 3.12; it
measures nothing about GPUs. No number in its output is a GPU figure until a lease has run it.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import gc
import hashlib
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a file: the repository, installed or not
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import milestones  # noqa: E402

# Dense bf16 tensor-core peaks (FLOP/s) by device name: (in the name, not in it, peak). The
# H100 SXM ("NVIDIA H100 80GB HBM3") and the H200 SXM ("NVIDIA H200") share the H100's tensor
# cores; PCIe and NVL parts run lower clocks. Others need --peak-tflops.
PEAKS = (("H100", ("PCIe", "NVL"), 989.4e12), ("H200", ("NVL",), 989.4e12), ("A100", (), 312e12))
TIMEOUT_TORCHRUN_S = 240


# ---- what to time, per milestone ---------------------------------------------------------------

@dataclasses.dataclass
class Setup:
    """One training step's pieces, built on the device for one case."""

    model: nn.Module  # the parameters the optimizer steps
    loss: Callable[[nn.Module], torch.Tensor]  # forward + loss on the step's batch (net -> loss)
    optimizer: Callable[[nn.Module, bool], torch.optim.Optimizer]  # (model, fused) -> optimizer
    items: int  # items per step (images, updates, target tokens)


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    shape: str  # one step, in words
    unit: str  # what items/s counts
    setup: Callable[[torch.device, bool, int], Setup]  # (device, dry, batch) -> Setup
    batch: int  # the paper preset's batch (sentence pairs for the Transformer)
    dry_batch: int
    reps: int = 30  # timed steps on the GPU
    est_s: float = 6  # guessed seconds of one eager case on the GPU (for the budget)
    compile_est_s: float = 45  # guessed seconds of the bf16 + torch.compile case
    compile: bool = True  # also time bf16 + torch.compile
    compile_rank: int = 5  # compiled cases run in this order (the budget may cut the last)
    fused: str | None = None  # torch's fused optimizer that can replace the milestone's
    note: str = ""


@dataclasses.dataclass(frozen=True)
class OptimizerBench:
    name: str
    shapes: Callable[[bool], list[tuple[int, ...]]]  # dry -> parameter shapes
    candidates: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]]  # first = ref


@dataclasses.dataclass(frozen=True)
class Spec:
    workloads: tuple[Workload, ...] = ()
    optimizers: tuple[OptimizerBench, ...] = ()
    smoke_dry: dict = dataclasses.field(default_factory=dict)  # --dry-run: fewer steps, same code
    smoke_est_s: float = 10  # guessed seconds of the smoke run on the GPU
    resume: bool = False  # also: the smoke run stopped halfway and resumed on the device


def _meta_shapes(build: Callable[[], nn.Module]) -> list[tuple[int, ...]]:
    with torch.device("meta"):
        return [tuple(p.shape) for p in build().parameters()]


def _resnet(preset: str, size: int, dry_size: int, classes: int):
    def setup(device: torch.device, dry: bool, batch: int) -> Setup:
        from milestones.resnet import train as T

        cfg = T.PRESETS[preset]()
        model = T.build_model(cfg, classes, 3).to(device)
        s = dry_size if dry else size
        x = torch.randn(batch, 3, s, s, device=device)  # mean-subtracted pixels
        y = torch.randint(0, classes, (batch,), device=device)
        if device.type == "cuda":  # as train.py does on CUDA
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)

        def optimizer(m: nn.Module, fused: bool) -> torch.optim.Optimizer:
            return torch.optim.SGD(m.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay, **({"fused": True} if fused
                                                                     else {}))

        return Setup(model, lambda net: F.cross_entropy(net(x).float(), y), optimizer, batch)

    return setup


def _alexnet(device: torch.device, dry: bool, batch: int) -> Setup:
    from milestones.alexnet import train as T

    cfg = T.paper()
    model = T.build_model(cfg, 1000, 3, 224).to(device)  # alexnet2012, the paper's dropout
    s = 96 if dry else 224  # the smallest inputs its three poolings leave a map of
    x = torch.randn(batch, 3, s, s, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)

    def optimizer(m: nn.Module, fused: bool) -> torch.optim.Optimizer:
        return torch.optim.SGD(m.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, **({"fused": True} if fused
                                                                 else {}))

    return Setup(model, lambda net: F.cross_entropy(net(x).float(), y), optimizer, batch)


def _adam_cnn(device: torch.device, dry: bool, batch: int) -> Setup:
    from milestones.adam import train as T

    cfg = T.paper()
    shapes = types.SimpleNamespace(train=types.SimpleNamespace(x=torch.empty(0, 3, 32, 32)),
                                   n_classes=10)
    model = T.build_model(cfg, shapes).to(device)  # the §6.3 CNN, its dropout included
    x = torch.randn(batch, 3, 32, 32, device=device)  # whitened images
    y = torch.randint(0, 10, (batch,), device=device)

    def optimizer(m: nn.Module, fused: bool) -> torch.optim.Optimizer:
        if fused:
            return torch.optim.Adam(m.parameters(), lr=T.DEFAULT_LR["adam"],
                                    betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, fused=True)
        return T.build_optimizer(cfg, m.parameters())

    return Setup(model, lambda net: T.loss_fn(cfg, net, x, y)[0], optimizer, batch)


def _dqn(replay: bool):
    def setup(device: torch.device, dry: bool, batch: int) -> Setup:
        from milestones.dqn import train as T
        from milestones.dqn.data import EnvInfo
        from milestones.dqn.replay import ReplayMemory

        cfg = T.paper()
        info = EnvInfo("ALE/Breakout-v5", True, (4, 84, 84), (84, 84), 4, 4, np.dtype(np.uint8))
        q = T.build_network(cfg, info).to(device)
        target = copy.deepcopy(q)
        g = torch.Generator().manual_seed(0)
        if replay:  # random frames in episodes of 200 steps; sample() rebuilds the stacks
            memory = ReplayMemory(300 if dry else 20_000, info.frame_shape, info.history)
            for i in range(memory.capacity - 1):
                frame = torch.randint(0, 256, info.frame_shape, dtype=torch.uint8, generator=g)
                if i % 200 == 0:
                    memory.start(frame.numpy())
                else:
                    memory.append(i % 4, float(i % 3 - 1), i % 200 == 199, frame.numpy(),
                                  i % 200 == 199)

            def minibatch() -> dict:
                return {k: v.to(device, non_blocking=True)
                        for k, v in memory.sample(batch, g).items()}
        else:
            fixed = {"state": torch.randint(0, 256, (batch, 4, 84, 84), dtype=torch.uint8),
                     "next_state": torch.randint(0, 256, (batch, 4, 84, 84), dtype=torch.uint8),
                     "action": torch.randint(0, 4, (batch,)),
                     "reward": torch.randint(-1, 2, (batch,)).float(),
                     "terminal": torch.rand(batch) < 0.01}
            fixed = {k: v.to(device) for k, v in fixed.items()}

            def minibatch() -> dict:
                return fixed

        def loss(net: nn.Module) -> torch.Tensor:
            return T.minibatch_loss(net, target, minibatch(), cfg.gamma, cfg.loss)[0]

        return Setup(q, loss, lambda m, fused: T.build_optimizer(cfg, m.parameters()), 1)

    return setup


def _transformer(length: int):
    def setup(device: torch.device, dry: bool, batch: int) -> Setup:
        from milestones.adam import Adam
        from milestones.transformer import train as T
        from milestones.transformer.model import label_smoothed_loss

        cfg = T.smoke() if dry else T.paper()
        vocab, n = cfg.vocab_size, 8 if dry else length
        model = T.build_model(cfg, vocab).to(device)
        src = torch.randint(4, vocab, (batch, n), device=device)  # no padding, no specials
        tgt = torch.randint(4, vocab, (batch, n + 1), device=device)
        lr = T.learning_rate(cfg, cfg.warmup)

        def loss(net: nn.Module) -> torch.Tensor:
            total, _, tokens = label_smoothed_loss(net(src, tgt[:, :-1]), tgt[:, 1:],
                                                   cfg.label_smoothing)
            return total / tokens

        def optimizer(m: nn.Module, fused: bool) -> torch.optim.Optimizer:
            if fused:
                return torch.optim.Adam(m.parameters(), lr=lr, betas=(0.9, cfg.beta2), eps=1e-9,
                                        fused=True)
            return Adam(m.parameters(), lr=lr, betas=(0.9, cfg.beta2), eps=1e-9)  # §5.3

        return Setup(model, loss, optimizer, batch * n)

    return setup


def _attention(length: int):
    def setup(device: torch.device, dry: bool, batch: int) -> Setup:
        from milestones.adam import AdaDelta
        from milestones.attention import train as T
        from milestones.attention.model import sentence_nll

        cfg = T.smoke() if dry else T.paper()
        vocab, n = cfg.src_vocab, 8 if dry else length
        model = T.build_model(cfg, vocab, vocab).to(device)  # RNNsearch, App. A/B sizes
        src = torch.randint(4, vocab, (batch, n), device=device)  # no padding, no specials
        tgt = torch.randint(4, vocab, (batch, n + 1), device=device)

        def loss(net: nn.Module) -> torch.Tensor:
            return sentence_nll(net(src, tgt[:, :-1]), tgt[:, 1:])[0]

        def optimizer(m: nn.Module, fused: bool) -> torch.optim.Optimizer:
            return AdaDelta(m.parameters(), lr=1.0, rho=cfg.rho, eps=cfg.eps)  # App. B.2

        return Setup(model, loss, optimizer, batch * n)

    return setup


def _dcgan(device: torch.device, dry: bool, batch: int) -> Setup:
    from milestones.adam import Adam
    from milestones.gan.model import dcgan64, dcgan_tiny, discriminator_loss, generator_loss

    model = (dcgan_tiny(28, 1) if dry else dcgan64()).to(device)  # DCGAN Fig. 1, 64x64x3
    s, c = (28, 1) if dry else (64, 3)
    x = torch.rand(batch, c, s, s, device=device) * 2 - 1  # images in [-1, 1]

    def loss(net: nn.Module) -> torch.Tensor:
        # one iteration of Algorithm 1 (k = 1) as a single backward: D's loss on x and a
        # detached G(z), plus G's non-saturating loss through D (train.py steps them apart)
        z = net.sample_z(batch, device)
        fake = net.generator(z)
        d = discriminator_loss(net.discriminator(x).float(),
                               net.discriminator(fake.detach()).float())
        return d + generator_loss(net.discriminator(fake).float())

    def optimizer(m: nn.Module, fused: bool) -> torch.optim.Optimizer:
        if fused:
            return torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
        return Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999))  # DCGAN §4, as train.py

    return Setup(model, loss, optimizer, batch)


def _simclr(device: torch.device, dry: bool, batch: int) -> Setup:
    from milestones.simclr import train as T
    from milestones.simclr.augment import augment
    from milestones.simclr.model import nt_xent

    cfg = T.smoke() if dry else T.paper()  # App. B.9: ResNet-50, CIFAR stem, tau 0.5
    model = T.build_model(cfg, (3, 32, 32)).to(device)
    x = torch.rand(batch, 3, 32, 32, device=device)  # CIFAR images in [0, 1]
    aug = T.view_augmentation(cfg, 32)

    def loss(net: nn.Module) -> torch.Tensor:
        # Algorithm 1: two views of every image, augmented on the device, then NT-Xent (Eq. 1)
        g = torch.Generator().manual_seed(0)
        views = torch.cat([augment(x, aug, g), augment(x, aug, g)])
        _, z = net(views)
        return nt_xent(z.float(), cfg.temperature)

    def optimizer(m: nn.Module, fused: bool) -> torch.optim.Optimizer:
        return T.make_optimizer(cfg, [m], T.peak_lr(cfg))

    return Setup(model, loss, optimizer, batch)


def _bert(length: int):
    def setup(device: torch.device, dry: bool, batch: int) -> Setup:
        from milestones.bert import train as T
        from milestones.bert.model import BertForPreTraining, bert_config
        from milestones.core import runtime

        cfg = T.smoke() if dry else T.paper()
        vocab, n = (500, 32) if dry else (30_522, length)
        model = BertForPreTraining(bert_config(cfg.model, vocab)).to(device)
        g = torch.Generator(device="cpu").manual_seed(0)
        ids = torch.randint(5, vocab, (batch, n), generator=g)
        ids[:, 0], ids[:, n // 2], ids[:, -1] = 2, 3, 3  # [CLS] A [SEP] B [SEP]
        segments = (torch.arange(n) > n // 2).long().expand(batch, n)
        labels = torch.full_like(ids, -100)
        chosen = torch.rand(batch, n, generator=g) < 0.15  # §3.1: 15% of the tokens predicted
        labels[chosen] = ids[chosen]
        batch_ = {"input_ids": ids.to(device), "token_type_ids": segments.to(device),
                  "attention_mask": torch.ones_like(ids).to(device), "labels": labels.to(device),
                  "is_random_next": torch.randint(2, (batch,), generator=g).to(device)}
        rt = runtime.Runtime(device, None)  # the check's own autocast wraps loss()

        def loss(net: nn.Module) -> torch.Tensor:
            return T.pretraining_loss(net, batch_, cfg, rt)[0]

        def optimizer(m: nn.Module, fused: bool) -> torch.optim.Optimizer:
            if fused:
                return torch.optim.AdamW(m.parameters(), lr=cfg.lr, betas=cfg.betas, eps=1e-6,
                                         weight_decay=cfg.weight_decay, fused=True)
            return T.make_optimizer(cfg, m)  # App. A: AdamW 1e-4, decay 0.01

        return Setup(model, loss, optimizer, batch * n)

    return setup


def _gpt(length: int):
    def setup(device: torch.device, dry: bool, batch: int) -> Setup:
        from milestones.gpt import train as T
        from milestones.gpt.model import GPT, GPTConfig, gpt_config, lm_loss

        cfg = T.smoke() if dry else T.paper()
        mcfg = GPTConfig(vocab_size=500, n_ctx=32, n_layer=2, n_head=2, d_model=32,
                         dropout=0.0) if dry else gpt_config("gpt2", n_ctx=length, dropout=0.0)
        model = GPT(mcfg).to(device)
        g = torch.Generator(device="cpu").manual_seed(0)
        x = torch.randint(0, mcfg.vocab_size, (batch, mcfg.n_ctx + 1), generator=g).to(device)

        def loss(net: nn.Module) -> torch.Tensor:  # GPT-1 Eq. 1: every position's next token
            return lm_loss(net(x[:, :-1]), x[:, 1:])

        def optimizer(m: nn.Module, fused: bool) -> torch.optim.Optimizer:
            ours = T.make_optimizer(cfg, m)
            if fused:  # train.py's groups (decay on the matrices only, App. B), torch's kernel
                groups = [{"params": g["params"], "weight_decay": g["weight_decay"]}
                          for g in ours.param_groups]
                return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=1e-8,
                                         fused=True)
            return ours

        return Setup(model, loss, optimizer, batch * mcfg.n_ctx)

    return setup


def _gpt_meta(dry: bool) -> nn.Module:
    from milestones.gpt.model import gpt2, gpt_tiny

    return gpt_tiny() if dry else gpt2()


def _bert_meta(size: str) -> nn.Module:
    from milestones.bert.model import BertForPreTraining, bert_config

    return BertForPreTraining(bert_config(size))


def _lars_benches() -> tuple[OptimizerBench, ...]:
    from milestones.adam import LARS
    from milestones.simclr import simclr_resnet50, simclr_tiny

    def shapes(dry: bool) -> list[tuple[int, ...]]:
        return _meta_shapes(simclr_tiny if dry else lambda: simclr_resnet50(stem="cifar"))

    kw = {"lr": 4.0, "momentum": 0.9, "weight_decay": 1e-6}
    return (OptimizerBench(
        "lars-simclr-resnet50", shapes,
        {"torch.optim.SGD foreach (no trust ratio: the reference cost)":
            lambda ps: torch.optim.SGD(ps, **kw, foreach=True),
         "milestones.adam.LARS foreach": lambda ps: LARS(ps, **kw),
         "milestones.adam.LARS per-tensor": lambda ps: LARS(ps, **kw, foreach=False)}),)


def _adadelta_benches() -> tuple[OptimizerBench, ...]:
    from milestones.adam import AdaDelta
    from milestones.attention import rnnsearch, rnnsearch_tiny

    kw = {"lr": 1.0, "rho": 0.95, "eps": 1e-6}
    return (OptimizerBench(
        "adadelta-rnnsearch", lambda dry: _meta_shapes(rnnsearch_tiny if dry else rnnsearch),
        {"milestones.adam.AdaDelta foreach (train.py)": lambda ps: AdaDelta(ps, **kw),
         "milestones.adam.AdaDelta per-tensor": lambda ps: AdaDelta(ps, **kw, foreach=False),
         "torch.optim.Adadelta foreach": lambda ps: torch.optim.Adadelta(ps, **kw,
                                                                         foreach=True)}),)


def _sgd_benches(name: str, build: Callable[[], nn.Module], dry_build: Callable[[], nn.Module],
                 weight_decay: float) -> tuple[OptimizerBench, ...]:
    from milestones.adam import SGD

    kw = {"lr": 0.1, "momentum": 0.9, "weight_decay": weight_decay}
    return (OptimizerBench(
        name, lambda dry: _meta_shapes(dry_build if dry else build),
        {"torch.optim.SGD foreach (train.py)": lambda ps: torch.optim.SGD(ps, **kw),
         "torch.optim.SGD fused": lambda ps: torch.optim.SGD(ps, **kw, fused=True),
         "milestones.adam.SGD foreach": lambda ps: SGD(ps, **kw)}),)


def _resumed(make: Callable[[list[torch.Tensor]], torch.optim.Optimizer]):
    """The optimizer with its ``step`` counters on the device, as a resumed run had it while
    core.run loaded last.pt with map_location=<device>: torch.optim's load_state_dict leaves each
    ``step`` tensor where the file was mapped (its policy for optimizers that are not fused), and
    ``_steps`` then reads each one back, a sync per tensor. core.run now loads onto the CPU; this
    case measures what that saves."""
    def build(params: list[torch.Tensor]) -> torch.optim.Optimizer:
        opt = make(params)
        opt.step()
        state = opt.state_dict()
        state["state"] = {i: {k: v.to(params[0].device) if isinstance(v, torch.Tensor) else v
                              for k, v in st.items()} for i, st in state["state"].items()}
        opt.load_state_dict(state)
        return opt

    return build


def _adam_benches(name: str, shapes: Callable[[bool], list[tuple[int, ...]]],
                  **kw: Any) -> tuple[OptimizerBench, ...]:
    from milestones.adam import Adam

    return (OptimizerBench(
        name, shapes,
        {"milestones.adam.Adam foreach": lambda ps: Adam(ps, **kw),
         "milestones.adam.Adam foreach, resumed (step on the device)":
            _resumed(lambda ps: Adam(ps, **kw)),
         "milestones.adam.Adam per-tensor": lambda ps: Adam(ps, **kw, foreach=False),
         "torch.optim.Adam foreach": lambda ps: torch.optim.Adam(ps, **kw, foreach=True),
         "torch.optim.Adam fused": lambda ps: torch.optim.Adam(ps, **kw, fused=True)}),)


def _rmsprop_benches() -> tuple[OptimizerBench, ...]:
    from milestones.adam import RMSProp
    from milestones.dqn.model import nature_dqn

    kw = {"lr": 2.5e-4, "alpha": 0.95, "eps": 0.01, "centered": True}
    return (OptimizerBench(
        "rmsprop-centred-nature-dqn", lambda dry: _meta_shapes(lambda: nature_dqn(4)),
        {"milestones.adam.RMSProp foreach (eps in sqrt)":
            lambda ps: RMSProp(ps, **kw, eps_in_sqrt=True),
         "milestones.adam.RMSProp foreach, resumed (step on the device)":
            _resumed(lambda ps: RMSProp(ps, **kw, eps_in_sqrt=True)),
         "torch.optim.RMSprop foreach (eps outside)":
            lambda ps: torch.optim.RMSprop(ps, **kw, foreach=True)}),)


def specs() -> dict[str, Spec]:
    """What to time for each milestone. A milestone missing here still gets its smoke run.
    The seconds are guesses for an H100 (nothing has been measured on one yet): the budget
    skips an item when fewer seconds than its guess are left."""
    from milestones.adam.model import ConvNet
    from milestones.alexnet import alexnet2012, convnet4_tiny
    from milestones.gan import dcgan64, dcgan_tiny
    from milestones.resnet import resnet20, resnet50
    from milestones.transformer import transformer_base, transformer_tiny

    return {
        "alexnet": Spec(
            workloads=(Workload("alexnet2012-imagenet", "128 images 3x224x224 (§5), two towers, "
                                "LRN, dropout", "images", _alexnet, 128, 2, reps=20, est_s=8,
                                compile_est_s=60, compile_rank=4, fused="SGD"),),
            optimizers=_sgd_benches("sgd-momentum-alexnet2012", alexnet2012, convnet4_tiny,
                                    5e-4)),
        "resnet": Spec(
            workloads=(
                Workload("resnet20-cifar", "128 CIFAR images 3x32x32 (§4.2)", "images",
                         _resnet("paper", 32, 32, 10), 128, 4, compile_est_s=60, compile_rank=0,
                         fused="SGD"),
                Workload("resnet50-imagenet", "256 images 3x224x224 (§3.4), channels_last",
                         "images", _resnet("imagenet", 224, 32, 1000), 256, 2, reps=15,
                         est_s=15, compile_est_s=100, compile_rank=2, fused="SGD")),
            optimizers=_sgd_benches("sgd-momentum-resnet50", resnet50, resnet20, 1e-4),
            smoke_dry={"train_size": 256, "val_size": 64, "test_size": 64, "steps": 4,
                       "lr_steps": (3,), "log_every": 2, "eval_every": 2, "ckpt_every": 2}),
        "adam": Spec(
            workloads=(Workload("cnn-cifar", "§6.3 CNN, 128 whitened images 3x32x32, dropout",
                                "images", _adam_cnn, 128, 4, compile_rank=3, fused="Adam"),),
            optimizers=_adam_benches("adam-cnn-cifar", lambda dry: _meta_shapes(ConvNet))),
        "dqn": Spec(
            workloads=(
                Workload("nature-dqn", "32 transitions (4x84x84 uint8 states), Huber TD loss, "
                         "target network, centred RMSProp", "updates", _dqn(False), 32, 2,
                         compile_rank=9,
                         note="train.py does not compile DQN (--compile has no effect there); "
                              "the paper preset trains in fp32"),
                Workload("nature-dqn+replay", "as nature-dqn, each minibatch sampled from a "
                         "20k-transition replay memory and copied to the device", "updates",
                         _dqn(True), 32, 2, compile=False)),
            optimizers=_rmsprop_benches(),
            smoke_dry={"total_steps": 40, "learning_starts": 20, "memory_size": 100,
                       "batch_size": 4, "eps_steps": 40, "target_update_every": 4,
                       "eval_every": 40, "eval_max_frames": 40, "log_every": 20,
                       "ckpt_every": 20},
            smoke_est_s=15, resume=True),
        "attention": Spec(
            workloads=(Workload("rnnsearch-50-wmt", "RNNsearch at the paper's size, 80 pairs x "
                                "50 words a side (App. B.2), 30k-word vocabularies", "target "
                                "words", _attention(50), 80, 4, reps=10, est_s=20, compile=False,
                                note="a Python loop over 50 encoder and 50 decoder steps; "
                                     "torch.compile is not timed (it would unroll them)"),),
            optimizers=_adadelta_benches(), smoke_est_s=30),
        "gan": Spec(
            workloads=(Workload("dcgan64", "DCGAN Fig. 1: 128 images 3x64x64 and 128 z; D's "
                                "step on both and G's step through D", "images", _dcgan, 128,
                                4, compile_rank=4, fused="Adam"),),
            optimizers=_adam_benches("adam-dcgan64", lambda dry: _meta_shapes(
                (lambda: dcgan_tiny(28, 1)) if dry else dcgan64), betas=(0.5, 0.999)),
            smoke_est_s=15),
        "bert": Spec(
            workloads=(
                Workload("bert-base-128", "App. A: BERT-Base, 256 sequences x 128 tokens, MLM "
                         "(15% predicted) + NSP", "tokens", _bert(128), 256, 4, reps=15,
                         est_s=10, compile_est_s=90, compile_rank=2, fused="AdamW"),
                Workload("bert-base-512", "App. A's last 10%: 32 sequences x 512 tokens",
                         "tokens", _bert(512), 32, 2, reps=15, est_s=8, compile=False)),
            optimizers=_adam_benches("adam-bert-base", lambda dry: _meta_shapes(
                (lambda: _bert_meta("tiny")) if dry else (lambda: _bert_meta("base")))),
            smoke_est_s=20),
        "gpt": Spec(
            workloads=(Workload("gpt2-124m-1024", "GPT-2 124M, 16 windows x 1024 tokens (the "
                                "paper preset's micro-batch: GPT-3 Small's 0.5M tokens in 32)",
                                "tokens", _gpt(1024), 16, 2, reps=15, est_s=10,
                                compile_est_s=90, compile_rank=1, fused="AdamW"),),
            optimizers=_adam_benches("adam-gpt2-124m", lambda dry: _meta_shapes(
                lambda: _gpt_meta(dry)), betas=(0.9, 0.95)),
            smoke_est_s=15),
        "simclr": Spec(
            workloads=(Workload("simclr-resnet50-cifar", "App. B.9: 1024 CIFAR images 3x32x32, "
                                "two views augmented on the device, ResNet-50 (CIFAR stem), "
                                "NT-Xent", "images", _simclr, 1024, 8, reps=15, est_s=12,
                                compile_est_s=90, compile_rank=4),),
            optimizers=_lars_benches(), smoke_est_s=20),
        "transformer": Spec(
            # no smoke_dry: fewer steps leave a model that never emits EOS, and the final beam
            # search then decodes every test sentence to its length cap (slower, not faster)
            smoke_est_s=15, resume=True,
            workloads=(
                Workload("base-wmt", "base, 781 pairs x 32 tokens a side (~25k tokens, §5.1)",
                         "target tokens", _transformer(32), 781, 4, reps=20, est_s=8,
                         compile_est_s=90, compile_rank=1, fused="Adam"),
                Workload("base-long", "base, 97 pairs x 256 tokens a side (~25k tokens)",
                         "target tokens", _transformer(256), 97, 2, reps=20, est_s=8,
                         compile=False, fused="Adam")),
            optimizers=_adam_benches(  # §5.3's Adam
                "adam-transformer-base", lambda dry: _meta_shapes(
                    transformer_tiny if dry else transformer_base), betas=(0.9, 0.98), eps=1e-9)),
    }


# ---- the run: items, budget, isolation, the JSON ------------------------------------------------

class Skip(Exception):  # noqa: N818 (an outcome, not an error)
    """The item cannot run here (a missing package or data); recorded as skipped."""


@dataclasses.dataclass
class Item:
    id: str
    kind: str
    milestone: str | None
    run: Callable[[], dict]
    est_s: float  # seconds on the GPU, for the budget
    cuda: bool = True  # runs in this process on the device (a poisoned context stops it)


class Checker:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.dry = args.dry_run
        self.device = torch.device("cpu" if self.dry else "cuda")
        self.start = time.monotonic()
        self.deadline = self.start + 60 * args.budget_minutes
        self.tmp = Path(tempfile.mkdtemp(prefix="gpu_check-"))
        self.flops: dict[str, float | None] = {}
        self.smoked: dict[str, dict] = {}  # smoke summaries, for the resume items
        self.poisoned: str | None = None
        self.result: dict[str, Any] = {}

    # -- helpers --

    def log(self, msg: str) -> None:
        print(f"[{time.monotonic() - self.start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def free(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak(self) -> float:
        if self.device.type != "cuda":
            return self.args.peak_tflops * 1e12 if self.args.peak_tflops else 0.0
        if self.args.peak_tflops:
            return self.args.peak_tflops * 1e12
        name = torch.cuda.get_device_name(self.device)
        for model, unless, flops in PEAKS:
            if model in name and not any(u in name for u in unless):
                return flops
        return 0.0

    def write(self) -> None:
        self.result["wall_s"] = round(time.monotonic() - self.start, 1)
        counts = {s: sum(i["status"] == s for i in self.result["items"])
                  for s in ("ok", "failed", "skipped")}
        self.result["summary"] = counts
        if self.args.out:
            out = Path(self.args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_text(json.dumps(self.result, indent=2, default=str) + "\n")
            os.replace(tmp, out)

    # -- the items --

    def plan(self) -> list[Item]:
        a, table = self.args, specs()
        names = [m.name for m in milestones.REGISTRY if m.implemented
                 and (not a.milestones or m.name in a.milestones)]
        self.result["milestones"] = names
        compile_on = a.compile == "on" or (a.compile == "auto" and not self.dry)
        smoke, nccl, eager, opts, late = [], [], [], [], []  # late: (priority, order, item)
        for name in names:
            spec = table.get(name, Spec())
            smoke.append(Item(f"smoke/{name}", "smoke", name,
                              lambda n=name: self.smoke(n), spec.smoke_est_s))
            if not spec.workloads:
                eager.append(Item(f"throughput/{name}", "throughput", name, lambda n=name: _skip(
                    f"no workload for {n} in SPECS of benchmarks/gpu_check.py: add one"), 0))
            for w in spec.workloads:
                cases = ["fp32", "bf16"] + (["bf16+fused"] if w.fused else [])
                for case in cases:
                    eager.append(Item(f"throughput/{name}/{w.name}/{case}", "throughput", name,
                                      lambda w=w, c=case: self.throughput(w, c), w.est_s))
                if w.compile and compile_on:
                    item = Item(f"throughput/{name}/{w.name}/bf16+compile", "throughput", name,
                                lambda w=w: self.throughput(w, "bf16+compile"), w.compile_est_s)
                    late.append((w.compile_rank, len(late), item))
            if spec.resume:  # after compiling resnet20 and the Transformer, before the rest
                late.append((1.5, len(late), Item(f"resume/{name}", "resume", name,
                                                  lambda n=name: self.resume(n),
                                                  spec.smoke_est_s + 5)))
            if name == "resnet":
                opts.append(Item("loop/resnet", "loop", name, self.loop, 15))
            for bench in spec.optimizers:
                opts.append(Item(f"optimizer/{name}/{bench.name}", "optimizer", name,
                                 lambda b=bench: self.optimizers(b), 8))
        if "resnet" in names:
            if a.torchrun:
                nccl.append(Item("nccl/resnet", "nccl", "resnet", self.nccl, 35, cuda=False))
            if compile_on:
                late.append((-1, len(late), Item("smoke-compile/resnet", "smoke-compile",
                                                 "resnet", lambda: self.smoke("resnet", True),
                                                 60)))
            if a.cifar_dir or self.dry:
                late.append((99, len(late), Item("time-to-target/resnet", "time-to-target",
                                                 "resnet", self.time_to_target,
                                                 60 * a.target_minutes + 60)))
        items = smoke + nccl + eager + opts + [i for *_, i in sorted(late)]
        return [i for i in items if not a.items or i.kind in a.items]

    def run_item(self, item: Item) -> dict:
        record: dict[str, Any] = {"id": item.id, "kind": item.kind, "milestone": item.milestone}
        left = self.deadline - time.monotonic()
        est = 0.0 if self.dry else item.est_s
        if item.cuda and self.poisoned:
            return {**record, "status": "skipped", "reason": self.poisoned}
        if est > left:
            return {**record, "status": "skipped", "reason": f"budget: needs ~{est:.0f} s, "
                    f"{max(left, 0):.0f} s of --budget-minutes {self.args.budget_minutes} left"}
        self.log(f"{item.id} ...")
        t = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                with contextlib.redirect_stdout(sys.stderr):  # stdout is for the JSON
                    numbers = item.run()
                record.update(status="ok", **numbers)
            except Skip as e:
                record.update(status="skipped", reason=str(e))
            except Exception as e:  # noqa: BLE001 (each item is isolated; the error is a result)
                if _missing_package(e):
                    record.update(status="skipped", reason=_first_line(e))
                else:
                    record.update(status="failed", error=f"{type(e).__name__}: {_first_line(e)}",
                                  where=_where(e))
                    self.check_context(item, e)
            finally:
                self.free()
        messages = list(dict.fromkeys(f"{w.category.__name__}: {_first_line(w.message)}"
                                      for w in caught))
        if messages:  # what torch said along the way (deprecations, recompilations...)
            record["warnings"] = messages[:8]
        record["seconds"] = round(time.perf_counter() - t, 2)
        self.log(f"{item.id}: {record['status']} ({record['seconds']} s)"
                 + (f" {record.get('error') or record.get('reason')}"
                    if record["status"] != "ok" else ""))
        return record

    def check_context(self, item: Item, error: Exception) -> None:
        """After a CUDA failure: is the context still usable? If not, skip what is left."""
        if self.device.type != "cuda":
            return
        try:
            torch.zeros(1, device=self.device).add_(1).item()
            torch.cuda.synchronize(self.device)
        except Exception as e:  # noqa: BLE001
            self.poisoned = (f"the CUDA context is unusable since {item.id} "
                             f"({type(error).__name__}); then: {_first_line(e)}")

    def go(self) -> dict:
        a = self.args
        self.result = {"script": "benchmarks/gpu_check.py", "command": [sys.executable,
                       *sys.argv], "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "dry_run": self.dry, "budget_minutes": a.budget_minutes,
                       "machine": machine(self.device), "items": []}
        if self.device.type == "cuda":  # what runtime.setup does for every CUDA run
            from milestones.core import runtime

            runtime.setup(types.SimpleNamespace(device="cuda", dtype="auto", deterministic=False,
                                                seed=0))
        peak = self.peak()
        self.result["peak_bf16_flops"] = peak or None
        plan = self.plan()
        self.result["plan"] = [{"id": i.id, "est_s": i.est_s} for i in plan]
        self.write()
        for item in plan:
            self.result["items"].append(self.run_item(item))
            self.write()
        return self.result

    # -- 1. smoke --

    def smoke_config(self, name: str, out: Path, **over: Any):
        T = importlib.import_module(f"milestones.{name}.train")
        over = {"device": str(self.device), "dtype": "auto", "out": str(out), "progress": False,
                **(specs().get(name, Spec()).smoke_dry if self.dry else {}), **over}
        return T, dataclasses.replace(T.PRESETS["smoke"](), **over)

    def smoke(self, name: str, compile: bool = False) -> dict:
        out = self.tmp / f"smoke-{name}{'-compile' if compile else ''}"
        T, cfg = self.smoke_config(name, out, compile=compile)
        t = time.perf_counter()
        try:
            summary = T.main(cfg)
        finally:
            if compile:  # its graphs would count against the recompile limit of later cases
                torch._dynamo.reset()
        seconds = time.perf_counter() - t
        keys = checkpoint_keys(out)
        bad = [k for k in keys if "_orig_mod" in k or k.startswith("module.")]
        if bad:
            raise RuntimeError(f"wrapper prefixes in checkpoint keys: {bad[:3]}")
        if not compile:
            self.smoked[name] = summary
        return {"main_s": round(seconds, 2), "dtype": "bf16" if self.device.type == "cuda"
                else "fp32", "compile": compile, "checkpoint_keys": len(keys),
                "checkpoint_keys_clean": True, "summary": _scalars(summary)}

    def resume(self, name: str) -> dict:
        """The smoke run stopped halfway by --max-steps, then resumed (last.pt loaded onto the
        device), beside the straight smoke run. On a GPU the two may differ in the last digits
        (non-deterministic kernels); on a CPU they must not."""
        straight = self.smoked.get(name)
        if straight is None:
            raise Skip(f"needs smoke/{name}'s result (it did not run or failed)")
        out = self.tmp / f"resume-{name}"
        T, cfg = self.smoke_config(name, out, max_steps=max(1, straight["steps"] // 2))
        first = T.main(cfg)
        t = time.perf_counter()
        resumed = T.main(dataclasses.replace(cfg, max_steps=None, resume=True))
        flat, again = _numbers(straight), _numbers(resumed)
        numbers = {k: (v, again.get(k)) for k, v in flat.items()}
        return {"stopped_at": first["step"], "first_stopped": first["stopped"],
                "resumed_to": resumed["step"], "steps": straight["steps"],
                "resumed_main_s": round(time.perf_counter() - t, 2),
                "same_as_straight": all(a == b for a, b in numbers.values()),
                "straight_vs_resumed": numbers}

    # -- 2. NCCL / gloo under torchrun --

    def nccl(self) -> dict:
        n = torch.cuda.device_count() if self.device.type == "cuda" else 1
        out = self.tmp / "torchrun"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={n}", str(Path(__file__).resolve()), "--ddp-worker", str(out)]
        if self.dry:
            cmd.append("--dry-run")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        t = time.perf_counter()
        left = max(30.0, self.deadline - time.monotonic())
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO,
                                  timeout=min(TIMEOUT_TORCHRUN_S, left))
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"torchrun did not finish in {e.timeout:.0f} s") from None
        seconds = time.perf_counter() - t
        report = out / "rank0.json"
        if proc.returncode != 0 or not report.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
            raise RuntimeError(f"torchrun exit {proc.returncode}: " + " | ".join(tail))
        return {"nproc": n, "torchrun_s": round(seconds, 2), **json.loads(report.read_text())}

    # -- 3 and 6. throughput --

    def throughput(self, w: Workload, case: str) -> dict:
        batch, ooms = w.dry_batch if self.dry else w.batch, []
        while True:
            try:
                numbers = self._time_steps(w, case, batch)
                break
            except torch.cuda.OutOfMemoryError:
                if batch <= 1:
                    raise
            self.free()  # here, not in the except block: its traceback still holds the tensors
            ooms.append(batch)
            batch //= 2
        return {"workload": w.name, "case": case, "shape": w.shape if not self.dry else
                f"dry-run: batch {batch}, tiny shapes", "batch": batch,
                **({"out_of_memory_at_batch": ooms} if ooms else {}),
                **({"note": w.note} if w.note else {}), **numbers}

    def _time_steps(self, w: Workload, case: str, batch: int) -> dict:
        from milestones.core import runtime

        compiled, fused = case.endswith("+compile"), case.endswith("+fused")
        rt = runtime.Runtime(self.device, None if case == "fp32" else torch.bfloat16)
        self.free()
        torch.manual_seed(0)
        s = w.setup(self.device, self.dry, batch)
        net = runtime.maybe_compile(s.model, compiled)
        opt = s.optimizer(s.model, fused)
        try:
            return self._measure(w, s, net, opt, rt, compiled, batch)
        finally:
            if compiled:
                torch._dynamo.reset()  # its graphs; the model and optimizer go on return

    def _measure(self, w: Workload, s: Setup, net: nn.Module, opt: torch.optim.Optimizer,
                 rt: Any, compiled: bool, batch: int) -> dict:

        def step() -> torch.Tensor:
            with rt.autocast():
                loss = s.loss(net)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        key = f"{w.name}/{batch}"
        if key not in self.flops and not compiled:
            self.flops[key] = count_flops(step)
        flops = self.flops.get(key)
        out: dict[str, Any] = {}
        t = time.perf_counter()
        step()
        self.sync()
        if compiled:
            out["first_step_s"] = round(time.perf_counter() - t, 2)  # compilation included
        for _ in range(0 if self.dry else (3 if compiled else 5)):
            step()
        t = time.perf_counter()
        times, loss = self._timed(step, 2 if self.dry else w.reps)
        wall = (time.perf_counter() - t) / len(times)  # a cross-check of the per-step times
        median = statistics.median(times)
        q = statistics.quantiles(times, n=4) if len(times) > 1 else times * 3
        out.update(step_ms=round(1000 * median, 3), step_ms_iqr=[round(1000 * q[0], 3),
                                                                 round(1000 * q[2], 3)],
                   wall_ms_per_step=round(1000 * wall, 3), timed_steps=len(times),
                   items_per_step=s.items, unit=w.unit,
                   items_per_s=round(s.items / median, 1), loss_finite=bool(
                       torch.isfinite(loss.detach().float()).item()))
        if self.device.type == "cuda":
            out["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(self.device) / 2**30, 3)
        if flops:
            out.update(flops_per_step=flops, tflops_per_s=round(flops / median / 1e12, 2))
            if self.peak():
                out["mfu"] = round(flops / median / self.peak(), 4)
        return out

    def _timed(self, step: Callable[[], torch.Tensor], reps: int
               ) -> tuple[list[float], torch.Tensor]:
        """Seconds of each of ``reps`` steps (CUDA events on the GPU), stopping at the budget."""
        times, loss = [], None
        cuda = self.device.type == "cuda"
        events = []
        for i in range(reps):
            if i >= 3 and time.monotonic() > self.deadline:
                break
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(
                    enable_timing=True)
                start.record()
                loss = step()
                end.record()
                events.append((start, end))
            else:
                t = time.perf_counter()
                loss = step()
                times.append(time.perf_counter() - t)
        if cuda:
            torch.cuda.synchronize(self.device)
            times = [a.elapsed_time(b) / 1000 for a, b in events]
        return times, loss

    # -- 4. optimizers alone --

    def optimizers(self, bench: OptimizerBench) -> dict:
        shapes = bench.shapes(self.dry)
        g = torch.Generator().manual_seed(0)
        init = [torch.randn(s, generator=g) for s in shapes]
        grads = [torch.randn(s, generator=g) * 1e-2 for s in shapes]
        opts = {}
        for name, make in bench.candidates.items():
            params = [p.to(self.device, copy=True).requires_grad_() for p in init]
            for p, gr in zip(params, grads, strict=True):
                p.grad = gr.to(self.device, copy=True)
            opts[name] = make(params)
        names, reps = list(opts), 2 if self.dry else 20
        times: dict[str, list[float]] = {n: [] for n in names}
        for r in range(reps + 2):  # two warm-up rounds (state allocation)
            for name in names if r % 2 == 0 else names[::-1]:
                self.sync()
                t = time.perf_counter()
                opts[name].step()
                self.sync()
                if r >= 2:
                    times[name].append(time.perf_counter() - t)
        ref = statistics.median(times[names[0]])
        return {"parameters": sum(int(np.prod(s)) for s in shapes), "tensors": len(shapes),
                "rounds": reps, "reference": names[0],
                "step_ms": {n: round(1000 * statistics.median(times[n]), 3) for n in names},
                "ratio_to_reference": {n: round(statistics.median(times[n]) / ref, 3)
                                       for n in names}}

    # -- the training loop around the step --

    def loop(self) -> dict:
        """ResNet-20, batch 128, through train.main on the built-in shapes (augmentation on the
        device, the LR schedule, loss windows, NaN checks), against the bare bf16 step above.
        And a probe: does a Python number turned into a CUDA tensor (what ``Window.add`` did with
        ``images=len(y)`` every step until it summed Python numbers on the host) wait for the
        GPU? A 50 ms kernel is queued first."""
        from milestones.core.metrics import read_metrics
        from milestones.resnet import train as T

        steps, log, batch = (6, 2, 4) if self.dry else (300, 50, 128)  # the bare step's batch
        cfg = dataclasses.replace(
            T.paper(), dataset="shapes", train_size=600 if self.dry else 3000, val_size=0,
            test_size=128, batch_size=batch, steps=steps, lr_steps=(steps - 1,), log_every=log,
            eval_every=10**6,
            ckpt_every=10**6, device=str(self.device), progress=False, out=str(self.tmp / "loop"))
        T.main(cfg)
        rows = [r for r in read_metrics(Path(cfg.out) / "metrics.jsonl") if r["split"] == "train"]
        ours = statistics.mean(r["images_per_s"] for r in rows[1:])  # after a warm-up window
        bare = next((i.get("items_per_s") for i in self.result["items"]
                     if i["id"] == "throughput/resnet/resnet20-cifar/bf16" and i["status"] == "ok"),
                    None)
        out: dict[str, Any] = {"model": cfg.model, "batch": cfg.batch_size, "steps": steps,
                               "train_main_images_per_s": round(ours, 1),
                               "bare_step_images_per_s": bare,
                               "train_main_vs_bare": round(ours / bare, 3) if bare else None}
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda._sleep(100_000_000)  # ~50 ms of GPU time at 2 GHz
            t = time.perf_counter()
            torch.as_tensor(128, device=self.device)
            out["scalar_to_cuda_tensor_host_ms"] = round(1000 * (time.perf_counter() - t), 2)
            torch.cuda.synchronize(self.device)
        return out

    # -- 8. time to target --

    def time_to_target(self) -> dict:
        from milestones.resnet import train as T

        a = self.args
        over: dict[str, Any] = {"device": str(self.device), "progress": False,
                                "out": str(self.tmp / "ttt"), "max_minutes": a.target_minutes,
                                "eval_every": a.target_eval_every, "ckpt_every": 10**6,
                                "log_every": 100}
        if a.cifar_dir:
            over.update(dataset="cifar10", data_dir=str(cifar_folder(Path(a.cifar_dir),
                                                                     self.tmp)))
        else:  # dry run without data: the same path on the built-in shapes
            over.update(dataset="shapes", model="resnet_tiny", train_size=600, val_size=100,
                        test_size=100, batch_size=32, steps=12, lr_steps=(8,), eval_every=4,
                        log_every=4, max_minutes=0.5)
        cfg = dataclasses.replace(T.paper(), **over)
        path, hits = Path(cfg.out) / "metrics.jsonl", []
        done = threading.Event()

        def watch() -> None:  # the wall time at which each metrics line appears
            while True:
                stop = done.is_set()
                text = path.read_text() if path.is_file() else ""
                for line in text[:text.rfind("\n") + 1].splitlines()[len(hits):]:
                    hits.append((time.perf_counter(), json.loads(line)))
                if stop:
                    return
                done.wait(0.2)

        thread = threading.Thread(target=watch, daemon=True)
        t0 = time.perf_counter()
        thread.start()
        try:
            summary = T.main(cfg)
        finally:
            done.set()
            thread.join()
        started = hits[0][0] if hits else t0  # the header: data loaded, model built
        vals = [(t - started, r) for t, r in hits if r.get("split") == "val"]
        target = a.target_error
        hit = next(((t, r) for t, r in vals if r["error"] <= target), None)
        return {"dataset": summary.get("dataset"), "model": summary.get("model"),
                "target_val_error": target, "cap_minutes": cfg.max_minutes,
                "reached": hit is not None,
                "seconds_to_target": round(hit[0], 1) if hit and hit[0] is not None else None,
                "step_at_target": hit[1]["step"] if hit else None,
                "setup_s": round(started - t0, 1),
                "val_curve": [[r["step"], round(r["error"], 4),
                               None if t is None else round(t, 1)] for t, r in vals],
                "final_test_error": summary.get("final_test_error"),
                "steps_done": summary.get("step"), "images_per_s": summary.get("images_per_s")}


def count_flops(step: Callable[[], torch.Tensor]) -> float | None:
    """FLOPs of one training step (matmuls, convolutions, attention; forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter:
            step()
        return float(counter.get_total_flops()) or None
    except Exception:  # noqa: BLE001 (an op the counter cannot follow: no MFU, still a timing)
        return None


def checkpoint_keys(out: Path) -> list[str]:
    """The parameter names in a run folder's checkpoints and safetensors files."""
    from safetensors import safe_open

    from milestones.core.checkpoint import load_checkpoint

    keys: list[str] = []
    for name in ("last.pt", "best.pt"):
        if (out / name).is_file():
            state = load_checkpoint(out / name)
            for value in state.values():
                if isinstance(value, dict) and value and all(
                        isinstance(v, torch.Tensor) for v in value.values()):
                    keys += [str(k) for k in value]
    for file in sorted(out.glob("*.safetensors")):
        with safe_open(str(file), "pt") as f:
            keys += list(f.keys())
    return keys


def cifar_folder(path: Path, tmp: Path) -> Path:
    """A CIFAR-10 folder: ``path`` itself, or where its .tar.gz is extracted."""
    if path.is_dir():
        return path
    if not path.is_file():
        raise Skip(f"--cifar-dir {path} does not exist")
    out = tmp / "cifar10"
    out.mkdir(exist_ok=True)
    subprocess.run(["tar", "-xzf", str(path), "-C", str(out)], check=True)
    inner = [p for p in out.iterdir() if p.is_dir()]
    return out if (out / "train").is_dir() or len(inner) != 1 else inner[0]


def machine(device: torch.device) -> dict:
    """Where the numbers come from: host, versions, GPUs, the code."""
    info: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform(),
                            "cpus": os.cpu_count(), "torch": str(torch.__version__),
                            "torch_cuda": torch.version.cuda, "device": str(device)}
    if torch.cuda.is_available():
        info["cudnn"] = torch.backends.cudnn.version()
        with contextlib.suppress(Exception):
            v = torch.cuda.nccl.version()
            info["nccl"] = ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
        info["gpus"] = [{"name": p.name, "capability": f"{p.major}.{p.minor}",
                         "memory_gib": round(p.total_memory / 2**30, 1),
                         "multiprocessors": p.multi_processor_count}
                        for p in map(torch.cuda.get_device_properties,
                                     range(torch.cuda.device_count()))]
        info["driver"] = _driver()
    info["packages"] = {}
    for pkg in ("torchvision", "numpy", "tyro", "gymnasium", "ale-py", "opencv-python-headless",
                "tokenizers", "sacrebleu", "safetensors", "triton"):
        try:
            info["packages"][pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            info["packages"][pkg] = None
    if getattr(sys.modules.get("tyro"), "STUB", False):
        info["packages"]["tyro"] = "missing: stubbed (main(cfg) parses no command line)"
    info.update(_source())
    return info


def _driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def _source() -> dict:
    """The git SHA (here, or as gpu_prepare.sh recorded it) and a hash of the code itself."""
    files = sorted([*REPO.glob("milestones/**/*.py"), *REPO.glob("benchmarks/*.py")])
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(REPO).as_posix().encode() + b"\0" + f.read_bytes())
    info: dict[str, Any] = {"code_sha256": digest.hexdigest()[:16], "git_sha": None}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=REPO, capture_output=True, text=True, timeout=10)
            info.update(git_sha=out.stdout.strip(), git_dirty=bool(dirty.stdout.strip()))
    prepared = REPO / ".gpu-wheels" / "SOURCE.json"
    if info["git_sha"] is None and prepared.is_file():  # no .git on the device: the prepare step
        info.update({f"prepared_{k}": v for k, v in json.loads(prepared.read_text()).items()})
    return info


def _scalars(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if isinstance(v, int | float | str | bool | None)}


def _numbers(summary: dict) -> dict:
    """A summary's results, dicts flattened one level: no times, speeds or settings."""
    flat = {f"{k}.{k2}" if isinstance(v, dict) else k: v2 for k, v in summary.items()
            for k2, v2 in (v.items() if isinstance(v, dict) else [(None, v)])}
    return {k: v for k, v in flat.items() if isinstance(v, int | float) and not isinstance(
        v, bool) and not k.endswith("_s") and k not in ("seed", "params", "steps")}


def _where(e: BaseException) -> list[str]:
    """The last frames of a traceback in this repository, then the frame that raised."""
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if str(REPO) in f.filename and "site-packages" not in f.filename]
    shown = ours[-3:] + ([frames[-1]] if frames and frames[-1] not in ours[-3:] else [])
    return [f"{Path(f.filename).relative_to(REPO) if str(REPO) in f.filename else f.filename}"
            f":{f.lineno} in {f.name}" for f in shown]


def _first_line(e: BaseException | Warning | str) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:400]


def _missing_package(e: BaseException) -> bool:
    """A package the item needs is not installed (not a bug of ours): skipped, not failed."""
    from milestones.core.data import MissingPackage

    if isinstance(e, ModuleNotFoundError):
        return not (e.name or "").startswith("milestones")
    return isinstance(e, MissingPackage) or type(e).__name__ == "DependencyNotInstalled"


def _skip(reason: str) -> dict:
    raise Skip(reason)


def stub_tyro() -> None:
    """Without tyro (the CLI parser) the training modules cannot be imported; main(cfg) never
    parses a command line, so a stub whose cli() fails is enough for everything here."""
    try:
        import tyro  # noqa: F401
    except ImportError:
        stub = types.ModuleType("tyro")
        stub.STUB = True

        def cli(*args, **kwargs):
            raise ModuleNotFoundError("tyro is not installed (gpu_check's stub)")

        stub.cli = cli
        sys.modules["tyro"] = stub


# ---- the worker torchrun starts ------------------------------------------------------------------

def ddp_worker(out: Path, dry: bool) -> None:
    """One rank: init the process group, an all-reduce, three DDP steps, ResNet's smoke main()
    inside the group, the library's shutdown. Rank 0 writes out/rank0.json."""
    import torch.distributed as dist

    from milestones.resnet import resnet_tiny
    from milestones.resnet import train as T

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ["LOCAL_RANK"])
    cuda = not dry and torch.cuda.is_available()
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    report: dict[str, Any] = {"world_size": world, "backend": "nccl" if cuda else "gloo"}
    t = time.perf_counter()
    dist.init_process_group(report["backend"], **({"device_id": device} if cuda else {}))
    report["init_s"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    ones = torch.ones(4, device=device)
    dist.all_reduce(ones)
    report["all_reduce_ok"] = bool((ones == world).all().item())
    torch.manual_seed(rank)
    model = resnet_tiny(num_classes=10).to(device)
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[local] if cuda else None)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        x = torch.randn(8, 3, 32, 32, device=device)
        loss = F.cross_entropy(ddp(x), torch.randint(0, 10, (8,), device=device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.empty_like(weights) for _ in range(world)]
    dist.all_gather(gathered, weights)
    report["ddp_replicas_equal"] = all(torch.equal(gathered[0], w) for w in gathered)
    report["ddp_probe_s"] = round(time.perf_counter() - t, 2)
    del ddp, opt, model

    cfg = T.smoke()
    batch = cfg.batch_size + (-cfg.batch_size) % world  # divisible among the ranks
    over = specs()["resnet"].smoke_dry if dry else {}
    cfg = dataclasses.replace(cfg, device=str(device), out=str(out / "run"), batch_size=batch,
                              **over)
    t = time.perf_counter()
    summary = T.main(cfg)  # with 2+ ranks: DDP inside train.py, and runtime.shutdown ends it
    report["main_s"] = round(time.perf_counter() - t, 2)
    report["main_distributed"] = world > 1
    report["summary"] = {k: summary.get(k) for k in ("step", "final_test_error", "images_per_s")}
    t = time.perf_counter()
    if dist.is_initialized():  # one rank: main() leaves alone the group it did not create
        gc.collect()  # what runtime.shutdown does with two or more
        dist.barrier()
        dist.destroy_process_group()
    report["shutdown_s"] = round(time.perf_counter() - t, 2)
    if rank == 0:
        (out / "rank0.json").write_text(json.dumps(report))


# ---- command line --------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="See the module docstring for what each item measures.")
    p.add_argument("--out", help="write the JSON here too (rewritten after every item)")
    p.add_argument("--dry-run", action="store_true",
                   help="CPU, tiny shapes, 1-2 timed steps: proves the code paths, measures "
                        "nothing about GPUs")
    p.add_argument("--budget-minutes", type=float, default=9.0,
                   help="skip items that would not end within this many minutes (default 9)")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="dense bf16 peak for MFU where the GPU is not in the table")
    p.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                   help="time torch.compile (auto: on the GPU, off in --dry-run)")
    p.add_argument("--no-torchrun", dest="torchrun", action="store_false",
                   help="skip the torchrun (NCCL / gloo) item")
    p.add_argument("--milestones", type=lambda s: s.split(","), default=None,
                   help="only these, comma-separated (default: every implemented one)")
    p.add_argument("--items", type=lambda s: s.split(","), default=None,
                   help="only these kinds: smoke,nccl,throughput,optimizer,smoke-compile,"
                        "time-to-target")
    p.add_argument("--cifar-dir", default=None,
                   help="CIFAR-10 (image folder, torchvision files, or the .tar.gz of a folder) "
                        "for the time-to-target item")
    p.add_argument("--target-error", type=float, default=0.20,
                   help="validation error to reach (default 0.20)")
    p.add_argument("--target-minutes", type=float, default=3.0,
                   help="cap of the time-to-target run (default 3)")
    p.add_argument("--target-eval-every", type=int, default=500,
                   help="steps between validations in the time-to-target run (default 500)")
    p.add_argument("--ddp-worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    stub_tyro()
    if args.ddp_worker:
        ddp_worker(Path(args.ddp_worker), args.dry_run)
        return 0
    if not args.dry_run and not torch.cuda.is_available():
        print("error: CUDA is not available here; --dry-run runs the same code paths on the CPU",
              file=sys.stderr)
        return 2
    if args.dry_run:  # tiny ops: one thread is as fast, and far faster on a shared machine
        torch.set_num_threads(1)
    checker = Checker(args)
    result = checker.go()
    print(json.dumps(result, indent=2, default=str))
    for item in result["items"]:  # last, so that the end of the output says what happened
        extra = item.get("error") or item.get("reason") or ""
        numbers = ", ".join(f"{k} {item[k]}" for k in ("step_ms", "items_per_s", "mfu",
                                                       "peak_mem_gib") if k in item)
        took = f"{item['seconds']} s" if "seconds" in item else ""
        print(f"{item['status']:8} {item['id']:52} {took:>9}  {numbers or extra}"[:200],
              file=sys.stderr)
    print(f"summary: {result['summary']} in {result['wall_s']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
