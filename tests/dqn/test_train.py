"""DQN's entry points: smoke on Pong, exact resume, evaluation protocol, bad input, reproduce."""

import dataclasses
import json

import pytest
import torch

from milestones.core.checkpoint import load_checkpoint
from milestones.core.config import EXIT_OK, EXIT_USAGE, ConfigError
from milestones.core.metrics import read_metrics
from milestones.dqn import reproduce as R
from milestones.dqn import train as T
from tests.conftest import run_cli

pytest.importorskip("ale_py", reason="needs the rl extra: pip install 'milestones[rl]'")


def cartpole(tmp_path, name="run", **overrides) -> T.Config:
    """The quick recipe, shrunk to seconds."""
    base = dict(total_steps=1200, learning_starts=200, eps_steps=600, memory_size=2000,
                batch_size=16, target_update_every=50, eval_every=600, eval_episodes=2,
                log_every=200, ckpt_every=300, gif=False, progress=False, device="cpu",
                out=str(tmp_path / name))
    return dataclasses.replace(T.quick(), **{**base, **overrides})


def test_smoke_preset_plays_pong_from_the_command_line(tmp_path):
    res = run_cli("-m", "milestones.dqn.train", "--preset", "smoke", "--out", str(tmp_path / "r"))
    assert res.returncode == EXIT_OK, res.stderr
    for name in ("config.json", "metrics.jsonl", "last.pt", "best.pt", "model.safetensors",
                 "model-best.safetensors", "summary.json", "curves.png"):
        assert (tmp_path / "r" / name).is_file(), name
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["step"] == 200 and summary["updates"] == 25 and summary["params"] == 1_687_206
    header = read_metrics(tmp_path / "r" / "metrics.jsonl")[0]
    assert header["environment"]["obs_shape"] == [4, 84, 84]
    # trained in channels-last, exported in the standard layout: the same values either way
    from safetensors.torch import load_file

    exported = load_file(tmp_path / "r" / "model.safetensors")
    trained = load_checkpoint(tmp_path / "r" / "last.pt")["model"]
    assert trained["features.0.weight"].is_contiguous(memory_format=torch.channels_last)
    assert all(torch.equal(exported[k], trained[k]) for k in trained)


def test_resume_is_exact_mid_episode_with_the_memory(tmp_path):
    straight = T.main(cartpole(tmp_path, "straight"))
    half = T.main(cartpole(tmp_path, "halves", max_steps=700))  # stops inside an episode
    assert half["stopped"] == "max_steps"
    assert len(load_checkpoint(tmp_path / "halves" / "last.pt")["progress"]["episode_actions"]) > 0
    resumed = T.main(cartpole(tmp_path, "halves", resume=True))
    assert resumed["step"] == straight["step"] and resumed["episodes"] == straight["episodes"]
    a = load_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "halves" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = [[r for r in read_metrics(tmp_path / n / "metrics.jsonl") if r["split"] == "episode"]
            for n in ("straight", "halves")]
    assert rows[0] == rows[1]


def test_resume_without_the_memory_refills_it(tmp_path):
    cfg = cartpole(tmp_path, memory_in_checkpoint="no", max_steps=600)
    T.main(cfg)
    assert "memory" not in load_checkpoint(tmp_path / "run" / "last.pt")
    resumed = T.main(dataclasses.replace(cfg, max_steps=None, resume=True))
    assert resumed["step"] == 1200 and resumed["memory_in_checkpoint"] is False
    # learning paused for learning_starts (200) steps while D refilled
    assert resumed["updates"] == (600 - 200) + (1200 - 800)


@pytest.mark.parametrize("replay, target", [(False, True), (True, False), (False, False)])
def test_ablations_run(tmp_path, replay, target):
    summary = T.main(cartpole(tmp_path, replay=replay, target_network=target, total_steps=400))
    assert summary["updates"] == 200 and summary["replay"] == replay


def test_evaluation_uses_its_own_epsilon_and_caps_episodes(tmp_path):
    cfg = cartpole(tmp_path, eval_epsilon=1.0, eval_max_frames=15)
    env, info = T.make_env(cfg.env)
    q = T.build_network(cfg, info)
    result = T.evaluate(cfg, q, env, info, torch.device("cpu"), seed=0, episodes=5)
    assert result["episodes"] == 5 and result["length_mean"] <= 15
    again = T.evaluate(cfg, q, env, info, torch.device("cpu"), seed=0, episodes=5)
    assert again == result  # seeded: the same episodes


def test_gif_of_the_agent(tmp_path):
    summary = T.main(cartpole(tmp_path, total_steps=300, eval_every=300, gif=True))
    from PIL import Image

    gif = Image.open(summary["gif"])
    assert gif.format == "GIF" and gif.size == (300, 150) and gif.n_frames > 1


@pytest.mark.parametrize("args, field", [(["--lr", "-1"], "lr"), (["--gamma", "1.5"], "gamma"),
                                         (["--eval-epsilon", "2"], "eval_epsilon"),
                                         (["--network", "nature"], "network")])
