"""Deep Q-learning with experience replay and a target network: ``python -m milestones.dqn.train``.

    python -m milestones.dqn.train --preset quick                      # CartPole-v1, CPU minutes
    python -m milestones.dqn.train --env ALE/Breakout-v5               # Nature settings, GPU days
    python -m milestones.dqn.train --preset quick --no-replay --no-target-network   # ablations
    python -m milestones.dqn.train --preset minatar --env MinAtar/SpaceInvaders-v0  # from pixels

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
import math
import os
import random
import statistics
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from milestones.adam import Adam, RMSProp
from milestones.core import runtime
from milestones.core.checkpoint import export_safetensors, load_checkpoint
from milestones.core.config import ConfigError, require
from milestones.core.run import Run, RunConfig, Window, cli, launch
from milestones.dqn.data import EnvInfo, is_atari, is_minatar, make_env, newest_frame
from milestones.dqn.model import minatar_dqn, mlp_qnet, nature_dqn, nips_dqn, td_loss, td_target
from milestones.dqn.render import plot_run, render, write_gif
from milestones.dqn.replay import ReplayMemory


@dataclasses.dataclass
class Config(RunConfig):
    """DQN on one environment. Default: the Nature settings (Extended Data Table 1) on Breakout."""

    env: str = "ALE/Breakout-v5"
    """Environment id: ALE/<Game>-v5 gets the Nature preprocessing; CartPole-v1, Acrobot-v1 or
    the built-in Chain-v0 take an MLP; MinAtar/<Game>-v0 the MinAtar network. List them:
    python -m milestones.dqn.data."""
    network: Literal["auto", "nature", "nips", "minatar", "mlp"] = "auto"
    """auto: nature for Atari, minatar for MinAtar, mlp otherwise. nips: the 2013 network."""
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
    rms_eps_in_sqrt: bool = True
    """RMSProp's epsilon under the square root (DeepMind's form); --no-rms-eps-in-sqrt adds it
    after the root, as torch.optim.RMSprop does (MinAtar's DQN)."""
    rms_momentum: float = 0.0
    """RMSProp momentum on the scaled steps (Nature: none; MinAtar's DQN: 0.95)."""
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
        require(0 <= self.rms_momentum < 1, self, "rms_momentum", "must be in [0, 1)")
        require(self.noop_max >= 0, self, "noop_max", "must be >= 0")
        require(self.memory_size >= self.batch_size + 8, self, "memory_size",
                f"must hold at least a minibatch (batch_size {self.batch_size}) and a stack")
        require(self.cpu_threads is None or self.cpu_threads > 0, self, "cpu_threads",
                "must be > 0")
        require(self.network not in ("nature", "nips") or is_atari(self.env), self, "network",
                f"{self.network} takes 84x84 frames; {self.env} is not an Atari game (use mlp)")
        require(self.network != "minatar" or is_minatar(self.env), self, "network",
                f"minatar takes MinAtar's 10x10 grids; {self.env} is not a MinAtar game")


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


def minatar() -> Config:
    """MinAtar (Young & Tian 2019) as its paper trains DQN, on Breakout: 5M frames (CPU hours).
    Each setting is the constant of the authors' examples/dqn.py (the paper's §4 and its
    Table of hyper-parameters say the same)."""
    return Config(
        preset="minatar", env="MinAtar/Breakout-v0", network="minatar",
        total_steps=5_000_000,  # NUM_FRAMES: one frame per agent step (no action repeat)
        memory_size=100_000,  # REPLAY_BUFFER_SIZE
        batch_size=32,  # BATCH_SIZE
        update_every=1,  # TRAINING_FREQ: an update every frame
        target_update_every=1_000,  # TARGET_NETWORK_UPDATE_FREQ, counted in updates
        learning_starts=5_000,  # REPLAY_START_SIZE
        eps_start=1.0, eps_end=0.1,  # EPSILON, END_EPSILON
        eps_steps=100_000,  # FIRST_N_FRAMES  # DEVIATION(D10): annealed from frame 0
        optimizer="rmsprop", lr=2.5e-4,  # STEP_SIZE
        rms_decay=0.95, rms_momentum=0.95,  # SQUARED_GRAD_MOMENTUM, GRAD_MOMENTUM
        rms_eps=0.01, rms_eps_in_sqrt=False,  # MIN_SQUARED_GRAD, as torch.optim.RMSprop's eps
        gamma=0.99, loss="huber",  # GAMMA; f.smooth_l1_loss
        clip_rewards=False,  # MinAtar's rewards are already 0 or 1
        eval_every=100_000, eval_episodes=30, eval_epsilon=0.05,
        eval_max_frames=10_000,  # DEVIATION(D11): evaluation episodes cut at 10k frames
        log_every=10_000, ckpt_every=100_000)


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke, "minatar": minatar}


