"""milestones.gan.evaluate: Parzen window, FID, our classifier's features, 2-D mixture modes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from milestones.gan import evaluate as ev

# ---- Parzen window ------------------------------------------------------------------------------


def parzen_reference(samples: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """The equation term by term, float64, over a (M, N, D) broadcast of the differences."""
    mu, x = samples.double(), x.double()
    diff = x[:, None, :] - mu[None, :, :]  # (M, N, D)
    exponent = -(diff**2).sum(-1) / (2 * sigma**2)  # (M, N)
    d = mu.shape[1]
    return (torch.logsumexp(exponent, 1) - math.log(len(mu))
            - d * math.log(sigma * math.sqrt(2 * math.pi)))


def pixels(n: int, d: int, seed: int) -> torch.Tensor:
    """MNIST-like float32 rows in [0, 1]: mostly 0, some bright pixels."""
    g = torch.Generator().manual_seed(seed)
    on = torch.rand(n, d, generator=g) < 0.2
    return (on * torch.rand(n, d, generator=g)).float()


@pytest.mark.parametrize("sigma", [0.1, 0.2154, 1.0])
def test_parzen_matches_the_equation_in_float64(sigma):
    mu, x = pixels(50, 784, 0), pixels(20, 784, 1)
    x[:3] = mu[:3]  # distance exactly 0 to one kernel: the clamp and cancellation matter
    x[3:5] = mu[3:5] + 1e-3  # and nearly 0
    got = ev.parzen_log_likelihood(mu, x, sigma)
    assert got.dtype == torch.float64 and got.shape == (20,)
    torch.testing.assert_close(got, parzen_reference(mu, x, sigma), rtol=1e-10, atol=0)


def test_parzen_is_finite_far_from_every_sample():
    # -||x - mu||^2 / (2 sigma^2) is about -4e4 here: exp underflows to 0 without logsumexp's shift
    mu, x = pixels(30, 784, 2), pixels(10, 784, 3) + 3.0
    got = ev.parzen_log_likelihood(mu, x, 0.1)
    assert torch.isfinite(got).all() and (got < -1e4).all()
    torch.testing.assert_close(got, parzen_reference(mu, x, 0.1), rtol=1e-10, atol=0)


def test_parzen_batches_give_the_unbatched_result():
    mu, x = pixels(40, 64, 4), pixels(23, 64, 5)
    whole = ev.parzen_log_likelihood(mu, x, 0.3, batch_size=1000)
    for batch_size in (1, 7, 23):
        torch.testing.assert_close(ev.parzen_log_likelihood(mu, x, 0.3, batch_size=batch_size),
                                   whole, rtol=1e-12, atol=0)


def test_parzen_of_one_sample_is_the_normal_density():
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)[:, None]  # (13, 1)
    for mean, sigma in [(0.0, 1.0), (0.7, 0.1), (-1.2, 0.46)]:
        mu = torch.tensor([[mean]], dtype=torch.float64)  # (1, 1)
        got = ev.parzen_log_likelihood(mu, x, sigma)
        want = torch.distributions.Normal(mu[0, 0], sigma).log_prob(x[:, 0])
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    # isotropic in D dimensions: the sum of D one-dimensional densities
    g = torch.Generator().manual_seed(6)
    mean, xs = torch.randn(1, 5, generator=g).double(), torch.randn(8, 5, generator=g).double()
    want = torch.distributions.Normal(mean[0], 0.5).log_prob(xs).sum(1)
    torch.testing.assert_close(ev.parzen_log_likelihood(mean, xs, 0.5), want)


def test_parzen_large_batched_path():
    # 2000 x 2000 x 784 in batches of 512 (the last one partial), checked on rows of each batch
    mu, x = pixels(2000, 784, 7), pixels(2000, 784, 8)
    got = ev.parzen_log_likelihood(mu, x, 0.2, batch_size=512)
    assert got.shape == (2000,) and torch.isfinite(got).all()
    rows = torch.tensor([0, 511, 512, 1535, 1536, 1999])
    torch.testing.assert_close(got[rows], parzen_reference(mu, x[rows], 0.2), rtol=1e-10, atol=0)


def test_choose_sigma_finds_the_known_maximum():
    # One kernel at 0 (the other 1000 away contributes exp(-1e8)): every val point is at distance
    # exactly sqrt(D) * s from it, so mean log p = -log 2 - D s^2 / (2 sigma^2) - D log sigma
    # - (D/2) log(2 pi), whose derivative in sigma, D s^2 / sigma^3 - D / sigma, vanishes at
    # sigma = s only: with s a grid value, the grid's argmax is s.
    grid = ev.paper_sigmas()
    s, d = grid[4], 8
    samples = torch.stack([torch.zeros(d), torch.full((d,), 1000.0)]).double()
    signs = torch.tensor([[1, -1, 1, 1, -1, -1, 1, -1], [-1, -1, 1, -1, 1, 1, 1, 1]]).double()
    val = signs * s
    sigma, val_ll = ev.choose_sigma(samples, val)
    assert sigma == s and len(val_ll) == 10
    want = [-math.log(2) - d * s**2 / (2 * g**2) - d * math.log(g) - d / 2 * math.log(2 * math.pi)
            for g in grid]
    np.testing.assert_allclose(val_ll, want, rtol=1e-10)
    # and a grid given by the caller
    sigma, _ = ev.choose_sigma(samples, val, [s / 3, s * 1.01, s * 3])
    assert sigma == pytest.approx(s * 1.01)


def test_paper_sigmas_are_logspace_minus_1_to_0():
    np.testing.assert_allclose(ev.paper_sigmas(), np.logspace(-1, 0, 10), rtol=1e-12)


def test_parzen_estimate_reports_mean_and_standard_error():
    mu, val, test = pixels(60, 16, 9), pixels(15, 16, 10), pixels(25, 16, 11)
    out = ev.parzen_estimate(mu, val, test, sigmas=[0.1, 0.3, 1.0])
    json.dumps(out)
    assert set(out) == {"mean", "sem", "sigma", "sigmas", "val_ll", "n_samples", "n_test"}
    assert (out["n_samples"], out["n_test"], out["sigmas"]) == (60, 25, [0.1, 0.3, 1.0])
    assert out["sigma"] == [0.1, 0.3, 1.0][int(np.argmax(out["val_ll"]))]
    ll = parzen_reference(mu, test, out["sigma"]).numpy()
    assert out["mean"] == pytest.approx(ll.mean(), rel=1e-12)
    assert out["sem"] == pytest.approx(ll.std() / math.sqrt(25), rel=1e-10)  # numpy std: ddof=0


# ---- Fréchet distance ---------------------------------------------------------------------------


def random_spd(f: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(f, f, generator=g, dtype=torch.float64)
    return a @ a.T / f + 0.1 * torch.eye(f, dtype=torch.float64)


def test_gaussian_stats_match_numpy():
    feats = torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    mu, cov = ev.gaussian_stats(feats)
    assert mu.dtype == cov.dtype == torch.float64
    np.testing.assert_allclose(mu.numpy(), feats.double().numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov.numpy(), np.cov(feats.double().numpy(), rowvar=False),
                               rtol=1e-10)


def test_sqrtm_psd_matches_scipy_and_squares_back():
    linalg = pytest.importorskip("scipy.linalg")
    for seed in range(3):
        a = random_spd(12, seed)
        root = ev.sqrtm_psd(a)
        np.testing.assert_allclose(root.numpy(), linalg.sqrtm(a.numpy()).real, atol=1e-8)
        torch.testing.assert_close(root @ root, a, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(root, root.T, rtol=0, atol=1e-12)
    # singular PSD (rank 3 of 6): still a root, no NaN from rounding below 0
    b = torch.randn(6, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    root = ev.sqrtm_psd(b @ b.T)
    assert torch.isfinite(root).all()
    torch.testing.assert_close(root @ root, b @ b.T, rtol=1e-8, atol=1e-10)


def test_frechet_distance_matches_scipy_formula():
    linalg = pytest.importorskip("scipy.linalg")
    g = torch.Generator().manual_seed(1)
    mu1, mu2 = torch.randn(10, generator=g).double(), torch.randn(10, generator=g).double()
    s1, s2 = random_spd(10, 2), random_spd(10, 3)
    a1, a2 = s1.numpy(), s2.numpy()
    want = (np.sum((mu1.numpy() - mu2.numpy())**2) + np.trace(a1) + np.trace(a2)
            - 2 * np.trace(linalg.sqrtm(a1 @ a2).real))
    assert ev.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-9)


def test_frechet_distance_closed_form_for_diagonal_covariances():
    # N(m1, diag d1) vs N(m2, diag d2): sum (m1 - m2)^2 + sum (sqrt d1 - sqrt d2)^2; a common
    # rotation Q changes nothing (Q D1 Q^T Q D2 Q^T = Q D1 D2 Q^T), zeros included (singular S)
    d1 = torch.tensor([0.0, 1.0, 4.0, 2.5], dtype=torch.float64)
    d2 = torch.tensor([1.0, 0.0, 9.0, 0.3], dtype=torch.float64)
    m1 = torch.tensor([0.0, 1.0, -2.0, 0.5], dtype=torch.float64)
    m2 = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    want = float(((m1 - m2)**2).sum() + ((d1.sqrt() - d2.sqrt())**2).sum())
    assert ev.frechet_distance(m1, torch.diag(d1), m2, torch.diag(d2)) == pytest.approx(want)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(2)).double())
    got = ev.frechet_distance(q @ m1, q @ torch.diag(d1) @ q.T, q @ m2, q @ torch.diag(d2) @ q.T)
    # rotated, the zero eigenvalues come out as +-1e-16 and their roots as 1e-8: sqrt(eps) is
    # the accuracy any root-based FID has on singular covariances
    assert got == pytest.approx(want, rel=1e-7)


def test_frechet_distance_is_zero_for_equal_stats_and_symmetric():
    g = torch.Generator().manual_seed(3)
    mu1, mu2 = torch.randn(8, generator=g), torch.randn(8, generator=g)
    s1, s2 = random_spd(8, 4), random_spd(8, 5)
    assert abs(ev.frechet_distance(mu1, s1, mu1, s1)) < 1e-10
    forward, backward = ev.frechet_distance(mu1, s1, mu2, s2), ev.frechet_distance(mu2, s2, mu1, s1)
    assert forward > 0.1 and forward == pytest.approx(backward, rel=1e-10)


def test_fid_from_features_is_the_distance_of_their_stats():
    g = torch.Generator().manual_seed(4)
    f1, f2 = torch.randn(300, 5, generator=g), torch.randn(200, 5, generator=g) * 2 + 1
    want = ev.frechet_distance(*ev.gaussian_stats(f1), *ev.gaussian_stats(f2))
    assert ev.fid_from_features(f1, f2) == want
    # near the population value: 5 * 1^2 (means) + 5 * (2 - 1)^2 (stds)
    assert ev.fid_from_features(f1, f2) == pytest.approx(10.0, rel=0.25)


# ---- our classifier's features ------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_feature_net_shapes(shape):
    net = ev.FeatureNet(shape[0], num_classes=10)
    x = torch.rand(2, *shape) * 2 - 1
    assert net(x).shape == (2, 10)
    assert net.features(x).shape == (2, 128)
    assert ev.extract_features(net, x, batch_size=1).shape == (2, 128)
    torch.testing.assert_close(ev.extract_features(net, x, batch_size=1), net.features(x))


def halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """28x28 uint8 images: class 0 bright in the top half, class 1 in the bottom half, noisy."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randint(0, 80, (n, 1, 28, 28), generator=g)
    rows = torch.arange(28)
    bright = (rows[None, :] < 14) == (y[:, None] == 0)  # (n, 28)
    x = x + 150 * bright[:, None, :, None]
    return x.to(torch.uint8), y


