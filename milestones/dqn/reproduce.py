"""Replay and the target network, switched off one at a time (Nature, Extended Data Table 3).

    python -m milestones.dqn.reproduce                     # CartPole-v1 and Acrobot-v1, 3 seeds
    python -m milestones.dqn.reproduce --preset paper      # Breakout, Nature settings (GPU days)

The paper trains DQN on five games with and without experience replay and with and without a
separate target network, and reports: with both > replay only > target network only > neither
(Breakout 316.8 / 240.7 / 10.2 / 3.2). We train the same four variants with the ``quick`` recipe
(``train.quick``) on CartPole-v1 and Acrobot-v1, several seeds each, and compare the evaluation
return averaged over training (how much the agent learned, and how stably) and the best and final
evaluations. "No replay" learns from the latest transition only; "no target network" bootstraps
from the network being trained. Runs reuse ``train.main``; each lands in
``<out>/runs/<env>-<variant>-s<seed>`` and a finished run is not trained again.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path

from milestones.core.config import require
from milestones.core.jobs import ReproduceConfig, map_runs, prepare, train_or_reuse
from milestones.core.metrics import read_metrics
from milestones.core.plots import plot_curves
from milestones.core.report import fmt, over_seeds, totals, write_results
from milestones.core.run import cli
from milestones.dqn import train as T

# (replay, target network), in the paper's column order
VARIANTS = {"replay+target": (True, True), "replay only": (True, False),
            "target only": (False, True), "neither": (False, False)}
PAPER = {  # Nature 2015, Extended Data Table 3: average score, 10M-frame runs
    "Breakout": {"replay+target": 316.8, "replay only": 240.7, "target only": 10.2,
                 "neither": 3.2},
    "Enduro": {"replay+target": 1006.3, "neither": 29.1},
    "River Raid": {"replay+target": 7446.6, "neither": 1453.0},
    "Seaquest": {"replay+target": 2894.4, "neither": 275.8},
    "Space Invaders": {"replay+target": 1088.9, "neither": 302.0},
    "claim": "with replay and target network > replay only > target network only > neither",
}


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Reproduce Extended Data Table 3: experience replay x target network."""

    preset: str = "cpu"
    """cpu (about 30 minutes on 2 cores), smoke (seconds, for tests), paper (Breakout, GPU)."""
    out: str = "runs/dqn/reproduce"
    device: str = "cpu"
    """Device of every run. cpu (the default) gives each run one thread, which suits the small
    networks of CartPole and Acrobot; auto = cuda > mps > cpu."""
    envs: tuple[str, ...] = ("CartPole-v1", "Acrobot-v1")
    """Environments (the paper: five Atari games, Extended Data Table 3)."""
    variants: tuple[str, ...] = tuple(VARIANTS)
    """The table's columns: replay+target, replay only, target only, neither."""
    steps: int = 100_000
    """Agent steps per run (the quick recipe's)."""
    eval_every: int = 5_000
    """Agent steps between evaluations: greedy episodes, whose returns make the curves and the
    mean over training."""
    eval_episodes: int = 10
    """Episodes per evaluation (Nature: 30 games of up to 5 minutes each)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(set(self.variants) <= set(VARIANTS), self, "variants",
                f"choose from {', '.join(VARIANTS)}")
        for field in ("steps", "eval_every", "eval_episodes"):
            require(getattr(self, field) > 0, self, field, "must be > 0")


def cpu() -> Config:
    """DEVIATION(D9): CartPole and Acrobot, 100k steps (paper: five Atari games, 10M frames)."""
    return Config()


def smoke() -> Config:
    return Config(preset="smoke", envs=("CartPole-v1",), seeds=(0,), steps=600, eval_every=300,
                  eval_episodes=2, jobs=1)


def paper() -> Config:
    """ED Table 3's budget: "10 million frames", counted as ED Table 1 counts frames (agent
    steps, each 4 emulator frames), so 10M agent steps; Breakout only (GPU days)."""
    return Config(preset="paper", envs=("ALE/Breakout-v5",), seeds=(0,), steps=10_000_000,
                  eval_every=250_000, eval_episodes=30, jobs=1, device="auto")


PRESETS = {"cpu": cpu, "smoke": smoke, "paper": paper}


def run_config(cfg: Config, env: str, variant: str, seed: int) -> T.Config:
    replay, target = VARIANTS[variant]
    base = T.paper() if T.is_atari(env) else T.quick()
    small = cfg.steps < 5_000  # smoke: learn almost at once
    return dataclasses.replace(
        base, preset=f"reproduce-{cfg.preset}", env=env, seed=seed, replay=replay,
        target_network=target, total_steps=cfg.steps, eval_every=cfg.eval_every,
        eval_episodes=cfg.eval_episodes, target_return=475.0 if env.startswith("CartPole")
        else None, log_every=min(base.log_every, cfg.eval_every),
        ckpt_every=cfg.eval_every, learning_starts=200 if small else base.learning_starts,
        gif=False, progress=False, resume=True, device=cfg.device,
        out=str(Path(cfg.out) / "runs" / f"{env.replace('/', '-')}-{_slug(variant)}-s{seed}"))


def _slug(variant: str) -> str:
    return variant.replace("+", "-").replace(" ", "-")


def _train(run: T.Config, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    return train_or_reuse(T.main, run,
                          lambda s: s["step"] == run.total_steps and not s["stopped"])


def eval_curve(run: T.Config) -> tuple[list[int], list[float]]:
    rows = [r for r in read_metrics(Path(run.out) / "metrics.jsonl") if r["split"] == "eval"]
    rows = list({r["step"]: r for r in rows}.values())  # one record per step
    return [r["step"] for r in rows], [r["return_mean"] for r in rows]


def main(cfg: Config) -> dict:
    t0 = time.time()
    runs = {(e, v, s): run_config(cfg, e, v, s)
            for e in cfg.envs for v in cfg.variants for s in cfg.seeds}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(cfg.jobs, len(runs)))
    threads = 1 if cfg.device == "cpu" else None  # small networks: one thread each
    print(f"reproduce: {len(runs)} runs, {jobs} at a time")
    todo = prepare(cfg, list(runs.values()))  # stale runs refused, retrained or reused
    summaries = dict(zip(runs, map_runs(_train, todo, jobs, threads), strict=True))

    results: dict = {"config": dataclasses.asdict(cfg), "paper": PAPER, "envs": {}}
    curves: dict = {}
    for (env, variant, seed), run in runs.items():
        steps, returns = eval_curve(run)
        curves[(env, variant, seed)] = (steps, returns)
        s = summaries[(env, variant, seed)]
        entry = results["envs"].setdefault(env, {}).setdefault(variant, {"runs": []})
        entry["runs"].append({"seed": seed, "mean_eval_return": statistics.fmean(returns),
                              "best_eval_return": max(returns), "final_eval_return": returns[-1],
                              "solved_step": s.get("solved_step"),
                              "train_time_s": s["train_time_s"]})
        results["env"] = read_metrics(Path(run.out) / "metrics.jsonl")[0]["env"]
    for variants in results["envs"].values():
        for entry in variants.values():
            entry.update(over_seeds(entry["runs"], ("mean_eval_return", "best_eval_return",
                                                    "final_eval_return")))
    results["claims"] = claims(results)
    results.update(totals(summaries.values(), t0), jobs=jobs)
    plots(cfg, curves, out)
    write_results(out, results, markdown(cfg, results))
    return results


def claims(results: dict) -> dict:
    """The paper's ordering, checked per environment on the mean-over-training evaluation return
    (averaged over seeds), and pair by pair."""
    out = {}
    for env, variants in results["envs"].items():
        score = {v: e["mean_eval_return"]["mean"] for v, e in variants.items()}
        order = [v for v in VARIANTS if v in score]
        pairs = {f"{a} > {b}": score[a] > score[b] for a, b in zip(order, order[1:], strict=False)}
        out[env] = {"ordering_holds": all(pairs.values()), "pairs": pairs,
                    "observed_order": sorted(score, key=score.get, reverse=True)}
    return out


def plots(cfg: Config, curves: dict, out: Path) -> None:
    styles = {"replay+target": {"color": "tab:green"}, "replay only": {"color": "tab:blue"},
              "target only": {"color": "tab:orange"}, "neither": {"color": "tab:red"}}
    for env in cfg.envs:
        series = {v: [curves[(env, v, s)] for s in cfg.seeds] for v in cfg.variants}
        plot_curves(series, out / f"ablation_{env.replace('/', '-')}.png", xlabel="agent steps",
                    ylabel="evaluation return (mean of episodes)",
                    title=f"Replay x target network (ED Table 3): {env}", styles=styles)


def markdown(cfg: Config, r: dict) -> str:
    env = r.get("env", {})
    base = T.quick()
    lines = [
        "# DQN: experience replay and the target network (Nature, Extended Data Table 3)", "",
        f"Command: `python -m milestones.dqn.reproduce --preset {cfg.preset}`  ",
        f"Setup: the quick recipe (2 x {base.hidden} MLP, Adam lr {base.lr}, batch "
        f"{base.batch_size}, an update every step, target sync every {base.target_update_every} "
        f"updates, memory {base.memory_size:,}, epsilon 1 -> {base.eps_end} over "
        f"{base.eps_steps:,} steps), {cfg.steps:,} agent steps per run, evaluation every "
        f"{cfg.eval_every:,} steps over {cfg.eval_episodes} episodes (greedy); seeds "
        f"{list(cfg.seeds)}. No replay: the latest transition only; no target network: "
        "bootstrap from theta.  ",
        f"Hardware: {env.get('device_name')} ({env.get('device')}), {r['jobs']} runs at a time, "
        f"1 thread each; torch {env.get('torch')}, git {str(env.get('git_sha'))[:10]}, "
        f"{env.get('started')}; {r['train_time_s'] / 60:.0f} min of training summed over runs", ""]
    for name, variants in r["envs"].items():
        lines += [f"## {name}", "",
                  "| variant | eval return, mean over training | best eval | final eval | "
                  "Breakout (paper) |", "|---|---|---|---|---|"]
        for v, e in variants.items():
            lines.append(f"| {v} | {fmt(e['mean_eval_return'], 1)} | "
                         f"{fmt(e['best_eval_return'], 1)} | {fmt(e['final_eval_return'], 1)} | "
                         f"{PAPER['Breakout'].get(v, '')} |")
        c = r["claims"][name]
        lines += ["", f"Ordering {PAPER['claim']}: **{'yes' if c['ordering_holds'] else 'no'}** "
                  f"(observed: {' > '.join(c['observed_order'])}; "
                  + ", ".join(f"{k}: {'yes' if ok else 'no'}" for k, ok in c["pairs"].items())
                  + ")", "", f"![{name}](ablation_{name.replace('/', '-')}.png)", ""]
    lines += ["mean ± std over seeds of each run's evaluation returns.", "", "## The paper", "",
              "Extended Data Table 3 (average score): " + "; ".join(
                  f"{g}: " + ", ".join(f"{v} {s}" for v, s in cols.items())
                  for g, cols in PAPER.items() if g != "claim") + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
