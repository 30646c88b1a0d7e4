"""The update rule against hand-written references; exploration; the Nature optimizer; and the
loop watched from inside: the target network, its sync every C updates, replay or the latest
transition."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from milestones.adam import RMSProp
from milestones.dqn import ChainEnv
from milestones.dqn import train as T
from milestones.dqn.replay import ReplayMemory


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


def test_minibatch_loss_bootstraps_from_the_target_network():
    """y_j = r_j + gamma max_a' Q^(phi_{j+1}, a'; theta^-) for a non-terminal transition, r_j for
    a terminal one (Algorithm 1): with theta != theta^-, the loss is the one built on the target
    network's values at the next states, computed here transition by transition."""
    torch.manual_seed(0)
    q, target = nn.Linear(4, 3), nn.Linear(4, 3)  # theta and theta^-, different weights
    batch = {"state": torch.randn(8, 4), "next_state": torch.randn(8, 4),
             "action": torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]), "reward": torch.randn(8),
             "terminal": torch.tensor([False] * 6 + [True] * 2)}

    def by_hand(bootstrap: nn.Module, kind: str) -> float:
        losses = []
        with torch.no_grad():
            for j in range(8):
                q_sa = q(batch["state"][j])[batch["action"][j]].item()
                y = batch["reward"][j].item()
                if not batch["terminal"][j]:
                    y += 0.9 * max(bootstrap(batch["next_state"][j]).tolist())
                e = abs(y - q_sa)
                losses.append(e * e if kind == "mse" else 0.5 * e * e if e < 1 else e - 0.5)
        return sum(losses) / 8

    for kind in ("huber", "mse"):
        loss, q_mean = T.minibatch_loss(q, target, batch, 0.9, kind)
        assert loss.item() == pytest.approx(by_hand(target, kind), rel=1e-6)
        assert abs(by_hand(q, kind) - by_hand(target, kind)) > 0.05  # theta would differ
        assert q_mean.item() == pytest.approx(
            q(batch["state"]).gather(1, batch["action"][:, None]).mean().item())


# ---- the loop: what it passes to the update (Algorithm 1), watched from inside ------------------

def chain(tmp_path, **overrides) -> T.Config:
    """A few hundred steps on the built-in corridor: 150 updates, a sync every 7 of them."""
    return dataclasses.replace(
        T.quick(), env="Chain-v0", hidden=16, total_steps=190, learning_starts=40,
        update_every=1, target_update_every=7, batch_size=8, memory_size=300, eps_steps=100,
        eval_every=95, eval_episodes=1, target_return=None, log_every=95, ckpt_every=190,
        gif=False, progress=False, device="cpu", out=str(tmp_path / "run"), **overrides)


@pytest.fixture
def updates(monkeypatch):
    """Every call of train.minibatch_loss from the loop: the networks passed as Q and Q^, their
    weights at that moment, the minibatch, and the environment step that preceded it."""
    calls, last_step = [], {}
    real_loss, real_step = T.minibatch_loss, ChainEnv.step

    def step(env, action):
        before = env._obs()
        out = real_step(env, action)
        last_step.update(state=before, action=action, next_state=out[0], reward=out[1],
                         terminal=out[2])
        return out

    def minibatch_loss(q, target, batch, gamma, kind="huber"):
        calls.append({"q": q, "target": target, "batch": dict(batch), "step": dict(last_step),
                      "theta": {k: v.clone() for k, v in q.state_dict().items()},
                      "theta_minus": {k: v.clone() for k, v in target.state_dict().items()}})
        return real_loss(q, target, batch, gamma, kind)

    monkeypatch.setattr(T, "minibatch_loss", minibatch_loss)
    monkeypatch.setattr(ChainEnv, "step", step)
    return calls