def test_train_feature_net_learns_a_separable_set():
    x, y = halves(256, 0)
    net = ev.train_feature_net(x, y, 2, steps=60, batch_size=32, seed=0)
    assert not net.training
    x_test, y_test = halves(200, 1)
    assert ev.classifier_accuracy(net, x_test, y_test) >= 0.95


def test_train_feature_net_is_deterministic_and_leaves_the_global_rng():
    x, y = halves(40, 2)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = ev.train_feature_net(x, y, 2, steps=3, batch_size=16, seed=7)
    assert torch.equal(torch.rand(3), before)
    b = ev.train_feature_net(x, y, 2, steps=3, batch_size=16, seed=7)
    c = ev.train_feature_net(x, y, 2, steps=3, batch_size=16, seed=8)
    for name, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[name])
    assert not torch.equal(a.head.weight, c.head.weight)


def test_feature_net_for_caches_and_retrains_on_other_data(tmp_path, monkeypatch):
    x, y = halves(32, 3)
    cache = tmp_path / "nets" / "fid_net.pt"
    calls = []
    train = ev.train_feature_net

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return train(*args, **kwargs)

    monkeypatch.setattr(ev, "train_feature_net", counting)
    first = ev.feature_net_for(x, y, 2, cache, steps=2, held_out=halves(16, 4))
    assert len(calls) == 1 and cache.is_file()
    assert [p.name for p in cache.parent.iterdir()] == ["fid_net.pt"]  # no temp file left
    assert 0.0 <= first.accuracy <= 1.0

    def refuse(*args, **kwargs):
        raise AssertionError("trained although the cache matches")

    monkeypatch.setattr(ev, "train_feature_net", refuse)
    second = ev.feature_net_for(x, y, 2, cache, steps=2)
    assert not second.training and second.accuracy == first.accuracy
    for name, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[name])

    monkeypatch.setattr(ev, "train_feature_net", counting)
    other = x.clone()
    other[0, 0, 0, 0] ^= 1  # one strided-sampled byte differs: another fingerprint
    ev.feature_net_for(other, y, 2, cache, steps=2)
    ev.feature_net_for(other, y, 2, cache, steps=3)  # other steps: trained again too
    assert len(calls) == 3
    assert ev.data_fingerprint(x, y, 2) != ev.data_fingerprint(x, 1 - y, 2)
    assert ev.data_fingerprint(x, y, 2) != ev.data_fingerprint(x, y, 3)


