"""Train a GAN or DCGAN by Algorithm 1: ``python -m milestones.gan.train --help``.

    python -m milestones.gan.train --preset quick                  # DCGAN on Fashion-MNIST, CPU
    python -m milestones.gan.train                                 # GAN §5 on MNIST (released cfg)
    python -m milestones.gan.train --preset dcgan --data-dir img_align_celeba   # DCGAN §4, GPU
    python -m milestones.gan.train --dataset ring --model gan      # 2-D mixture, seconds
    torchrun --nproc_per_node=8 -m milestones.gan.train --preset dcgan ...      # DDP

The loop below is Algorithm 1 written out: for each training iteration, k steps that ascend
V(D, G) on a minibatch of m noise samples and m examples, then one step on G (the non-saturating
objective of §3 unless --saturating). Validation: the Parzen-window log-likelihood of held-out
data under G's samples (the paper's Table 1 measure, sigma chosen on the same held-out data);
at the end, Table 1's protocol on the test set, FID with our classifier's features (images), and
modes covered (2-D mixtures).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import torch

from milestones.adam import Adam
from milestones.core import runtime
from milestones.core.checkpoint import load_checkpoint
from milestones.core.config import ConfigError, require
from milestones.core.data import IndexBatches, data_root
from milestones.core.run import Run, RunConfig, Window, cli, launch
from milestones.gan import evaluate as E
from milestones.gan.data import IMAGES, MIXTURES, GanData, load_data, to_model, to_unit
from milestones.gan.inception import InceptionV3, load_inception
from milestones.gan.model import (
    GAN,
    dcgan,
    dcgan_mlp,
    discriminator_loss,
    gan_mlp,
    generator_loss,
)

Dataset = Literal["mnist", "fashion-mnist", "cifar10", "shapes", "folder", "ring", "grid"]


@dataclasses.dataclass
class Config(RunConfig):
    """Train a GAN (Goodfellow et al. 2014) or DCGAN (Radford et al. 2015). Defaults: GAN §5 on
    MNIST with the released configuration (goodfeli/adversarial mnist.yaml)."""

    model: Literal["gan", "dcgan"] = "gan"
    """gan: MLP G, maxout D with dropout (GAN §5); dcgan: convolutional G and D (DCGAN §3), or
    on 2-D points an MLP pair with DCGAN's ingredients (batch norm, LeakyReLU)."""
    dataset: Dataset = "mnist"
    """mnist (GAN §5), fashion-mnist, cifar10, shapes (built in), folder (--data-dir: CelebA,
    LSUN, ...), ring / grid (built-in 2-D mixtures of 8 / 25 Gaussians)."""
    data_dir: str | None = None
    """Dataset folder; default <data root>/<dataset> and the known local copies. Required for
    --dataset folder: images in it or in class sub-folders, all of one size."""
    download: bool = False
    """Let torchvision download MNIST, Fashion-MNIST or CIFAR-10 when it is not found."""
    image_size: int = 64
    """--dataset folder: centre-crop and resize every image to this size (DCGAN §4: 64)."""
    train_size: int | None = None
    """Use only N training examples (picked at random with a fixed seed)."""
    val_size: int = 10_000
    """Held-out training examples for validation (mnist.yaml: images 50k-60k)."""
    test_size: int | None = None
    """Evaluate on only N test examples (picked at random with a fixed seed)."""
    nz: int = 100
    """Dimension of z (GAN code: 100, Gaussian; DCGAN Fig. 1: 100, uniform in [-1, 1])."""
    hidden: int = 1200
    """gan: units in each of G's two ReLU layers (mnist.yaml: 1200); dcgan on 2-D points: units
    of both MLPs' two hidden layers."""
    units: int = 240
    """gan: maxout units in each of D's two layers (mnist.yaml: 240)."""
    pieces: int = 5
    """gan: pieces per maxout unit (mnist.yaml: 5)."""
    input_dropout: float = 0.2
    """gan: dropout rate of D's input (mnist.yaml: include probability 0.8)."""
    dropout: float = 0.5
    """gan: dropout rate before D's other layers (mnist.yaml: include probability 0.5)."""
    width: int = 128
    """dcgan: filters of G's last hidden layer and D's first (Fig. 1: 128, doubling to 1024)."""
    kernel: Literal[4, 5] = 5
    """dcgan: convolution kernel size (the authors' code: 5; the PyTorch example: 4)."""
    k: int = 1
    """Algorithm 1: discriminator steps per generator step ("k = 1, the least expensive")."""
    saturating: bool = False
    """Train G on log(1 - D(G(z))) as in Eq. 1 (minimax), not on -log D(G(z)) (§3)."""
    optimizer: Literal["auto", "sgd", "adam"] = "auto"
    """auto: SGD with momentum for gan (mnist.yaml), Adam for dcgan (DCGAN §4)."""
    lr: float | None = None
    """Learning rate; default 0.1 for SGD (mnist.yaml), 2e-4 for Adam (DCGAN §4)."""
    lr_decay: float = 1.000004
    """SGD: the rate is divided by this after every update, down to 1e-6 (mnist.yaml)."""
    momentum: float = 0.5
    """SGD: initial momentum (mnist.yaml: 0.5)."""
    final_momentum: float = 0.7
    """SGD: momentum reached, linearly, at epoch momentum_saturate (mnist.yaml: 0.7)."""
    momentum_saturate: int = 250
    """SGD: the epoch at which final_momentum is reached (mnist.yaml: 250, from epoch 1)."""
    beta1: float = 0.5
    """Adam: beta1 (DCGAN §4: 0.5, "0.9 resulted in training oscillation and instability")."""
    batch_size: int | None = None
    """Minibatch m of Algorithm 1 (global); default 100 for gan (mnist.yaml), 128 for dcgan."""
    steps: int = 150_000
    """Generator steps (iterations of Algorithm 1): 300 epochs of MNIST's 50k at m = 100."""
    log_every: int = 100
    """Generator steps between training-metric records."""
    eval_every: int = 5000
    """Generator steps between validation runs (best.pt follows the Parzen log-likelihood)."""
    ckpt_every: int = 5000
    """Generator steps between last.pt checkpoints."""
    eval_samples: int = 1000
    """Samples of G for each validation's Parzen estimate."""
    eval_val: int = 1000
    """Validation examples each validation scores (parzen_ll.py's --limit_size: 1000)."""
    parzen_samples: int = 10_000
    """Final evaluation: samples of G the Parzen window is fitted on (Table 1: 10,000)."""
    fid: bool = True
    """Final evaluation on images: FID with our classifier's features (trained once per
    dataset and cached under <data root>/gan/)."""
    fid_samples: int = 10_000
    """Samples of G (and test images) for the FID."""
    fid_classifier_steps: int = 1500
    """Training steps of the classifier whose features the FID uses (batch 128, Adam 1e-3)."""
    fid_inception: str | None = None
    """A local Inception-v3 weights file: pytorch-fid's pt_inception-2015-12-05-6726825d.pth
    (the FID network papers report with), or torchvision's inception_v3_google-*.pth. Adds FID
    with its pool3 features beside ours. Nothing is downloaded."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.model in ("gan", "dcgan"), self, "model", "choose from gan, dcgan")
        require(self.dataset in IMAGES + MIXTURES, self, "dataset",
                f"choose from {', '.join(IMAGES + MIXTURES)}")
        require(self.dataset == "folder" or self.image_size == 64, self, "image_size",
                "applies to --dataset folder only")
        require(self.image_size in (28, 32, 64) or (self.image_size > 0 and self.model == "gan"),
                self, "image_size", "must be 28, 32 or 64 for dcgan, > 0 for gan")
        require(self.data_dir is None or self.dataset not in ("shapes", *MIXTURES), self,
                "data_dir", f"--dataset {self.dataset} is generated by code and reads no folder")
        for field in ("nz", "hidden", "units", "pieces", "width", "k", "steps", "log_every",
                      "eval_every", "ckpt_every", "eval_samples", "eval_val", "parzen_samples",
                      "fid_samples", "fid_classifier_steps", "momentum_saturate"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(self.batch_size is None or self.batch_size > 0, self, "batch_size", "must be > 0")
        require(self.lr is None or self.lr > 0, self, "lr", "must be > 0")
        require(self.lr_decay >= 1, self, "lr_decay", "must be >= 1 (1: no decay)")
        for field in ("momentum", "final_momentum", "beta1", "input_dropout", "dropout"):
            require(0 <= getattr(self, field) < 1, self, field, "must be in [0, 1)")
        require(self.val_size > 0, self, "val_size", "must be > 0 (sigma is chosen on it)")
        require(self.train_size is None or self.train_size > self.val_size, self, "train_size",
                f"must be larger than --val-size ({self.val_size})")
        require(self.test_size is None or self.test_size > 0, self, "test_size", "must be > 0")
        if self.fid_inception is not None:
            require(Path(self.fid_inception).is_file(), self, "fid_inception", "no such file")
            require(self.fid and self.dataset not in MIXTURES, self, "fid_inception",
                    "needs --fid and an image dataset")

    @property
    def opt(self) -> str:
        return self.optimizer if self.optimizer != "auto" else (
            "sgd" if self.model == "gan" else "adam")

    @property
    def m(self) -> int:
        return self.batch_size or (100 if self.model == "gan" else 128)


def paper() -> Config:
    """GAN §5 on MNIST, the released configuration: maxout D, SGD lr 0.1 (decaying), momentum
    0.5 -> 0.7, m = 100, k = 1. DEVIATION(D1): 300 epochs (mnist.yaml sets no stopping rule)."""
    return Config(preset="paper")


def dcgan_preset() -> Config:
    """DCGAN §4 on an image folder (CelebA / LSUN) at 64x64: Adam 2e-4, beta1 0.5, m = 128,
    25,000 steps (about 16 epochs of CelebA's 202,599 faces)."""
    return Config(preset="dcgan", model="dcgan", dataset="folder", steps=25_000,
                  log_every=100, eval_every=2500, ckpt_every=2500)


def quick() -> Config:
    """CPU minutes: a narrow DCGAN (28x28) on Fashion-MNIST, 1500 steps of Algorithm 1."""
    return Config(preset="quick", model="dcgan", dataset="fashion-mnist", width=32, kernel=4,
                  steps=1500, log_every=25, eval_every=500, ckpt_every=500,
                  parzen_samples=5000, fid_samples=5000)


def smoke() -> Config:
    """Seconds: a tiny DCGAN on a sliver of the built-in shapes. For tests."""
    return Config(preset="smoke", model="dcgan", dataset="shapes", width=4, nz=8, kernel=4,
                  train_size=384, val_size=64, test_size=64, batch_size=32, steps=8,
                  log_every=2, eval_every=4, ckpt_every=4, eval_samples=64, eval_val=64,
                  parzen_samples=128, fid=False, fid_samples=64, progress=False)


PRESETS = {"paper": paper, "dcgan": dcgan_preset, "quick": quick, "smoke": smoke}


def build_model(cfg: Config, shape: tuple[int, ...],
                data_mean: torch.Tensor | None = None) -> GAN:
    """The GAN pair for ``cfg`` and one sample's ``shape`` ((2,) for points, (C, H, W) for
    images); G's output range matches the data. ``data_mean``: the gan's mean pixel in [0, 1]
    (the released code starts G's output bias there)."""
    if len(shape) == 1:  # 2-D points
        if cfg.model == "gan":
            return gan_mlp(shape, cfg.nz, cfg.hidden, cfg.units, cfg.pieces, output="linear",
                           input_dropout=cfg.input_dropout, dropout=cfg.dropout)
        return dcgan_mlp(shape, cfg.nz, cfg.hidden)
    if cfg.model == "gan":
        return gan_mlp(shape, cfg.nz, cfg.hidden, cfg.units, cfg.pieces, "sigmoid", data_mean,
                       cfg.input_dropout, cfg.dropout)
    if shape[1] != shape[2] or shape[1] not in (28, 32, 64):
        raise ConfigError("model", cfg.model, f"dcgan needs square 28, 32 or 64 pixel images; "
                          f"the data's are {shape[2]}x{shape[1]}")
    return dcgan(shape[1], shape[0], cfg.width, cfg.nz, cfg.kernel)


def initial_model(cfg: Config, data: GanData) -> GAN:
    """:func:`build_model` for ``data``, initialised as a run starts (the gan's mean pixel)."""
    gan_images = cfg.model == "gan" and not data.points
    return build_model(cfg, data.shape, data.train.x.float().mean(0) / 255 if gan_images
                       else None)


def output_range(model: GAN) -> str:
    return getattr(model.generator, "output", "tanh")


def load_trained(run_dir: str | Path, which: str = "last") -> GAN:
    """A trained GAN pair from a run folder, in eval mode::

        model = load_trained("runs/gan/quick-dcgan-s0")
        images = model.sample(64)          # (64, C, H, W), in G's range ([-1, 1] for DCGAN)
    """
    ckpt = load_checkpoint(Path(run_dir) / f"{which}.pt")
    saved = {k: tuple(v) if isinstance(v, list) else v for k, v in ckpt["config"].items()}
    cfg = dataclasses.replace(Config(), **saved)
    model = build_model(cfg, tuple(ckpt["shape"].tolist()))
    model.load_state_dict(ckpt["model"])
    return model.eval()


def learning_rate(cfg: Config, step: int) -> float:
    """SGD (mnist.yaml's ExponentialDecay): lr / lr_decay^updates, floored at 1e-6; Adam: lr."""
    if cfg.opt == "adam":
        return cfg.lr or 2e-4
    return max((cfg.lr or 0.1) / cfg.lr_decay ** step, 1e-6)


def momentum_at(cfg: Config, epoch: float) -> float:
    """mnist.yaml's MomentumAdjustor: linear from momentum at epoch 1 to final_momentum at
    epoch momentum_saturate."""
    t = min(max((epoch - 1) / max(cfg.momentum_saturate - 1, 1), 0.0), 1.0)
    return cfg.momentum + t * (cfg.final_momentum - cfg.momentum)


def make_optimizer(cfg: Config, params) -> torch.optim.Optimizer:
    if cfg.opt == "sgd":
        # DEVIATION(D2): PyTorch's momentum (v = mu v + g; p -= lr v), not pylearn2's
        # (v = mu v - lr g; p += v): the same while lr and mu are constant.
        return torch.optim.SGD(params, lr=learning_rate(cfg, 0), momentum=cfg.momentum)
    return Adam(params, lr=learning_rate(cfg, 0), betas=(cfg.beta1, 0.999))  # DCGAN §4


def parzen_sigmas(data: GanData) -> torch.Tensor:
    """The grid sigma is chosen from: parzen_ll.py's logspace(-1, 0, 10) for images in [0, 1];
    for the 2-D mixtures a grid around their modes' std."""
    return torch.logspace(-2.5, 0, 11) if data.points else torch.logspace(-1, 0, 10)


def flat(x: torch.Tensor, output: str) -> torch.Tensor:
    """Samples or data as (N, D) float rows, images in [0, 1] (Table 1's space)."""
    return to_unit(x.float(), output).flatten(1) if x.dim() > 2 else x.float()


def real_rows(split, n: int | None, output: str) -> torch.Tensor:
    """``n`` examples of ``split`` picked at random (a fixed seed; all for None) as (N, D) rows.
    Random, not the first n: image folders (CIFAR-10's JPEGs) come sorted by class."""
    return flat(to_model(split.subset(n).x, output), output)


@dataclasses.dataclass
class Progress:
    """The loop's own state beyond the step (checkpointed with the run)."""

    batches: int = 0  # real minibatches drawn so far (k per generator step)


def main(cfg: Config) -> dict:
    """Train per ``cfg``; returns the run summary (also written to <out>/summary.json)."""
    return launch(train, cfg)


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    out = Path(cfg.out or f"runs/gan/{cfg.preset}-{cfg.model}-{cfg.dataset}-s{cfg.seed}")
    with Run(cfg, rt, out) as run:
        if cfg.m % rt.world_size:
            raise ConfigError("batch_size", cfg.m, f"must divide among {rt.world_size} ranks")
        data = load_data(cfg.dataset, data_dir=cfg.data_dir, root=cfg.data_root,
                         download=cfg.download, val_size=cfg.val_size,
                         train_size=cfg.train_size, test_size=cfg.test_size,
                         image_size=cfg.image_size)
        batches = IndexBatches(len(data.train), cfg.m, shuffle=True, seed=cfg.seed,
                               rank=rt.rank, world_size=rt.world_size)
        if len(batches) == 0:
            raise ConfigError("batch_size", cfg.m, "is larger than the training set")
        inception = None
        if cfg.fid_inception is not None and rt.is_main:  # a wrong file stops before training
            try:
                inception = load_inception(cfg.fid_inception).to(rt.device)
            except ValueError as e:
                raise ConfigError("fid_inception", cfg.fid_inception, str(e)) from None

        model = initial_model(cfg, data).to(rt.device)
        output = output_range(model)
        G, D = model.generator, model.discriminator
        opt_d = make_optimizer(cfg, D.parameters())
        opt_g = make_optimizer(cfg, G.parameters())
        scaler_d, scaler_g = rt.grad_scaler(), rt.grad_scaler()
        progress = Progress()
        window = Window("loss_d", "loss_g", "d_real", "d_fake", "g_grad", "n", device=rt.device)
        run.track(model=model, opt_d=opt_d, opt_g=opt_g, scaler_d=scaler_d, scaler_g=scaler_g,
                  window=window, progress=progress, shape=torch.tensor(data.shape))
        params = {"generator": sum(p.numel() for p in G.parameters()),
                  "discriminator": sum(p.numel() for p in D.parameters())}
        run.start({"data": data.meta, "params": params}, total_steps=cfg.steps,
                  desc=f"{cfg.model} {cfg.dataset}")
        g_net = runtime.wrap_ddp(runtime.maybe_compile(G, cfg.compile), rt)
        d_net = runtime.wrap_ddp(runtime.maybe_compile(D, cfg.compile), rt)
        d_plain = runtime.maybe_compile(D, cfg.compile)  # G's step: D fixed, nothing to sync

        x_train = data.train.x.to(rt.device)
        real = real_minibatches(x_train, batches, progress, output)
        b = cfg.m // rt.world_size
        logged = run.train_time  # for the throughput of each log window
        model.train()
        while not run.should_stop():
            epoch = progress.batches / len(batches)
            lr = learning_rate(cfg, run.step)
            for opt in (opt_d, opt_g):
                for group in opt.param_groups:
                    group["lr"] = lr
                    if cfg.opt == "sgd":
                        group["momentum"] = momentum_at(cfg, epoch)

            # Algorithm 1: for k steps, ascend V(D, G) (Eq. 1) on m examples and m noise samples
            for _ in range(cfg.k):
                x = next(real)  # (b, ...) minibatch from p_data
                z = model.sample_z(b, rt.device)  # (b, nz) from the noise prior p_z
                with rt.autocast():
                    fake = g_net(z).detach()  # G(z), no gradient into G
                    real_logits, fake_logits = d_net(x).float(), d_net(fake).float()
                    loss_d = discriminator_loss(real_logits, fake_logits)  # -V(D, G)
                opt_d.zero_grad(set_to_none=True)
                scaler_d.scale(loss_d).backward()
                scaler_d.step(opt_d)
                scaler_d.update()

            # then one step on G: descend log(1 - D(G(z))), or (§3) ascend log D(G(z))
            z = model.sample_z(b, rt.device)
            D.requires_grad_(False)
            with rt.autocast():
                g_logits = d_plain(g_net(z)).float()  # (b,)
                loss_g = generator_loss(g_logits, cfg.saturating)
            opt_g.zero_grad(set_to_none=True)
            scaler_g.scale(loss_g).backward()
            D.requires_grad_(True)
            g_grad = torch.linalg.vector_norm(torch.stack(
                torch._foreach_norm([p.grad for p in G.parameters() if p.grad is not None])))
            scaler_g.step(opt_g)
            scaler_g.update()

            run.step += 1
            run.track_loss(loss_d)
            run.track_loss(loss_g)
            window.add(loss_d=loss_d.detach(), loss_g=loss_g.detach(),
                       d_real=torch.sigmoid(real_logits.detach()).mean(),
                       d_fake=torch.sigmoid(g_logits.detach()).mean(), g_grad=g_grad, n=1)
            if run.step % cfg.log_every == 0:
                run.check_finite()
                sums = window.flush()
                # d_real: mean D(x) on the last D step's data; d_fake: mean D(G(z)) on G's step
                run.log("train", **{k: v / sums["n"] for k, v in sums.items() if k != "n"},
                        lr=lr, epoch=round(epoch, 3),
                        steps_per_s=sums["n"] / max(run.train_time - logged, 1e-9))
                logged = run.train_time
            if run.step % cfg.eval_every == 0 and run.step < cfg.steps:
                with run.paused():
                    val = validate(model, data, cfg, output)
                run.log("val", **val)
                run.keep_best("val_parzen", val["parzen"], maximize=True)
            if run.step % cfg.ckpt_every == 0:
                run.save()

        summary = {"model": cfg.model, "dataset": cfg.dataset, "preset": cfg.preset,
                   "seed": cfg.seed, "params": params, "k": cfg.k, "saturating": cfg.saturating}
        if not run.interrupted:
            with run.paused():
                final = final_evaluation(model, data, cfg, output, out, rt, inception)
            run.log("test", **{k: v for k, v in final.items() if not isinstance(v, list | dict)})
            summary.update(final)
        return run.finish(summary)


def real_minibatches(x: torch.Tensor, batches: IndexBatches, progress: Progress, output: str):
    """Minibatches of real examples, endlessly, in G's range; batch i of epoch e depends on
    (seed, e, i) only, and ``progress.batches`` counts those drawn (so resume continues)."""
    while True:
        epoch, start = divmod(progress.batches, len(batches))
        for idx in batches.epoch(epoch, start):
            progress.batches += 1
            yield to_model(x[idx.to(x.device)], output)


def validate(model: GAN, data: GanData, cfg: Config, output: str) -> dict:
    """The Parzen log-likelihood of eval_val held-out examples under eval_samples of G's samples,
    sigma chosen on those same examples (a cheap stand-in for Table 1, for best.pt)."""
    g = torch.Generator(device=next(model.parameters()).device).manual_seed(cfg.seed)
    samples = flat(model.sample(cfg.eval_samples, generator=g), output).cpu()
    val = real_rows(data.val, cfg.eval_val, output)
    sigma, lls = E.choose_sigma(samples, val, parzen_sigmas(data))
    result = {"parzen": max(lls), "sigma": sigma}
    if data.points:
        q = E.mixture_quality(samples, data.centers, data.std)
        result.update(modes=q["modes_covered"], high_quality=q["high_quality"])
    return result


def final_evaluation(model: GAN, data: GanData, cfg: Config, output: str, out: Path,
                     rt: runtime.Runtime, inception: InceptionV3 | None = None) -> dict:
    """Table 1's protocol (Parzen window on parzen_samples of G's samples, sigma chosen on
    eval_val validation examples, mean ± s.e. over the test set), plus modes covered (2-D) or
    FID with our classifier's features and, given the network, Inception-v3's (images), and a
    sample grid in the run folder."""
    g = torch.Generator(device=rt.device).manual_seed(cfg.seed + 1)
    samples = model.sample(cfg.parzen_samples, generator=g)  # in G's range
    rows = flat(samples, output).cpu()
    parzen = E.parzen_estimate(rows, real_rows(data.val, cfg.eval_val, output),
                               real_rows(data.test, None, output), parzen_sigmas(data))
    result = {"test_parzen": parzen["mean"], "test_parzen_sem": parzen["sem"],
              "parzen_sigma": parzen["sigma"]}
    if data.points:
        q = E.mixture_quality(rows, data.centers, data.std)
        result.update(modes=q["modes_covered"], of_modes=q["modes"],
                      high_quality=q["high_quality"])
    elif cfg.fid and rt.is_main:
        result.update(fid_scores(model, data, cfg, output, samples[:cfg.fid_samples]))
        if inception is not None:
            result.update(inception_fid(inception, data, output, samples[:cfg.fid_samples]))
    if rt.is_main:
        save_samples(samples[:64].cpu(), output, data, out / "samples.png")
    return result


def fid_scores(model: GAN, data: GanData, cfg: Config, output: str,
               samples: torch.Tensor) -> dict:
    """FID of G's samples against the test images, with the features of our classifier trained
    on the training images; beside it, the same FID of the training images (the floor) and of an
    untrained G with the same seed (the ceiling)."""
    # DEVIATION(D5): our classifier's features, not Inception-v3's (nothing is downloaded)
    cache = data_root(cfg.data_root) / "gan" / f"classifier-{cfg.dataset}.pt"
    net = E.feature_net_for(data.train.x, data.train.y, max(len(data.classes), 2), cache,
                            steps=cfg.fid_classifier_steps, seed=0)
    n = min(cfg.fid_samples, len(data.test))

    def features(x: torch.Tensor) -> torch.Tensor:  # x in G's range -> the net's [-1, 1]
        return E.extract_features(net, to_unit(x.float(), output).cpu() * 2 - 1)

    # random subsets, not the first n: image folders come sorted by class
    test = features(to_model(data.test.subset(n).x, output))
    train = features(to_model(data.train.subset(n).x, output))
    with torch.random.fork_rng():  # the run's own RNG streams are left as they were
        torch.manual_seed(cfg.seed)
        untrained = initial_model(cfg, data)  # the same init as the run's start
    g = torch.Generator().manual_seed(cfg.seed + 2)
    return {"fid": E.fid_from_features(features(samples), test),
            "fid_batch_stats": E.fid_from_features(features(batch_stat_samples(model, n, cfg.m)),
                                                   test),
            "fid_train_vs_test": E.fid_from_features(train, test),
            "fid_untrained": E.fid_from_features(features(untrained.sample(n, generator=g)), test),
            "fid_features": f"our {cfg.dataset} classifier",
            "fid_classifier_accuracy": E.classifier_accuracy(net, data.test.x, data.test.y)}


@torch.no_grad()
def inception_fid(net: InceptionV3, data: GanData, output: str, samples: torch.Tensor,
                  batch_size: int = 50) -> dict:
    """FID with Inception-v3's pool3 features (the network papers report with): G's samples
    against as many random test images, and the training images against the test images (the
    floor). Grey images repeat their channel three times; every image is resized to 299 × 299
    by the network."""
    device = next(net.parameters()).device

    def features(x: torch.Tensor) -> torch.Tensor:  # x in G's range -> (N, 2048) on the CPU
        x = to_unit(x.float(), output)
        return torch.cat([net(b.to(device).expand(-1, 3, -1, -1)).double().cpu()
                          for b in x.split(batch_size)])

    n = min(len(samples), len(data.test))
    test = features(to_model(data.test.subset(n).x, output))
    return {"fid_inception": E.fid_from_features(features(samples[:n]), test),
            "fid_inception_train_vs_test": E.fid_from_features(
                features(to_model(data.train.subset(n).x, output)), test),
            "fid_inception_graph": "FID (pytorch-fid's TF port)" if net.fid
            else "torchvision ImageNet"}


@torch.no_grad()
def batch_stat_samples(model: GAN, n: int, m: int) -> torch.Tensor:
    """n samples drawn as the authors' code and the PyTorch example draw them: G in training
    mode, batch norm normalising each batch of m by its own statistics (on a copy of G, so the
    running statistics of the run are untouched). D6 compares them with eval-mode samples."""
    import copy

    g = copy.deepcopy(model.generator).train()
    device = next(g.parameters()).device
    rng = torch.Generator(device=device).manual_seed(3)
    return torch.cat([g(model.sample_z(min(m, n - i), device, rng)) for i in range(0, n, m)])


def save_samples(samples: torch.Tensor, output: str, data: GanData, path: Path) -> None:
    """An 8x8 grid of images, or a scatter of points over the mixture's modes, as a PNG."""
    if data.points:
        from milestones.core.plots import subplots

        fig, ax = subplots(figsize=(4, 4))
        ax.scatter(*data.centers.T, c="red", s=20, marker="x")
        ax.scatter(*samples.T, s=2, alpha=0.5)
        ax.set_aspect("equal")
        fig.savefig(path, dpi=100)
        return
    from torchvision.utils import save_image

    save_image(to_unit(samples, output), path, nrow=8)


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))

