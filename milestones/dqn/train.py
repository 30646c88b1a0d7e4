"""Deep Q-learning with experience replay and a target network: ``python -m milestones.dqn.train``.

    python -m milestones.dqn.train --preset quick                      # CartPole-v1, CPU minutes
    python -m milestones.dqn.train --env ALE/Breakout-v5               # Nature settings, GPU days
    python -m milestones.dqn.train --preset quick --no-replay --no-target-network   # ablations

The loop is Algorithm 1 of the Nature paper (Methods), one environment step per iteration:

    with probability epsilon select a random action a_t, otherwise a_t = argmax_a Q(phi_t, a; theta)
    execute a_t, observe r_t and the next frame; store (phi_t, a_t, r_t, phi_{t+1}) in D
    every 4 steps: sample a minibatch from D, set y_j = r_j (terminal) or
        y_j = r_j + gamma max_a' Q^(phi_{j+1}, a'; theta^-), and step on (y_j - Q(phi_j, a_j))^2
        with the error clipped to [-1, 1]
    every C updates: theta^- = theta

Steps are agent steps (each repeats the action for 4 emulator frames on Atari); Nature's "frames"
in Extended Data Table 1 (replay start 50k, exploration 1M) count agent steps as well.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import statistics
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from milestones.adam import Adam, RMSProp
from milestones.core import runtime
from milestones.core.checkpoint import (
    export_safetensors,
    rng_state,
    save_checkpoint,
    set_rng_state,
    start_run,
)
from milestones.core.config import ConfigError, RunConfig, require, run, to_dict
from milestones.core.metrics import MetricLogger, check_finite, environment, read_metrics
from milestones.dqn.data import EnvInfo, is_atari, make_env, newest_frame
from milestones.dqn.model import mlp_qnet, nature_dqn, nips_dqn
from milestones.dqn.replay import ReplayMemory


@dataclasses.dataclass
class Config(RunConfig):
    """DQN on one environment. Default: the Nature settings (Extended Data Table 1) on Breakout."""

    env: str = "ALE/Breakout-v5"
    """Environment id: ALE/<Game>-v5 gets the Nature preprocessing; CartPole-v1, Acrobot-v1 or
    the built-in Chain-v0 take an MLP. List them: python -m milestones.dqn.data."""
    network: Literal["auto", "nature", "nips", "mlp"] = "auto"
    """auto: nature for Atari, mlp otherwise. nips: the 2013 network."""
    hidden: int = 128
    """mlp: units per hidden layer (2 layers)."""
    total_steps: int = 50_000_000
    """Agent steps of training (Nature: 50M, i.e. 200M emulator frames)."""
    replay: bool = True
    """Experience replay; --no-replay learns from the latest transition only (ED Table 3)."""
    target_network: bool = True
    """A separate target network theta^-; --no-target-network bootstraps from theta itself."""
    memory_size: int = 1_000_000
    """Replay memory capacity N, in transitions (Nature: 1M)."""
    batch_size: int = 32
    """Minibatch size (Nature: 32)."""
    gamma: float = 0.99
    """Discount factor (Nature: 0.99)."""
    update_every: int = 4
    """Agent steps between updates (Nature: "update frequency" 4)."""
    target_update_every: int = 10_000
    """Updates between target syncs theta^- = theta (Nature: C = 10,000 updates; see D1)."""
    learning_starts: int = 50_000
    """Agent steps of the uniform random policy that fill D before learning (Nature: 50,000)."""
    eps_start: float = 1.0
    """Initial exploration epsilon (Nature: 1.0)."""
    eps_end: float = 0.1
    """Final exploration epsilon (Nature: 0.1)."""
    eps_steps: int = 1_000_000
    """Agent steps over which epsilon falls linearly (Nature: 1M)."""
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    """rmsprop: DeepMind's centred RMSProp; adam: milestones.adam.Adam (after the paper)."""
    lr: float = 2.5e-4
    """Learning rate (Nature: 0.00025)."""
    rms_decay: float = 0.95
    """RMSProp gradient and squared-gradient momentum (Nature: 0.95 and 0.95)."""
    rms_eps: float = 0.01
    """RMSProp "min squared gradient", added under the root (Nature: 0.01)."""
    loss: Literal["huber", "mse"] = "huber"
    """huber: the squared error with its gradient clipped to [-1, 1] (Nature's error clipping)."""
    clip_rewards: bool = True
    """Train on sign(r) (Nature: rewards clipped to [-1, 1]); returns are always logged raw."""
    life_loss_terminal: bool = True
    """Atari: a lost life ends the target's bootstrap; the game goes on (Nature, Methods)."""
    noop_max: int = 30
    """Atari: up to this many no-op actions at the start of each episode (Nature: 30)."""
    eval_every: int = 250_000
    """Agent steps between evaluations."""
    eval_episodes: int = 30
    """Episodes per evaluation (Nature: 30, each up to 5 minutes)."""
    eval_epsilon: float = 0.05
    """Epsilon during evaluation (Nature: 0.05); 0 = greedy. Never the training epsilon."""
    eval_max_frames: int = 18_000
    """Evaluation episodes stop after this many emulator frames (Nature: 5 min = 18,000)."""
    target_return: float | None = None
    """Record the first evaluation whose mean return reaches this (CartPole: 475)."""
    log_every: int = 10_000
    """Agent steps between training records (loss, Q, epsilon, recent returns)."""
    ckpt_every: int = 100_000
    """Agent steps between last.pt checkpoints."""
    memory_in_checkpoint: Literal["auto", "yes", "no"] = "auto"
    """Save the replay memory in last.pt; auto: when it takes under 2 GB (not Atari's 7 GB)."""
    gif: bool = True
    """At the end, write agent.gif: the best evaluated network playing one episode."""
    cpu_threads: int | None = None
    """torch threads on CPU; default 1 for the MLP (its tiny ops run fastest on one thread),
    torch's default for the convolutional networks."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for field in ("hidden", "total_steps", "memory_size", "batch_size", "update_every",
                      "target_update_every", "eps_steps", "eval_every", "eval_episodes",
                      "eval_max_frames", "log_every", "ckpt_every"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(self.learning_starts >= 0, self, "learning_starts", "must be >= 0")
        require(0 <= self.gamma <= 1, self, "gamma", "must be in [0, 1]")
        for field in ("eps_start", "eps_end", "eval_epsilon"):
            require(0 <= getattr(self, field) <= 1, self, field, "must be in [0, 1]")
        require(self.lr > 0, self, "lr", "must be > 0")
        require(0 <= self.rms_decay < 1, self, "rms_decay", "must be in [0, 1)")
        require(self.rms_eps > 0, self, "rms_eps", "must be > 0")
        require(self.noop_max >= 0, self, "noop_max", "must be >= 0")
        require(self.memory_size >= self.batch_size + 8, self, "memory_size",
                f"must hold at least a minibatch (batch_size {self.batch_size}) and a stack")
        require(self.network in ("auto", "mlp") or is_atari(self.env), self, "network",
                f"{self.network} takes 84x84 frames; {self.env} is not an Atari game (use mlp)")


def paper() -> Config:
    """Nature 2015, Extended Data Table 1, on Breakout: 50M agent steps (GPU, days)."""
    return Config(preset="paper", dtype="fp32")  # DEVIATION(D5): no bf16 by default


def quick() -> Config:
    """CPU minutes: CartPole-v1 with a 2 x 128 MLP, Adam, 100k steps, greedy evaluation."""
    # DEVIATION(D2): CartPole is not in the paper; a recipe for it
    return Config(preset="quick", env="CartPole-v1", total_steps=100_000, memory_size=50_000,
                  batch_size=64, update_every=1, target_update_every=250, learning_starts=1_000,
                  eps_end=0.05, eps_steps=10_000, optimizer="adam", lr=5e-4, clip_rewards=False,
                  eval_every=5_000, eval_episodes=20, eval_epsilon=0.0, target_return=475.0,
                  log_every=1_000, ckpt_every=10_000)


def smoke() -> Config:
    """Seconds: Pong with the Nature network, a few hundred steps, tiny memory. For tests."""
    return Config(preset="smoke", env="ALE/Pong-v5", total_steps=200, memory_size=500,
                  batch_size=8, learning_starts=100, target_update_every=20, eps_steps=200,
                  eval_every=200, eval_episodes=1, eval_max_frames=200, log_every=50,
                  ckpt_every=100, gif=False, progress=False)


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke}


def build_network(cfg: Config, info: EnvInfo) -> nn.Module:
    kind = cfg.network if cfg.network != "auto" else ("nature" if info.atari else "mlp")
    if kind == "mlp":
        return mlp_qnet(math.prod(info.obs_shape), info.n_actions, cfg.hidden)
    return (nature_dqn if kind == "nature" else nips_dqn)(info.n_actions, info.history)


def build_optimizer(cfg: Config, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":  # DEVIATION(D2): Adam for the small presets
        return Adam(params, lr=cfg.lr)
    # Nature: RMSProp, gradient momentum 0.95, squared gradient momentum 0.95, min squared
    # gradient 0.01: theta -= lr g / sqrt(E[g^2] - E[g]^2 + 0.01)
    return RMSProp(params, lr=cfg.lr, alpha=cfg.rms_decay, eps=cfg.rms_eps, centered=True,
                   eps_in_sqrt=True)


def epsilon(cfg: Config, step: int) -> float:
    """Linear annealing from eps_start to eps_end over eps_steps, then constant."""
    return cfg.eps_end + (cfg.eps_start - cfg.eps_end) * max(0.0, 1 - step / cfg.eps_steps)


def td_target(reward: torch.Tensor, terminal: torch.Tensor, q_next: torch.Tensor,
              gamma: float) -> torch.Tensor:
    """y = r for terminal transitions, else r + gamma max_a' Q^(phi', a'): (B,)."""
    return reward + gamma * (~terminal).float() * q_next.max(1).values


