"""SimCLR's model and loss: contract (sizes, shapes, gradients), NT-Xent (Eq. 1) against a loop
over the equation and against pytorch-metric-learning's NTXentLoss, and its all-gather across two
gloo processes against one process holding the whole batch."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from milestones.simclr import (
    ProjectionHead,
    nt_xent,
    simclr_resnet18,
    simclr_resnet50,
    simclr_tiny,
)

REPO = Path(__file__).resolve().parents[2]


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---- contract -----------------------------------------------------------------------------------

def test_resnet50_sizes():
    """The encoder is torchvision's ResNet-50 without its 1000-way classifier (25,557,032 -
    2,049,000 parameters); the head is 2048-2048-128 with BN after the hidden layer."""
    model = simclr_resnet50()
    assert n_params(model.encoder) == 23_508_032
    assert n_params(model.head) == 2048 * 2048 + 2 * 2048 + 2048 * 128 + 128
    assert model.dim_h == 2048 and model.head.dim_out == 128


def test_resnet50_encoder_loads_torchvision_weights_key_for_key():
    from torchvision.models import resnet50

    reference = resnet50().state_dict()
    missing, unexpected = simclr_resnet50().encoder.load_state_dict(
        {k: v for k, v in reference.items() if not k.startswith("fc.")}, strict=False)
    assert not missing and not unexpected


@pytest.mark.parametrize("head, dim", [("nonlinear", 8), ("linear", 8), ("none", 16)])
def test_shapes_and_heads(head, dim):
    model = simclr_tiny(head=head)
    h, z = model(torch.randn(6, 3, 32, 32))
    assert h.shape == (6, 16) and z.shape == (6, dim)
    if head == "none":
        assert torch.equal(h, z) and n_params(model.head) == 0


def test_cifar_resnet18_at_reduced_width():
    model = simclr_resnet18(width=16, in_channels=1)
    h, z = model(torch.randn(4, 1, 28, 28))
    assert h.shape == (4, 128) and z.shape == (4, 128)
    assert model.encoder.conv1.stride == (1, 1)  # App. B.9's CIFAR stem


def test_every_parameter_gets_a_gradient_from_the_loss():
    model = simclr_tiny()
    _, z = model(torch.randn(8, 3, 32, 32))
    nt_xent(z, 0.5).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_a_bad_head_is_refused():
    with pytest.raises(ValueError, match="nonlinear, linear or none"):
        ProjectionHead(16, 8, "mlp")


# ---- NT-Xent ------------------------------------------------------------------------------------

def nt_xent_loop(z: torch.Tensor, tau: float, normalize: bool = True) -> torch.Tensor:
    """Eq. 1 term by term: l(i, j) = -log exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau), with
    the positive of view i at i + N (mod 2N), averaged over the 2N anchors."""
    n2 = len(z)
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2

        def s(a, b):
            u, v = z[a].double(), z[b].double()
            return (u @ v / (u.norm() * v.norm())) if normalize else u @ v

        denominator = sum(math.exp(s(i, k) / tau) for k in range(n2) if k != i)
        total += -math.log(math.exp(s(i, j) / tau) / denominator)
    return torch.tensor(total / n2)


@pytest.mark.parametrize("n, tau, normalize", [(4, 0.5, True), (7, 0.1, True), (1, 1.0, True),
                                               (5, 0.5, False)])
def test_nt_xent_equals_the_equation(n, tau, normalize):
    g = torch.Generator().manual_seed(n)
    z = torch.randn(2 * n, 6, generator=g) * (0.3 if not normalize else 1)
    assert nt_xent(z, tau, normalize).item() == pytest.approx(nt_xent_loop(z, tau, normalize)
                                                              .item(), rel=1e-5)


def test_nt_xent_equals_pytorch_metric_learning():
    pml = pytest.importorskip("pytorch_metric_learning.losses")
    g = torch.Generator().manual_seed(0)
    for n, tau in ((16, 0.5), (5, 0.1), (33, 1.0)):  # 33: an odd, "partial" batch
        z = torch.randn(2 * n, 12, generator=g, requires_grad=True)
        labels = torch.arange(n).repeat(2)  # views k and N + k share a label: the positives
        reference = pml.NTXentLoss(temperature=tau)(z, labels)
        ours = nt_xent(z, tau)
        assert ours.item() == pytest.approx(reference.item(), rel=1e-5)
        (g_ours,) = torch.autograd.grad(ours, z)
        (g_ref,) = torch.autograd.grad(reference, z)
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-4, atol=1e-6)


def test_nt_xent_is_invariant_to_the_scale_of_z_only_when_normalised():
    z = torch.randn(10, 4)
    assert nt_xent(3 * z, 0.5).item() == pytest.approx(nt_xent(z, 0.5).item(), rel=1e-5)
    assert nt_xent(3 * z, 0.5, normalize=False).item() != pytest.approx(
        nt_xent(z, 0.5, normalize=False).item(), rel=1e-3)


def test_nt_xent_limits():
    """Each view equal to its positive and orthogonal to the other images: the loss goes to 0 as
    tau does. Every view identical: each positive is one of 2N - 1 equal terms, log(2N - 1)."""
    n = 4
    e = torch.eye(n)
    z = torch.cat([e, e])  # each view equals its positive, orthogonal to the rest
    assert nt_xent(z, 0.01).item() < 1e-6
    same = torch.ones(2 * n, 3)
    assert nt_xent(same, 0.5).item() == pytest.approx(math.log(2 * n - 1), rel=1e-6)


def test_nt_xent_refuses_an_odd_batch_and_a_bad_temperature():
    with pytest.raises(ValueError, match="2N rows"):
        nt_xent(torch.randn(5, 3), 0.5)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.randn(4, 3), 0.0)


# ---- all-gather across processes ----------------------------------------------------------------

WORKER = r"""
import os, sys, torch, torch.distributed as dist
from milestones.simclr.model import gather_views, nt_xent
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
w = torch.randn(5, 4, requires_grad=True)  # a shared "encoder": z = x @ w
x1, x2 = torch.randn(8, 5), torch.randn(8, 5)  # the global batch's two views (N = 8)
n = 8 // world
mine = slice(rank * n, (rank + 1) * n)
loss = nt_xent(gather_views(x1[mine] @ w, x2[mine] @ w), 0.5)
loss.backward()
dist.all_reduce(w.grad)  # what DDP does: the mean over ranks
w.grad /= world
torch.save({"loss": loss.detach(), "grad": w.grad}, sys.argv[1] + f"/rank{rank}.pt")
dist.destroy_process_group()
"""


def test_two_gloo_processes_equal_one_process_holding_the_whole_batch(tmp_path):
    """Global negatives: each rank's 4 images see all 8 images' views; the gradient through the
    all-gather, averaged over the ranks as DDP does, equals one process's gradient."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node=2", str(script), str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    torch.manual_seed(0)
    w = torch.randn(5, 4, requires_grad=True)
    x1, x2 = torch.randn(8, 5), torch.randn(8, 5)
    loss = nt_xent(torch.cat([x1 @ w, x2 @ w]), 0.5)
    loss.backward()
    for rank in (0, 1):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert got["loss"].item() == pytest.approx(loss.item(), rel=1e-6)
        torch.testing.assert_close(got["grad"], w.grad, rtol=1e-5, atol=1e-7)
