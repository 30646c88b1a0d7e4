"""SimCLR augmentations: each batched op against torchvision.transforms.v2.functional (or scipy)
image by image with explicit parameters, the crop sampler against RandomResizedCrop's,
probabilities, determinism, shapes and ranges, one-channel and non-square input, bad arguments."""

import math

import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from milestones.simclr import augment as A


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(b=8, c=3, h=20, w=24, seed=0) -> torch.Tensor:
    """Random images with the hard cases mixed in: pure 0/1 values, a few levels (ties between
    channels), grey pixels."""
    g = _gen(seed)
    x = torch.rand(b, c, h, w, generator=g)
    x[0] = x[0].round()
    if b > 1:
        x[1] = (x[1] * 4).round() / 4
    if b > 2 and c == 3:
        x[2, 1] = x[2, 0]  # R = G
        x[2, :, :4] = x[2, :1, :4]  # grey rows
    return x


def _stack(fn, x, *params):
    """Per-image reference: fn(x[i], param_1[i], ...), stacked."""
    return torch.stack([fn(x[i], *(p[i] for p in params)) for i in range(x.shape[0])])


# ----------------------------------------------------------------------------------------------
# The family and its defaults
# ----------------------------------------------------------------------------------------------


def test_ops_and_the_papers_default_policy():
    assert A.OPS == ("crop", "cutout", "color", "sobel", "noise", "blur", "rotate")
    imagenet = A.simclr_augmentation(224, 1.0, True)
    assert imagenet.ops == ("crop", "color", "blur") and imagenet.flip
    assert (imagenet.scale, imagenet.ratio) == ((0.08, 1.0), (3 / 4, 4 / 3))
    assert (imagenet.jitter_p, imagenet.gray_p, imagenet.blur_p) == (0.8, 0.2, 0.5)
    assert imagenet.blur_sigma == (0.1, 2.0) and imagenet.strength == 1.0
    cifar = A.simclr_augmentation(32, 0.5, False)
    assert cifar.ops == ("crop", "color") and cifar.strength == 0.5 and cifar.size == 32
    # 10% of the side, as the authors' code: radius (side // 10) // 2
    assert [A.blur_kernel_size(s) for s in (224, 32, 20, 19, 96)] == [23, 3, 3, 1, 9]


# ----------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,size", [((6, 3, 20, 24), 32), ((6, 3, 90, 70), 32),
                                        ((4, 1, 37, 29), 16), ((3, 3, 300, 400), 224)])
def test_resized_crop_matches_torchvision(shape, size):
    B, _, H, W = shape
    x = _images(*shape)
    boxes = A.sample_crop_boxes(B, H, W, (0.01, 1.0), (0.5, 2.0), _gen(1))
    boxes[0] = torch.tensor([0, 0, H, W])  # the whole image
    boxes[1] = torch.tensor([H - 1, W - 2, 1, 2])  # a corner sliver
    out = A.resized_crop(x, boxes, size)
    assert out.shape == (B, shape[1], size, size)
    ref = _stack(lambda img, b: TF.resized_crop(img, *b.tolist(), [size, size], antialias=False),
                 x, boxes)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_resized_crop_to_a_rectangle_matches_torchvision():
    x = _images(4, 3, 30, 20)
    boxes = A.sample_crop_boxes(4, 30, 20, (0.2, 1.0), (0.5, 2.0), _gen(2))
    out = A.resized_crop(x, boxes, (12, 17))
    ref = _stack(lambda img, b: TF.resized_crop(img, *b.tolist(), [12, 17], antialias=False),
                 x, boxes)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_flip_inside_the_crop_equals_flipping_after_it_and_hflip_matches_torchvision():
    x = _images(8, 3, 20, 24)
    boxes = A.sample_crop_boxes(8, 20, 24, (0.08, 1.0), (3 / 4, 4 / 3), _gen(3))
    mask = torch.tensor([True, False] * 4)
    crops = A.resized_crop(x, boxes, 16)
    assert torch.equal(A.resized_crop(x, boxes, 16, flip=mask), A.hflip(crops, mask))
    flipped = A.hflip(x, mask)
    for i in range(8):
        assert torch.equal(flipped[i], TF.horizontal_flip(x[i]) if mask[i] else x[i])


def _boxes(B, H, W, scale, ratio, seed):
    return A.sample_crop_boxes(B, H, W, scale, ratio, _gen(seed))


