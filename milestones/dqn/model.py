r"""Q-networks of DQN: Q(s, .; theta), one output per action (Mnih et al. 2013, 2015).

"The input to the neural network consists of an 84 x 84 x 4 image produced by the preprocessing
map phi" (Nature, Methods). Pixels arrive as uint8 and are scaled to [0, 1] inside the network, so
the replay memory can keep bytes.

    nature_dqn(n_actions)   # 2015: 32 8x8/4, 64 4x4/2, 64 3x3/1, 512 FC  (1.69M params, 4 actions)
    nips_dqn(n_actions)     # 2013: 16 8x8/4, 32 4x4/2, 256 FC            (0.68M params, 4 actions)
    minatar_dqn(6, 4)       # MinAtar 2019: 16 3x3/1, 128 FC              (0.13M params, Breakout)
    mlp_qnet(4, 2)          # vector observations (CartPole): 2 hidden ReLU layers

The loss of Algorithm 1 (Nature, Methods) as pure functions of tensors:

$$y_j = \begin{cases} r_j & \text{if } \phi_{j+1} \text{ is terminal} \\
r_j + \gamma \max_{a'} \hat Q(\phi_{j+1}, a'; \theta^-) & \text{otherwise} \end{cases}$$

(``td_target``, with the target network's weights $\theta^-$), and (``td_loss``) the mean over
the minibatch of the Huber loss, which clips the error's gradient to [-1, 1]:

$$L(\theta) = \frac{1}{|B|} \sum_{j \in B} \mathrm{huber}\big(y_j - Q(\phi_j, a_j; \theta)\big)$$
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ConvQNetwork(nn.Module):
    """Convolutions, then one hidden fully connected layer, then a linear output per action.

    ``convs`` lists (out_channels, kernel, stride); every layer but the output is followed by a
    rectifier, as in both papers.
    """

    def __init__(self, n_actions: int, convs: tuple[tuple[int, int, int], ...], hidden: int,
                 in_channels: int = 4, size: int = 84):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for out, kernel, stride in convs:
            layers += [nn.Conv2d(c, out, kernel, stride), nn.ReLU(inplace=True)]
            c, size = out, (size - kernel) // stride + 1
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c * size * size, hidden)
        self.head = nn.Linear(hidden, n_actions)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        # s: (B, 4, 84, 84) uint8 frames (or floats already in [0, 1])
        x = s.float() / 255 if s.dtype == torch.uint8 else s
        x = self.features(x).flatten(1)  # (B, 64 * 7 * 7) for the Nature network
        return self.head(torch.relu(self.fc(x)))  # (B, n_actions)


class MinAtarQNetwork(nn.Module):
    """Young & Tian 2019, §4: "a single convolutional layer with 16 3x3 filters with stride 1,
    followed by a fully connected hidden layer with 128 units" (a quarter of the Nature network's
    64 and 512), rectifiers after both, a linear output per action. The input is MinAtar's grid
    of 0/1 object channels, used as it is (no scaling)."""

    def __init__(self, in_channels: int, n_actions: int, channels: int = 16, hidden: int = 128,
                 size: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, 3, 1)  # valid padding: 10 x 10 -> 8 x 8
        self.fc = nn.Linear(channels * (size - 2) ** 2, hidden)
        self.head = nn.Linear(hidden, n_actions)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        # s: (B, n, 10, 10) zeros and ones (uint8 or floats); the replay memory's stacks of one
        # state, (B, 1, n, 10, 10), merge their history axis into the channels
        s = s.flatten(1, 2) if s.dim() == 5 else s
        x = torch.relu(self.conv(s.float())).flatten(1)  # (B, 16 * 8 * 8)
        return self.head(torch.relu(self.fc(x)))  # (B, n_actions)


class MLPQNetwork(nn.Module):
    """Q-network for vector observations (CartPole, Acrobot): Linear-ReLU x depth, Linear."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 128, depth: int = 2):
        super().__init__()
        layers: list[nn.Module] = []
        d = obs_dim
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), nn.ReLU(inplace=True)]
            d = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d, n_actions)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        # s: (B, obs_dim) or (B, history, obs_dim); history stacks are flattened
        return self.head(self.body(s.flatten(1).float()))  # (B, n_actions)


def nature_dqn(n_actions: int, in_channels: int = 4) -> ConvQNetwork:
    """Mnih et al. 2015, Methods "Model architecture": 32 8x8 s4, 64 4x4 s2, 64 3x3 s1, 512 FC."""
    return ConvQNetwork(n_actions, ((32, 8, 4), (64, 4, 2), (64, 3, 1)), 512, in_channels)


def nips_dqn(n_actions: int, in_channels: int = 4) -> ConvQNetwork:
    """Mnih et al. 2013, §4.1 (Preprocessing and Model Architecture): 16 8x8 s4, 32 4x4 s2,
    256 FC."""
    return ConvQNetwork(n_actions, ((16, 8, 4), (32, 4, 2)), 256, in_channels)


def minatar_dqn(n_actions: int, in_channels: int) -> MinAtarQNetwork:
    """Young & Tian 2019 (MinAtar), §4: 16 3x3 s1 convolutions, 128 FC; ``in_channels`` is the
    game's number of object channels (Breakout 4, Space Invaders 6)."""
    return MinAtarQNetwork(in_channels, n_actions)


def mlp_qnet(obs_dim: int, n_actions: int, hidden: int = 128, depth: int = 2) -> MLPQNetwork:
    return MLPQNetwork(obs_dim, n_actions, hidden, depth)


MODELS = {"nature": nature_dqn, "nips": nips_dqn, "minatar": minatar_dqn, "mlp": mlp_qnet}


# ---- the loss ------------------------------------------------------------------------------------

def td_target(reward: Tensor, terminal: Tensor, q_next: Tensor, gamma: float) -> Tensor:
    """y = r for terminal transitions, else r + gamma max_a' Q^(phi', a'): (B,).

    ``q_next`` (B, n_actions) is the target network's output for phi_{j+1}; compute it without
    gradient (the target is a constant of the update)."""
    return reward + gamma * (~terminal).float() * q_next.max(1).values


def td_loss(q_sa: Tensor, y: Tensor, kind: str = "huber") -> Tensor:
    """The mean over the minibatch of the error y - Q(phi, a) (both (B,)): Huber = (y - Q)^2 / 2
    with its derivative clipped to [-1, 1] (Nature: "error clipping"), or the plain squared
    error (``kind="mse"``)."""
    # DEVIATION(D3): the mean over the minibatch
    return F.smooth_l1_loss(q_sa, y) if kind == "huber" else F.mse_loss(q_sa, y)
