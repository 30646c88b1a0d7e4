"""ResNet models, contract tier: sizes from the paper, shapes, gradients, the shortcut options
(option A against its definition in every stage), and the CIFAR nets against a reference written
from the description of §4.2."""

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
from tests.conftest import randomize_batchnorm


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


def test_the_cifar_stem_of_the_imagenet_family():
    """SimCLR App. B.9 on CIFAR-10: 3x3/1 first conv, no max-pool. The widely quoted size of a
    CIFAR ResNet-18 (10 classes) is 11,173,962 parameters; the 7x7 stem's extra weights and the
    1000-way FC make the difference to torchvision's 11,689,512."""
    model = resnet18(stem="cifar", num_classes=10)
    assert n_params(model) == 11_173_962
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, torch.nn.Identity)
    x = torch.randn(2, 3, 32, 32)
    stages = model.layer4(model.layer3(model.layer2(model.layer1(model.bn1(model.conv1(x))))))
    assert stages.shape == (2, 512, 4, 4)  # 32 -> 4: three stride-2 stages, no stem stride
    half = resnet18(stem="cifar", width=32, num_classes=10)
    assert half.fc.in_features == 256 and n_params(half) < n_params(model) / 3.5
    assert resnet50(stem="cifar", num_classes=10).fc.in_features == 2048


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


# ---- option A (§3.3) and the CIFAR nets (§4.2), against their definitions -----------------------

def option_a(x: torch.Tensor, c_out: int) -> torch.Tensor:
    """§3.3 option A, written from its definition: the identity, subsampled by 2 (the stride of
    the first block of stages 2 and 3), with the extra channels filled by zeros. D6: the zeros go
    half before, half after the existing channels."""
    b, c_in, h, w = x.shape
    sub = torch.stack([torch.stack([x[:, :, i, j] for j in range(0, w, 2)], -1)
                       for i in range(0, h, 2)], -2)  # (B, C_in, H/2, W/2), element by element
    before = (c_out - c_in) // 2
    after = c_out - c_in - before
    zeros = sub.new_zeros
    return torch.cat([zeros(b, before, h // 2, w // 2), sub, zeros(b, after, h // 2, w // 2)], 1)


@pytest.mark.parametrize("c_in, c_out", [(16, 32), (32, 64), (4, 8), (3, 8)])
def test_option_a_shortcut_is_its_definition(c_in, c_out):
    x = torch.randn(2, c_in, 8, 6)
    y = shortcut_a(x, c_out, 2)
    assert torch.equal(y, option_a(x, c_out))


@pytest.mark.parametrize("build", [resnet20, resnet56, resnet_tiny])
def test_every_downsampling_block_adds_the_option_a_shortcut(build):
    """With F(x) = 0 (the last BN of each block zeroed), each block outputs ReLU(shortcut(x)):
    the first block of stages 2 and 3 gives option A of its input, every other block its input
    (Eq. 1). A block whose shortcut were dropped or zeroed would output zeros."""
    torch.manual_seed(0)
    model = build().eval()
    for m in model.modules():
        if hasattr(m, "bn2"):
            torch.nn.init.zeros_(m.bn2.weight)
            torch.nn.init.zeros_(m.bn2.bias)
    width = model.layer1[0].conv1.in_channels  # 16 (4 for the tiny net)
    x = F.relu(torch.randn(2, width, 32, 32))
    downsampling = 0
    with torch.no_grad():
        for stage in (1, 2, 3):
            for j, block in enumerate(getattr(model, f"layer{stage}")):
                y = block(x)
                if stage > 1 and j == 0:  # conv3_1, conv4_1: stride 2, channels doubled
                    expected = option_a(x, 2 * x.shape[1])
                    downsampling += 1
                else:
                    expected = x
                assert torch.equal(y, expected), (stage, j)
                x = y
    assert downsampling == 2 and x.shape[1:] == (4 * width, 8, 8) and x.abs().sum() > 0


def batch_norm(x, state, prefix, training):
    return F.batch_norm(x, state[prefix + ".running_mean"].clone(),
                        state[prefix + ".running_var"].clone(), state[prefix + ".weight"],
                        state[prefix + ".bias"], training=training, eps=1e-5)


def cifar_reference(x: torch.Tensor, state: dict, n: int, plain: bool, training: bool):
    """§4.2 written out, reading only the weights: a 3x3 conv (16 filters) with BN and ReLU;
    three stages of n basic blocks (2n layers) at 16, 32, 64 filters on 32, 16, 8 maps, the first
    block of stages 2 and 3 subsampling by a stride of 2; each block
    y = ReLU(BN(conv3x3(ReLU(BN(conv3x3(x))))) + shortcut(x)), the shortcut being the identity or,
    where the shape changes, option A (none at all in a plain net); global average pooling; a
    fully connected layer."""
    x = F.relu(batch_norm(F.conv2d(x, state["conv1.weight"], padding=1), state, "bn1", training))
    for stage in (1, 2, 3):
        for j in range(n):
            p = f"layer{stage}.{j}"
            stride = 2 if stage > 1 and j == 0 else 1
            out = F.conv2d(x, state[p + ".conv1.weight"], stride=stride, padding=1)
            out = F.relu(batch_norm(out, state, p + ".bn1", training))
            out = batch_norm(F.conv2d(out, state[p + ".conv2.weight"], padding=1), state,
                             p + ".bn2", training)
            if not plain:
                out = out + (option_a(x, out.shape[1]) if stride == 2 else x)
            x = F.relu(out)
    x = x.mean((2, 3))  # global average pooling: (B, 64)
    return x @ state["fc.weight"].T + state["fc.bias"]


@pytest.mark.parametrize("depth, width, plain", [(20, 16, False), (32, 16, False),
                                                 (20, 16, True), (8, 4, False)])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_cifar_nets_equal_the_section_4_2_description(depth, width, plain, training):
    """Our CIFAR nets compute what §4.2 describes, the same weights given to a reference written
    from the text: equal to 1e-5, in eval mode (running statistics) and training mode (batch
    statistics)."""
    torch.manual_seed(depth)
    model = cifar_resnet(depth, plain=plain, width=width)
    assert (model.layer1[0].conv1.in_channels, model.fc.in_features) == (width, 4 * width)
    randomize_batchnorm(model, shift=0.2)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ours = model.train(training)(x)
        reference = cifar_reference(x, state, (depth - 2) // 6, plain, training)
    assert ours.shape == (4, 10)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