def test_crop_boxes_lie_inside_and_have_the_asked_area_and_ratio():
    B, H, W = 4000, 300, 400
    top, left, h, w = _boxes(B, H, W, (0.08, 1.0), (3 / 4, 4 / 3), 4).unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (h >= 1).all() and (w >= 1).all()
    assert (top + h <= H).all() and (left + w <= W).all()
    area = (h * w).double() / (H * W)
    assert area.min() >= 0.08 - 0.01 and area.max() <= 1.0
    r = w.double() / h.double()
    assert r.min() >= 3 / 4 - 0.01 and r.max() <= 4 / 3 + 0.01
    # corners spread over all the room there is (uniform top in 0..H-h)
    room = (H - h).clamp(min=1).double()
    assert abs((top / room).mean().item() - 0.5) < 0.03


def test_crop_corners_are_uniform_over_every_position_that_fits():
    # 4 x 4 boxes (area 16, ratio 1) in an 8 x 9 image: top in 0..4, left in 0..5, uniformly
    boxes = _boxes(3000, 8, 9, (16 / 72, 16 / 72), (1.0, 1.0), 8)
    assert (boxes[:, 2:] == 4).all()
    for column, positions in ((0, 5), (1, 6)):
        counts = torch.bincount(boxes[:, column], minlength=positions)
        assert len(counts) == positions
        assert (counts - 3000 / positions).abs().max() < 0.2 * 3000 / positions, counts


def test_crop_distribution_matches_torchvision_random_resized_crop():
    """The same algorithm: area, width and height distributions agree with RandomResizedCrop's
    (2000 draws of its own parameter sampler, global RNG seeded in a fork)."""
    B, H, W = 4000, 30, 50
    ours = _boxes(B, H, W, (0.08, 1.0), (3 / 4, 4 / 3), 5).double()
    rrc = v2.RandomResizedCrop(16)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        ref = torch.tensor([[p["top"], p["left"], p["height"], p["width"]] for p in (
            rrc.make_params([torch.empty(3, H, W)]) for _ in range(2000))]).double()
    for column, name in ((2, "h"), (3, "w")):
        assert abs(ours[:, column].mean() - ref[:, column].mean()) < 1.0, name
        assert abs(ours[:, column].std() - ref[:, column].std()) < 1.0, name
    area, ref_area = ours[:, 2] * ours[:, 3] / (H * W), ref[:, 2] * ref[:, 3] / (H * W)
    assert abs(area.mean() - ref_area.mean()) < 0.03
    # the unrestricted mean would be 0.54; large crops are often rejected on a 30 x 50 image
    assert 0.3 < area.mean() < 0.54


@pytest.mark.parametrize("hw,scale,ratio", [((32, 32), (0.9, 1.0), (3.0, 4.0)),
                                            ((32, 32), (0.9, 1.0), (0.25, 0.3)),
                                            ((24, 40), (1.0, 1.0), (0.2, 0.25)),
                                            ((40, 24), (1.0, 1.0), (3.0, 5.0))])
def test_crop_fallback_is_torchvisions_centre_crop(hw, scale, ratio):
    """No attempt can fit: every box is torchvision's deterministic fallback."""
    H, W = hw
    boxes = _boxes(50, H, W, scale, ratio, 6)
    p = v2.RandomResizedCrop(8, scale=scale, ratio=ratio).make_params([torch.empty(1, H, W)])
    expected = torch.tensor([p["top"], p["left"], p["height"], p["width"]])
    assert (boxes == expected).all(), (boxes[0], expected)


def test_crop_fallback_keeps_a_side_of_at_least_one():
    # torchvision would return h = round(32 / 100) = 0 here (our documented deviation)
    boxes = _boxes(10, 32, 32, (0.5, 1.0), (100.0, 200.0), 7)
    assert (boxes == torch.tensor([15, 0, 1, 32])).all()