def td_loss(q: nn.Module, target: nn.Module, batch: dict, gamma: float, kind: str = "huber"):
    """(loss, mean Q(phi, a)) for one minibatch; no gradient flows through the target."""
    with torch.no_grad():
        y = td_target(batch["reward"], batch["terminal"], target(batch["next_state"]), gamma)
    q_sa = q(batch["state"]).gather(1, batch["action"][:, None]).squeeze(1)  # (B,)
    # Huber = (y - Q)^2 / 2 with its derivative clipped to [-1, 1] (Nature: "error clipping")
    # DEVIATION(D3): the mean over the minibatch
    loss = F.smooth_l1_loss(q_sa, y) if kind == "huber" else F.mse_loss(q_sa, y)
    return loss, q_sa.detach().mean()


def act(q: nn.Module, obs: np.ndarray, eps: float, n_actions: int, rng: random.Random,
        device: torch.device) -> int:
    """epsilon-greedy: a random action with probability eps, else argmax_a Q(phi, a)."""
    if rng.random() < eps:
        return rng.randrange(n_actions)
    with torch.inference_mode():
        return int(q(torch.as_tensor(obs, device=device)[None]).argmax(1).item())


def evaluate(cfg: Config, q: nn.Module, env, info: EnvInfo, device: torch.device,
             seed: int, episodes: int | None = None, frames: list | None = None) -> dict:
    """Nature's protocol: a separate environment, epsilon = eval_epsilon, random no-op starts,
    episodes cut after eval_max_frames emulator frames; raw (unclipped) returns, whole games."""
    rng = random.Random(seed)
    max_steps = cfg.eval_max_frames // (4 if info.atari else 1)
    returns, lengths = [], []
    was_training = q.training
    q.eval()
    for e in range(episodes or cfg.eval_episodes):
        obs, _ = env.reset(seed=seed + e)
        total, t, done = 0.0, 0, False
        while not done and t < max_steps:
            if frames is not None:
                frames.append(render(env, info))
            a = act(q, obs, cfg.eval_epsilon, info.n_actions, rng, device)
            obs, r, terminated, truncated, _ = env.step(a)
            total, t, done = total + float(r), t + 1, terminated or truncated
        returns.append(total)
        lengths.append(t)
    q.train(was_training)
    return {"return_mean": statistics.fmean(returns),
            "return_std": statistics.pstdev(returns) if len(returns) > 1 else 0.0,
            "return_min": min(returns), "return_max": max(returns),
            "length_mean": statistics.fmean(lengths), "episodes": len(returns)}


