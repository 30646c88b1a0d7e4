r"""Evaluating generators: Parzen-window log-likelihood, FID, modes of a 2-D mixture.

Gaussian Parzen window (GAN paper §5, Table 1; the protocol of Breuleux et al. 2011 as released in
goodfeli/adversarial ``parzen_ll.py``). An isotropic Gaussian kernel density is fitted to N
generated samples mu_i in R^D; a test point x gets

    log p(x) = log (1/N) sum_i exp(-||x - mu_i||^2 / (2 sigma^2)) - D log(sigma sqrt(2 pi))

The bandwidth sigma is the value of ``logspace(-1, 0, 10)`` with the highest mean log-likelihood
on a validation set (MNIST: the first 1000 images of train[50000:60000]); the reported number is
the mean over the 10,000 test images +- its standard error, std / sqrt(n) with the population
std (numpy's ``std``, ddof=0). Pixels are in [0, 1]. Everything is computed in float64.

Fréchet distance (Heusel et al. 2017), between the Gaussians fitted to two sets of features:

    FID = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})

Published FIDs use Inception-v3's pool3 features (:mod:`milestones.gan.inception`, given a local
weights file: nothing is downloaded at run time). Without one, and in every recorded table here,
the features come from :class:`FeatureNet`, a small classifier trained on the real data of the
experiment. Its numbers are not comparable with published FIDs and are named for what they are
in every table: "FID with our MNIST classifier". Its inputs are images in [-1, 1] (what a tanh
generator outputs; data in [0, 1] is mapped by x * 2 - 1, uint8 by :func:`uint8_to_tanh_range`).

2-D mixtures of Gaussians (the synthetic benchmark of Metz et al. 2017, unrolled GAN, and
Srivastava et al. 2017, VEEGAN): a generated sample is *high quality* if it lies within 3
standard deviations of its nearest mixture centre; a mode is *covered* if at least ``min_count``
high-quality samples have it as their nearest centre. Our default ``min_count`` is 0.8% of the
samples (20 of the usual 2,500), a convention of ours: name it beside the numbers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from milestones.adam import Adam
from milestones.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

# ---- Gaussian Parzen window (GAN §5, Table 1) ---------------------------------------------------


def paper_sigmas() -> list[float]:
    """The bandwidths the released code cross-validates: ``numpy.logspace(-1, 0, 10)``."""
    return torch.logspace(-1, 0, 10, dtype=torch.float64).tolist()


def _parzen_grid(samples: torch.Tensor, x: torch.Tensor, sigmas: Sequence[float],
                 batch_size: int) -> torch.Tensor:
    """log p(x) for every sigma of ``sigmas``: a (S, M) float64 tensor.

    The squared distances do not depend on sigma, so each batch of x computes them once.
    Memory: a (batch_size, N) float64 matrix, 80 MB for 1000 x 10,000.
    """
    if samples.ndim != 2 or x.ndim != 2 or samples.shape[1] != x.shape[1]:
        raise ValueError(f"samples (N, D) and x (M, D) expected, got {tuple(samples.shape)} "
                         f"and {tuple(x.shape)}")
    if len(samples) == 0 or batch_size < 1 or any(s <= 0 for s in sigmas):
        raise ValueError("needs at least one sample, batch_size >= 1 and sigmas > 0")
    mu = samples.to(torch.float64)  # (N, D)
    n, d = mu.shape
    # ||mu_i||^2
    mu_sq = mu.square().sum(1)  # (N,)
    out = torch.empty(len(sigmas), len(x), dtype=torch.float64, device=mu.device)  # (S, M)
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device=mu.device, dtype=torch.float64)  # (B, D)
        # ||x - mu_i||^2 = ||x||^2 - 2 x.mu_i + ||mu_i||^2, clamped at 0 against rounding
        dist = torch.addmm(mu_sq, xb, mu.T, alpha=-2.0)  # (B, N)
        dist.add_(xb.square().sum(1, keepdim=True)).clamp_(min=0.0)  # (B, N)
        for j, sigma in enumerate(sigmas):
            # log p(x) = logsumexp_i(-||x - mu_i||^2 / (2 sigma^2)) - log N
            #            - D log(sigma sqrt(2 pi))
            log_norm = math.log(n) + d * math.log(sigma * math.sqrt(2 * math.pi))
            out[j, start:start + len(xb)] = \
                torch.logsumexp(dist * (-0.5 / sigma**2), dim=1) - log_norm  # (B,)
    return out


def parzen_log_likelihood(samples: torch.Tensor, x: torch.Tensor, sigma: float, *,
                          batch_size: int = 1000) -> torch.Tensor:
    """Log-density of each row of ``x`` (M, D) under the Gaussian Parzen window of bandwidth
    ``sigma`` centred on ``samples`` (N, D): a (M,) float64 tensor on ``samples``' device.

    Computed in float64 (inputs of any float dtype are converted), ``batch_size`` rows of x at a
    time; 10,000 x 10,000 x 784 takes seconds on a CPU.
    """
    return _parzen_grid(samples, x, [float(sigma)], batch_size)[0]  # (M,)


def choose_sigma(samples: torch.Tensor, val: torch.Tensor,
                 sigmas: Sequence[float] | torch.Tensor | None = None, *,
                 batch_size: int = 1000) -> tuple[float, list[float]]:
    """The bandwidth of ``sigmas`` (default :func:`paper_sigmas`) with the highest mean
    log-likelihood of ``val``; returns it and the mean validation log-likelihood of each sigma."""
    grid = paper_sigmas() if sigmas is None else [float(s) for s in sigmas]
    # mean over val of log p(x), one per sigma
    val_ll = _parzen_grid(samples, val, grid, batch_size).mean(1)  # (S,)
    best = int(val_ll.argmax())
    return grid[best], val_ll.tolist()


def parzen_estimate(samples: torch.Tensor, val: torch.Tensor, test: torch.Tensor,
                    sigmas: Sequence[float] | torch.Tensor | None = None, *,
                    batch_size: int = 1000) -> dict:
    """Table 1's protocol: sigma chosen on ``val``, then the mean test log-likelihood and its
    standard error. Returns plain floats and lists (JSON-able): ``mean``, ``sem``, ``sigma``,
    ``sigmas``, ``val_ll`` (per sigma), ``n_samples``, ``n_test``."""
    grid = paper_sigmas() if sigmas is None else [float(s) for s in sigmas]
    sigma, val_ll = choose_sigma(samples, val, grid, batch_size=batch_size)
    ll = parzen_log_likelihood(samples, test, sigma, batch_size=batch_size)  # (M,)
    # sem = std / sqrt(n), the population std (ddof=0) as numpy's std in the released code
    sem = ll.std(correction=0) / math.sqrt(len(ll))
    return {"mean": float(ll.mean()), "sem": float(sem), "sigma": sigma, "sigmas": grid,
            "val_ll": val_ll, "n_samples": len(samples), "n_test": len(test)}


# ---- Fréchet distance ---------------------------------------------------------------------------


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (F,) and covariance (F, F) of ``features`` (N, F), float64, the covariance with the
    unbiased 1/(N-1) normaliser (as ``numpy.cov`` and the reference FID code)."""
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features (N, F) with N >= 2 expected, got {tuple(features.shape)}")
    f = features.to(torch.float64)  # (N, F)
    # mu = (1/N) sum_n f_n
    mu = f.mean(0)  # (F,)
    centred = f - mu  # (N, F)
    # S = (1/(N-1)) sum_n (f_n - mu)(f_n - mu)^T
    cov = centred.T @ centred / (len(f) - 1)  # (F, F)
    return mu, cov