def test_whole_image_crops_with_unit_scale_and_ratio_are_the_identity():
    x = _images(6, 3, 16, 16)
    aug = A.Augmentation(16, ops=("crop",), flip=False, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.equal(A.augment(x, aug, _gen()), x)


def test_rotate90_matches_torchvision_rotate():
    x = _images(8, 3, 12, 12)
    k = torch.tensor([0, 1, 2, 3, 1, 2, 3, 0])
    out = A.rotate90(x, k)
    assert torch.equal(out, _stack(lambda img, t: TF.rotate(img, 90.0 * int(t)), x, k))
    assert not torch.equal(out[1], x[1])
    rect = _images(2, 3, 8, 10)
    assert torch.equal(A.rotate90(rect, torch.tensor([2, 0])),
                       torch.stack([rect[0].flip(-1, -2), rect[1]]))
    with pytest.raises(ValueError, match="square"):
        A.rotate90(rect, torch.tensor([1, 0]))


# ----------------------------------------------------------------------------------------------
# Colour
# ----------------------------------------------------------------------------------------------


COLOR_OPS = [("brightness", A.adjust_brightness, TF.adjust_brightness, (0.0, 2.0)),
             ("contrast", A.adjust_contrast, TF.adjust_contrast, (0.0, 2.0)),
             ("saturation", A.adjust_saturation, TF.adjust_saturation, (0.0, 2.0)),
             ("hue", A.adjust_hue, TF.adjust_hue, (-0.5, 0.5))]


@pytest.mark.parametrize("name,ours,reference,bounds", COLOR_OPS, ids=[c[0] for c in COLOR_OPS])
@pytest.mark.parametrize("channels", [3, 1])
def test_color_op_matches_torchvision_per_image(name, ours, reference, bounds, channels):
    x = _images(16, channels, 12, 10, seed=8)
    factor = bounds[0] + (bounds[1] - bounds[0]) * torch.rand(16, generator=_gen(9))
    factor[:2] = torch.tensor(bounds)
    out = ours(x, factor)
    ref = _stack(lambda img, f: reference(img, float(f)), x, factor)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    if channels == 3 or name in ("brightness", "contrast"):
        assert not torch.allclose(out, x, atol=1e-3), "the op did nothing"
    else:  # saturation and hue leave one-channel images alone
        assert torch.equal(out, x)


def test_grayscale_matches_torchvision_where_masked():
    x = _images(8, 3, 10, 10)
    mask = torch.tensor([True, False, True, True, False, False, True, False])
    out = A.to_grayscale(x, mask)
    for i in range(8):
        ref = TF.rgb_to_grayscale(x[i], num_output_channels=3) if mask[i] else x[i]
        torch.testing.assert_close(out[i], ref, atol=1e-6, rtol=0)
    assert not torch.allclose(out[0], x[0])
    one = _images(4, 1, 10, 10)
    assert torch.equal(A.to_grayscale(one, torch.ones(4, dtype=torch.bool)), one)


def test_color_jitter_applies_each_images_own_order():
    B = 24
    x = _images(B, 3, 8, 8, seed=10)
    g = _gen(11)
    b, c, s = (0.2 + 1.6 * torch.rand(B, generator=g) for _ in range(3))
    h = 0.8 * torch.rand(B, generator=g) - 0.4
    order = torch.rand(B, 4, generator=g).argsort(dim=1)
    out = A.color_jitter(x, b, c, s, h, order)
    fns = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for i in range(B):
        ref = x[i]
        for op in order[i].tolist():
            ref = fns[op](ref, float((b, c, s, h)[op][i]))
        torch.testing.assert_close(out[i], ref, atol=2e-5, rtol=0)
    assert not torch.allclose(out, A.color_jitter(x, b, c, s, h, order.flip(1)), atol=1e-3)


# ----------------------------------------------------------------------------------------------
# Blur, cutout, Sobel, noise
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,kernel", [((6, 3, 20, 20), 3), ((4, 3, 40, 36), 23),
                                          ((3, 1, 16, 12), 9)])
def test_gaussian_blur_matches_torchvision_per_image(shape, kernel):
    x = _images(*shape)
    sigma = 0.1 + 1.9 * torch.rand(shape[0], generator=_gen(12))
    out = A.gaussian_blur(x, sigma, kernel)
    ref = _stack(lambda img, s: TF.gaussian_blur(img, [kernel, kernel], [float(s)] * 2),
                 x, sigma)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    assert not torch.allclose(out, x, atol=1e-3)
    assert torch.equal(A.gaussian_blur(x, sigma, 1), x)
    with pytest.raises(ValueError, match="odd"):
        A.gaussian_blur(x, sigma, 4)


def test_cutout_boxes_and_cutout_match_torchvision_erase():
    B, H, W = 400, 20, 30
    boxes = A.sample_cutout_boxes(B, H, W, (0.25, 0.5), _gen(13))
    top, left, h, w = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= H).all()
    assert (left + w <= W).all() and (h >= 1).all() and (w >= 1).all()
    # centres anywhere: boxes reach every border
    assert (top == 0).any() and (left == 0).any() and (top + h == H).any()
    assert (left + w == W).any()
    # squares of side 5..10 (0.25..0.5 of 20), smaller only where clipped by a border
    inner = (top > 0) & (left > 0) & (top + h < H) & (left + w < W)
    assert inner.sum() > 100
    assert (h[inner] == w[inner]).all() and h[inner].min() >= 5 and h[inner].max() <= 10
    x = _images(8, 3, H, W)
    out = A.cutout(x, boxes[:8])
    for i in range(8):
        ref = TF.erase(x[i], *boxes[i].tolist(), v=torch.tensor(0.0))
        assert torch.equal(out[i], ref), i


