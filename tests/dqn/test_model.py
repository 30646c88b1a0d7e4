"""DQN's Q-networks: the papers' layer sizes, parameter counts, uint8 input."""

import pytest
import torch

from milestones.dqn import mlp_qnet, nature_dqn, nips_dqn


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("n_actions, params", [(4, 1_686_180), (6, 1_687_206), (18, 1_693_362)])
def test_nature_network_parameter_count(n_actions, params):
    # conv 4->32 8x8: 8,224; 32->64 4x4: 32,832; 64->64 3x3: 36,928; FC 3136->512: 1,606,144;
    # out 512 -> n_actions
    assert count(nature_dqn(n_actions)) == params
    assert count(nature_dqn(n_actions)) == 8_224 + 32_832 + 36_928 + 1_606_144 + 513 * n_actions


def test_nips_network_parameter_count():
    # conv 4->16 8x8: 4,112; 16->32 4x4: 8,224; FC 2592->256: 663,808; out 256 -> 4
    assert count(nips_dqn(4)) == 4_112 + 8_224 + 663_808 + 257 * 4 == 677_172


def test_feature_map_sizes_follow_the_paper():
    q = nature_dqn(6)
    x = torch.zeros(2, 4, 84, 84, dtype=torch.uint8)
    assert q.features(x.float()).shape == (2, 64, 7, 7)  # 84 -> 20 -> 9 -> 7
    assert nips_dqn(6).features(x.float()).shape == (2, 32, 9, 9)  # 84 -> 20 -> 9
    assert q(x).shape == (2, 6)


def test_uint8_frames_are_scaled_inside_the_network():
    torch.manual_seed(0)
    q = nature_dqn(4)
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    torch.testing.assert_close(q(frames), q(frames.float() / 255))


def test_mlp_flattens_history_stacks():
    q = mlp_qnet(4, 2, hidden=16)
    s = torch.randn(5, 4)
    torch.testing.assert_close(q(s), q(s[:, None, :]))
    assert count(q) == (4 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2)