def build_network(cfg: Config, info: EnvInfo) -> nn.Module:
    kind = cfg.network if cfg.network != "auto" else ("nature" if info.atari else "mlp")
    if cfg.network == "auto" and is_minatar(info.env_id):
        kind = "minatar"
    if kind == "mlp":
        return mlp_qnet(math.prod(info.obs_shape), info.n_actions, cfg.hidden)
    if kind == "minatar":
        return minatar_dqn(info.n_actions, info.obs_shape[0])
    return (nature_dqn if kind == "nature" else nips_dqn)(info.n_actions, info.history)


def build_optimizer(cfg: Config, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":  # DEVIATION(D2): Adam for the small presets
        return Adam(params, lr=cfg.lr)
    # Nature: RMSProp, gradient momentum 0.95, squared gradient momentum 0.95, min squared
    # gradient 0.01: theta -= lr g / sqrt(E[g^2] - E[g]^2 + 0.01)
    return RMSProp(params, lr=cfg.lr, alpha=cfg.rms_decay, eps=cfg.rms_eps, centered=True,
                   eps_in_sqrt=cfg.rms_eps_in_sqrt, momentum=cfg.rms_momentum)


def epsilon(cfg: Config, step: int) -> float:
    """Linear annealing from eps_start to eps_end over eps_steps, then constant."""
    return cfg.eps_end + (cfg.eps_start - cfg.eps_end) * max(0.0, 1 - step / cfg.eps_steps)


def minibatch_loss(q: nn.Module, target: nn.Module, batch: dict, gamma: float,
                   kind: str = "huber") -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, mean Q(phi_j, a_j)) of one minibatch; no gradient flows through the target."""
    with torch.no_grad():
        y = td_target(batch["reward"], batch["terminal"], target(batch["next_state"]), gamma)
    q_sa = q(batch["state"]).gather(1, batch["action"][:, None]).squeeze(1)  # (B,)
    return td_loss(q_sa, y, kind), q_sa.detach().mean()


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


def eval_seed(cfg: Config, what: int | str) -> int:
    """The seed of an evaluation (its episodes and its epsilon draws): a function of the run's
    seed and ``what`` (the step, or "fresh" for the final re-evaluation of the best network),
    so runs of different seeds are evaluated on different episodes."""
    return random.Random(f"eval:{cfg.seed}:{what}").randrange(2**31)


def episode_seed(cfg: Config, episode: int) -> int:
    return cfg.seed * 1_000_003 + episode  # every episode from a known seed: exact resume


@dataclasses.dataclass
class Progress:
    """The loop's own state beyond the step (checkpointed with the run)."""

    updates: int = 0  # minibatch updates done
    episode: int = 0  # the episode in progress
    episode_actions: list[int] = dataclasses.field(default_factory=list)  # replayed on resume
    recent: list[float] = dataclasses.field(default_factory=list)  # the last 20 returns
    solved_step: int | None = None  # the first evaluation that reached target_return