def test_sobel_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = _images(4, 3, 14, 11)
    out = A.sobel(x)
    gray = A.rgb_to_gray(x)[:, 0].double().numpy()
    for i in range(4):
        magnitude = torch.hypot(torch.from_numpy(ndimage.sobel(gray[i], axis=0, mode="nearest")),
                                torch.from_numpy(ndimage.sobel(gray[i], axis=1, mode="nearest")))
        ref = (magnitude / magnitude.max()).float().expand(3, -1, -1)
        torch.testing.assert_close(out[i], ref, atol=1e-5, rtol=0)
    assert out.amax(dim=(1, 2, 3)).eq(1).all() and out.min() >= 0
    flat = torch.full((2, 1, 8, 8), 0.3)
    assert torch.equal(A.sobel(flat), torch.zeros_like(flat))


def test_gaussian_noise_has_each_images_std():
    x = torch.full((4, 3, 64, 64), 0.5)
    std = torch.tensor([0.0, 0.02, 0.05, 0.1])
    out = A.gaussian_noise(x, std, _gen(14))
    diff = (out - x).flatten(1)
    assert torch.equal(out[0], x[0])
    torch.testing.assert_close(diff.std(dim=1)[1:], std[1:], rtol=0.05, atol=0)
    assert diff.mean(dim=1).abs().max() < 0.005
    bright = A.gaussian_noise(torch.ones(2, 3, 8, 8), torch.tensor([0.1, 0.2]), _gen(15))
    assert bright.max() == 1.0 and bright.min() < 1.0


# ----------------------------------------------------------------------------------------------
# augment: probabilities, determinism, shapes
# ----------------------------------------------------------------------------------------------


def _changed(out, x):
    return (out != x).flatten(1).any(dim=1).double().mean().item()


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_probabilities_of_flip_jitter_gray_and_blur(p):
    B = 4000
    x = _images(B, 3, 6, 6, seed=16)
    g = _gen(17)
    flipped = A.augment(x, A.Augmentation(6, ops=(), flip=True), g)
    is_flipped = (flipped == x.flip(-1)).flatten(1).all(dim=1)
    assert ((flipped == x).flatten(1).all(dim=1) | is_flipped).all()
    assert abs(is_flipped.double().mean().item() - 0.5) < 0.04
    jittered = A.augment(x, A.Augmentation(6, ops=("color",), flip=False, jitter_p=p,
                                           gray_p=0.0), g)
    assert abs(_changed(jittered, x) - p) < 0.04
    gray = A.augment(x, A.Augmentation(6, ops=("color",), flip=False, strength=0.0, gray_p=p),
                     g)
    is_gray = ((gray[:, 0] == gray[:, 1]) & (gray[:, 1] == gray[:, 2])).flatten(1).all(dim=1)
    assert abs(is_gray.double().mean().item() - p) < 0.04
    assert torch.equal(gray[~is_gray], x[~is_gray])
    blurred = A.augment(x, A.Augmentation(6, ops=("blur",), flip=False, blur_p=p,
                                          blur_kernel=3), g)
    assert abs(_changed(blurred, x) - p) < 0.04


def test_same_seed_same_views_other_seed_other_views_global_rng_untouched():
    x = _images(16, 3, 20, 24)
    aug = A.Augmentation(16, ops=A.OPS)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a, b = A.augment(x, aug, _gen(1)), A.augment(x, aug, _gen(1))
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), state), "the global RNG was used"
    assert not torch.allclose(a, A.augment(x, aug, _gen(2)), atol=1e-3)
    g = _gen(1)
    first, second = A.augment(x, aug, g), A.augment(x, aug, g)  # the generator moves on
    assert torch.equal(first, a) and not torch.allclose(first, second, atol=1e-3)