def sqrtm_psd(a: torch.Tensor) -> torch.Tensor:
    """The principal square root of a symmetric positive semi-definite matrix ``a`` (F, F):
    the symmetric PSD B with B B = a, from the eigendecomposition a = V diag(lambda) V^T.
    Eigenvalues below 0 (rounding) are taken as 0."""
    a = (a + a.T) / 2  # (F, F), exactly symmetric
    eigenvalues, v = torch.linalg.eigh(a)  # (F,), (F, F)
    # a^{1/2} = V diag(sqrt(max(lambda, 0))) V^T
    return (v * eigenvalues.clamp(min=0).sqrt()) @ v.T  # (F, F)


def frechet_distance(mu1: torch.Tensor, s1: torch.Tensor, mu2: torch.Tensor,
                     s2: torch.Tensor) -> float:
    """FID = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}) between N(mu1, S1) and N(mu2, S2),
    computed in float64 with symmetric eigendecompositions only."""
    mu1, mu2 = mu1.to(torch.float64), mu2.to(torch.float64)  # (F,)
    s1, s2 = s1.to(torch.float64), s2.to(torch.float64)  # (F, F)
    # S1 S2 is not symmetric, but with R = S1^{1/2}, S1 S2 = R (R S2) and R S2 R = (R S2) R:
    # XY and YX have the same eigenvalues, so S1 S2 has those of R S2 R, which is symmetric PSD.
    # The principal root of S1 S2 has the square roots of these eigenvalues, hence
    # Tr((S1 S2)^{1/2}) = Tr((R S2 R)^{1/2}) = sum_k sqrt(lambda_k(R S2 R)).
    root1 = sqrtm_psd(s1)  # (F, F)
    middle = root1 @ s2 @ root1  # (F, F)
    middle = (middle + middle.T) / 2  # (F, F), symmetric up to rounding
    trace_sqrt = torch.linalg.eigvalsh(middle).clamp(min=0).sqrt().sum()
    # FID = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})
    fid = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * trace_sqrt
    return float(fid)