def main(cfg: Config) -> dict:
    """Train per ``cfg``; returns the run summary (also written to <out>/summary.json)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("device", cfg.device, "DQN trains one learner on one environment; "
                          "run it without torchrun (several seeds = several processes)")
    return launch(train, cfg)


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    if rt.device.type == "cpu" and (cfg.cpu_threads or cfg.network == "mlp"
                                    or (cfg.network == "auto" and not is_atari(cfg.env))):
        torch.set_num_threads(cfg.cpu_threads or 1)
    out = Path(cfg.out or f"runs/dqn/{cfg.preset}-{cfg.env.replace('/', '-')}-s{cfg.seed}")
    with Run(cfg, rt, out) as run:
        env, info = make_env(cfg.env, noop_max=cfg.noop_max)  # errors before anything is written
        eval_env, _ = make_env(cfg.env, noop_max=cfg.noop_max)
        device = rt.device

        # the 84x84 convolutions in channels-last: the learner's update is measurably faster
        # on CPU (benchmarks/dqn.py); the checkpoints and exports hold the same values
        layout = torch.channels_last if info.atari else torch.contiguous_format
        q = build_network(cfg, info).to(device, memory_format=layout)
        target = copy.deepcopy(q) if cfg.target_network else q  # no target network: theta^- = theta
        opt = build_optimizer(cfg, q.parameters())
        scaler = rt.grad_scaler()  # fp16 only
        memory = ReplayMemory(cfg.memory_size if cfg.replay else info.history + 4,
                              info.frame_shape, info.history,
                              torch.uint8 if info.frame_dtype == np.uint8 else torch.float32)
        keep_memory = {"yes": True, "no": False}.get(cfg.memory_in_checkpoint,
                                                     memory.nbytes < 2 * 1024**3)
        explore = random.Random(cfg.seed)  # epsilon-greedy draws; replay sampling uses torch's
        progress = Progress()
        window = Window("loss", "q", "updates", device=device)
        run.track(model=q, optimizer=opt, scaler=scaler, explore=explore, progress=progress,
                  window=window)
        if cfg.target_network:
            run.track(target=target)
        if keep_memory:
            run.track(memory=memory, in_best=False)
        params = sum(p.numel() for p in q.parameters())
        run.start({"environment": dataclasses.asdict(info) | {"frame_dtype":
                                                              str(info.frame_dtype)},
                   "params": params, "memory_bytes": memory.nbytes},
                  total_steps=cfg.total_steps, desc=cfg.env)

        # The episode in progress: reset from its seed and replay its actions (deterministic
        # envs), so a resumed run sees exactly the states it would have seen.
        obs, _ = env.reset(seed=episode_seed(cfg, progress.episode))
        lives = _lives(env)
        ep_return, ep_len = 0.0, 0
        refill = not run.resumed or not keep_memory
        if refill:
            memory.start(newest_frame(obs, info))
        for a in progress.episode_actions:
            obs, r, terminated, _, step_info = env.step(a)
            ep_return, ep_len = ep_return + float(r), ep_len + 1
            life_lost = info.atari and step_info.get("lives", lives) < lives
            lives = step_info.get("lives", lives)
            if refill:
                memory.append(a, float(np.sign(r)) if cfg.clip_rewards else float(r),
                              terminated or (cfg.life_loss_terminal and life_lost),
                              newest_frame(obs, info))
        # Resumed without its replay memory (Atari's 7 GB is not checkpointed by default), D
        # refills for learning_starts steps before learning goes on.
        learn_after = (cfg.learning_starts if not (run.resumed and refill)
                       else run.step + cfg.learning_starts)

        def evaluate_and_keep_best() -> None:
            with run.paused():
                result = evaluate(cfg, q, eval_env, info, device, seed=eval_seed(cfg, run.step))
            run.log("eval", **result)
            # the best network is kept; the latest of equal ones (CartPole's 500s)
            run.keep_best("eval_return", result["return_mean"], maximize=True, ties=True)
            if (progress.solved_step is None and cfg.target_return is not None
                    and result["return_mean"] >= cfg.target_return):
                progress.solved_step = run.step

        net = runtime.maybe_compile(q, cfg.compile)  # acting and learning; checkpoints hold q
        target_net = runtime.maybe_compile(target, cfg.compile) if cfg.target_network else net
        logged = (run.step, run.train_time)  # for steps per second
        q.train()
        while not run.should_stop():
            eps = epsilon(cfg, run.step) if run.step >= cfg.learning_starts else 1.0
            a = act(net, obs, eps, info.n_actions, explore, device)
            next_obs, r, terminated, truncated, step_info = env.step(a)
            run.step += 1
            ep_return, ep_len = ep_return + float(r), ep_len + 1
            progress.episode_actions.append(a)
            life_lost = info.atari and step_info.get("lives", lives) < lives
            lives = step_info.get("lives", lives)
            r_train = float(np.sign(r)) if cfg.clip_rewards else float(r)
            memory.append(a, r_train, terminated or (cfg.life_loss_terminal and life_lost),
                          newest_frame(next_obs, info), terminated or truncated)
            obs = next_obs
            if terminated or truncated:
                run.log("episode", episode=progress.episode, ret=ep_return, length=ep_len)
                progress.recent = (progress.recent + [ep_return])[-20:]
                progress.episode += 1
                progress.episode_actions = []
                obs, _ = env.reset(seed=episode_seed(cfg, progress.episode))
                lives, ep_return, ep_len = _lives(env), 0.0, 0
                memory.start(newest_frame(obs, info))

            if run.step > learn_after and run.step % cfg.update_every == 0:
                # DEVIATION(D6): without replay, the latest transition alone
                batch = memory.sample(cfg.batch_size) if cfg.replay else memory.latest()
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                for k in ("state", "next_state") if info.atari else ():
                    batch[k] = batch[k].contiguous(memory_format=layout)  # (B, 4, 84, 84)
                with rt.autocast():
                    loss, q_mean = minibatch_loss(net, target_net, batch, cfg.gamma, cfg.loss)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                progress.updates += 1
                run.track_loss(loss)
                window.add(loss=loss.detach(), q=q_mean, updates=1)
                # DEVIATION(D1): C counts updates, as ED Table 1 says (DeepMind's code: steps)
                if cfg.target_network and progress.updates % cfg.target_update_every == 0:
                    target.load_state_dict(q.state_dict())  # theta^- = theta

            if run.step % cfg.log_every == 0:
                run.check_finite()
                sums = window.flush()
                n = sums["updates"]  # the loss and Q are means over the window's updates
                seconds = run.train_time - logged[1]
                run.log("train", epsilon=eps, updates=progress.updates,
                        episodes=progress.episode, loss=sums["loss"] / n if n else None,
                        q=sums["q"] / n if n else None,
                        recent_return=statistics.fmean(progress.recent) if progress.recent
                        else None,
                        steps_per_s=round((run.step - logged[0]) / max(seconds, 1e-9), 1))
                logged = (run.step, run.train_time)
            if run.step % cfg.eval_every == 0:
                evaluate_and_keep_best()
            if run.step % cfg.ckpt_every == 0:
                run.save()

        if not run.interrupted and run.step % cfg.eval_every:  # a final evaluation
            evaluate_and_keep_best()
        summary = {"env": cfg.env, "preset": cfg.preset, "seed": cfg.seed, "replay": cfg.replay,
                   "target_network": cfg.target_network, "updates": progress.updates,
                   "episodes": progress.episode, "params": params,
                   "memory_bytes": memory.nbytes, "memory_in_checkpoint": keep_memory,
                   "solved_step": progress.solved_step}
        if run.best["step"] is not None:
            summary["best_eval"] = {"return_mean": run.best["value"], "step": run.best["step"]}
        if not run.interrupted and rt.is_main:
            with run.paused():
                if (out / "best.pt").exists():
                    best_q = build_network(cfg, info).to(device)
                    best_q.load_state_dict(load_checkpoint(out / "best.pt", device)["model"])
                    export_safetensors(best_q, out / "model-best.safetensors")
                    # the best evaluation is the maximum of noisy scores, biased upwards: its
                    # network is scored again on episodes no evaluation has seen
                    fresh = evaluate(cfg, best_q, eval_env, info, device,
                                     seed=eval_seed(cfg, "fresh"))
                    summary["best_eval_fresh"] = {k: fresh[k] for k in ("return_mean",
                                                                       "return_std", "episodes")}
                    if cfg.gif:
                        summary["gif"] = str(write_gif(cfg, best_q, out / "agent.gif", device))
                plot_run(out)
        env.close()
        eval_env.close()
        # safetensors stores contiguous tensors: the export is a standard-layout copy
        plain = copy.deepcopy(q).to(memory_format=torch.contiguous_format)
        return run.finish(summary, exports={"model": plain})


def _lives(env) -> int:
    ale = getattr(env.unwrapped, "ale", None)
    return ale.lives() if ale is not None else 0


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
