"""Inception-v3 for FID, from primitives: equal to torchvision's inception_v3 (its graph) and to
pytorch-fid's InceptionV3 (the FID graph) with the same random weights; weights files loaded
from disk, and refused clearly when they are something else."""

import pytest
import torch
import torchvision

from milestones.gan.inception import InceptionV3, load_inception


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random batch-norm affine parameters and running statistics, so that the check sees them
    (the defaults 1, 0, 0, 1 would hide a swapped or skipped one)."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data = 0.5 + torch.rand(m.num_features, generator=g)
            m.bias.data = 0.1 * torch.randn(m.num_features, generator=g)
            m.running_mean = 0.1 * torch.randn(m.num_features, generator=g)
            m.running_var = 0.5 + torch.rand(m.num_features, generator=g)
    return net.eval()


def images(n: int = 2, size: int = 64) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(1))


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())


@pytest.mark.slow
def test_the_torchvision_graph_equals_torchvision_inception_v3():
    ref = randomised(torchvision.models.inception_v3(weights=None, aux_logits=False,
                                                     init_weights=True))
    ours = InceptionV3(fid=False)
    ours.load_state_dict(ref.state_dict())  # key for key
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
    pool = {}
    ref.avgpool.register_forward_hook(lambda m, i, o: pool.update(x=o.flatten(1)))
    x = images()
    with torch.no_grad():
        ref(2 * torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear",
                                                align_corners=False) - 1)
        assert close(ours.eval()(x), pool["x"])


@pytest.mark.slow
def test_the_fid_graph_equals_pytorch_fids_inception_and_differs_from_torchvisions(monkeypatch):
    inception = pytest.importorskip("pytorch_fid.inception")
    ours = randomised(InceptionV3(fid=True))
    state = ours.state_dict()
    # pytorch-fid builds its graph, then loads the FID weights from a URL: here, ours instead
    monkeypatch.setattr(inception, "load_state_dict_from_url", lambda *a, **k: state)
    ref = inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    x = images()
    with torch.no_grad():
        want = ref(x)[0].flatten(1)
        got = ours(x)
        assert close(got, want)
        plain = InceptionV3(fid=False, num_classes=1008)
        plain.load_state_dict(state)
        assert not close(plain.eval()(x), want)  # the four FID modules matter


@pytest.mark.slow
def test_weights_files_load_by_their_class_count(tmp_path):
    fid = randomised(InceptionV3(fid=True), seed=2)
    torch.save(fid.state_dict(), tmp_path / "pt_inception.pth")
    tv = torchvision.models.inception_v3(weights=None, init_weights=False)  # with AuxLogits
    torch.save(tv.state_dict(), tmp_path / "inception_v3_google.pth")
    x = images(1)
    loaded = load_inception(tmp_path / "pt_inception.pth")
    assert loaded.fid and not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    with torch.no_grad():
        assert torch.equal(loaded(x), fid(x))
    assert not load_inception(tmp_path / "inception_v3_google.pth").fid


def test_other_files_are_refused_saying_what_they_hold(tmp_path):
    (tmp_path / "text.pth").write_text("not a checkpoint")
    torch.save({"weight": torch.zeros(2)}, tmp_path / "other.pth")
    wrong = InceptionV3(fid=False).state_dict()
    wrong["Mixed_5b.branch1x1.conv.weight"] = torch.zeros(1)
    torch.save(wrong, tmp_path / "wrong.pth")
    for name, says in (("text.pth", "not a torch state_dict"), ("other.pth", "no fc.weight"),
                       ("wrong.pth", "Mixed_5b.branch1x1.conv.weight")):
        with pytest.raises(ValueError, match=says):
            load_inception(tmp_path / name)


class MeanColour(torch.nn.Module):
    """A stand-in for Inception-v3 (the real one is tested above): each image's mean colour
    and its spread, from [0, 1] pixels, recording what it was given."""

    fid = True

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x)
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1) * self.scale


def test_inception_fid_scores_samples_and_training_images_against_test_images():
    from milestones.gan import train as T

    data = T.load_data("shapes", val_size=16, train_size=96, test_size=40)
    net = MeanColour()
    real = T.to_model(data.test.x[:40], "tanh")
    scores = T.inception_fid(net, data, "tanh", real, batch_size=16)
    assert set(scores) == {"fid_inception", "fid_inception_train_vs_test", "fid_inception_graph"}
    assert scores["fid_inception"] < 1e-6  # the test images themselves: distance 0
    assert scores["fid_inception_train_vs_test"] > 0
    x = torch.cat(net.seen)
    assert x.shape[1] == 3 and len(x) == 3 * 40 and max(len(b) for b in net.seen) == 16
    assert x.min() >= 0 and x.max() <= 1  # [0, 1] pixels, whatever G's range
    noise = torch.rand_like(real) * 2 - 1
    assert T.inception_fid(net, data, "tanh", noise)["fid_inception"] > 1e-3
