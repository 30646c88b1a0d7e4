"""DQN speed on Pong, in one process; prints one JSON object.

    python benchmarks/dqn.py              # CPU: about 2 minutes on 2 cores
    python benchmarks/dqn.py --quick      # seconds (tests)
    python benchmarks/dqn.py --device cuda

1. A plain gymnasium loop: the same preprocessed Pong (max-pool, grey 84x84, action repeat 4,
   stack of 4), random actions, nothing else. The ceiling for any agent on this env.
2. Our acting path alone: epsilon-greedy with a Nature-network forward pass every step, the
   environment step, the replay-memory write (``train.act`` + ``ReplayMemory.append``).
3. The learner alone: minibatch sampling (stacks rebuilt from single frames), the TD loss,
   backward, DeepMind's RMSProp step (``train.td_loss`` + ``build_optimizer``): updates/s.
4. The full training loop (``train.main``, greedy acting, an update every 4 steps as in Nature):
   agent steps/s, and as a ratio of the plain loop's.
5. Replay memory bytes per transition, against storing both stacks of every transition.
Repetitions interleaved (each round in the reverse order of the one before); medians.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

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


def learner(updates: int, device, batch_size: int = 32) -> float:
    """Updates/s of sample + TD loss + backward + RMSProp on the Nature network."""
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
    q = T.build_network(cfg, info).to(device)
    target = T.build_network(cfg, info).to(device)
    opt = T.build_optimizer(cfg, q.parameters())

    def update() -> None:
        batch = {k: v.to(device) for k, v in memory.sample(batch_size).items()}
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, for tests")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=None)
    args = p.parse_args()
    device = torch.device(args.device)
    rounds = args.rounds or (1 if args.quick else 3)
    n_plain, n_act, n_upd, n_full = (100, 20, 3, 60) if args.quick else (5000, 1000, 100, 2000)

    env, info = make_env(ENV)
    torch.manual_seed(0)
    q = T.build_network(T.paper(), info).to(device)
    rates = alternate({"plain": lambda: plain_loop(n_plain),
                       "acting": lambda: acting_loop(n_act, q, device),
                       "updates": lambda: learner(n_upd, device),
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
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
