"""AlexNet models, contract and equivalence tiers: sizes, towers, initialisation, LRN and dropout
against their definitions and against torch's, torchvision's AlexNet loaded key for key."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from milestones.alexnet import (
    MODELS,
    Dropout,
    LocalResponseNorm,
    alexnet,
    alexnet2012,
    convnet4,
    dropout_mlp,
    lenet5,
    local_response_norm,
    lrn_alpha_for,
)


def test_parameter_counts():
    """The paper's "60 million parameters" (abstract, §4) and torchvision's 61,100,840; LeNet-5's
    ~60k (LeCun et al. 1998: "about 60,000"); Srivastava et al.'s 784-1024-1024-2048-10 net."""
    count = {name: sum(p.numel() for p in build().parameters()) for name, build in MODELS.items()}
    assert count["alexnet2012"] == 60_965_224
    assert count["alexnet"] == 61_100_840
    assert count["lenet5"] == 61_706
    assert count["dropout_mlp"] == 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 2048 + 2048 \
        + 2048 * 10 + 10


@pytest.mark.parametrize("name,shape", [("alexnet2012", (2, 3, 224, 224)),
                                        ("alexnet", (2, 3, 224, 224)), ("lenet5", (2, 1, 28, 28)),
                                        ("convnet4", (2, 3, 32, 32)),
                                        ("convnet4_tiny", (2, 3, 32, 32)),
                                        ("dropout_mlp", (2, 1, 28, 28))])
def test_outputs_and_gradients_with_other_class_counts(name, shape):
    kw = {"in_channels": 1} if name == "lenet5" else {}
    if name == "dropout_mlp":
        kw = {"hidden": (16, 16)}
    model = MODELS[name](num_classes=7, **kw)
    out = model(torch.randn(shape))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    out.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_the_two_towers_of_layers_2_4_5_see_only_their_own_maps():
    """§3.5: layer 2's kernels on GPU 1 take input only from layer 1's maps on GPU 1. Changing
    the second tower's 48 input maps changes none of the first tower's 128 outputs."""
    conv2 = alexnet2012().features[4]
    assert (conv2.in_channels, conv2.out_channels, conv2.groups) == (96, 256, 2)
    assert conv2.weight.shape == (256, 48, 5, 5)  # "256 kernels of size 5x5x48"
    x = torch.randn(1, 96, 27, 27)
    y = x.clone()
    y[:, 48:] = torch.randn(1, 48, 27, 27)
    with torch.no_grad():
        a, b = conv2(x), conv2(y)
    assert torch.equal(a[:, :128], b[:, :128]) and not torch.equal(a[:, 128:], b[:, 128:])
    convs = [m for m in alexnet2012().features if isinstance(m, nn.Conv2d)]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]  # layer 3 sees both towers
    assert [tuple(c.weight.shape[:2]) for c in convs] == [(96, 3), (256, 48), (384, 256),
                                                          (384, 192), (256, 192)]


def test_initialisation_follows_section_5():
    torch.manual_seed(0)
    model = alexnet2012()
    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert [float(m.bias.detach().unique()) for m in layers] == [0, 1, 0, 1, 1, 1, 1, 0]
    big = layers[5].weight  # fc6, 37.7M weights: the std is 0.01 to 3 digits
    assert abs(big.mean().item()) < 1e-4 and big.std().item() == pytest.approx(0.01, rel=1e-3)


def test_torchvision_alexnet_loads_key_for_key_with_equal_outputs_and_gradients():
    tvm = pytest.importorskip("torchvision.models")
    torch.manual_seed(0)
    ref = tvm.alexnet(num_classes=10)
    ours = alexnet(num_classes=10)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 3, 224, 224)
    ref.eval(), ours.eval()
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)
    ours(x).square().sum().backward()
    ref(x).square().sum().backward()
    for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name)


def lrn_by_the_equation(a, n, alpha, beta, k):
    """§3.3 by its sum, one map at a time."""
    N = a.shape[1]
    out = torch.empty_like(a)
    for i in range(N):
        lo, hi = max(0, i - n // 2), min(N - 1, i + n // 2)
        s = sum(a[:, j] ** 2 for j in range(lo, hi + 1))
        out[:, i] = a[:, i] / (k + alpha * s) ** beta
    return out


@pytest.mark.parametrize("n", [5, 3])
def test_lrn_equals_its_equation_and_nn_local_response_norm(n):
    torch.manual_seed(0)
    a = (torch.randn(2, 12, 5, 5) * 30).requires_grad_()  # large activities: the norm matters
    ours = LocalResponseNorm(n, alpha=1e-3, beta=0.75, k=2.0)
    torch.testing.assert_close(ours(a), lrn_by_the_equation(a, n, 1e-3, 0.75, 2.0),
                               rtol=1e-5, atol=1e-6)
    ref = nn.LocalResponseNorm(n, alpha=1e-3 * n, beta=0.75, k=2.0)  # its alpha multiplies a mean
    b = a.detach().clone().requires_grad_()
    torch.testing.assert_close(ours(a), ref(b), rtol=1e-5, atol=1e-6)
    g = torch.randn(2, 12, 5, 5)
    (ours(a) * g).sum().backward()
    (ref(b) * g).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ours(a), a / 2**0.75)  # the neighbours' activities count


