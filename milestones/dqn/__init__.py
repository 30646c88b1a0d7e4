"""DQN (Mnih et al. 2013, arXiv:1312.5602; Nature 518, 2015): Atari from pixels with experience
replay and a target network.

    from milestones.dqn import nature_dqn, ReplayMemory, make_env
    env, info = make_env("ALE/Breakout-v5")          # Nature preprocessing, (4, 84, 84) uint8
    q = nature_dqn(info.n_actions)                   # Q(phi, .; theta)
    env, info = make_env("MinAtar/Breakout-v0")      # MinAtar: (4, 10, 10) uint8 object grids
    q = minatar_dqn(info.n_actions, info.obs_shape[0])

Train: ``python -m milestones.dqn.train --help``; the replay / target-network ablation of
Extended Data Table 3: ``python -m milestones.dqn.reproduce``.
"""

from milestones.dqn.data import ChainEnv, EnvInfo, make_env
from milestones.dqn.model import (
    ConvQNetwork,
    MinAtarQNetwork,
    MLPQNetwork,
    minatar_dqn,
    mlp_qnet,
    nature_dqn,
    nips_dqn,
    td_loss,
    td_target,
)
from milestones.dqn.replay import ReplayMemory

__all__ = ["ChainEnv", "ConvQNetwork", "EnvInfo", "MLPQNetwork", "MinAtarQNetwork", "ReplayMemory",
           "make_env", "minatar_dqn", "mlp_qnet", "nature_dqn", "nips_dqn", "td_loss", "td_target"]