def test_two_views_are_two_different_views_of_each_image():
    x = _images(8, 3, 32, 32)
    aug = A.simclr_augmentation(32, 0.5, False)
    v1, v2 = A.two_views(x, aug, _gen(3))
    assert v1.shape == v2.shape == x.shape
    assert all(not torch.allclose(v1[i], v2[i], atol=1e-3) for i in range(8))
    w1, w2 = A.two_views(x, aug, _gen(3))
    assert torch.equal(v1, w1) and torch.equal(v2, w2)


@pytest.mark.parametrize("ops", [(op,) for op in A.OPS] + [A.OPS, ("color", "crop", "blur")])
@pytest.mark.parametrize("channels", [3, 1])
def test_output_shape_dtype_and_range(ops, channels):
    x = _images(6, channels, 20, 26)  # not square: "crop" or the up-front resize makes it so
    out = A.augment(x, A.Augmentation(16, ops=ops, blur_p=1.0), _gen(4))
    assert out.shape == (6, channels, 16, 16) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_uint8_and_float64_inputs():
    x = torch.randint(0, 256, (4, 3, 12, 12), generator=_gen(5), dtype=torch.uint8)
    aug = A.simclr_augmentation(12, 0.5, True)
    out = A.augment(x, aug, _gen(6))
    assert out.dtype == torch.float32
    assert torch.equal(out, A.augment(x.float() / 255, aug, _gen(6)))
    assert A.augment(x.double() / 255, aug, _gen(6)).dtype == torch.float64


def test_one_channel_images_colour_ops_that_need_rgb_do_nothing():
    x = _images(8, 1, 16, 16)
    aug = A.Augmentation(16, ops=("color",), flip=False, strength=0.0, gray_p=1.0)
    assert torch.equal(A.augment(x, aug, _gen()), x)
    out = A.augment(x, A.simclr_augmentation(12, 1.0, True), _gen())
    assert out.shape == (8, 1, 12, 12)


def test_without_crop_the_input_is_resized_only_if_needed():
    x = _images(4, 3, 20, 24)
    out = A.augment(x, A.Augmentation(16, ops=(), flip=False), _gen())
    ref = TF.resize(x, [16, 16], antialias=False)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    square = _images(4, 3, 16, 16)
    assert torch.equal(A.augment(square, A.Augmentation(16, ops=(), flip=False), _gen()), square)


def test_a_non_square_input_cropped_to_the_standard_cifar_view():
    x = _images(5, 3, 24, 40)
    out = A.augment(x, A.simclr_augmentation(32, 0.5, False), _gen(7))
    assert out.shape == (5, 3, 32, 32) and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("kwargs,message", [
    (dict(ops=("crop", "jpeg")), "unknown op 'jpeg'"),
    (dict(ops="crop"), "ops must be a tuple"),
    (dict(strength=-0.1), "strength"),
    (dict(strength=3.0), "strength"),
    (dict(strength=math.nan), "strength"),
    (dict(jitter_p=1.5), "jitter_p"),
    (dict(gray_p=-0.1), "gray_p"),
    (dict(scale=(0.5, 0.1)), "scale"),
    (dict(ratio=(0.0, 1.0)), "ratio"),
    (dict(blur_kernel=4), "blur_kernel"),
    (dict(blur_sigma=(0.0, 1.0)), "blur_sigma"),
    (dict(cutout_size=(0.5, 1.5)), "cutout_size"),
    (dict(noise_std=(-0.1, 0.1)), "noise_std"),
    (dict(size=0), "size"),
])
def test_bad_augmentations_are_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        A.Augmentation(**{"size": 32, **kwargs})


@pytest.mark.parametrize("x,generator,message", [
    (torch.rand(3, 8, 8), _gen(), "C, H, W"),
    (torch.rand(2, 2, 8, 8), _gen(), "C = 1 or 3"),
    (torch.zeros(2, 3, 8, 8, dtype=torch.int32), _gen(), "dtype"),
    (torch.rand(2, 3, 8, 8), None, "generator"),
    (torch.rand(2, 3, 8, 8), 0, "generator"),
])
def test_bad_inputs_are_refused_clearly(x, generator, message):
    with pytest.raises(ValueError, match=message):
        A.augment(x, A.simclr_augmentation(8, 0.5, False), generator)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
def test_cuda_gives_the_cpu_views():
    x = _images(16, 3, 40, 48)
    aug = A.Augmentation(32, ops=("crop", "color", "blur", "cutout", "sobel", "rotate"))
    cpu = A.augment(x, aug, _gen(8))
    cuda = A.augment(x.cuda(), aug, _gen(8))
    torch.testing.assert_close(cuda.cpu(), cpu, atol=1e-4, rtol=0)
