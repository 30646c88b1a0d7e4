"""The frame-once replay memory against naively stored transitions."""

import numpy as np
import pytest
import torch

from milestones.dqn import ReplayMemory


class NaiveStacker:
    """What FrameStackObservation(4, padding "reset") hands the agent, stored whole."""

    def __init__(self, history):
        self.history, self.frames = history, []

    def reset(self, frame):
        self.frames = [frame] * self.history
        return np.stack(self.frames)

    def step(self, frame):
        self.frames = self.frames[1:] + [frame]
        return np.stack(self.frames)


def play(memory, steps, history=4, seed=0, shape=(6, 5)):
    """Random episodes of random frames into ``memory``; returns {entry index: naive transition}."""
    rng = np.random.default_rng(seed)
    stacker, naive = NaiveStacker(history), {}
    frame = rng.integers(0, 256, shape, dtype=np.uint8)
    state = stacker.reset(frame)
    memory.start(frame)
    for _ in range(steps):
        a, r = int(rng.integers(6)), float(rng.normal())
        ended = rng.random() < 0.08
        terminal = ended and rng.random() < 0.7  # else a time-limit cut
        life_lost = not ended and rng.random() < 0.05  # terminal for the target, game goes on
        frame = rng.integers(0, 256, shape, dtype=np.uint8)
        nxt = stacker.step(frame)
        idx = (memory.cursor - 1) % memory.capacity
        naive[idx] = (state, a, r, terminal or life_lost, nxt)
        memory.append(a, r, terminal or life_lost, frame, episode_end=ended)
        state = nxt
        if ended:
            frame = rng.integers(0, 256, shape, dtype=np.uint8)
            state = stacker.reset(frame)
            memory.start(frame)
    return naive


def check(batch, naive):
    for j, i in enumerate(batch["index"].tolist()):
        s, a, r, term, s2 = naive[i]
        assert np.array_equal(batch["state"][j].numpy(), s)
        assert batch["action"][j].item() == a
        assert batch["reward"][j].item() == pytest.approx(r)
        assert batch["terminal"][j].item() == term
        assert np.array_equal(batch["next_state"][j].numpy(), s2)


def test_sampled_stacks_equal_naive_ones_across_episode_ends():
    memory = ReplayMemory(1000, (6, 5), history=4)
    naive = play(memory, 400)
    batch = memory.sample(256, torch.Generator().manual_seed(0))
    check(batch, naive)
    everything = memory.gather(torch.tensor(sorted(naive)))  # every transition, not a sample
    check(everything, naive)
    assert len(memory) == len(naive) == memory.transitions_added == 400


def test_sampled_stacks_equal_naive_ones_after_wrap_around():
    memory = ReplayMemory(97, (6, 5), history=4)
    naive = play(memory, 1000, seed=1)
    assert memory.size == memory.capacity
    # a transition is sampleable iff its stacks are still complete in memory
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        batch = memory.sample(64, g)
        check(batch, naive)
    valid = memory._valid(torch.arange(memory.capacity))
    newest = (memory.cursor - 1) % memory.capacity
    assert not valid[newest] and valid.sum() >= memory.capacity - 12


def test_sampling_is_uniform_over_valid_transitions():
    memory = ReplayMemory(300, (2,), history=1, dtype=torch.float32)
    play(memory, 200, history=1, shape=(2,))
    idx = memory.sample(20_000, torch.Generator().manual_seed(2))["index"]
    counts = torch.bincount(idx, minlength=memory.size).float()
    counts = counts[memory._valid(torch.arange(memory.size))]
    assert counts.min() > 0.6 * counts.mean() and counts.max() < 1.4 * counts.mean()


def test_vector_observations_with_history_one():
    memory = ReplayMemory(50, (3,), history=1, dtype=torch.float32)
    memory.start(np.array([1, 2, 3], np.float32))
    memory.append(1, 1.0, False, np.array([4, 5, 6], np.float32))
    batch = memory.sample(4)
    assert batch["state"].shape == (4, 1, 3)
    assert batch["next_state"][0, 0].tolist() == [4, 5, 6]


def test_latest_transition_for_the_no_replay_ablation():
    memory = ReplayMemory(10, (1,), history=1, dtype=torch.float32)
    memory.start(np.array([0.0], np.float32))
    with pytest.raises(RuntimeError, match="no transition"):
        memory.latest()
    for t in range(1, 30):
        end = t % 7 == 0
        memory.append(t % 2, float(t), end, np.array([float(t)], np.float32), episode_end=end)
        latest = memory.latest()
        assert latest["reward"].item() == t and latest["next_state"].item() == t
        if end:
            memory.start(np.array([-1.0], np.float32))
            assert memory.latest()["reward"].item() == t  # still the episode's last transition


def test_one_million_transitions_take_about_seven_gigabytes():
    memory = ReplayMemory(1000, (84, 84), history=4)
    per_transition = memory.nbytes / memory.capacity
    assert 7056 <= per_transition < 7070  # one 84x84 frame + action, reward and flags
    assert per_transition * 1_000_000 / 1e9 < 7.1  # naive stacks of 4 + 4 frames: 56 GB


def test_state_dict_round_trip():
    memory = ReplayMemory(64, (3, 3), history=4)
    naive = play(memory, 100, shape=(3, 3))
    clone = ReplayMemory(64, (3, 3), history=4)
    clone.load_state_dict(memory.state_dict())
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = memory.sample(32, g1), clone.sample(32, g2)
    for key in a:
        assert torch.equal(a[key], b[key])
    check(b, naive)


def test_misuse_is_caught():
    with pytest.raises(ValueError, match="too small"):
        ReplayMemory(4, (2,), history=4)
    memory = ReplayMemory(10, (2,), history=1)
    with pytest.raises(RuntimeError, match="start"):
        memory.append(0, 0.0, False, np.zeros(2))
    with pytest.raises(RuntimeError, match="no complete transition"):
        memory.sample(1)
