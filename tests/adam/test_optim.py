"""The optimizers: equal to torch.optim step for step, both code paths equal, the paper's
properties, and what an Optimizer must support (groups, state dicts, schedulers, GradScaler)."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from milestones.adam import (
    LARS,
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    AdaMax,
    AdamW,
    RMSProp,
    lars_param_groups,
)

CASES = {  # ours, torch's, hyper-parameters (several options at once where torch has them)
    "adam": (Adam, torch.optim.Adam, {}),
    "adam-l2-amsgrad": (Adam, torch.optim.Adam, {"weight_decay": 0.01, "amsgrad": True}),
    "adam-maximize": (Adam, torch.optim.Adam, {"maximize": True, "lr": 1e-4}),
    "adamw-amsgrad": (AdamW, torch.optim.AdamW, {"weight_decay": 0.1, "amsgrad": True}),
    "adamax": (AdaMax, torch.optim.Adamax, {"weight_decay": 0.01}),
    "adamax-maximize": (AdaMax, torch.optim.Adamax, {"maximize": True, "lr": 1e-4}),
    "sgd": (SGD, torch.optim.SGD, {"lr": 0.05}),
    "sgd-momentum": (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "sgd-nesterov-wd": (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True,
                                               "weight_decay": 1e-3, "maximize": False}),
    "adagrad": (AdaGrad, torch.optim.Adagrad, {"lr": 0.05, "lr_decay": 0.01,
                                               "weight_decay": 1e-3,
                                               "initial_accumulator_value": 0.1}),
    "rmsprop": (RMSProp, torch.optim.RMSprop, {"lr": 1e-3}),
    "rmsprop-centered-momentum": (RMSProp, torch.optim.RMSprop, {
        "lr": 1e-3, "momentum": 0.9, "centered": True, "weight_decay": 1e-3}),
    "adadelta": (AdaDelta, torch.optim.Adadelta, {"weight_decay": 1e-3, "maximize": True}),
}


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 3))


def groups(model: nn.Module, lr: float) -> list[dict]:
    """Two param groups, the first at half the learning rate."""
    return [{"params": model[0].parameters(), "lr": lr / 2},
            {"params": [*model[2].parameters(), *model[4].parameters()]}]


BATCHES = [(torch.randn(16, 10, generator=torch.Generator().manual_seed(i)),
            torch.randint(0, 3, (16,), generator=torch.Generator().manual_seed(i)))
           for i in range(300)]


def train(model: nn.Module, opt, steps=300, reload_at=None, rebuild=None):
    for i, (x, y) in enumerate(BATCHES[:steps]):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if i == reload_at:  # a fresh optimizer, from a saved state dict
            state = copy.deepcopy(opt.state_dict())
            opt = rebuild()
            opt.load_state_dict(state)
    return opt


@pytest.mark.parametrize("foreach", [False, True], ids=["per-tensor", "foreach"])
@pytest.mark.parametrize("case", list(CASES))
def test_equal_to_torch_optim_for_300_steps_with_a_reload(case, foreach):
    ours_cls, torch_cls, kw = CASES[case]
    a, b = mlp(), mlp()
    lr = kw.get("lr", ours_cls.__init__.__defaults__[0])

    def ours():
        return ours_cls(groups(a, lr), foreach=foreach, **kw)

    train(a, ours(), reload_at=149, rebuild=ours)
    train(b, torch_cls(groups(b, lr), foreach=foreach, **kw))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("case", list(CASES))
def test_per_tensor_and_foreach_paths_are_equal(case):
    ours_cls, _, kw = CASES[case]
    a, b = mlp(), mlp()
    lr = kw.get("lr", ours_cls.__init__.__defaults__[0])
    oa = train(a, ours_cls(groups(a, lr), foreach=False, **kw), steps=100)
    ob = train(b, ours_cls(groups(b, lr), foreach=True, **kw), steps=100)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-7, rtol=1e-6)
    for sa, sb in zip(oa.state.values(), ob.state.values(), strict=True):
        for key in sa:
            assert torch.allclose(sa[key], sb[key], atol=1e-7), key


def test_foreach_is_the_default():
    opt = Adam(mlp().parameters())
    assert opt.param_groups[0]["foreach"] is None  # None = foreach


def test_torch_state_dict_loads_into_ours_and_continues_identically():
    a, b = mlp(), mlp()
    ref_a = torch.optim.Adam(a.parameters(), lr=1e-3, amsgrad=True)
    ref_b = torch.optim.Adam(b.parameters(), lr=1e-3, amsgrad=True)
    train(a, ref_a, steps=50)
    train(b, ref_b, steps=50)
    ours = Adam(b.parameters(), lr=1e-3, amsgrad=True)
    ours.load_state_dict(ref_b.state_dict())  # torch's keys are ours
    for x, y in BATCHES[50:100]:
        for model, opt in ((a, ref_a), (b, ours)):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)
    assert ours.param_groups[0]["bias_correction"] is True  # our extra option got its default


def test_the_first_adam_step_has_size_alpha():
    """§2.1: the effective step is bounded by alpha; with bias correction, the first step is
    alpha * sign(g) (up to eps) whatever the gradient's scale."""
    for scale in (1e-6, 1.0, 1e6):
        theta = torch.zeros(5, requires_grad=True)
        opt = Adam([theta], lr=0.01, eps=1e-12)
        theta.grad = scale * torch.tensor([1.0, -2.0, 3.0, -4.0, 0.5])
        opt.step()
        assert torch.allclose(theta.detach().abs(), torch.full((5,), 0.01), rtol=1e-5)