def test_dropout_inverted_keeps_1_minus_p_scales_and_is_the_identity_in_eval():
    torch.manual_seed(0)
    x = torch.full((200_000,), 2.0)
    d = Dropout(0.3)
    y = d(x)
    kept = y != 0
    assert kept.float().mean().item() == pytest.approx(0.7, abs=0.005)
    assert torch.allclose(y[kept], torch.tensor(2.0 / 0.7))
    assert torch.equal(d.eval()(x), x)


def test_dropout_the_papers_way_keeps_units_unscaled_and_halves_at_test():
    """§4.2: "At test time, we use all the neurons but multiply their outputs by 0.5"."""
    torch.manual_seed(0)
    x = torch.full((200_000,), 2.0)
    d = Dropout(0.5, scaling="paper")
    y = d(x)
    assert set(y.unique().tolist()) == {0.0, 2.0}
    assert (y != 0).float().mean().item() == pytest.approx(0.5, abs=0.005)
    assert torch.equal(d.eval()(x), x * 0.5)
    assert y.mean().item() == pytest.approx(d(x).mean().item(), rel=0.01)  # E[train] = test


def test_dropout_matches_nn_dropout_in_distribution_and_gradient():
    """Same mask, same result: our inverted dropout's gradient is mask / (1 - p), like torch's."""
    torch.manual_seed(0)
    x = torch.randn(1000, requires_grad=True)
    y = Dropout(0.4)(x)
    y.sum().backward()
    mask = (y != 0).float()
    torch.testing.assert_close(x.grad, mask / 0.6)
    torch.testing.assert_close(y, x.detach() * mask / 0.6)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.5)


def test_alexnet2012_drops_after_fc6_and_fc7_in_training_only():
    torch.manual_seed(0)
    model = alexnet2012(num_classes=10)
    x = torch.randn(2, 3, 224, 224)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        model.train()
        assert not torch.equal(model(x), model(x))
    kinds = [type(m).__name__ for m in model.classifier]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert sum(isinstance(m, LocalResponseNorm) for m in model.features) == 2
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(3, 2)] * 3  # overlapping, §3.4


def test_the_switches_change_what_they_name():
    a = convnet4(lrn=False, pool="non-overlapping", act="tanh")
    assert not any(isinstance(m, LocalResponseNorm) for m in a.modules())
    assert all(m.kernel_size == 2 for m in a.modules() if isinstance(m, nn.MaxPool2d))
    assert any(isinstance(m, nn.Tanh) for m in a.modules())
    x = torch.randn(2, 3, 32, 32)
    assert a(x).shape == convnet4()(x).shape == (2, 10)  # same sizes either pooling


def test_lenet5_pads_28x28_digits_to_its_32x32_field():
    torch.manual_seed(0)
    model = lenet5()
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(model(x), model(F.pad(x, (2, 2, 2, 2))))


def test_dropout_mlp_drops_inputs_at_0_2_and_hidden_units_at_0_5():
    model = dropout_mlp(hidden=(8, 8))
    ps = [m.p for m in model.modules() if isinstance(m, Dropout)]
    assert ps == [0.2, 0.5, 0.5]


def test_convnet4_can_start_from_section_5s_gaussian():
    torch.manual_seed(0)
    model = convnet4(init_std=0.01)
    fc = model.classifier[0]
    assert fc.weight.std().item() == pytest.approx(0.01, rel=0.01)
    assert all(float(m.bias.detach().abs().max()) == 0 for m in model.modules()
               if isinstance(m, nn.Conv2d | nn.Linear))
    assert convnet4().features[0].weight.std().item() > 0.05  # PyTorch's default: 1/sqrt(3 * 75)


def test_lrn_alpha_for_our_inputs_gives_the_papers_net_on_0_255_pixels():
    """§3.3's alpha is set for 0-255 pixels. On pixels / 255 with alpha x 255^2 the net computes
    the paper's net on 0-255 pixels divided by 255, exactly (zero biases: every layer scales)."""
    torch.manual_seed(0)
    pixels = torch.rand(4, 3, 32, 32) * 255 - 120  # the mean image subtracted
    paper = convnet4(width=8, hidden=16, init_std=0.01)
    ours = convnet4(width=8, hidden=16, lrn_alpha=lrn_alpha_for(255))
    ours.load_state_dict(paper.state_dict())
    torch.testing.assert_close(ours(pixels / 255), paper(pixels) / 255, rtol=1e-4, atol=1e-9)
    # the paper's alpha on [0, 1] inputs: every denominator is k^beta, a constant division
    a = torch.rand(2, 8, 5, 5) * 0.5
    torch.testing.assert_close(local_response_norm(a), a / 2**0.75, rtol=1e-3, atol=0)
    assert not torch.allclose(local_response_norm(a * 255) / 255, a / 2**0.75, rtol=1e-2)
