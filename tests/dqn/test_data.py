"""Environments: the Nature pipeline, unknown ids, the built-in chain."""

import numpy as np
import pytest

from milestones.core.config import ConfigError
from milestones.dqn import ChainEnv, make_env
from milestones.dqn.data import env_ids
from tests.conftest import run_cli

pytest.importorskip("ale_py", reason="needs the rl extra: pip install 'milestones[rl]'")


def test_atari_pipeline_gives_stacks_of_four_84x84_grey_frames():
    env, info = make_env("ALE/Pong-v5")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert info.atari and info.frame_shape == (84, 84) and info.n_actions == 6  # minimal set
    assert all(np.array_equal(obs[0], obs[k]) for k in range(4))  # padded with the first frame
    frames = [obs[-1]]
    for _ in range(5):
        obs, *_ = env.step(env.action_space.sample())
        frames.append(obs[-1])
    assert all(np.array_equal(obs[k], frames[-4 + k]) for k in range(4))  # the last 4, in order
    base = env.unwrapped
    assert base._frameskip == 1 and base.ale.getFloat("repeat_action_probability") == 0.0
    env.close()


def test_atari_episodes_are_reproducible_from_their_seed():
    def rollout():
        env, _ = make_env("ALE/Breakout-v5")
        obs, _ = env.reset(seed=7)  # the no-op count comes from the seed
        out = [obs]
        for a in [1, 2, 3, 0, 2, 2]:
            out.append(env.step(a)[0])
        return np.stack(out)

    assert np.array_equal(rollout(), rollout())


def test_unknown_env_id_names_close_matches_and_how_to_list_ids():
    with pytest.raises(ConfigError) as e:
        make_env("ALE/Pongg-v5")
    assert "ALE/Pong-v5" in str(e.value) and "python -m milestones.dqn.data" in str(e.value)
    assert "--env" in str(e.value)


def test_continuous_action_spaces_are_refused():
    with pytest.raises(ConfigError, match="discrete action space"):
        make_env("Pendulum-v1")


def test_env_list_command():
    assert "ALE/Breakout-v5" in env_ids() and "CartPole-v1" in env_ids()
    res = run_cli("-m", "milestones.dqn.data")
    assert res.returncode == 0 and "ALE/Pong-v5" in res.stdout and "Chain-v0" in res.stdout


def test_chain_env():
    env = ChainEnv(5)
    obs, _ = env.reset()
    assert obs.argmax() == 1
    for _ in range(2):
        obs, r, term, trunc, _ = env.step(1)
    assert (r, term) == (0.0, False)
    obs, r, term, trunc, _ = env.step(1)
    assert (r, term, obs.argmax()) == (1.0, True, 4)
    q = env.optimal_q(0.5)  # states 1..3; right from 3 reaches the goal
    np.testing.assert_allclose(q[:, 1], [0.25, 0.5, 1.0])
    np.testing.assert_allclose(q[:, 0], [0.0, 0.125, 0.25])
