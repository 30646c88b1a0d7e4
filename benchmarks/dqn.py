"""DQN speed on Pong, in one process; prints one JSON object.

    python benchmarks/dqn.py              # CPU: about 2 minutes on 2 cores
    python benchmarks/dqn.py --quick      # seconds (tests)
    python benchmarks/dqn.py --device cuda
    python benchmarks/dqn.py --peers      # + Stable-Baselines3 side by side on Pong
    python benchmarks/dqn.py --cartpole   # only: CartPole steps to 475, ours and SB3 (~20 min)

1. A plain gymnasium loop: the same preprocessed Pong (max-pool, grey 84x84, action repeat 4,
   stack of 4), random actions, nothing else. The ceiling for any agent on this env.
2. Our acting path alone: epsilon-greedy with a Nature-network forward pass every step, the
   environment step, the replay-memory write (``train.act`` + ``ReplayMemory.append``).
3. The learner alone: minibatch sampling (stacks rebuilt from single frames), the TD loss,
   backward, DeepMind's RMSProp step (``train.td_loss`` + ``build_optimizer``): updates/s; and
   the same in the channels-last memory format (adopted only if it measurably helps).
4. The full training loop (``train.main``, greedy acting, an update every 4 steps as in Nature):
   agent steps/s, and as a ratio of the plain loop's.
5. Replay memory bytes per transition, against storing both stacks of every transition.
Repetitions interleaved (each round in the reverse order of the one before); medians.

With ``--peers`` (needs ``pip install 'milestones[peers]'``), Stable-Baselines3's DQN beside ours
on the same machine in the same process (8 alone with ``--cartpole``: it times nothing):

6. Pong training-loop steps/s, interleaved: SB3's ``DQN("CnnPolicy")`` (NatureCNN, the same
   network), batch 32, an update every 4 steps, centred RMSProp, greedy acting, against
   ``train.main`` with the same settings; each timed from its first learning step to its last.
7. Replay bytes per transition of SB3's ``ReplayBuffer`` on these observations, with and without
   ``optimize_memory_usage``, against ours.
8. CartPole-v1: environment steps until a greedy evaluation (20 episodes every 5,000 steps, the
   episodes from each side's own seeds) first averages 475, for our ``quick`` preset (its
   100k-step budget) and for SB3 with rl-baselines3-zoo's published CartPole hyper-parameters
   (their 50k budget).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from milestones.core.bench import alternate, time_ms
from milestones.core.metrics import environment, read_metrics
from milestones.dqn import ReplayMemory, make_env
from milestones.dqn import train as T
from milestones.dqn.data import newest_frame

ENV = "ALE/Pong-v5"


def plain_loop(steps: int) -> float:
    """Agent steps/s of a bare gymnasium loop with random actions."""
    env, _ = make_env(ENV)
    env.reset(seed=0)
    env.action_space.seed(0)

    def run() -> None:
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()

    return steps / (time_ms(run, "cpu") / 1000)


def acting_loop(steps: int, q, device) -> float:
    """Agent steps/s of greedy acting + env step + replay write."""
    env, info = make_env(ENV)
    memory = ReplayMemory(steps + 16, info.frame_shape, info.history)
    rng = random.Random(0)
    obs, _ = env.reset(seed=0)
    memory.start(newest_frame(obs, info))

    def run() -> None:
        nonlocal obs
        for _ in range(steps):
            a = T.act(q, obs, 0.0, info.n_actions, rng, device)
            obs, r, terminated, truncated, _ = env.step(a)
            memory.append(a, float(r), terminated, newest_frame(obs, info),
                          terminated or truncated)
            if terminated or truncated:
                obs, _ = env.reset()
                memory.start(newest_frame(obs, info))

    return steps / (time_ms(run, device) / 1000)


def learner(updates: int, device, batch_size: int = 32, channels_last: bool = False) -> float:
    """Updates/s of sample + TD loss + backward + RMSProp on the Nature network; with
    ``channels_last``, the networks and each minibatch in that memory format."""
    cfg = T.paper()
    env, info = make_env(ENV)
    memory = ReplayMemory(2000, info.frame_shape, info.history)
    obs, _ = env.reset(seed=0)
    memory.start(newest_frame(obs, info))
    for _ in range(1500):
        a = env.action_space.sample()
        obs, r, term, trunc, _ = env.step(a)
        memory.append(a, float(r), term, newest_frame(obs, info), term or trunc)
        if term or trunc:
            obs, _ = env.reset()
            memory.start(newest_frame(obs, info))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    q = T.build_network(cfg, info).to(device, memory_format=fmt)
    target = T.build_network(cfg, info).to(device, memory_format=fmt)
    opt = T.build_optimizer(cfg, q.parameters())

    def update() -> None:
        batch = {k: v.to(device) for k, v in memory.sample(batch_size).items()}
        if channels_last:
            for k in ("state", "next_state"):
                batch[k] = batch[k].contiguous(memory_format=torch.channels_last)
        loss, _ = T.minibatch_loss(q, target, batch, cfg.gamma)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def run() -> None:
        for _ in range(updates):
            update()

    for _ in range(3):  # warm-up
        update()
    return updates / (time_ms(run, device) / 1000)


def full_loop(steps: int, device: str) -> float:
    """Agent steps/s of train.main: greedy acting and an update every 4 steps throughout."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dataclasses.replace(
            T.paper(), total_steps=steps, memory_size=steps + 100, learning_starts=32,
            eps_start=0.0, eps_end=0.0, eval_every=10**9, eval_episodes=1, eval_max_frames=4,
            log_every=steps, ckpt_every=10**9, gif=False, progress=False, device=device,
            out=str(Path(tmp) / "run"))
        T.main(cfg)
        record = next(r for r in read_metrics(Path(tmp) / "run" / "metrics.jsonl")
                      if r["split"] == "train")
        return record["steps_per_s"]  # over the loop, before the final evaluation


