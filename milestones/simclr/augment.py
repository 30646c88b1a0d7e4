r"""SimCLR's data augmentations, batched. Chen, Kornblith, Norouzi, Hinton (2020), "A Simple
Framework for Contrastive Learning of Visual Representations", arXiv:2002.05709, §3 and App. A.

SimCLR learns by making two random views of the same image agree: "two separate data
augmentation operators are sampled from the same family of augmentations (t ~ T and t' ~ T) and
applied to each data example to obtain two correlated views" (§2.1). §3's finding is that
"composition of data augmentations plays a critical role in defining effective predictive
tasks": no single transformation suffices (Fig. 5, seven operators and their pairs), and "one
composition of augmentations stands out: random cropping and random color distortion" (colour
is needed because crops of one image share their colour histogram, an easy shortcut, Fig. 6).

Appendix A, the default policy (what :func:`simclr_augmentation` builds):

- Random crop and resize: "standard Inception-style random cropping": a crop of random size
  (area uniform in [0.08, 1.0] of the original) and random aspect ratio (in [3/4, 4/3]), "finally
  resized to the original size", as ``torchvision.transforms.RandomResizedCrop``. "The random
  crop (with resize) is always followed by a random horizontal/left-to-right flip with 50%
  probability." :func:`sample_crop_boxes` is torchvision's parameter algorithm (10 attempts,
  aspect ratio log-uniform, centre-crop fallback), vectorised over the batch.
- Colour distortion = colour jittering + colour dropping, with a strength s (1.0 on ImageNet,
  0.5 on CIFAR-10, App. B.9). The paper's PyTorch pseudo-code::

      color_jitter = transforms.ColorJitter(0.8*s, 0.8*s, 0.8*s, 0.2*s)
      rnd_color_jitter = transforms.RandomApply([color_jitter], p=0.8)
      rnd_gray = transforms.RandomGrayscale(p=0.2)
      color_distort = transforms.Compose([rnd_color_jitter, rnd_gray])

  i.e. brightness, contrast, saturation factors uniform in [max(0, 1 - 0.8s), 1 + 0.8s], hue
  shift uniform in [-0.2s, 0.2s], the four applied in a random order (torchvision's ColorJitter
  draws a permutation per call), each clamped to [0, 1].
- Gaussian blur (ImageNet only; CIFAR-10 goes without, App. B.9): "We blur the image 50% of the
  time using a Gaussian kernel. We randomly sample sigma in [0.1, 2.0], and the kernel size is
  set to be 10% of the image height/width." As the authors' code: radius = (side // 10) // 2,
  kernel 2 * radius + 1 (23 for 224, 3 for 32; 1, i.e. no blur, below a side of 20).

Fig. 5's other operators are ablations only ("the augmentation policy used to train our models
only includes random crop (with flip and resize), color distortion, and Gaussian blur", Fig. 4).
The paper gives no parameters for them beyond rotation's {90, 180, 270} degrees; ours are:

- cutout: one square per image, side uniform in ``cutout_size`` = [0.25, 0.5] of the shorter
  image side (DeVries & Taylor's 8 and 16 pixels on 32x32 CIFAR), centre uniform over the image,
  the part inside the image filled with 0 (black, as in Fig. 4(f)).
- sobel: deterministic; the gradient magnitude of the grey image (3x3 Sobel, replicate padding),
  divided by its per-image maximum to span [0, 1], copied to every channel.
- noise: additive N(0, sigma^2) per pixel, sigma uniform in ``noise_std`` = [0.05, 0.2] per
  image, clamped to [0, 1].
- rotate: by 90, 180 or 270 degrees (counter-clockwise), uniformly; needs square images.

Batching and randomness. Every function works on a whole (B, C, H, W) batch, each image with its
own parameters, on any device, with no Python loop over images. All random numbers come from an
explicit CPU ``torch.Generator``: parameters are drawn on the CPU (a fixed number of draws per
call, whatever is drawn), then moved to the images' device. Same generator state and same input
give bit-identical output; the global RNG is never touched. The one exception to "drawn on the
CPU" is the noise field of the ``noise`` op: it is drawn on the images' device from a generator
seeded by one draw from the CPU generator (so it is reproducible, but differs between devices).

One-channel images (C = 1): grey-scale conversion, saturation and hue are no-ops (as
torchvision does for one-channel tensors); brightness, contrast and everything else apply.

Deviations from torchvision / the authors' code:

- Resizing does no antialiasing (torchvision's ``antialias=False``; its default is True). It
  matters only where a crop is shrunk (ImageNet crops larger than 224); CIFAR crops are enlarged.
- Colour jitter is torchvision's (multiplicative brightness), as the paper's PyTorch pseudo-code;
  the authors' TensorFlow code uses an additive brightness delta.
- Blur pads by reflection (torchvision's); the authors' TensorFlow code zero-pads ('SAME').
- Crop sampling: torchvision's 10 attempts (the TensorFlow code makes up to 100); and where the
  fallback centre crop would have a side of 0 (absurd ratio ranges), the side is made 1.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "OPS", "Augmentation", "adjust_brightness", "adjust_contrast", "adjust_hue",
    "adjust_saturation", "augment", "blur_kernel_size", "color_jitter", "cutout",
    "gaussian_blur", "gaussian_noise", "hflip", "resized_crop", "rgb_to_gray", "rotate90",
    "sample_crop_boxes", "sample_cutout_boxes", "simclr_augmentation", "sobel", "to_grayscale",
    "two_views",
]

# Fig. 5's seven operators, by the names ``Augmentation.ops`` uses.
OPS: tuple[str, ...] = ("crop", "cutout", "color", "sobel", "noise", "blur", "rotate")

# ITU-R 601-2 luma, torchvision's (and PIL's) grey-scale weights.
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


# ----------------------------------------------------------------------------------------------
# The transformation family T
# ----------------------------------------------------------------------------------------------


def _is_range(pair, low: float = 0.0, high: float = math.inf, open_low: bool = False) -> bool:
    """``pair`` is (a, b) with low <= a <= b <= high (low < a if open_low); NaN fails."""
    if not (isinstance(pair, tuple | list) and len(pair) == 2):
        return False
    a, b = float(pair[0]), float(pair[1])
    return (low < a if open_low else low <= a) and a <= b <= high


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """One view's random transformation t ~ T (§3): the ops, in order, and their parameters.

    size:       output side (square), e.g. 32 for CIFAR-10, 224 for ImageNet.
    ops:        applied in this order; a subset of OPS. "crop" = random resized crop (+ flip);
                "color" = jitter with p = jitter_p, then grey-scale with p = gray_p; "blur" with
                p = blur_p; "cutout", "sobel", "noise", "rotate" always (see the module docs).
                Without "crop" the input is first resized to size x size (only if it differs)
                and flipped if ``flip``.
    flip:       random horizontal flip with p = 0.5, with the crop (App. A).
    scale:      crop area as a fraction of the image, uniform in this range (App. A: 0.08 to 1).
    ratio:      crop aspect ratio w / h, log-uniform in this range (App. A: 3/4 to 4/3).
    strength:   colour distortion strength s (App. A; 1.0 ImageNet, 0.5 CIFAR-10), 0 to 2.5
                (hue's range 0.2s may not pass torchvision's 0.5). 0 turns jitter off.
    jitter_p:   probability of colour jitter (App. A: 0.8).
    gray_p:     probability of grey-scale conversion (App. A: 0.2).
    blur_p:     probability of Gaussian blur (App. A: 0.5).
    blur_sigma: blur's sigma, uniform in this range (App. A: 0.1 to 2.0).
    blur_kernel: odd kernel side; None: 10% of the image side as the authors' code,
                :func:`blur_kernel_size` (3 at 32, 23 at 224).
    cutout_size: cutout square side, uniform in this fraction of the shorter side (our choice).
    noise_std:  Gaussian noise's per-image standard deviation, uniform in this range (our
                choice).
    """

    size: int
    ops: tuple[str, ...] = ("crop", "color")
    flip: bool = True
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    strength: float = 1.0
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel: int | None = None
    cutout_size: tuple[float, float] = (0.25, 0.5)
    noise_std: tuple[float, float] = (0.05, 0.2)

    def __post_init__(self):
        def fail(message: str):
            raise ValueError(f"Augmentation: {message}")

        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            fail(f"size must be a positive int, got {self.size!r}")
        if isinstance(self.ops, str) or not isinstance(self.ops, tuple | list):
            fail(f"ops must be a tuple of op names from {OPS}, got {self.ops!r}")
        object.__setattr__(self, "ops", tuple(self.ops))
        for op in self.ops:
            if op not in OPS:
                fail(f"unknown op {op!r}; the ops are {OPS}")
        if not _is_range(self.scale, 0.0, open_low=True):
            fail(f"scale must be (low, high) with 0 < low <= high, got {self.scale!r}")
        if not _is_range(self.ratio, 0.0, open_low=True):
            fail(f"ratio must be (low, high) with 0 < low <= high, got {self.ratio!r}")
        if not 0.0 <= float(self.strength) <= 2.5:
            fail(f"strength must be in [0, 2.5] (hue range 0.2*strength <= 0.5), "
                 f"got {self.strength!r}")
        for name in ("jitter_p", "gray_p", "blur_p"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                fail(f"{name} must be a probability in [0, 1], got {getattr(self, name)!r}")
        if not _is_range(self.blur_sigma, 0.0, open_low=True):
            fail(f"blur_sigma must be (low, high) with 0 < low <= high, got {self.blur_sigma!r}")
        k = self.blur_kernel
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1
                              or k % 2 == 0):
            fail(f"blur_kernel must be None or a positive odd int, got {k!r}")
        if not _is_range(self.cutout_size, 0.0, 1.0, open_low=True):
            fail(f"cutout_size must be (low, high) with 0 < low <= high <= 1, "
                 f"got {self.cutout_size!r}")
        if not _is_range(self.noise_std, 0.0):
            fail(f"noise_std must be (low, high) with 0 <= low <= high, got {self.noise_std!r}")


def simclr_augmentation(size: int, strength: float = 1.0, blur: bool = True) -> Augmentation:
    """The paper's default policy (App. A): random resized crop + flip, colour distortion
    (jitter with p 0.8, grey-scale with p 0.2) of strength s, and blur with p 0.5 if ``blur``
    (ImageNet: size 224, s = 1, blur; CIFAR-10, App. B.9: size 32, s = 0.5, no blur)."""
    return Augmentation(size=size, ops=("crop", "color", "blur") if blur else ("crop", "color"),
                        strength=strength)


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def _check_generator(generator) -> None:
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise ValueError(f"generator must be a CPU torch.Generator, got {generator!r}")


def _as_images(x) -> Tensor:
    """(B, C, H, W) floats in [0, 1]; uint8 is divided by 255."""
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] not in (1, 3):
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"expected images (B, C, H, W) with C = 1 or 3, got {shape}")
    if x.dtype == torch.uint8:
        return x.float().div_(255)
    if not x.is_floating_point():
        raise ValueError(f"expected float images in [0, 1] or uint8, got dtype {x.dtype}")
    return x


def _per_image(p: Tensor, x: Tensor) -> Tensor:
    """A (B,) parameter as (B, 1, 1, 1) on x's device and dtype, to broadcast over an image."""
    return torch.as_tensor(p).to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1)