def test_uint8_to_tanh_range():
    x = torch.tensor([0, 255, 51], dtype=torch.uint8)
    torch.testing.assert_close(ev.uint8_to_tanh_range(x), torch.tensor([-1.0, 1.0, -0.6]))


# ---- 2-D mixtures -------------------------------------------------------------------------------


def ring(k: int = 8, radius: float = 2.0) -> torch.Tensor:
    angles = torch.arange(k) * 2 * math.pi / k
    return torch.stack([radius * angles.cos(), radius * angles.sin()], 1)  # (K, 2)


def test_mixture_samples_at_every_center():
    centers = ring()
    out = ev.mixture_quality(centers.repeat(100, 1), centers, 0.02)
    assert out == {"modes_covered": 8, "modes": 8, "high_quality": 1.0, "per_mode": [100] * 8}


def test_mixture_collapsed_and_far_samples():
    centers = ring()
    collapsed = centers[3].repeat(500, 1) + 0.01
    out = ev.mixture_quality(collapsed, centers, 0.02)
    assert out["modes_covered"] == 1 and out["per_mode"][3] == 500 and out["high_quality"] == 1.0
    far = torch.full((500, 2), 10.0)
    out = ev.mixture_quality(far, centers, 0.02)
    assert out["modes_covered"] == 0 and out["high_quality"] == 0.0 and sum(out["per_mode"]) == 0


def test_mixture_hand_computed_case():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = torch.tensor([[0.5, 0.0],  # mode 0, 0.5 std: high quality
                            [0.0, -2.9],  # mode 0, 2.9 std: high quality
                            [3.1, 0.0],  # nearest mode 0, 3.1 std: not
                            [10.0, 2.0],  # mode 1, 2 std: high quality
                            [0.0, 20.0]])  # nearest mode 2, 10 std: not
    out = ev.mixture_quality(samples, centers, 1.0, min_count=2)
    assert out == {"modes_covered": 1, "modes": 3, "high_quality": 0.6, "per_mode": [2, 1, 0]}
    assert ev.mixture_quality(samples, centers, 1.0, min_count=1)["modes_covered"] == 2
    assert ev.mixture_quality(samples, centers, 1.0)["modes_covered"] == 2  # ceil(0.04) -> 1


def test_mixture_default_threshold_is_20_of_2500():
    centers = ring(2)
    samples = torch.cat([centers[0].repeat(20, 1), centers[1].repeat(19, 1),
                         torch.full((2461, 2), 50.0)])
    out = ev.mixture_quality(samples, centers, 0.1)
    assert out["per_mode"] == [20, 19] and out["modes_covered"] == 1
