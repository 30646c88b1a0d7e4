"""Contract and equivalence tests of the GAN and DCGAN models and the losses of Eq. 1 / §3."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from milestones.gan import (
    DCGANDiscriminator,
    Maxout,
    MaxoutDiscriminator,
    dcgan,
    dcgan28,
    dcgan32,
    dcgan64,
    dcgan_mlp,
    dcgan_tiny,
    discriminator_loss,
    gan_mnist,
    gan_tiny,
    generator_loss,
    value_function,
)


def count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# ---- parameter counts ----------------------------------------------------------------------------

def test_gan_mnist_has_the_released_configurations_sizes():
    model = gan_mnist()
    # mnist.yaml: G 100 -> 1200 -> 1200 -> 784 (weights + biases)
    g = (100 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 784 + 784)
    # D: maxout 784 -> 240 x 5 pieces -> 240 x 5 -> sigmoid unit
    d = (784 * 1200 + 1200) + (240 * 1200 + 1200) + (240 + 1)
    assert (count(model.generator), count(model.discriminator)) == (g, d) == (2_503_984,
                                                                             1_231_441)


def test_dcgan64_has_fig1s_sizes():
    model = dcgan64()
    # G: z (100) -> 4x4x1024 (no bias: batch norm follows), BN; 5x5 fractionally-strided
    # convolutions 1024 -> 512 -> 256 -> 128 -> 3 (BN after each but the last, which has a bias)
    g = 100 * 1024 * 16 + 2 * 1024
    for a, b in ((1024, 512), (512, 256), (256, 128)):
        g += a * b * 25 + 2 * b
    g += 128 * 3 * 25 + 3
    # D: 3 -> 128 (bias, no BN) -> 256 -> 512 -> 1024 (BN), flattened 4x4x1024 -> 1 logit
    d = 3 * 128 * 25 + 128
    for a, b in ((128, 256), (256, 512), (512, 1024)):
        d += a * b * 25 + 2 * b
    d += 1024 * 16 + 1
    assert (count(model.generator), count(model.discriminator)) == (g, d) == (18_855_043,
                                                                             17_232_897)


@pytest.mark.parametrize("build, shape", [(dcgan64, (3, 64, 64)), (dcgan32, (3, 32, 32)),
                                          (dcgan28, (1, 28, 28)), (gan_mnist, (1, 28, 28))])
def test_shapes_and_logits(build, shape):
    model = build()
    x = model.sample(3)
    assert x.shape == (3, *shape)
    logits = model.discriminator(x)
    assert logits.shape == (3,) and torch.isfinite(logits).all()


def test_output_ranges():
    assert dcgan_tiny().sample(16).abs().max() <= 1  # tanh
    x = gan_tiny().sample(16)
    assert x.min() >= 0 and x.max() <= 1  # sigmoid


def test_dcgan_discriminator_features_halve_the_size_each_layer():
    d = dcgan(32, 3, width=4).discriminator
    maps = d.features(torch.randn(2, 3, 32, 32))
    assert [tuple(m.shape) for m in maps] == [(2, 4, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4)]


def test_every_parameter_gets_a_gradient():
    for model in (dcgan_tiny(32, 3), gan_tiny(), dcgan_mlp((2,), nz=4, hidden=8)):
        model.train()
        z = model.sample_z(16)
        loss = discriminator_loss(model.discriminator(model.generator(z).detach() + 0.5),
                                  model.discriminator(model.generator(z)))
        loss.backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or
                   not p.grad.abs().sum() > 0]
        # maxout pieces that never win in a batch get no gradient: allowed for those only
        assert all(".maxouts." in n for n in missing), missing


def test_uniform_noise_for_dcgan_gaussian_for_the_gan():
    assert dcgan_tiny().noise == "uniform" and gan_tiny().noise == "gaussian"
    z = dcgan_tiny().sample_z(10_000)
    assert -1 <= z.min() < -0.99 and 0.99 < z.max() <= 1
    assert abs(gan_tiny().sample_z(10_000).std().item() - 1) < 0.02


def test_sample_leaves_the_mode_and_uses_running_stats():
    model = dcgan_tiny().train()
    g = torch.Generator().manual_seed(0)
    a = model.sample(5, generator=g)
    assert model.generator.training
    g = torch.Generator().manual_seed(0)
    assert torch.equal(a, model.sample(5, generator=g))
    z = model.sample_z(5)
    model.eval()  # batch norm's running statistics: a sample does not depend on its batch
    torch.testing.assert_close(model.generator(z)[:2], model.generator(z[:2]))


# ---- initialisation ------------------------------------------------------------------------------

def test_dcgan_init_is_normal_0_02():
    w = dcgan64().generator.blocks[0][0].weight  # 1024 x 512 x 5 x 5
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3


def test_gan_init_follows_the_released_code():
    mean = torch.rand(1, 28, 28) * 0.5 + 0.01
    model = gan_mnist(data_mean=mean)
    w = model.generator.hidden[0].weight
    assert w.abs().max() <= 0.05 and w.abs().max() > 0.049  # irange .05
    assert model.discriminator.maxouts[0].linear.weight.abs().max() <= 0.005  # irange .005
    # init_sigmoid_bias_from_marginals: sigmoid(b) = the mean pixel
    torch.testing.assert_close(torch.sigmoid(model.generator.out.bias), mean.flatten())


# ---- the losses ----------------------------------------------------------------------------------

def test_value_function_is_eq_1():
    real, fake = torch.randn(64) * 3, torch.randn(64) * 3
    d_real, d_fake = torch.sigmoid(real.double()), torch.sigmoid(fake.double())
    expected = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()  # Eq. 1
    torch.testing.assert_close(value_function(real, fake).double(), expected)
    torch.testing.assert_close(discriminator_loss(real, fake).double(), -expected)


def test_generator_losses_are_their_equations():
    fake = torch.randn(64) * 3
    d = torch.sigmoid(fake.double())
    torch.testing.assert_close(generator_loss(fake, saturating=True).double(),
                               torch.log(1 - d).mean())  # min_G log(1 - D(G(z)))
    torch.testing.assert_close(generator_loss(fake).double(), -torch.log(d).mean())  # §3


@pytest.mark.parametrize("logit", [-1e4, -100.0, 100.0, 1e4])
def test_losses_are_finite_for_saturated_logits(logit):
    x = torch.full((4,), logit, requires_grad=True)
    for loss in (discriminator_loss(x, x), generator_loss(x), generator_loss(x, True)):
        (grad,) = torch.autograd.grad(loss, x)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()


def test_saturating_loss_has_vanishing_gradient_where_d_rejects_g():
    """§3: "Early in learning, when G is poor, D can reject samples with high confidence ...
    log(1 - D(G(z))) saturates"; -log D(G(z)) gives strong gradients there."""
    rejected = torch.full((8,), -10.0, requires_grad=True)  # D(G(z)) = 4.5e-5
    (sat,) = torch.autograd.grad(generator_loss(rejected, saturating=True), rejected)
    (non,) = torch.autograd.grad(generator_loss(rejected), rejected)
    assert sat.abs().max() < 1e-4 / 8 and (non.abs() > 0.99 / 8).all()