def test_without_bias_correction_the_first_step_is_shrunk():
    """m_1 = (1 - b1) g and v_1 = (1 - b2) g^2: uncorrected, the first step is
    alpha (1 - b1) / sqrt(1 - b2) = 3.16 alpha for the defaults (§3, §6.4)."""
    theta = torch.zeros(3, requires_grad=True)
    opt = Adam([theta], lr=0.01, eps=0.0, bias_correction=False)
    theta.grad = torch.tensor([1.0, -2.0, 0.1])
    opt.step()
    expected = 0.01 * (1 - 0.9) / math.sqrt(1 - 0.999)
    assert torch.allclose(theta.detach().abs(), torch.full((3,), expected), rtol=1e-6)


def test_adamax_first_step_and_infinity_norm():
    theta = torch.zeros(3, requires_grad=True)
    opt = AdaMax([theta], lr=0.002, eps=0.0)
    theta.grad = torch.tensor([1.0, -2.0, 4.0])
    opt.step()
    assert torch.allclose(theta.detach().abs(), torch.full((3,), 0.002))
    theta.grad = torch.tensor([0.5, -5.0, 1.0])
    opt.step()
    u = opt.state[theta]["exp_inf"]
    assert torch.allclose(u, torch.tensor([0.999, 5.0, 3.996]))  # max(b2 u, |g|)


def test_optimizer_state_memory():
    """Adam keeps two tensors the size of the parameters (three with AMSGrad), plus a step count."""
    model = mlp()
    n = sum(p.numel() for p in model.parameters())
    for amsgrad, copies in ((False, 2), (True, 3)):
        opt = Adam(model.parameters(), amsgrad=amsgrad)
        model(torch.randn(2, 10)).sum().backward()
        opt.step()
        tensors = [t for s in opt.state.values() for k, t in s.items() if k != "step"]
        assert sum(t.numel() for t in tensors) == copies * n


def test_schedulers_and_param_groups():
    model = mlp()
    opt = Adam(groups(model, 1e-2))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    lrs = []
    for x, y in BATCHES[:5]:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    assert lrs[-1] == pytest.approx([5e-5, 1e-5])  # (1e-2 / 2, the default 1e-3) x 0.1^2


@pytest.mark.parametrize("foreach", [False, True])
def test_grad_scaler_skips_inf_steps_and_unscales(foreach):
    a, b = mlp(), mlp()
    ours, ref = Adam(a.parameters(), foreach=foreach), torch.optim.Adam(b.parameters())
    scalers = [torch.amp.GradScaler("cpu", init_scale=2.0**10) for _ in range(2)]
    for i, (x, y) in enumerate(BATCHES[:6]):
        for model, opt, scaler in ((a, ours, scalers[0]), (b, ref, scalers[1])):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y) * (float("inf") if i == 2 else 1.0)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)
    assert float(next(iter(ours.state.values()))["step"]) == 5  # the inf step was skipped