# ---- Stable-Baselines3 beside ours (--peers) ---------------------------------------------------

# rl-baselines3-zoo, hyperparams/dqn.yml, CartPole-v1 ("Almost Tuned")
ZOO_CARTPOLE = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
                    learning_starts=1_000, gamma=0.99, target_update_interval=10,
                    train_freq=256, gradient_steps=128, exploration_fraction=0.16,
                    exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]))
ZOO_CARTPOLE_STEPS = 50_000
EVAL_EVERY, EVAL_EPISODES, SOLVED = 5_000, 20, 475.0


def _sb3():
    from milestones.core.data import need

    return need("stable_baselines3", "peers", "benchmarks/dqn.py --peers")


def _learning_clock():
    """An SB3 callback that notes the time of the first and the last step after learning
    starts: the loop's steps/s without the setup around ``learn()``."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Clock(BaseCallback):
        def __init__(self, starts: int):
            super().__init__()
            self.starts, self.first, self.last, self.steps = starts, None, None, 0

        def _on_step(self) -> bool:
            if self.num_timesteps > self.starts:
                now = time.perf_counter()
                self.first = self.first or now
                self.last, self.steps = now, self.steps + 1
            return True

    return Clock


def sb3_loop(steps: int, device: str) -> float:
    """Agent steps/s of SB3's DQN training loop on the same Pong, settings as ``full_loop``."""
    DQN = _sb3().DQN
    env, _ = make_env(ENV)
    starts = 32
    model = DQN("CnnPolicy", env, learning_rate=2.5e-4, buffer_size=steps + 100,
                learning_starts=starts, batch_size=32, train_freq=4, gradient_steps=1,
                target_update_interval=10_000, exploration_initial_eps=0.0,
                exploration_final_eps=0.0, device=device, seed=0,
                policy_kwargs=dict(optimizer_class=torch.optim.RMSprop,
                                   optimizer_kwargs=dict(alpha=0.95, eps=0.01, centered=True)))
    clock = _learning_clock()(starts)
    model.learn(total_timesteps=steps, callback=clock)
    env.close()
    return (clock.steps - 1) / (clock.last - clock.first)