# ---- maxout and the DCGAN nets against independent references ------------------------------------

def test_maxout_is_the_max_over_pieces():
    layer = Maxout(6, 4, 3)
    x = torch.randn(5, 6)
    z = x @ layer.linear.weight.T + layer.linear.bias  # (5, 12): unit i, piece j at i*3 + j
    expected = torch.stack([torch.stack([z[:, i * 3 + j] for j in range(3)]).amax(0)
                            for i in range(4)], 1)
    torch.testing.assert_close(layer(x), expected)


def test_maxout_discriminator_uses_inverted_dropout_only_in_training():
    d = MaxoutDiscriminator(10, (8, 8), 2).eval()
    x = torch.randn(4, 10)
    torch.testing.assert_close(d(x), d(x))
    d.train()
    torch.manual_seed(0)
    a = d(x)
    torch.manual_seed(1)
    assert not torch.equal(a, d(x))


def pytorch_example_nets(nz: int, ngf: int, ndf: int, nc: int):
    """G and D written the way the PyTorch DCGAN example writes them (64x64, kernel 4)."""
    g = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4),
        nn.ReLU(),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2),
        nn.ReLU(),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4),
        nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8),
        nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))
    return g, d


def test_dcgan_equals_the_pytorch_example_architecture_with_the_same_weights():
    """Our 64x64 DCGAN with kernel 4 is the PyTorch example's G and D: the projection of z is the
    example's 4x4 transposed convolution of a 1x1 input, D's last layer the example's 4x4 conv."""
    torch.manual_seed(0)
    ours = dcgan(64, 3, width=4, nz=10, kernel=4)
    g_ref, d_ref = pytorch_example_nets(10, 4, 4, 3)
    G, D = ours.generator, ours.discriminator
    with torch.no_grad():
        G.out.bias.zero_()
        D.first.bias.zero_()
        D.out.bias.zero_()
        # Linear (c0*16, nz) <-> ConvTranspose2d weight (nz, c0, 4, 4)
        g_ref[0].weight.copy_(G.project.weight.T.reshape(10, 32, 4, 4))
        ours_g = [G.project_bn, *[m for b in G.blocks for m in b if not isinstance(m, nn.ReLU)],
                  G.out]
        ref_g = [m for m in g_ref if not isinstance(m, nn.ReLU | nn.Tanh)][1:]
        ours_d = [D.first, *[m for b in D.blocks for m in b]]
        ref_d = [m for m in d_ref if not isinstance(m, nn.LeakyReLU)][:-1]
        for a, b in [*zip(ours_g, ref_g, strict=True), *zip(ours_d, ref_d, strict=True)]:
            b.weight.copy_(a.weight)
            if isinstance(a, nn.BatchNorm2d):
                b.bias.copy_(a.bias)
        d_ref[-1].weight.copy_(D.out.weight.reshape(1, 32, 4, 4))
    z = torch.rand(6, 10) * 2 - 1
    x = G(z)
    torch.testing.assert_close(x, g_ref(z[:, :, None, None]), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(D(x), d_ref(x).flatten(), atol=1e-5, rtol=1e-4)


def test_kernel_5_doubles_and_halves_like_kernel_4():
    for size in (28, 32, 64):
        model = dcgan(size, 3, width=2, nz=4, kernel=5)
        x = model.sample(2)
        assert x.shape == (2, 3, size, size)
        assert model.discriminator(x).shape == (2,)


def test_dcgan_rejects_sizes_without_a_layer_plan():
    with pytest.raises(ValueError, match="28, 32, 64"):
        dcgan(48)


def test_dcgan_discriminator_has_no_batch_norm_on_its_input_layer():
    d = DCGANDiscriminator((4, 8), channels=3, size=16)
    assert isinstance(d.first, nn.Conv2d) and d.first.bias is not None
    assert all(isinstance(b[1], nn.BatchNorm2d) for b in d.blocks)


def test_d_star_of_proposition_1_is_learned_on_two_gaussians():
    """Prop. 1: for fixed G the optimal D is p_data / (p_data + p_g). D (an MLP with DCGAN's
    ingredients, trained on discriminator_loss alone) learns it for N(0, 1) vs N(2, 1) in 1-D."""
    torch.manual_seed(0)
    d = nn.Sequential(nn.Linear(1, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2),
                      nn.Linear(32, 1))
    opt = torch.optim.SGD(d.parameters(), lr=0.1, momentum=0.9)
    for _ in range(800):
        real, fake = torch.randn(256, 1), torch.randn(256, 1) + 2
        loss = discriminator_loss(d(real).squeeze(1), d(fake).squeeze(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.linspace(-1, 3, 41)[:, None]
    p_data, p_g = torch.exp(-x ** 2 / 2), torch.exp(-(x - 2) ** 2 / 2)
    d_star = p_data / (p_data + p_g)
    with torch.no_grad():
        d_x = torch.sigmoid(d(x))
    assert (d_x - d_star).abs().max() < 0.08
    # and V(D*, G) = -log 4 + 2 JSD > -log 4 for p_g != p_data (Theorem 1's proof)
    assert -discriminator_loss(d(torch.randn(4096, 1)).squeeze(1),
                               d(torch.randn(4096, 1) + 2).squeeze(1)).item() > -math.log(4)


def test_d_separates_a_shifted_gaussian():
    """The maxout D of GAN §5 (with its dropout) tells N(0, I) from N(3, I) in 16-D."""
    torch.manual_seed(0)
    d = MaxoutDiscriminator(16, (32, 32), 5)
    opt = torch.optim.SGD(d.parameters(), lr=0.05, momentum=0.5)
    for _ in range(300):
        loss = discriminator_loss(d(torch.randn(100, 16)), d(torch.randn(100, 16) + 3 / 4))
        opt.zero_grad()
        loss.backward()
        opt.step()
    d.eval()
    with torch.no_grad():
        acc = ((d(torch.randn(2000, 16)) > 0).float().mean()
               + (d(torch.randn(2000, 16) + 3 / 4) < 0).float().mean()) / 2
    assert acc > 0.9  # Bayes: Phi(1.5) = 0.933 (the shift's length is 3)


def test_f_softplus_identities_hold():  # the stable forms the losses rely on
    x = torch.linspace(-30, 30, 61, dtype=torch.float64)
    torch.testing.assert_close(-F.softplus(-x), torch.log(torch.sigmoid(x)))
    torch.testing.assert_close(-F.softplus(x), torch.log(torch.sigmoid(-x)))  # log(1 - s(x))
