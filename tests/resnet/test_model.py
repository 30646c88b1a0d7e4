"""ResNet models, contract tier: sizes from the paper, shapes, gradients, the shortcut options."""

import pytest
import torch
import torch.nn.functional as F

from milestones.resnet import (
    MODELS,
    Bottleneck,
    cifar_resnet,
    plain20,
    plain34,
    resnet18,
    resnet20,
    resnet50,
    resnet56,
    resnet_tiny,
)
from milestones.resnet.model import shortcut_a


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


# Table 6 of the paper (CIFAR-10, in millions, as printed) and torchvision's counts (ImageNet).
@pytest.mark.parametrize("name, millions", [("resnet20", 0.27), ("resnet32", 0.46),
                                            ("resnet44", 0.66), ("resnet56", 0.85),
                                            ("resnet110", 1.7), ("resnet1202", 19.4)])
def test_cifar_parameter_counts_match_table_6(name, millions):
    digits = 1 if millions >= 1 else 2
    assert round(n_params(MODELS[name]()) / 1e6, digits) == millions


@pytest.mark.parametrize("name, count", [("resnet18", 11_689_512), ("resnet34", 21_797_672),
                                         ("resnet50", 25_557_032), ("resnet101", 44_549_160),
                                         ("resnet152", 60_192_808)])
def test_imagenet_parameter_counts_match_torchvision(name, count):
    assert n_params(MODELS[name]()) == count


def test_plain_nets_have_the_same_weights_minus_projections():
    assert n_params(plain20()) == n_params(resnet20())  # option A adds no parameters
    assert n_params(plain34()) < n_params(MODELS["resnet34"]())  # option B's 1x1 projections
    assert not any("downsample" in k for k in plain34().state_dict())


def test_depth_is_6n_plus_2():
    model = resnet56()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) + 1 == 56  # 55 conv layers + the FC layer
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_resnet(21)


@pytest.mark.parametrize("build, size, channels", [(resnet_tiny, 32, 3), (resnet20, 28, 1),
                                                   (plain20, 32, 3), (resnet18, 64, 3),
                                                   (resnet50, 64, 3)])
def test_forward_backward_contract(build, size, channels):
    torch.manual_seed(0)
    model = build(num_classes=7, in_channels=channels)
    x = torch.randn(4, channels, size, size)
    logits = model(x)
    assert logits.shape == (4, 7) and torch.isfinite(logits).all()
    F.cross_entropy(logits, torch.arange(4)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got no gradient"


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.randn(2, 16, 8, 8)
    y = shortcut_a(x, 32, 2)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2])
    assert (y[:, :8] == 0).all() and (y[:, 24:] == 0).all()


def test_shortcuts_make_blocks_start_as_identity():
    """With the last BN of every block zeroed (F(x) = 0), a ResNet's blocks pass their input
    through (Eq. 1) while a plain net's blocks output zero: the shortcut is really there."""
    torch.manual_seed(0)
    for plain in (False, True):
        model = cifar_resnet(20, plain=plain).eval()
        for m in model.modules():
            if hasattr(m, "bn2"):
                torch.nn.init.zeros_(m.bn2.weight)
        x = F.relu(torch.randn(2, 16, 32, 32))
        y = model.layer1(x)
        assert torch.allclose(y, x) if not plain else (y == 0).all()


def test_stride_in_1x1_moves_the_stride():
    v1, v15 = resnet50(stride_in_1x1=True), resnet50(stride_in_1x1=False)
    b1, b15 = v1.layer2[0], v15.layer2[0]
    assert isinstance(b1, Bottleneck)
    assert (b1.conv1.stride, b1.conv2.stride) == ((2, 2), (1, 1))
    assert (b15.conv1.stride, b15.conv2.stride) == ((1, 1), (2, 2))
    assert n_params(v1) == n_params(v15)
    v15.load_state_dict(v1.state_dict())
    x = torch.randn(1, 3, 64, 64)
    assert not torch.allclose(v1.eval()(x), v15.eval()(x))  # same weights, different nets


def test_he_initialisation():
    model = resnet20()
    w = model.layer3[0].conv2.weight  # 64 -> 64, 3x3: fan_out = 64 * 9
    assert abs(w.std().item() - (2 / (64 * 9)) ** 0.5) < 0.01
    assert (model.bn1.weight == 1).all() and (model.bn1.bias == 0).all()
