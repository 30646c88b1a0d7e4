"""The optimizers: equal to torch.optim step for step, both code paths equal, the paper's
properties, and what an Optimizer must support (groups, state dicts, schedulers, GradScaler)."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from milestones.adam import SGD, AdaDelta, AdaGrad, Adam, AdaMax, AdamW, RMSProp

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
])
def test_bad_hyper_parameters_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        make(mlp().parameters())


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