def same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_the_loop_bootstraps_from_theta_minus_synced_every_c_updates(tmp_path, updates):
    """Q^ is a separate network whose weights are theta as it was at the last sync (every C = 7
    updates; at first theta's initial copy): equal to theta right after a sync, and only then."""
    summary = T.main(chain(tmp_path))
    C = 7
    assert len(updates) == summary["updates"] == 150
    online, target = updates[0]["q"], updates[0]["target"]
    assert target is not online and isinstance(target, type(online))
    for k, call in enumerate(updates):  # call k comes after k updates
        assert call["q"] is online and call["target"] is target, k
        synced = k - k % C  # the updates done when theta^- = theta last ran (0: the copy)
        assert same(call["theta_minus"], updates[synced]["theta"]), k
        assert same(call["theta_minus"], call["theta"]) == (k % C == 0), k


def test_without_a_target_network_the_loop_bootstraps_from_theta(tmp_path, updates):
    T.main(chain(tmp_path, target_network=False))
    assert len(updates) == 150 and all(c["target"] is c["q"] for c in updates)


def test_without_replay_the_loop_learns_from_the_latest_transition(tmp_path, updates,
                                                                    monkeypatch):
    """--no-replay: each update's minibatch is memory.latest(), the transition of the step just
    taken (ED Table 3); the memory is never sampled."""
    drawn = watch_memory(monkeypatch)
    T.main(chain(tmp_path, replay=False))
    assert len(updates) == len(drawn["latest"]) == 150 and drawn["sample"] == []
    for call, latest in zip(updates, drawn["latest"], strict=True):
        batch, step = call["batch"], call["step"]
        assert all(torch.equal(batch[k], latest[k]) for k in latest)
        assert batch["action"].tolist() == [step["action"]]
        assert batch["reward"].tolist() == [step["reward"]]
        assert batch["terminal"].tolist() == [step["terminal"]]
        # (1, history = 1, 8) stacks of the one-hot observations
        assert torch.equal(batch["state"][0, -1], torch.as_tensor(step["state"]))
        assert torch.equal(batch["next_state"][0, -1], torch.as_tensor(step["next_state"]))


def test_with_replay_the_loop_learns_from_uniform_samples_of_the_memory(tmp_path, updates,
                                                                        monkeypatch):
    """Each update's minibatch is memory.sample(batch_size): batch_size transitions drawn at
    random from all of D, not the latest transition."""
    drawn = watch_memory(monkeypatch)
    T.main(chain(tmp_path))
    assert len(updates) == len(drawn["sample"]) == 150 and drawn["latest"] == []
    seen = set()
    for call, sample in zip(updates, drawn["sample"], strict=True):
        assert all(torch.equal(call["batch"][k], sample[k]) for k in sample)
        assert len(sample["index"]) == 8
        seen.update(sample["index"].tolist())
    newest = sum((sample["index"] == i).sum().item()
                 for sample, i in zip(drawn["sample"], drawn["newest"], strict=True))
    assert newest < 0.1 * 150 * 8  # the newest transition is drawn only by chance
    assert len(seen) > 0.8 * drawn["size"]  # 1,200 draws reach nearly every stored transition


def watch_memory(monkeypatch) -> dict:
    """The minibatches ReplayMemory.sample and .latest return, the index of the newest transition
    at each sample, and the memory's final size."""
    drawn: dict = {"sample": [], "latest": [], "newest": [], "size": 0}
    real = {name: getattr(ReplayMemory, name) for name in ("sample", "latest")}

    def sample(memory, *args, **kwargs):
        drawn["newest"].append(real["latest"](memory)["index"].item())
        drawn["sample"].append(real["sample"](memory, *args, **kwargs))
        drawn["size"] = len(memory)
        return drawn["sample"][-1]

    def latest(memory):
        drawn["latest"].append(real["latest"](memory))
        return drawn["latest"][-1]

    monkeypatch.setattr(ReplayMemory, "sample", sample)
    monkeypatch.setattr(ReplayMemory, "latest", latest)
    return drawn