def test_parameters_without_gradients_are_left_alone():
    a, b = nn.Linear(3, 3), nn.Linear(3, 1)
    opt = Adam([*a.parameters(), *b.parameters()])
    a(torch.randn(2, 3)).sum().backward()
    before = b.weight.detach().clone()
    opt.step()
    assert torch.equal(b.weight, before) and b.weight not in opt.state


@pytest.mark.parametrize("make, message", [
    (lambda p: Adam(p, lr=-0.1), "invalid lr=-0.1"),
    (lambda p: Adam(p, betas=(1.0, 0.999)), "invalid beta1=1.0: must be in [0, 1)"),
    (lambda p: Adam(p, betas=(0.9, -0.1)), "invalid beta2=-0.1"),
    (lambda p: AdamW(p, eps=-1.0), "invalid eps"),
    (lambda p: AdaMax(p, betas=(0.9, 1.5)), "invalid beta2=1.5"),
    (lambda p: SGD(p, lr=0.1, nesterov=True), "nesterov"),
    (lambda p: AdaGrad(p, lr=-1.0), "AdaGrad: invalid lr"),
    (lambda p: RMSProp(p, alpha=1.0), "alpha"),
    (lambda p: AdaDelta(p, rho=2.0), "rho"),
    (lambda p: LARS(p, lr=-0.1), "LARS: invalid lr=-0.1"),
    (lambda p: LARS(p, lr=0.1, momentum=1.0), "LARS: invalid momentum=1.0: must be in [0, 1)"),
    (lambda p: LARS(p, lr=0.1, weight_decay=-1e-6), "LARS: invalid weight_decay=-1e-06"),
    (lambda p: LARS(p, lr=0.1, eta=0.0), "LARS: invalid eta=0.0"),
])
def test_bad_hyper_parameters_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        make(mlp().parameters())


# ---- LARS (SimCLR's LARSOptimizer) -----------------------------------------------------------

def conv_bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 3))


