"""ResNet, equivalence tier: torchvision's ResNets load key for key into ours and compute the
same function (v1.5 mode), in eval and in training mode, gradients included."""

import pytest
import torch
import torch.nn.functional as F
import torchvision

from milestones.resnet import MODELS
from tests.conftest import randomize_batchnorm


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_torchvision_weights_load_key_for_key_and_outputs_match(name):
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None)
    kw = {"stride_in_1x1": False} if name == "resnet50" else {}
    ours = MODELS[name](**kw)
    assert set(ours.state_dict()) == set(reference.state_dict())
    randomize_batchnorm(reference, shift=0.1)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x), reference.eval()(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_training_mode_outputs_and_gradients_match(name):
    torch.manual_seed(1)
    reference = getattr(torchvision.models, name)(weights=None, num_classes=10)
    kw = {"stride_in_1x1": False} if name == "resnet50" else {}
    ours = MODELS[name](num_classes=10, **kw)
    ours.load_state_dict(reference.state_dict())
    x, y = torch.randn(4, 3, 64, 64), torch.tensor([1, 2, 3, 4])
    losses = []
    for model in (ours.train(), reference.train()):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        losses.append(loss)
    assert torch.allclose(losses[0], losses[1], atol=1e-6)
    ref_grads = dict(reference.named_parameters())
    for key, p in ours.named_parameters():
        assert torch.allclose(p.grad, ref_grads[key].grad, atol=1e-5, rtol=1e-4), key
    for key, buf in ours.state_dict().items():  # running statistics updated identically
        assert torch.allclose(buf.float(), reference.state_dict()[key].float(), atol=1e-6), key


def test_our_weights_load_into_torchvision():
    ours = MODELS["resnet18"]()
    reference = torchvision.models.resnet18(weights=None)
    reference.load_state_dict(ours.state_dict(), strict=True)
