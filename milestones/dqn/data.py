"""Environments: Atari through ALE with the Nature preprocessing, gymnasium's classic control, and
a built-in chain MDP. The ROMs ship inside ale-py, so all of them run offline.

Nature, Methods, "Preprocessing" — and what does it here:

| paper                                              | here                                 |
|----------------------------------------------------|--------------------------------------|
| max over the last two frames (flicker)             | AtariPreprocessing (frame pooling)   |
| luminance, rescaled to 84 x 84                     | AtariPreprocessing (D7)              |
| action repeat k = 4                                | AtariPreprocessing(frame_skip=4)     |
| phi stacks the last m = 4 frames                   | FrameStackObservation(4)             |
| up to 30 no-op actions at the start of an episode  | AtariPreprocessing(noop_max=30)      |
| rewards clipped to [-1, 1]                         | the training loop (train.py)         |
| life loss = terminal for the update, game goes on  | the training loop, from info "lives" |

MinAtar (Young & Tian 2019; ``pip install 'milestones[minatar]'``): ``MinAtar/<Game>-v0`` (all six
actions, as the paper's DQN) or ``-v1`` (the game's minimal action set), through MinAtar's own
gymnasium registration. A state is the 10 x 10 x n grid of object channels, given here channel
first as (n, 10, 10) uint8 zeros and ones; no frame stacking, no preprocessing (the paper's DQN
sees the state as it is). The games keep their defaults, as in the paper: sticky actions (the
previous action repeats with probability 0.1) and difficulty that ramps up during an episode.

List the environment ids: ``python -m milestones.dqn.data``.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from milestones.core.config import ConfigError
from milestones.core.data import MissingPackage, need

CHAIN_ID = "Chain-v0"
LIST_ENVS = "python -m milestones.dqn.data"


def _gymnasium():
    return need("gymnasium", "rl", "the DQN environments")


def _register_ale(gymnasium) -> bool:
    try:
        import ale_py
    except ImportError:
        return False
    gymnasium.register_envs(ale_py)
    return True


def is_atari(env_id: str) -> bool:
    return env_id.startswith("ALE/") or "NoFrameskip" in env_id


def is_minatar(env_id: str) -> bool:
    return env_id.startswith("MinAtar/")


MINATAR_GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")


def _register_minatar(gymnasium) -> bool:
    """Register MinAtar's ids (its ``register_envs``) once; False when it is not installed."""
    try:
        import minatar  # noqa: F401
    except ImportError:
        return False
    if "MinAtar/Breakout-v0" not in gymnasium.registry:
        import logging

        # minatar.gym logs a warning at import when seaborn is absent (only rendering needs it)
        level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)
        try:
            from minatar.gym import register_envs
        finally:
            logging.getLogger().setLevel(level)
        register_envs()
    return True


def env_ids() -> list[str]:
    """Every environment id this module can make (Atari ones when ale-py is installed)."""
    gymnasium = _gymnasium()
    _register_ale(gymnasium)
    _register_minatar(gymnasium)
    return [CHAIN_ID, *sorted(gymnasium.registry)]


@dataclass(frozen=True)
class EnvInfo:
    env_id: str
    atari: bool
    obs_shape: tuple[int, ...]  # one observation: (4, 84, 84) for Atari, (4,) for CartPole
    frame_shape: tuple[int, ...]  # what the replay memory stores per step
    history: int  # frames per state (4 for Atari, 1 otherwise)
    n_actions: int
    frame_dtype: Any  # numpy dtype of a frame