# ---- features for FID: our classifier -----------------------------------------------------------


def uint8_to_tanh_range(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (any shape) as float32 in [-1, 1], the range of a tanh generator."""
    # x' = x / 127.5 - 1 = 2 (x / 255) - 1
    return x.to(torch.float32) / 127.5 - 1.0


class FeatureNet(nn.Module):
    """A small CNN classifier whose penultimate layer gives 128-d features for FID.

    Images (B, C, H, W) in [-1, 1], C in {1, 3}, H = W in {28, 32, 64} (any H, W >= 4 work):
    conv3x3(C->32)-ReLU-maxpool2, conv3x3(32->64)-ReLU-maxpool2, conv3x3(64->128)-ReLU, global
    average pooling (the 128-d features), a linear head to ``num_classes`` logits. ``accuracy``
    is its held-out accuracy when :func:`feature_net_for` measured one, else None.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.head = nn.Linear(128, num_classes)
        self.accuracy: float | None = None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 128-d penultimate features (B, 128) of images x (B, C, H, W) in [-1, 1]."""
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 32, H/2, W/2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)  # (B, 64, H/4, W/4)
        h = F.relu(self.conv3(h))  # (B, 128, H/4, W/4)
        return h.mean((2, 3))  # (B, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes) of images x (B, C, H, W) in [-1, 1]."""
        return self.head(self.features(x))  # (B, num_classes)


def train_feature_net(x: torch.Tensor, y: torch.Tensor, num_classes: int, *, steps: int = 1500,
                      batch_size: int = 128, lr: float = 1e-3, seed: int = 0) -> FeatureNet:
    """Train a :class:`FeatureNet` on uint8 images ``x`` (N, C, H, W) with labels ``y`` (N,):
    cross-entropy, Adam, ``steps`` minibatches of shuffled epochs. Deterministic given ``seed``
    (the initial weights and the batch order draw from their own generators; the global RNG is
    left as it was). Returns the net in eval mode, on ``x``'s device."""
    if x.dtype != torch.uint8 or x.ndim != 4 or len(x) != len(y):
        raise ValueError(f"uint8 images (N, C, H, W) and labels (N,) expected, got {x.dtype} "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = FeatureNet(x.shape[1], num_classes)
    net = net.to(x.device).train()
    optimizer = Adam(net.parameters(), lr=lr)  # milestones.adam's (Kingma & Ba 2014)
    order_rng = torch.Generator().manual_seed(seed)
    batch_size = min(batch_size, len(x))
    order, pos = torch.empty(0, dtype=torch.long), 0
    for _ in range(steps):
        if pos + batch_size > len(order):
            order, pos = torch.randperm(len(x), generator=order_rng), 0
        idx = order[pos:pos + batch_size]  # (B,), on the CPU: it indexes x and y anywhere
        pos += batch_size
        logits = net(uint8_to_tanh_range(x[idx]))  # (B, num_classes)
        loss = F.cross_entropy(logits, y[idx].to(x.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return net.eval()


@torch.no_grad()
def classifier_accuracy(net: FeatureNet, x: torch.Tensor, y: torch.Tensor, *,
                        batch_size: int = 500) -> float:
    """The share of uint8 images ``x`` (N, C, H, W) that ``net`` classifies as ``y`` (N,)."""
    device = next(net.parameters()).device
    correct = 0
    for start in range(0, len(x), batch_size):
        xb = uint8_to_tanh_range(x[start:start + batch_size].to(device))  # (B, C, H, W)
        predicted = net(xb).argmax(1)  # (B,)
        correct += int((predicted == y[start:start + batch_size].to(device)).sum())
    return correct / len(x)


def data_fingerprint(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> str:
    """A cheap sha256 of a training set: shapes, dtypes, the class count, every label and a
    strided sample of about 2^20 of the image bytes."""
    digest = hashlib.sha256()
    digest.update(repr((tuple(x.shape), str(x.dtype), tuple(y.shape), str(y.dtype),
                        num_classes)).encode())
    flat = x.reshape(-1)  # (N*C*H*W,)
    stride = max(1, flat.numel() >> 20)
    digest.update(flat[::stride].contiguous().cpu().numpy().tobytes())
    digest.update(y.reshape(-1).contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def feature_net_for(x: torch.Tensor, y: torch.Tensor, num_classes: int, cache: Path | None, *,
                    steps: int = 1500, seed: int = 0,
                    held_out: tuple[torch.Tensor, torch.Tensor] | None = None) -> FeatureNet:
    """The FID classifier for a training set (uint8 ``x`` (N, C, H, W), labels ``y`` (N,)).

    If ``cache`` is a file written for the same data (:func:`data_fingerprint`), ``steps`` and
    ``seed``, its weights are loaded; otherwise the net is trained (:func:`train_feature_net`) and,
    when ``cache`` is given, saved there atomically (temp file in the same folder, then
    ``os.replace``) as ``{"state", "fingerprint", "steps", "seed", "accuracy"}``. ``accuracy`` is
    measured on ``held_out`` (uint8 images, labels) when given, else None; it is stored and set as
    ``net.accuracy``. An unreadable cache file is retrained and overwritten.
    """
    fingerprint = data_fingerprint(x, y, num_classes)
    if cache is not None and Path(cache).is_file():
        try:
            blob = load_checkpoint(cache)
        except CheckpointError:
            blob = {}
        if (blob.get("fingerprint"), blob.get("steps"), blob.get("seed")) == \
                (fingerprint, steps, seed):
            net = FeatureNet(x.shape[1], num_classes)
            net.load_state_dict(blob["state"])
            net.accuracy = blob["accuracy"]
            return net.to(x.device).eval()
    net = train_feature_net(x, y, num_classes, steps=steps, seed=seed)
    if held_out is not None:
        net.accuracy = classifier_accuracy(net, *held_out)
    if cache is not None:
        state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        save_checkpoint(cache, {"state": state, "fingerprint": fingerprint, "steps": steps,
                                "seed": seed, "accuracy": net.accuracy})
    return net


@torch.no_grad()
def extract_features(net: FeatureNet, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """:meth:`FeatureNet.features` of float images (N, C, H, W) in [-1, 1], in batches: (N, 128)
    float32 on ``images``' device."""
    device = next(net.parameters()).device
    out = [net.features(images[start:start + batch_size].to(device, torch.float32))
           for start in range(0, len(images), batch_size)]  # [(B, 128)]
    return torch.cat(out).to(images.device)  # (N, 128)


def fid_from_features(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """The Fréchet distance between the Gaussians fitted to features f1 (N1, F) and f2 (N2, F)."""
    return frechet_distance(*gaussian_stats(f1), *gaussian_stats(f2))


# ---- 2-D mixtures of Gaussians: modes covered, high-quality samples -----------------------------


def mixture_quality(samples: torch.Tensor, centers: torch.Tensor, std: float, *,
                    min_count: int | None = None) -> dict:
    """Modes covered and the share of high-quality samples (unrolled GAN, VEEGAN).

    ``samples`` (N, 2) are generated points, ``centers`` (K, 2) the mixture's means, ``std`` its
    components' standard deviation. A sample is high quality if its nearest centre is within
    3 std; a mode is covered if at least ``min_count`` high-quality samples have it as nearest
    centre (default max(1, ceil(0.008 N)): 20 of 2,500). Returns ``modes_covered``, ``modes``
    (K), ``high_quality`` (share in [0, 1]) and ``per_mode`` (high-quality counts per centre).
    """
    if len(samples) == 0:
        raise ValueError("no samples")
    if min_count is None:
        min_count = max(1, math.ceil(len(samples) * 8 / 1000))  # 0.8%, exact in integers
    # ||s_n - c_k||, computed directly (no matmul rounding)
    dist = torch.cdist(samples.to(torch.float64), centers.to(torch.float64),
                       compute_mode="donot_use_mm_for_euclid_dist")  # (N, K)
    nearest_dist, nearest = dist.min(1)  # (N,), (N,)
    # high quality: min_k ||s_n - c_k|| <= 3 std
    good = nearest_dist <= 3 * std  # (N,)
    per_mode = torch.bincount(nearest[good], minlength=len(centers))  # (K,)
    return {"modes_covered": int((per_mode >= min_count).sum()), "modes": len(centers),
            "high_quality": float(good.double().mean()), "per_mode": per_mode.tolist()}
