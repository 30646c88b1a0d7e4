"""The update rule against hand-written references; exploration; the Nature optimizer."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from milestones.adam import RMSProp
from milestones.dqn import ChainEnv
from milestones.dqn import train as T


def test_td_target_matches_a_hand_written_loop():
    torch.manual_seed(0)
    reward, q_next = torch.randn(16), torch.randn(16, 5)
    terminal = torch.rand(16) < 0.3
    y = T.td_target(reward, terminal, q_next, 0.99)
    for j in range(16):
        expected = reward[j].item() if terminal[j] else reward[j].item() + 0.99 * max(
            q_next[j].tolist())
        assert y[j].item() == pytest.approx(expected, abs=1e-6)


def test_huber_loss_clips_the_error_gradient_to_one():
    # d/dQ of the loss, per sample, is clip(Q - y, -1, 1) / B: Nature's "error clipping"
    q = nn.Linear(3, 2, bias=False)
    target = nn.Linear(3, 2, bias=False)
    batch = {"state": torch.eye(3)[[0, 1, 2, 0]], "next_state": torch.zeros(4, 3),
             "action": torch.tensor([0, 1, 0, 1]), "reward": torch.tensor([10.0, -10, 0.2, 0]),
             "terminal": torch.ones(4, dtype=torch.bool)}
    loss, _ = T.minibatch_loss(q, target, batch, 0.99, "huber")
    loss.backward()
    q_sa = q.weight.detach().T[batch["state"].argmax(1), batch["action"]]
    err = (q_sa - batch["reward"]).clamp(-1, 1) / 4
    expected = torch.zeros(2, 3)
    for j in range(4):
        expected[batch["action"][j], batch["state"][j].argmax()] += err[j]
    torch.testing.assert_close(q.weight.grad, expected)
    assert target.weight.grad is None  # no gradient through the target network


def test_epsilon_is_annealed_linearly_then_held():
    cfg = T.paper()
    assert T.epsilon(cfg, 0) == 1.0
    assert T.epsilon(cfg, 500_000) == pytest.approx(0.55)
    assert T.epsilon(cfg, 1_000_000) == T.epsilon(cfg, 40_000_000) == pytest.approx(0.1)


def test_nature_settings():
    cfg = T.paper()
    assert (cfg.lr, cfg.batch_size, cfg.gamma, cfg.update_every, cfg.target_update_every,
            cfg.learning_starts, cfg.memory_size, cfg.eval_epsilon, cfg.noop_max) == (
        2.5e-4, 32, 0.99, 4, 10_000, 50_000, 1_000_000, 0.05, 30)
    opt = T.build_optimizer(cfg, [nn.Parameter(torch.zeros(1))])
    group = opt.param_groups[0]
    assert isinstance(opt, RMSProp) and group["centered"] and group["eps_in_sqrt"]
    assert (group["alpha"], group["eps"]) == (0.95, 0.01)


@pytest.mark.parametrize("foreach", [False, True])
def test_deepmind_rmsprop_matches_its_equations(foreach):
    torch.manual_seed(0)
    p = nn.Parameter(torch.randn(50))
    theta = p.detach().clone()
    opt = RMSProp([p], lr=2.5e-4, alpha=0.95, eps=0.01, centered=True, eps_in_sqrt=True,
                  foreach=foreach)
    g_bar, g2_bar = torch.zeros(50), torch.zeros(50)
    for _ in range(100):
        g = torch.randn(50)
        p.grad = g.clone()
        opt.step()
        g_bar = 0.95 * g_bar + 0.05 * g  # "gradient momentum"
        g2_bar = 0.95 * g2_bar + 0.05 * g * g  # "squared gradient momentum"
        theta -= 2.5e-4 * g / torch.sqrt(g2_bar - g_bar**2 + 0.01)  # "min squared gradient"
    torch.testing.assert_close(p.detach(), theta)


def test_deepmind_rmsprop_equals_torch_centered_rmsprop_when_eps_is_zero():
    torch.manual_seed(1)
    a, b = nn.Parameter(torch.randn(20)), nn.Parameter(torch.randn(20))
    b.data.copy_(a.data)
    ours = RMSProp([a], lr=1e-3, alpha=0.95, eps=0.0, centered=True, eps_in_sqrt=True)
    ref = torch.optim.RMSprop([b], lr=1e-3, alpha=0.95, eps=0.0, centered=True)
    for _ in range(50):
        g = torch.randn(20)
        a.grad, b.grad = g.clone(), g.clone()
        ours.step()
        ref.step()
    torch.testing.assert_close(a.detach(), b.detach())


def test_acting_is_epsilon_greedy():
    import random

    q = nn.Linear(2, 3)
    with torch.no_grad():
        q.weight.zero_()
        q.bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    rng = random.Random(0)
    obs = np.zeros(2, np.float32)
    assert {T.act(q, obs, 0.0, 3, rng, torch.device("cpu")) for _ in range(50)} == {1}
    draws = [T.act(q, obs, 1.0, 3, rng, torch.device("cpu")) for _ in range(3000)]
    assert set(draws) == {0, 1, 2} and abs(draws.count(0) / 3000 - 1 / 3) < 0.05


@pytest.mark.parametrize("seed", [0, 1])
def test_learns_the_chain_mdp_optimal_q(tmp_path, seed):
    """On an 8-state corridor, the learned Q approaches Q* and the greedy policy walks right."""
    cfg = dataclasses.replace(
        T.quick(), env="Chain-v0", hidden=64, gamma=0.9, total_steps=4000, learning_starts=500,
        eps_steps=2000, eps_end=0.1, batch_size=32, memory_size=4000, target_update_every=100,
        lr=2e-3, eval_every=4000, eval_episodes=1, target_return=None, log_every=1000,
        ckpt_every=4000, gif=False, progress=False, out=str(tmp_path / "chain"), device="cpu",
        seed=seed)
    torch.set_num_threads(1)
    summary = T.main(cfg)
    assert summary["best_eval"]["return_mean"] == 1.0  # the greedy agent reaches the goal
    env = ChainEnv()
    q = T.build_network(cfg, T.make_env("Chain-v0")[1])
    from milestones.core.checkpoint import load_checkpoint

    q.load_state_dict(load_checkpoint(tmp_path / "chain" / "last.pt")["model"])
    with torch.no_grad():
        learned = q(torch.eye(8)[1:7]).numpy()
    optimal = env.optimal_q(0.9)
    assert (learned.argmax(1) == 1).all()
    np.testing.assert_allclose(learned, optimal, atol=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_learns_cartpole(tmp_path, seed):
    """15k steps of the quick recipe: the greedy agent balances far longer than a random one
    (about 22 steps); the full 100k-step recipe reaches 475 (see the README)."""
    pytest.importorskip("gymnasium")
    cfg = dataclasses.replace(T.quick(), total_steps=15_000, eval_episodes=10, gif=False,
                              progress=False, seed=seed, out=str(tmp_path / "cartpole"),
                              device="cpu")
    summary = T.main(cfg)
    assert summary["best_eval"]["return_mean"] >= 150