def _uniform(shape, low: float, high: float, generator: torch.Generator) -> Tensor:
    """U[low, high), float64 on the CPU."""
    return low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64)


def _coin(batch: int, p: float, generator: torch.Generator) -> Tensor:
    """(B,) bool, each True with probability p."""
    return torch.rand(batch, generator=generator, dtype=torch.float64) < p


def _apply_to(x: Tensor, index: Tensor, fn: Callable[..., Tensor], *params: Tensor,
              **kwargs) -> Tensor:
    """fn on the images x[index] only (with their rows of each (B, ...) parameter), written back;
    the others are untouched. ``index`` is best on the CPU (no device sync)."""
    if index.numel() == x.shape[0]:
        return fn(x, *params, **kwargs)
    if index.numel() == 0:
        return x
    params = [torch.as_tensor(p) for p in params]
    picked = [p.index_select(0, index.to(p.device)) for p in params]
    index = index.to(x.device)
    return x.index_copy(0, index, fn(x.index_select(0, index), *picked, **kwargs))


def _where(mask: Tensor) -> Tensor:
    """Indices of the True entries of a (B,) mask, on the CPU."""
    return torch.as_tensor(mask).cpu().nonzero().squeeze(1)


# ----------------------------------------------------------------------------------------------
# Random resized crop and flip (App. A: "Inception-style random cropping")
# ----------------------------------------------------------------------------------------------