def test_bad_values_fail_clearly_and_write_nothing(tmp_path, args, field):
    res = run_cli("-m", "milestones.dqn.train", "--preset", "quick", "--out", str(tmp_path / "r"),
                  *args)
    assert res.returncode == EXIT_USAGE and f"`{field}`" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "r").exists()


def test_unknown_env_fails_clearly(tmp_path):
    res = run_cli("-m", "milestones.dqn.train", "--preset", "smoke", "--env", "ALE/Breakout-v9",
                  "--out", str(tmp_path / "r"))
    assert res.returncode == EXIT_USAGE and "Traceback" not in res.stderr
    assert "python -m milestones.dqn.data" in res.stderr and not (tmp_path / "r").exists()
    with pytest.raises(ConfigError, match="unknown environment"):
        T.main(dataclasses.replace(T.smoke(), env="NoSuchEnv-v0", out=str(tmp_path / "x")))


def test_reproduce_smoke(tmp_path):
    res = run_cli("-m", "milestones.dqn.reproduce", "--preset", "smoke", "--out", str(tmp_path))
    assert res.returncode == EXIT_OK, res.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    variants = results["envs"]["CartPole-v1"]
    assert set(variants) == {"replay+target", "replay only", "target only", "neither"}
    for entry in variants.values():
        # the smoke preset tries two rates on seed 0; seed 1 trains at the one chosen
        assert [row["lr_factor"] for row in entry["sweep"]] == [1.0, 2.0]
        assert entry["lr_factor"] == R.choose_lr(entry["sweep"])["lr_factor"]
        assert [run["seed"] for run in entry["runs"]] == [0, 1]
        assert {run["lr"] for run in entry["runs"]} == {entry["lr"]}
        assert entry["best_eval_return"]["n"] == 2
    seed1 = {p.name for p in (tmp_path / "runs").glob("*-s1")}
    assert seed1 == {f"CartPole-v1-{R._slug(v)}-lr{e['lr_factor']:g}-s1"
                     for v, e in variants.items()}
    assert len(list((tmp_path / "runs").glob("*-s0"))) == 4 * 2
    assert (tmp_path / "ablation_CartPole-v1.png").is_file()
    assert "Extended Data Table 3" in (tmp_path / "results.md").read_text()


def test_benchmark_quick():
    res = run_cli("benchmarks/dqn.py", "--quick")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout[res.stdout.index("{"):])
    # one 84 x 84 frame and 12 bytes of bookkeeping per transition (the README's 7,068; 7.07 GB
    # for 1M), against both stacks whole (56,457)
    assert out["memory_bytes_per_transition"] == 84 * 84 + 12 == 7068
    assert out["memory_1M_transitions_GB"] == 7.07
    assert out["naive_bytes_per_transition"] == 2 * 4 * 84 * 84 + 9 == 56457
    plain, loop = out["plain_gymnasium_steps_per_s"], out["training_loop_steps_per_s"]
    assert out["training_loop_vs_plain"] == pytest.approx(loop / plain, rel=1e-2)
    assert out["acting_vs_plain"] == pytest.approx(out["acting_steps_per_s"] / plain, rel=1e-2)
    assert 0 < out["training_loop_vs_plain"] < 1  # learning and acting cost on top of the game


@pytest.mark.slow
def test_benchmark_peers_quick():
    """Stable-Baselines3 beside ours: both loops timed, the buffers' bytes, CartPole runs."""
    pytest.importorskip("stable_baselines3", reason="needs pip install 'milestones[peers]'")
    res = run_cli("benchmarks/dqn.py", "--quick", "--peers")
    assert res.returncode == 0, res.stderr
    peers = json.loads(res.stdout[res.stdout.index("{"):])["peers"]
    assert peers["pong_loop_ratio"] > 0
    frame = 4 * 84 * 84  # one stack
    sizes = peers["replay_bytes_per_transition"]
    # SB3 keeps both stacks of every transition; optimize_memory_usage drops the second
    assert frame * 2 < sizes["sb3"] < frame * 2 + 64
    assert frame < sizes["sb3_optimize_memory_usage"] < frame + 64
    assert sizes["ours"] == 7068
    res = run_cli("benchmarks/dqn.py", "--quick", "--cartpole", "--cartpole-seeds", "1")
    assert res.returncode == 0, res.stderr
    cartpole = json.loads(res.stdout[res.stdout.index("{"):])
    assert [run["seed"] for run in cartpole["runs"]["sb3"]] == [0]
    assert set(cartpole["solved_step"]) == {"ours", "sb3"}


def test_gif_of_an_atari_game(tmp_path):
    cfg = dataclasses.replace(T.smoke(), eval_epsilon=1.0)  # random play: the paddle moves
    env, info = T.make_env(cfg.env)
    q = T.build_network(cfg, info)
    path = T.write_gif(cfg, q, tmp_path / "pong.gif", torch.device("cpu"), max_frames=80)
    from PIL import Image

    gif = Image.open(path)
    assert gif.size == (160, 210) and gif.n_frames > 1  # the ALE screen, in colour