def make_env(env_id: str, *, history: int = 4, noop_max: int = 30, frame_skip: int = 4,
             render: bool = False):
    """(env, EnvInfo). Atari ids get the Nature pipeline; others are made as gymnasium has them.

    Atari needs a base env without frame skip or sticky actions (the 2015 protocol):
    ``ALE/<Game>-v5`` is made with ``frameskip=1, repeat_action_probability=0`` and the minimal
    action set; ``<Game>NoFrameskip-v4`` already is that.
    """
    if env_id == CHAIN_ID:
        env = ChainEnv()
        return env, _info(env_id, env, atari=False, history=1)
    gymnasium = _gymnasium()
    if is_atari(env_id) and not _register_ale(gymnasium):
        raise MissingPackage("ale_py", "rl", f"{env_id} (the Atari ROMs ship inside ale-py; "
                             "without it, try --env CartPole-v1)")
    if is_minatar(env_id):
        if not _register_minatar(gymnasium):
            raise MissingPackage("minatar", "minatar", f"{env_id} (MinAtar's games, pure Python; "
                                 "without it, try --env CartPole-v1)")
        if env_id not in gymnasium.registry:
            close = difflib.get_close_matches(env_id, [k for k in gymnasium.registry
                                                       if is_minatar(k)], n=3)
            raise ConfigError("env", env_id, "unknown MinAtar game"
                              + (f"; did you mean {', '.join(close)}?" if close else "")
                              + f" The games: {', '.join(MINATAR_GAMES)} (-v0: six actions, "
                              f"-v1: the minimal set). List the ids with: {LIST_ENVS}")
        with warnings.catch_warnings():  # -v0 "is out of date": it is the paper's action set
            warnings.simplefilter("ignore", DeprecationWarning)
            env = MinAtarObservation(gymnasium.make(env_id, **(
                {"render_mode": "rgb_array"} if render else {})))
        return env, _info(env_id, env, atari=False, history=1)
    kw: dict[str, Any] = {"render_mode": "rgb_array"} if render else {}
    if env_id.startswith("ALE/"):  # DEVIATION(D8): ALE 0.12's v5 games (108k-frame episode cap)
        kw.update(frameskip=1, repeat_action_probability=0.0, full_action_space=False)
    try:
        env = gymnasium.make(env_id, **kw)
    except gymnasium.error.Error as e:
        if env_id not in gymnasium.registry:
            close = difflib.get_close_matches(env_id, [CHAIN_ID, *gymnasium.registry], n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ConfigError("env", env_id, f"unknown environment ({e}). {hint}"
                              f"List the valid ids with: {LIST_ENVS}") from None
        raise
    if not is_atari(env_id):
        return env, _info(env_id, env, atari=False, history=1)
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    # DEVIATION(D4): grey via OpenCV and one area resize of the 210 x 160 screen
    env = AtariPreprocessing(env, noop_max=noop_max, frame_skip=frame_skip, screen_size=84,
                             terminal_on_life_loss=False, grayscale_obs=True, scale_obs=False)
    # DEVIATION(D7): before an episode's first frame, the stack repeats it (DeepMind: zeros)
    env = FrameStackObservation(env, history)
    return env, _info(env_id, env, atari=True, history=history)


def _info(env_id: str, env, *, atari: bool, history: int) -> EnvInfo:
    space = env.observation_space
    if not hasattr(env.action_space, "n"):
        raise ConfigError("env", env_id, "DQN needs a discrete action space "
                          f"(this one is {env.action_space})")
    frame = tuple(space.shape[1:]) if atari else tuple(space.shape)
    return EnvInfo(env_id, atari, tuple(space.shape), frame, history, int(env.action_space.n),
                   space.dtype)


class MinAtarObservation:
    """MinAtar's (10, 10, n) bool state as a channel-first (n, 10, 10) uint8 array, the layout
    ``nn.Conv2d`` takes and the replay memory stores (one byte per cell)."""

    def __init__(self, env):
        from types import SimpleNamespace

        self.env = env
        h, w, n = env.observation_space.shape
        self.observation_space = SimpleNamespace(shape=(n, h, w), dtype=np.dtype(np.uint8))
        self.action_space = env.action_space

    @property
    def unwrapped(self):
        return self.env.unwrapped

    @staticmethod
    def observation(state: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(state.transpose(2, 0, 1), dtype=np.uint8)  # (n, 10, 10)

    def reset(self, *, seed: int | None = None, options=None):
        state, info = self.env.reset(seed=seed, options=options)
        return self.observation(state), info

    def step(self, action: int):
        state, reward, terminated, truncated, info = self.env.step(action)
        return self.observation(state), float(reward), terminated, truncated, info

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()


def newest_frame(obs: np.ndarray, info: EnvInfo) -> np.ndarray:
    """The frame the replay memory stores for an observation: the top of an Atari stack."""
    return obs[-1] if info.atari else obs


class ChainEnv:
    """A corridor of ``n`` states: start at 1, actions left (0) and right (1), reward 1 on reaching
    state n-1 (terminal), 0 on reaching state 0 (terminal), 0 elsewhere; cut after 4n steps.

    Q* is known in closed form (``optimal_q``), which makes it a test bed for the update rule.
    Observations are one-hot vectors (float32). A small gymnasium-compatible class, no registry.
    """

    def __init__(self, n: int = 8, max_steps: int | None = None):
        from types import SimpleNamespace

        self.n, self.max_steps = n, max_steps or 4 * n
        self.observation_space = SimpleNamespace(shape=(n,), dtype=np.dtype(np.float32))
        self.action_space = SimpleNamespace(n=2)
        self.state, self.t = 1, 0

    @property
    def unwrapped(self) -> ChainEnv:
        return self

    def _obs(self) -> np.ndarray:
        return np.eye(self.n, dtype=np.float32)[self.state]

    def reset(self, *, seed: int | None = None, options=None):
        self.state, self.t = 1, 0
        return self._obs(), {}

    def step(self, action: int):
        self.state += 1 if action == 1 else -1
        self.t += 1
        terminated = self.state in (0, self.n - 1)
        reward = 1.0 if self.state == self.n - 1 else 0.0
        return self._obs(), reward, terminated, self.t >= self.max_steps and not terminated, {}

    def optimal_q(self, gamma: float) -> np.ndarray:
        """Q*(s, a) for the non-terminal states 1..n-2: (n-2, 2)."""
        v = np.zeros(self.n)  # V*(s) = gamma^(n-2-s): walk right; terminal states 0
        for s in range(1, self.n - 1):
            v[s] = gamma ** (self.n - 2 - s)
        q = np.zeros((self.n - 2, 2))
        for s in range(1, self.n - 1):
            left, right = s - 1, s + 1
            q[s - 1, 0] = (0.0 if left == 0 else gamma * v[left])
            q[s - 1, 1] = 1.0 if right == self.n - 1 else gamma * v[right]
        return q

    def close(self) -> None:
        pass


if __name__ == "__main__":
    ids = env_ids()
    atari = [i for i in ids if is_atari(i) and i.startswith("ALE/")]
    minatar = [i for i in ids if is_minatar(i)]
    other = [i for i in ids if not is_atari(i) and not is_minatar(i)]
    print("Atari (Nature preprocessing applied):\n  " + "\n  ".join(atari))
    if minatar:
        print("\nMinAtar (channel-first 10 x 10 object grids; -v0 six actions, -v1 minimal):\n  "
              + "\n  ".join(minatar))
    print("\nOther environments (made as gymnasium has them; DQN needs discrete actions):\n  "
          + "\n  ".join(other))