def sb3_bytes_per_transition(optimize: bool) -> float:
    from stable_baselines3.common.buffers import ReplayBuffer

    env, _ = make_env(ENV)
    buffer = ReplayBuffer(1000, env.observation_space, env.action_space, device="cpu",
                          optimize_memory_usage=optimize, handle_timeout_termination=not optimize)
    env.close()
    arrays = [v for v in vars(buffer).values() if isinstance(v, np.ndarray)]
    return sum(a.nbytes for a in arrays) / 1000


def greedy_score(policy, seed: int) -> float:
    """Mean return of EVAL_EPISODES greedy CartPole episodes; ``policy(obs) -> action``."""
    env, _ = make_env("CartPole-v1")
    total = 0.0
    for e in range(EVAL_EPISODES):
        obs, _ = env.reset(seed=seed + e)
        done = False
        while not done:
            obs, r, terminated, truncated, _ = env.step(policy(obs))
            total, done = total + float(r), terminated or truncated
    env.close()
    return total / EVAL_EPISODES


def sb3_cartpole(seed: int, budget: int = ZOO_CARTPOLE_STEPS, every: int = EVAL_EVERY) -> dict:
    """SB3 with the zoo's CartPole hyper-parameters: the first evaluation that averages 475."""
    sb3 = _sb3()
    from stable_baselines3.common.callbacks import BaseCallback

    env, _ = make_env("CartPole-v1")
    model = sb3.DQN("MlpPolicy", env, seed=seed, device="cpu", **ZOO_CARTPOLE)
    scores: list[tuple[int, float]] = []

    class Evaluate(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % every:
                return True
            score = greedy_score(lambda o: int(model.predict(o, deterministic=True)[0]),
                                 10_000 * seed + self.num_timesteps)
            scores.append((self.num_timesteps, score))
            return score < SOLVED  # stop at the first success

    started = time.perf_counter()
    model.learn(total_timesteps=budget, callback=Evaluate())
    env.close()
    solved = next((step for step, score in scores if score >= SOLVED), None)
    return {"seed": seed, "solved_step": solved, "evaluations": scores,
            "budget": budget, "wall_s": round(time.perf_counter() - started, 1)}


def ours_cartpole(seed: int, budget: int | None = None, every: int = EVAL_EVERY) -> dict:
    """Our quick preset (CartPole, 100k steps), evaluated as ``sb3_cartpole`` is."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dataclasses.replace(T.quick(), seed=seed, eval_every=every,
                                  total_steps=budget or T.quick().total_steps,
                                  eval_episodes=EVAL_EPISODES, gif=False, progress=False,
                                  out=str(Path(tmp) / "run"))
        started = time.perf_counter()
        summary = T.main(cfg)
        evals = [(r["step"], r["return_mean"]) for r in read_metrics(Path(cfg.out) /
                                                                    "metrics.jsonl")
                 if r["split"] == "eval"]
    return {"seed": seed, "solved_step": summary["solved_step"], "evaluations": evals,
            "budget": cfg.total_steps, "wall_s": round(time.perf_counter() - started, 1)}


def peers(args, device: torch.device, rounds: int) -> dict:
    n_full = 60 if args.quick else 1500
    rates = alternate({"ours": lambda: full_loop(n_full, args.device),
                       "sb3": lambda: sb3_loop(n_full, args.device)}, rounds)
    med = statistics.median
    ours_bytes = ReplayMemory(1000, (84, 84), 4).nbytes / 1000
    import stable_baselines3

    return {
        "stable_baselines3": stable_baselines3.__version__,
        "pong_loop_steps_per_s": {"ours": round(med(rates["ours"]), 1),
                                  "sb3": round(med(rates["sb3"]), 1),
                                  "ours_all": rates["ours"], "sb3_all": rates["sb3"],
                                  "steps": n_full},
        "pong_loop_ratio": round(med(rates["ours"]) / med(rates["sb3"]), 3),
        "replay_bytes_per_transition": {
            "ours": round(ours_bytes, 1), "sb3": round(sb3_bytes_per_transition(False), 1),
            "sb3_optimize_memory_usage": round(sb3_bytes_per_transition(True), 1)},
    }


def cartpole(args) -> dict:
    """8: environment steps to a greedy 475 on CartPole, ours and SB3's, seed by seed."""
    import stable_baselines3

    seeds = range(args.cartpole_seeds)
    budget, every = (2_000, 1_000) if args.quick else (None, EVAL_EVERY)
    runs = {"ours": [ours_cartpole(s, budget, every) for s in seeds],
            "sb3": [sb3_cartpole(s, budget or ZOO_CARTPOLE_STEPS, every) for s in seeds]}
    solved = {k: [r["solved_step"] for r in v] for k, v in runs.items()}
    return {"runs": runs, "solved_step": solved, "stable_baselines3": stable_baselines3.__version__,
            "protocol": {"eval_every": every, "eval_episodes": EVAL_EPISODES, "solved": SOLVED,
                         "ours_budget": budget or T.quick().total_steps,
                         "sb3_budget": budget or ZOO_CARTPOLE_STEPS,
                         "zoo": {k: v for k, v in ZOO_CARTPOLE.items() if k != "policy_kwargs"},
                         "zoo_net_arch": ZOO_CARTPOLE["policy_kwargs"]["net_arch"]},
            "machine": {k: v for k, v in environment(torch.device("cpu")).items()
                        if k in ("device_name", "torch", "git_sha", "started")}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, for tests")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--peers", action="store_true",
                   help="also Stable-Baselines3 side by side (needs milestones[peers])")
    p.add_argument("--cartpole", action="store_true",
                   help="only the CartPole steps-to-475 comparison with SB3 (times nothing)")
    p.add_argument("--cartpole-seeds", type=int, default=3,
                   help="--cartpole: seeds of the comparison, each side")
    args = p.parse_args()
    if args.peers or args.cartpole:
        from milestones.core.data import MissingPackage

        try:
            _sb3()  # a missing package: one message before any work
        except MissingPackage as e:
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
    if args.cartpole:
        json.dump(cartpole(args), sys.stdout, indent=2)
        print()
        return
    device = torch.device(args.device)
    rounds = args.rounds or (1 if args.quick else 3)
    n_plain, n_act, n_upd, n_full = (100, 20, 3, 60) if args.quick else (5000, 1000, 100, 2000)

    env, info = make_env(ENV)
    torch.manual_seed(0)
    q = T.build_network(T.paper(), info).to(device)
    rates = alternate({"plain": lambda: plain_loop(n_plain),
                       "acting": lambda: acting_loop(n_act, q, device),
                       "updates": lambda: learner(n_upd, device),
                       "updates_channels_last": lambda: learner(n_upd, device,
                                                                channels_last=True),
                       "full": lambda: full_loop(n_full, args.device)}, rounds)
    plain, acting, updates, full = (rates[k] for k in ("plain", "acting", "updates", "full"))
    med = statistics.median
    memory = ReplayMemory(1000, (84, 84), 4)
    per_transition = memory.nbytes / memory.capacity
    naive = 2 * 4 * 84 * 84 + 4 + 4 + 1  # both stacks, action, reward, terminal
    result = {
        "env": ENV, "device": str(device), "threads": torch.get_num_threads(),
        "plain_gymnasium_steps_per_s": round(med(plain), 1),
        "acting_steps_per_s": round(med(acting), 1),
        "learner_updates_per_s": round(med(updates), 2),
        "learner_channels_last_updates_per_s": round(med(rates["updates_channels_last"]), 2),
        "training_loop_steps_per_s": round(med(full), 1),
        "training_loop_vs_plain": round(med(full) / med(plain), 4),
        "acting_vs_plain": round(med(acting) / med(plain), 4),
        "memory_bytes_per_transition": round(per_transition, 1),
        "naive_bytes_per_transition": naive,
        "memory_1M_transitions_GB": round(per_transition * 1e6 / 1e9, 2),
        "rounds": rounds, "sizes": {"plain": n_plain, "acting": n_act, "updates": n_upd,
                                    "full": n_full},
        "machine": {k: v for k, v in environment(device).items()
                    if k in ("device_name", "torch", "git_sha", "started")},
    }
    if args.peers:
        result["peers"] = peers(args, device, rounds)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