def episode_seed(cfg: Config, episode: int) -> int:
    return cfg.seed * 1_000_003 + episode  # every episode from a known seed: exact resume


def main(cfg: Config) -> dict:
    """Train per ``cfg``; returns the run summary (also written to <out>/summary.json)."""
    if int(__import__("os").environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("device", cfg.device, "DQN trains one learner on one environment; "
                          "run it without torchrun (several seeds = several processes)")
    rt = runtime.setup(cfg)
    if rt.device.type == "cpu" and (cfg.cpu_threads or cfg.network == "mlp"
                                    or (cfg.network == "auto" and not is_atari(cfg.env))):
        torch.set_num_threads(cfg.cpu_threads or 1)
    return train(cfg, rt)


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    env, info = make_env(cfg.env, noop_max=cfg.noop_max)  # errors before anything is written
    eval_env, _ = make_env(cfg.env, noop_max=cfg.noop_max)
    out = Path(cfg.out or f"runs/dqn/{cfg.preset}-{cfg.env.replace('/', '-')}-s{cfg.seed}")
    device = rt.device

    q = build_network(cfg, info).to(device)
    target = copy.deepcopy(q) if cfg.target_network else q  # no target network: theta^- = theta
    opt = build_optimizer(cfg, q.parameters())
    memory = ReplayMemory(cfg.memory_size if cfg.replay else info.history + 4,
                          info.frame_shape, info.history,
                          torch.uint8 if info.atari else torch.float32)
    keep_memory = {"yes": True, "no": False}.get(cfg.memory_in_checkpoint,
                                                 memory.nbytes < 2 * 1024**3)
    explore = random.Random(cfg.seed)  # epsilon-greedy draws; replay sampling uses torch's RNG
    step = updates = episode = 0
    episode_actions: list[int] = []
    best = {"return_mean": -math.inf, "step": None}
    solved_step = None
    ckpt = start_run(out, cfg, is_main=True, map_location=device)
    if ckpt is not None:
        q.load_state_dict(ckpt["model"])
        if cfg.target_network:
            target.load_state_dict(ckpt["target"])
        opt.load_state_dict(ckpt["optimizer"])
        step, updates, episode = ckpt["step"], ckpt["updates"], ckpt["episode"]
        episode_actions = ckpt["episode_actions"].tolist()
        best, solved_step = ckpt["best"], ckpt["solved_step"]
        explore.setstate(_tuple(ckpt["explore"]))
        if "memory" in ckpt:
            memory.load_state_dict(ckpt["memory"])
        set_rng_state(ckpt["rng"])
    header = {"config": to_dict(cfg), "env": environment(device),
              "environment": dataclasses.asdict(info) | {"frame_dtype": str(info.frame_dtype)},
              "params": sum(p.numel() for p in q.parameters()), "memory_bytes": memory.nbytes}
    log = MetricLogger(out, header, total_steps=cfg.total_steps, start_step=step,
                       progress=cfg.progress, tensorboard=cfg.tensorboard, desc=cfg.env)

    # The episode in progress: reset from its seed and replay its actions (deterministic envs),
    # so a resumed run sees exactly the states it would have seen.
    obs, _ = env.reset(seed=episode_seed(cfg, episode))
    lives = _lives(env)
    ep_return, ep_len = 0.0, 0
    refill = ckpt is None or "memory" not in ckpt
    if refill:
        memory.start(newest_frame(obs, info))
    for a in episode_actions:
        obs, r, terminated, _, step_info = env.step(a)
        ep_return, ep_len = ep_return + float(r), ep_len + 1
        life_lost = info.atari and step_info.get("lives", lives) < lives
        lives = step_info.get("lives", lives)
        if refill:
            memory.append(a, float(np.sign(r)) if cfg.clip_rewards else float(r),
                          terminated or (cfg.life_loss_terminal and life_lost),
                          newest_frame(obs, info))
    # Resumed without its replay memory (Atari's 7 GB is not checkpointed by default), D refills
    # for learning_starts steps before learning goes on.
    learn_after = cfg.learning_starts if ckpt is None or not refill else step + cfg.learning_starts

    def state() -> dict:
        s = {"model": q.state_dict(), "optimizer": opt.state_dict(), "step": step,
             "updates": updates, "episode": episode, "best": best, "solved_step": solved_step,
             "episode_actions": torch.tensor(episode_actions, dtype=torch.int64),
             "explore": list(explore.getstate()), "rng": rng_state(), "config": to_dict(cfg),
             "env": header["env"]}
        if cfg.target_network:
            s["target"] = target.state_dict()
        if keep_memory:
            s["memory"] = memory.state_dict()
        return s

    budget = min(cfg.total_steps, cfg.max_steps or cfg.total_steps)
    stop_reason, losses, qs, recent = None, [], [], []
    t0, steps_t0 = time.perf_counter(), step
    q.train()
    with runtime.StopFlag(cfg.max_minutes) as stop:
        while step < budget and stop_reason is None:
            eps = epsilon(cfg, step) if step >= cfg.learning_starts else 1.0
            a = act(q, obs, eps, info.n_actions, explore, device)
            next_obs, r, terminated, truncated, step_info = env.step(a)
            step += 1
            ep_return, ep_len = ep_return + float(r), ep_len + 1
            episode_actions.append(a)
            life_lost = info.atari and step_info.get("lives", lives) < lives
            lives = step_info.get("lives", lives)
            r_train = float(np.sign(r)) if cfg.clip_rewards else float(r)
            memory.append(a, r_train, terminated or (cfg.life_loss_terminal and life_lost),
                          newest_frame(next_obs, info), terminated or truncated)
            obs = next_obs
            if terminated or truncated:
                log.log(step, "episode", episode=episode, ret=ep_return, length=ep_len)
                recent = (recent + [ep_return])[-20:]
                episode += 1
                episode_actions = []
                obs, _ = env.reset(seed=episode_seed(cfg, episode))
                lives, ep_return, ep_len = _lives(env), 0.0, 0
                memory.start(newest_frame(obs, info))

            if step > learn_after and step % cfg.update_every == 0:
                # DEVIATION(D6): without replay, the latest transition alone
                batch = memory.sample(cfg.batch_size) if cfg.replay else memory.latest()
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                with rt.autocast():
                    loss, q_mean = td_loss(q, target, batch, cfg.gamma, cfg.loss)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                updates += 1
                losses.append(loss.detach())
                qs.append(q_mean)
                # DEVIATION(D1): C counts updates, as ED Table 1 says (DeepMind's code: steps)
                if cfg.target_network and updates % cfg.target_update_every == 0:
                    target.load_state_dict(q.state_dict())  # theta^- = theta
            log.advance()

            if step % cfg.log_every == 0:
                check_finite(losses, updates - len(losses) + 1)
                elapsed = time.perf_counter() - t0
                log.log(step, "train", epsilon=eps, updates=updates, episodes=episode,
                        loss=torch.stack(losses).mean().item() if losses else None,
                        q=torch.stack(qs).mean().item() if qs else None,
                        recent_return=statistics.fmean(recent) if recent else None,
                        steps_per_s=round((step - steps_t0) / max(elapsed, 1e-9), 1))
                losses, qs = [], []
            if step % cfg.eval_every == 0 or step == budget:
                result = evaluate(cfg, q, eval_env, info, device, seed=10**9 + step)
                log.log(step, "eval", **result)
                if result["return_mean"] >= best["return_mean"]:  # the best network is kept
                    best = {"return_mean": result["return_mean"],
                            "return_std": result["return_std"], "step": step}
                    save_checkpoint(out / "best.pt", {"model": q.state_dict(), "step": step,
                                                      "eval": result, "config": to_dict(cfg)})
                if (solved_step is None and cfg.target_return is not None
                        and result["return_mean"] >= cfg.target_return):
                    solved_step = step
            if step % cfg.ckpt_every == 0:
                save_checkpoint(out / "last.pt", state())
            stop_reason = stop.check()
    check_finite(losses, updates - len(losses) + 1)
    if stop_reason is None and step < cfg.total_steps:
        stop_reason = "max_steps"
    save_checkpoint(out / "last.pt", state())
    summary = {"env": cfg.env, "preset": cfg.preset, "seed": cfg.seed, "replay": cfg.replay,
               "target_network": cfg.target_network, "step": step, "updates": updates,
               "episodes": episode, "stopped": stop_reason, "params": header["params"],
               "memory_bytes": memory.nbytes, "memory_in_checkpoint": keep_memory,
               "best_eval": best, "solved_step": solved_step,
               "train_time_s": round(time.perf_counter() - t0, 2)}
    if stop_reason not in ("SIGTERM", "SIGINT"):
        export_safetensors(q, out / "model.safetensors", {"config": json.dumps(to_dict(cfg))})
        if (out / "best.pt").exists():
            from milestones.core.checkpoint import load_checkpoint

            best_q = build_network(cfg, info).to(device)
            best_q.load_state_dict(load_checkpoint(out / "best.pt", device)["model"])
            export_safetensors(best_q, out / "model-best.safetensors")
            if cfg.gif:
                summary["gif"] = str(write_gif(cfg, best_q, out / "agent.gif", device))
        plot_run(out)
    log.finish(summary)
    env.close()
    eval_env.close()
    return {**summary, "out": str(out)}


def _lives(env) -> int:
    ale = getattr(env.unwrapped, "ale", None)
    return ale.lives() if ale is not None else 0


def _tuple(x):
    return tuple(_tuple(v) for v in x) if isinstance(x, list | tuple) else x


# ---- output people look at: learning curves and the agent playing -------------------------------

def plot_run(out: Path) -> Path:
    """curves.png: episode returns (raw) and evaluation means over agent steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(out / "metrics.jsonl")
    episodes = [(r["step"], r["ret"]) for r in records if r.get("split") == "episode"]
    evals = [(r["step"], r["return_mean"], r["return_std"]) for r in records
             if r.get("split") == "eval"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    if episodes:
        xs, ys = zip(*episodes, strict=True)
        ax.plot(xs, ys, ".", ms=2, alpha=0.35, label="training episodes (exploring)")
    if evals:
        xs, m, s = (np.asarray(v) for v in zip(*evals, strict=True))
        ax.errorbar(xs, m, yerr=s, marker="o", ms=3, capsize=2, label="evaluation mean ± std")
    ax.set_xlabel("agent steps")
    ax.set_ylabel("return")
    ax.set_title(out.name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "curves.png")
    plt.close(fig)
    return out / "curves.png"


def render(env, info: EnvInfo) -> np.ndarray:
    """An RGB frame of the environment: ALE's screen, or CartPole drawn from its state."""
    if info.atari:
        return env.unwrapped.ale.getScreenRGB()
    state = getattr(env.unwrapped, "state", None)
    if info.env_id.startswith("CartPole") and state is not None:
        return _draw_cartpole(np.asarray(state, dtype=float))
    frame = env.render()  # needs the env made with render_mode="rgb_array" (and pygame)
    if frame is None:
        raise RuntimeError(f"{info.env_id} renders no frames")
    return frame


def _draw_cartpole(state: np.ndarray, width: int = 300, height: int = 150) -> np.ndarray:
    from PIL import Image, ImageDraw

    x, _, theta, _ = state
    scale = width / 9.6  # the track spans x in [-4.8, 4.8]
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    base = height - 40
    d.line([(0, base), (width, base)], fill="black")
    cx = width / 2 + x * scale
    d.rectangle([cx - 20, base - 12, cx + 20, base + 8], fill=(60, 60, 60))
    length = 2 * 0.5 * scale  # pole of half-length 0.5
    tip = (cx + length * math.sin(theta), base - 12 - length * math.cos(theta))
    d.line([(cx, base - 12), tip], fill=(200, 120, 60), width=6)
    return np.asarray(img)


def write_gif(cfg: Config, q: nn.Module, path: Path, device: torch.device,
              max_frames: int = 1500) -> Path | None:
    """One evaluation episode (epsilon = eval_epsilon) as an animated GIF (Pillow, no codec)."""
    from PIL import Image

    env, info = make_env(cfg.env, noop_max=cfg.noop_max)
    frames: list[np.ndarray] = []
    gif_cfg = dataclasses.replace(cfg, eval_max_frames=max_frames * (4 if info.atari else 1))
    try:
        evaluate(gif_cfg, q, env, info, device, seed=2**31 - 1, episodes=1, frames=frames)
    except RuntimeError as e:
        print(f"note: no GIF: {e}")
        return None
    finally:
        env.close()
    images = [Image.fromarray(f) for f in frames[::2 if len(frames) > 600 else 1]]
    images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)
    return path


if __name__ == "__main__":
    raise SystemExit(run(main, Config, PRESETS))