def sample_crop_boxes(batch: int, height: int, width: int, scale: tuple[float, float],
                      ratio: tuple[float, float], generator: torch.Generator,
                      attempts: int = 10) -> Tensor:
    """torchvision's ``RandomResizedCrop`` parameters for ``batch`` images of height x width, all
    at once: (B, 4) int64 boxes (top, left, h, w), on the CPU.

    Per image, up to ``attempts`` tries of: area ~ U(scale) * H * W, aspect ratio r = w / h
    log-uniform in ``ratio``, w = round(sqrt(area * r)), h = round(sqrt(area / r)); the first
    with 0 < w <= W and 0 < h <= H is taken, its top-left corner uniform over the positions that
    fit. If none fits: the whole image, centre-cropped to the nearest aspect ratio in range.
    """
    _check_generator(generator)
    area = height * width
    # all attempts for all images at once, float64 as torchvision's Python floats: (B, attempts)
    target_area = area * _uniform((batch, attempts), scale[0], scale[1], generator)
    log_r = _uniform((batch, attempts), math.log(ratio[0]), math.log(ratio[1]), generator)
    aspect = torch.exp(log_r)
    # w = round(sqrt(area * r)), h = round(sqrt(area / r)); torch.round is half-to-even as round()
    w = torch.round(torch.sqrt(target_area * aspect)).long()  # (B, attempts)
    h = torch.round(torch.sqrt(target_area / aspect)).long()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    # the first attempt that fits (argmax returns the first maximum); 0 where none does
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # (B, 1)
    found = fits.any(dim=1)  # (B,)
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)  # (B,)
    # top ~ U{0, ..., H - h}, left ~ U{0, ..., W - w}
    corner = torch.rand(batch, 2, generator=generator, dtype=torch.float64)
    top = (corner[:, 0] * (height - h + 1)).floor().long()
    left = (corner[:, 1] * (width - w + 1)).floor().long()

    # fallback: the central crop, the whole image clamped to the ratio range
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        fw, fh = int(round(height * max(ratio))), height
    else:
        fw, fh = width, height
    fw, fh = max(fw, 1), max(fh, 1)  # torchvision would give a side of 0 here
    fallback = torch.tensor([(height - fh) // 2, (width - fw) // 2, fh, fw])
    boxes = torch.stack([top, left, h, w], dim=1)  # (B, 4)
    return torch.where(found[:, None], boxes, fallback)


def _linear_taps(start: Tensor, length: Tensor, out: int) -> tuple[Tensor, ...]:
    """Bilinear resampling of the pixels [start, start + length) of one axis to ``out`` pixels,
    per image, as ``F.interpolate(mode="bilinear", align_corners=False)``: output pixel i reads
    the source coordinate u = (i + 0.5) * length / out - 0.5 (clamped at 0, crop coordinates),
    i.e. pixels i0 = floor(u) and i1 = min(i0 + 1, length - 1), blended as (1 - f) x[i0] +
    f x[i1], f = u - i0. Returns (i0, i1, f), each (B, out); indices in image coordinates.

    Float32 as interpolate's kernel: scale = length / out rounded to float32, and u rounded to
    float32 once (the kernel's fused multiply-add; float64 is exact here), so f is the kernel's
    (rounding u twice would move it by up to 3e-5 at a side of 500)."""
    scale = (length.float() / out).double()  # (B,) float32 values
    u = scale[:, None] * (torch.arange(out, dtype=torch.float64) + 0.5) - 0.5  # exact
    u = u.float().clamp(min=0)  # (B, out), one rounding
    i0 = torch.minimum(u.floor().long(), length[:, None] - 1)
    i1 = torch.minimum(i0 + 1, length[:, None] - 1)
    return start[:, None] + i0, start[:, None] + i1, u - i0


def resized_crop(x: Tensor, boxes: Tensor, size: int | tuple[int, int],
                 flip: Tensor | None = None) -> Tensor:
    """Crop each image to its box (top, left, h, w) and resize it bilinearly to ``size``, as
    ``torchvision.transforms.v2.functional.resized_crop(img, top, left, h, w, size,
    antialias=False)``; flip: optional (B,) bool, mirror those outputs (free: it only reverses
    the column taps). Boxes must lie inside the image. (B, C, H, W) -> (B, C, size, size).

    Bilinear is separable: blend the two source rows of every output row, then the two source
    columns of every output column. No antialiasing when shrinking (see the module docs)."""
    # DEVIATION(D2): no antialiasing when a crop is shrunk (torchvision's default antialiases)
    B, C, H, W = x.shape
    out_h, out_w = (size, size) if isinstance(size, int) else size
    boxes = torch.as_tensor(boxes).cpu().long()  # (B, 4) top, left, h, w
    top, left, h, w = boxes.unbind(1)
    r0, r1, wr1 = _linear_taps(top, h, out_h)  # (B, out_h)
    c0, c1, wc1 = _linear_taps(left, w, out_w)  # (B, out_w)
    if flip is not None:  # mirrored output: column j reads what column out_w - 1 - j read
        f = torch.as_tensor(flip).cpu().bool()[:, None]
        c0, c1, wc1 = (torch.where(f, t.flip(1), t) for t in (c0, c1, wc1))
    # rows: y[b, :, i] = lerp(x[b, :, r0[b, i]], x[b, :, r1[b, i]], wr1[b, i])  (B, C, out_h, W)
    # (whole rows are contiguous: pick them from x viewed as B*C*H rows of W pixels)
    first_row = (torch.arange(B * C) * H).view(B, C, 1)  # row index of each (b, c) plane
    all_rows = x.reshape(B * C * H, W)

    def rows(r: Tensor) -> Tensor:
        index = (first_row + r[:, None, :]).view(-1).to(x.device)
        return all_rows.index_select(0, index).view(B, C, out_h, W)

    weight = wr1.to(device=x.device, dtype=x.dtype)[:, None, :, None]  # (B, 1, out_h, 1)
    y = torch.lerp(rows(r0), rows(r1), weight)
    # columns: the same along the last axis                            (B, C, out_h, out_w)

    def cols(c: Tensor) -> Tensor:
        return y.gather(3, c.to(x.device)[:, None, None, :].expand(B, C, out_h, out_w))

    weight = wc1.to(device=x.device, dtype=x.dtype)[:, None, None, :]  # (B, 1, 1, out_w)
    return torch.lerp(cols(c0), cols(c1), weight)


def hflip(x: Tensor, mask: Tensor) -> Tensor:
    """Mirror left-right the images where mask (B,) is True. (B, C, H, W)."""
    return torch.where(torch.as_tensor(mask).to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)


# ----------------------------------------------------------------------------------------------
# Colour distortion (App. A): jitter, then grey-scale
# ----------------------------------------------------------------------------------------------


def rgb_to_gray(x: Tensor) -> Tensor:
    """Luma L = 0.2989 R + 0.587 G + 0.114 B: (B, 3, H, W) -> (B, 1, H, W); C = 1 passes."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return r.mul(GRAY_WEIGHTS[0]).add_(g, alpha=GRAY_WEIGHTS[1]).add_(
        b, alpha=GRAY_WEIGHTS[2]).unsqueeze(1)


def to_grayscale(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """Colour dropping: the luma copied to the 3 channels, where mask (B,) is True (all if None).
    A no-op on one-channel images."""
    if x.shape[1] == 1:
        return x
    gray = rgb_to_gray(x).expand_as(x)
    if mask is None:
        return gray.contiguous()
    return torch.where(torch.as_tensor(mask).to(x.device).view(-1, 1, 1, 1), gray, x)


def _blend(a: Tensor, b: Tensor, ratio: Tensor) -> Tensor:
    """ratio * a + (1 - ratio) * b, clamped to [0, 1] (torchvision's ``_blend``)."""
    return (a * ratio + b * (1 - ratio)).clamp_(0, 1)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """x * b, clamped to [0, 1]; factor (B,) >= 0."""
    return (x * _per_image(factor, x)).clamp_(0, 1)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Blend with the image's mean luma: c * x + (1 - c) * mean(L), clamped; factor (B,)."""
    mean = rgb_to_gray(x).mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return _blend(x, mean, _per_image(factor, x))


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Blend with the luma image: s * x + (1 - s) * L, clamped; factor (B,). No-op for C = 1."""
    if x.shape[1] == 1:
        return x
    return _blend(x, rgb_to_gray(x), _per_image(factor, x))


def adjust_hue(x: Tensor, hue: Tensor) -> Tensor:
    """Rotate the hue: H -> (H + hue) mod 1 in HSV space, saturation and value kept; hue (B,) in
    [-0.5, 0.5] (a fraction of the colour circle). No-op for C = 1.

    In HSV, V = max(R, G, B), V S = max - min = delta, and the hue in sixths of the circle is
        H6 = (G - B) / delta      if max = R
             2 + (B - R) / delta  if max = G
             4 + (R - G) / delta  otherwise          (0 where delta = 0, grey pixels)
    (torchvision's and Pillow's formulas). Back to RGB in closed form: channel n in
    (R, G, B) = (5, 3, 1) is V - delta clamp(min(k, 4 - k), 0, 1), k = (n + H6') mod 6, where
    H6' = H6 + 6 hue; so max and min stay put and only the hue moves."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)  # (B, H, W) each
    maxc = torch.maximum(torch.maximum(r, g), b)
    delta = maxc - torch.minimum(torch.minimum(r, g), b)
    # which channel is the max, as 0/1 floats (max - c >= 0, so sign() is 0 exactly at the max;
    # float masks because torch.where on bool masks is several times slower on CPUs)
    is_r = 1 - (maxc - r).sign()
    is_g = (1 - (maxc - g).sign()) * (1 - is_r)  # ties go to R first, then G
    is_b = 1 - is_r - is_g
    h6 = is_r * (g - b) + is_g * (b - r + 2 * delta) + is_b * (r - g + 4 * delta)
    h6 = h6 / (delta + (1 - delta.sign()))  # grey pixels (delta = 0): 0 / 1
    h6 = h6.unsqueeze(1) + 6 * _per_image(hue, x)  # (B, 1, H, W), shifted
    n = torch.tensor([5.0, 3.0, 1.0], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    k = torch.remainder(h6 + n, 6.0)  # (B, 3, H, W)
    return maxc.unsqueeze(1) - delta.unsqueeze(1) * torch.minimum(k, 4.0 - k).clamp_(0, 1)


# torchvision's ColorJitter op ids: 0 brightness, 1 contrast, 2 saturation, 3 hue
_JITTER_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def color_jitter(x: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor,
                 hue: Tensor, order: Tensor) -> Tensor:
    """torchvision's ``ColorJitter`` with explicit per-image parameters: factors (B,) each, and
    order (B, 4), a permutation of (0 brightness, 1 contrast, 2 saturation, 3 hue) per image:
    image b gets the op order[b, 0] first, then order[b, 1], ...

    Batched: at each of the 4 positions, each op is applied to the images that have it there."""
    factors = (brightness, contrast, saturation, hue)
    order = torch.as_tensor(order).cpu()  # (B, 4)
    if order.shape != (x.shape[0], 4) or not (order.sort(dim=1).values == torch.arange(4)).all():
        raise ValueError(f"order must be (B, 4) permutations of 0..3, got {tuple(order.shape)}")
    for position in range(4):
        out = torch.empty_like(x)  # every image is written once: one op per image here
        for op_id, (op, factor) in enumerate(zip(_JITTER_OPS, factors, strict=True)):
            index = _where(order[:, position] == op_id)
            if index.numel() > 0:
                factor = torch.as_tensor(factor)
                picked = factor.index_select(0, index.to(factor.device))
                index = index.to(x.device)
                out.index_copy_(0, index, op(x.index_select(0, index), picked))
        x = out
    return x


# ----------------------------------------------------------------------------------------------
# Gaussian blur (App. A)
# ----------------------------------------------------------------------------------------------


def blur_kernel_size(side: int) -> int:
    """The authors' code: kernel_size = side // 10, radius = kernel_size // 2, the kernel is
    2 * radius + 1 wide: 23 at 224, 3 at 32 (1, no blur, below 20)."""
    return 2 * ((side // 10) // 2) + 1


def gaussian_blur(x: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Blur each image with its own sigma (B,): the separable kernel
    g(t) proportional to exp(-t^2 / (2 sigma^2)), t = -r..r, r = kernel_size // 2, normalised to
    sum 1, reflect padding (torchvision's ``gaussian_blur``). (B, C, H, W) -> same."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size}")
    B, C, H, W = x.shape
    r = kernel_size // 2
    if r == 0 or B == 0:
        return x
    # torchvision: t = linspace(-lim, lim) with lim = r / sqrt(2), softmax(-(t / sigma)^2)
    lim = (kernel_size - 1) / (2.0 * math.sqrt(2.0))
    t = torch.linspace(-lim, lim, kernel_size, dtype=x.dtype)  # (k,)
    sigma = torch.as_tensor(sigma).cpu().to(x.dtype)
    kernel = torch.softmax(-(t / sigma[:, None]).pow(2), dim=1)  # (B, k)
    # one depthwise filter per (image, channel)
    kernel = kernel.repeat_interleave(C, dim=0).to(x.device)  # (B*C, k)
    y = F.pad(x, (r, r, r, r), mode="reflect").reshape(1, B * C, H + 2 * r, W + 2 * r)
    y = F.conv2d(y, kernel.view(B * C, 1, 1, kernel_size), groups=B * C)  # along W
    y = F.conv2d(y, kernel.view(B * C, 1, kernel_size, 1), groups=B * C)  # along H
    return y.view(B, C, H, W)


# ----------------------------------------------------------------------------------------------
# Fig. 5's other operators: cutout, Sobel filtering, Gaussian noise, rotation
# ----------------------------------------------------------------------------------------------


def sample_cutout_boxes(batch: int, height: int, width: int, size: tuple[float, float],
                        generator: torch.Generator) -> Tensor:
    """(B, 4) int64 boxes (top, left, h, w) on the CPU: a square of side uniform in
    ``size`` * min(H, W) (rounded, at least 1), centre uniform over the pixels, clipped to the
    image (so near a border the box is smaller)."""
    _check_generator(generator)
    u = torch.rand(batch, 3, generator=generator, dtype=torch.float64)
    side = torch.round((size[0] + (size[1] - size[0]) * u[:, 0]) * min(height, width))
    side = side.long().clamp(min=1)  # (B,)
    cy, cx = (u[:, 1] * height).floor().long(), (u[:, 2] * width).floor().long()
    top, left = cy - side // 2, cx - side // 2
    bottom, right = (top + side).clamp(max=height), (left + side).clamp(max=width)
    top, left = top.clamp(min=0), left.clamp(min=0)
    return torch.stack([top, left, bottom - top, right - left], dim=1)


def cutout(x: Tensor, boxes: Tensor, fill: float = 0.0) -> Tensor:
    """Set each image's box (top, left, h, w) (B, 4) to ``fill`` (DeVries & Taylor 2017)."""
    B, _, H, W = x.shape
    top, left, h, w = torch.as_tensor(boxes).to(x.device).long().unbind(1)  # (B,) each
    ys, xs = torch.arange(H, device=x.device), torch.arange(W, device=x.device)
    in_rows = (ys >= top[:, None]) & (ys < (top + h)[:, None])  # (B, H)
    in_cols = (xs >= left[:, None]) & (xs < (left + w)[:, None])  # (B, W)
    return x.masked_fill(in_rows[:, None, :, None] & in_cols[:, None, None, :], fill)


def sobel(x: Tensor) -> Tensor:
    """Sobel edge magnitude sqrt(Gx^2 + Gy^2) of the luma (3x3 kernels, replicate padding),
    divided by its per-image maximum (so it spans [0, 1]; a flat image gives 0), copied to all
    C channels. Deterministic. (B, C, H, W) -> same."""
    gray = F.pad(rgb_to_gray(x), (1, 1, 1, 1), mode="replicate")  # (B, 1, H+2, W+2)
    # Gx = [1 2 1]^T [-1 0 1] (d/dx, smoothed along y); Gy its transpose
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                      dtype=x.dtype, device=x.device)
    weight = torch.stack([gx, gx.T]).unsqueeze(1)  # (2, 1, 3, 3)
    grad = F.conv2d(gray, weight)  # (B, 2, H, W)
    magnitude = grad.pow(2).sum(dim=1, keepdim=True).sqrt()  # (B, 1, H, W)
    peak = magnitude.amax(dim=(2, 3), keepdim=True)
    magnitude = magnitude / torch.where(peak > 0, peak, torch.ones_like(peak))
    return magnitude.expand_as(x).contiguous()


def gaussian_noise(x: Tensor, std: Tensor, generator: torch.Generator) -> Tensor:
    """x + std * eps, eps ~ N(0, 1) per pixel from ``generator`` (on x's device), std (B,) per
    image; clamped to [0, 1]."""
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + _per_image(std, x) * eps).clamp_(0, 1)


def rotate90(x: Tensor, k: Tensor) -> Tensor:
    """Rotate image b by k[b] * 90 degrees counter-clockwise (as torchvision's ``rotate`` with a
    positive angle); k (B,) int. Odd k needs square images."""
    B, _, H, W = x.shape
    turns = torch.as_tensor(k).cpu().long() % 4  # (B,)
    if H != W and bool((turns % 2 == 1).any()):
        raise ValueError(f"rotate90: 90/270 degree turns need square images, got {H}x{W}")
    out = x
    for t in (1, 2, 3):
        out = _apply_to(out, _where(turns == t), torch.rot90, k=t, dims=(-2, -1))
    return out


# ----------------------------------------------------------------------------------------------
# t ~ T: draw the parameters, apply the ops in order
# ----------------------------------------------------------------------------------------------


def _random_crop(x: Tensor, aug: Augmentation, generator: torch.Generator) -> Tensor:
    B, _, H, W = x.shape
    boxes = sample_crop_boxes(B, H, W, aug.scale, aug.ratio, generator)  # (B, 4)
    flip = _coin(B, 0.5, generator) if aug.flip else None
    return resized_crop(x, boxes, aug.size, flip)


def _random_color(x: Tensor, aug: Augmentation, generator: torch.Generator) -> Tensor:
    B, s = x.shape[0], float(aug.strength)
    # RandomApply([ColorJitter(0.8s, 0.8s, 0.8s, 0.2s)], p=0.8)
    jitter = _coin(B, aug.jitter_p, generator)
    low, high = max(0.0, 1.0 - 0.8 * s), 1.0 + 0.8 * s
    brightness, contrast, saturation = (_uniform(B, low, high, generator) for _ in range(3))
    hue = _uniform(B, -0.2 * s, 0.2 * s, generator)
    order = torch.rand(B, 4, generator=generator).argsort(dim=1)  # a random permutation each
    # RandomGrayscale(p=0.2)
    gray = _coin(B, aug.gray_p, generator)
    if s > 0:
        x = _apply_to(x, _where(jitter), color_jitter, brightness, contrast, saturation, hue,
                      order)
    return to_grayscale(x, gray)


def _random_blur(x: Tensor, aug: Augmentation, generator: torch.Generator) -> Tensor:
    B, _, H, W = x.shape
    blur = _coin(B, aug.blur_p, generator)
    sigma = _uniform(B, *aug.blur_sigma, generator)
    k = aug.blur_kernel or blur_kernel_size(min(H, W))
    return _apply_to(x, _where(blur), gaussian_blur, sigma, kernel_size=k)


def _random_cutout(x: Tensor, aug: Augmentation, generator: torch.Generator) -> Tensor:
    B, _, H, W = x.shape
    return cutout(x, sample_cutout_boxes(B, H, W, aug.cutout_size, generator))


def _random_noise(x: Tensor, aug: Augmentation, generator: torch.Generator) -> Tensor:
    std = _uniform(x.shape[0], *aug.noise_std, generator)
    # the noise field itself is drawn on x's device, from a generator seeded from ours
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return gaussian_noise(x, std, torch.Generator(device=x.device).manual_seed(seed))


def _random_rotate(x: Tensor, aug: Augmentation, generator: torch.Generator) -> Tensor:
    return rotate90(x, torch.randint(1, 4, (x.shape[0],), generator=generator))


_STEPS = {"crop": _random_crop, "color": _random_color, "blur": _random_blur,
          "cutout": _random_cutout, "noise": _random_noise, "rotate": _random_rotate,
          "sobel": lambda x, aug, generator: sobel(x)}


def augment(x: Tensor, aug: Augmentation, generator: torch.Generator) -> Tensor:
    """One random view t(x) per image: (B, C, H, W) floats in [0, 1] (or uint8, divided by 255)
    -> (B, C, size, size) floats in [0, 1], each image with its own parameters drawn from the CPU
    ``generator``; ops in ``aug.ops`` order."""
    if not isinstance(aug, Augmentation):
        raise ValueError(f"aug must be an Augmentation, got {type(aug).__name__}")
    _check_generator(generator)
    x = _as_images(x)
    B, _, H, W = x.shape
    if "crop" not in aug.ops:  # resize (only if needed) and flip up front
        flip = _coin(B, 0.5, generator) if aug.flip else None
        if (aug.size, aug.size) != (H, W):
            x = resized_crop(x, torch.tensor([[0, 0, H, W]]).expand(B, 4), aug.size, flip)
        elif flip is not None:
            x = hflip(x, flip)
    for op in aug.ops:
        x = _STEPS[op](x, aug, generator)
    return x


def two_views(x: Tensor, aug: Augmentation, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Two independent views (x~_i, x~_j) of every image (§2.1), made in one batched call on the
    2B images (so not the same draws as two ``augment`` calls): each (B, C, size, size)."""
    views = augment(torch.cat([x, x]), aug, generator)
    return views[: x.shape[0]], views[x.shape[0]:]