def lars_train(model: nn.Module, opt, steps: int, lrs=None):
    """Steps on random 6x6 images; ``lrs[i]`` (one per group) set before step i, as a schedule."""
    g = torch.Generator().manual_seed(0)
    for i in range(steps):
        x, y = torch.randn(8, 3, 6, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[i]
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return opt


@pytest.mark.parametrize("maximize", [False, True])
def test_lars_per_tensor_and_foreach_paths_are_identical(maximize):
    """Mixed groups (decay + adaptation, neither), a zero-initialised tensor, an lr that changes
    every step: the two paths agree bit for bit, parameters and momentum buffers."""
    a, b = conv_bn_net(), conv_bn_net()
    for m in (a, b):
        nn.init.zeros_(m[4].weight)  # ||w|| = 0 on the first step: trust ratio 1
    lrs = [0.1 * (i + 1) for i in range(8)]
    oa = lars_train(a, LARS(lars_param_groups(a, 1e-3), lr=0.1, eta=0.01, foreach=False,
                            maximize=maximize), 8, lrs)
    ob = lars_train(b, LARS(lars_param_groups(b, 1e-3), lr=0.1, eta=0.01, foreach=True,
                            maximize=maximize), 8, lrs)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(oa.state[p]["momentum_buffer"], ob.state[q]["momentum_buffer"])
    assert not torch.equal(a[4].weight, torch.zeros_like(a[4].weight))  # it did move


@pytest.mark.parametrize("foreach", [False, True], ids=["per-tensor", "foreach"])
def test_lars_two_steps_by_hand(foreach):
    """The equations, computed with floats: the trust ratio with weight decay in the gradient,
    ||w|| = 0 -> ratio 1, a zero gradient (no decay) -> ratio 1 and no step, momentum."""
    lr, m, wd, eta = 0.5, 0.9, 0.1, 0.02
    w1 = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    w2 = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    w3 = torch.tensor([1.0, -1.0], dtype=torch.float64, requires_grad=True)
    opt = LARS([{"params": [w1, w2]}, {"params": [w3], "weight_decay": 0.0}], lr=lr, momentum=m,
               weight_decay=wd, eta=eta, foreach=foreach)
    g1, g2 = [0.6, -0.8], [1.0, 2.0, 2.0]
    w1.grad, w2.grad = torch.tensor(g1, dtype=torch.float64), torch.tensor(g2, dtype=torch.float64)
    w3.grad = torch.zeros(2, dtype=torch.float64)
    opt.step()

    # w1: g = g1 + wd w1 = (0.9, -0.4); r = eta 5 / sqrt(0.97); v = lr r g
    g = [g1[0] + wd * 3.0, g1[1] + wd * 4.0]
    r = eta * 5.0 / math.hypot(*g)
    v1 = [lr * r * x for x in g]
    expected1 = [3.0 - v1[0], 4.0 - v1[1]]
    assert torch.allclose(w1.detach(), torch.tensor(expected1, dtype=torch.float64), rtol=1e-12)
    # w2: ||w|| = 0, so r = 1 (and wd w = 0): v = lr g
    v2 = [lr * x for x in g2]
    assert torch.allclose(w2.detach(), -torch.tensor(v2, dtype=torch.float64), rtol=1e-12)
    # w3: ||g|| = 0, so r = 1 (not 0/0): nothing moves, nothing is NaN
    assert torch.equal(w3.detach(), torch.tensor([1.0, -1.0], dtype=torch.float64))
    assert torch.equal(opt.state[w3]["momentum_buffer"], torch.zeros(2, dtype=torch.float64))

    # second step, same gradients: v_2 = m v_1 + lr r_2 g, r_2 from the new w1
    opt.step()
    g = [g1[0] + wd * expected1[0], g1[1] + wd * expected1[1]]
    r = eta * math.hypot(*expected1) / math.hypot(*g)
    v1 = [m * v + lr * r * x for v, x in zip(v1, g, strict=True)]
    expected1 = [w - v for w, v in zip(expected1, v1, strict=True)]
    assert torch.allclose(w1.detach(), torch.tensor(expected1, dtype=torch.float64), rtol=1e-12)
    assert torch.allclose(opt.state[w1]["momentum_buffer"], torch.tensor(v1, dtype=torch.float64),
                          rtol=1e-12)
    # w2 is no longer zero: r_2 = eta ||w2|| / ||g2 + wd w2||
    w2_1 = [-x for x in v2]
    g = [x + wd * w for x, w in zip(g2, w2_1, strict=True)]
    r = eta * math.hypot(*w2_1) / math.hypot(*g)
    expected2 = [w - (m * v + lr * r * x) for w, v, x in zip(w2_1, v2, g, strict=True)]
    assert torch.allclose(w2.detach(), torch.tensor(expected2, dtype=torch.float64), rtol=1e-12)


def test_lars_first_step_has_size_lr_eta_norm_w():
    """Without weight decay the adapted step is lr eta ||w|| g / ||g||: its size does not depend
    on the gradient's scale (the point of the trust ratio)."""
    for scale in (1e-6, 1.0, 1e6):
        w = torch.tensor([3.0, 4.0], requires_grad=True)
        opt = LARS([w], lr=2.0, weight_decay=0.0, eta=0.01)
        w.grad = scale * torch.tensor([1.0, -1.0])
        opt.step()
        assert torch.linalg.vector_norm(w.detach() - torch.tensor([3.0, 4.0])).item() == \
            pytest.approx(2.0 * 0.01 * 5.0, rel=1e-5)


@pytest.mark.parametrize("foreach", [False, True], ids=["per-tensor", "foreach"])
def test_lars_excluded_group_is_plain_momentum_in_the_codes_form(foreach):
    """adapt=False, weight_decay=0: v_t = m v_{t-1} + lr_t g_t, w -= v_t; a new lr scales only the
    new gradient (torch.optim.SGD's form, w -= lr_t (m b + g), would give another answer)."""
    w = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    opt = LARS([{"params": [w], "weight_decay": 0.0, "adapt": False}], lr=0.1, momentum=0.9,
               weight_decay=0.5, foreach=foreach)
    g1, g2 = torch.tensor([0.3, -0.1, 2.0]), torch.tensor([-1.0, 0.4, 0.2])
    w.grad = g1
    opt.step()
    opt.param_groups[0]["lr"] = 0.3
    w.grad = g2
    opt.step()
    w0 = torch.tensor([1.0, -2.0, 0.5])
    v1 = 0.1 * g1
    v2 = 0.9 * v1 + 0.3 * g2
    assert torch.allclose(w.detach(), w0 - v1 - v2, atol=1e-7)
    assert torch.allclose(opt.state[w]["momentum_buffer"], v2, atol=1e-7)
    sgd_form = w0 - 0.1 * g1 - 0.3 * (0.9 * g1 + g2)
    assert not torch.allclose(w.detach(), sgd_form, atol=1e-3)


@pytest.mark.parametrize("foreach", [False, True], ids=["per-tensor", "foreach"])
def test_lars_without_adaptation_or_decay_equals_torch_sgd_at_a_constant_lr(foreach):
    a, b = mlp(), mlp()
    train(a, LARS(a.parameters(), lr=0.05, momentum=0.9, weight_decay=0.0, adapt=False,
                  foreach=foreach), steps=50)
    train(b, torch.optim.SGD(b.parameters(), lr=0.05, momentum=0.9), steps=50)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(a[0].weight, mlp()[0].weight, atol=1e-3)  # it trained


def test_lars_param_groups_excludes_batch_norm_and_biases():
    net = conv_bn_net()
    conv, bn, lin = net[0], net[1], net[4]
    for source in (net, net.named_parameters()):
        decay, rest = lars_param_groups(source, 1e-6)
        assert {id(p) for p in decay["params"]} == {id(conv.weight), id(lin.weight)}
        assert {id(p) for p in rest["params"]} == {id(conv.bias), id(bn.weight), id(bn.bias),
                                                  id(lin.bias)}
        assert (decay["weight_decay"], decay["adapt"]) == (1e-6, True)
        assert (rest["weight_decay"], rest["adapt"]) == (0.0, False)
    # the excluded BN weight steps by exactly lr g on the first step; the conv weight by a
    # trust-ratio-scaled amount
    opt = LARS(lars_param_groups(net, 1e-6), lr=0.3)
    net(torch.randn(4, 3, 6, 6)).square().mean().backward()
    before = {k: v.detach().clone() for k, v in net.state_dict().items()}
    grads = {"1.weight": bn.weight.grad.clone(), "0.weight": conv.weight.grad.clone()}
    opt.step()
    assert torch.allclose(bn.weight, before["1.weight"] - 0.3 * grads["1.weight"], atol=1e-7)
    assert not torch.allclose(conv.weight, before["0.weight"] - 0.3 * grads["0.weight"],
                              atol=1e-5)


@pytest.mark.parametrize("foreach", [False, True], ids=["per-tensor", "foreach"])
def test_lars_state_dict_round_trip_resumes_identically(foreach):
    a, b = conv_bn_net(), conv_bn_net()

    def make(model):
        return LARS(lars_param_groups(model, 1e-4), lr=0.5, eta=0.01, foreach=foreach)

    oa = lars_train(a, make(a), 5)
    ob = lars_train(b, make(b), 5)
    assert all(set(s) == {"momentum_buffer"} for s in oa.state.values())
    fresh = make(a)
    fresh.load_state_dict(copy.deepcopy(oa.state_dict()))
    assert [g["adapt"] for g in fresh.param_groups] == [True, False]
    lars_train(a, fresh, 5)  # both continue on the same 5 batches
    lars_train(b, ob, 5)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_sparse_gradients_are_refused_clearly():
    emb = nn.Embedding(10, 3, sparse=True)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        Adam(emb.parameters()).step()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
@pytest.mark.parametrize("foreach", [False, True])
def test_cuda_equals_torch(foreach):
    a, b = mlp().cuda(), mlp().cuda()
    oa, ob = Adam(a.parameters(), foreach=foreach), torch.optim.Adam(b.parameters())
    for x, y in BATCHES[:50]:
        for model, opt in ((a, oa), (b, ob)):
            opt.zero_grad()
            F.cross_entropy(model(x.cuda()), y.cuda()).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5)
