"""Replay and the target network, switched off one at a time (Nature, Extended Data Table 3).

    python -m milestones.dqn.reproduce                     # CartPole-v1 and Acrobot-v1, 3 seeds
    python -m milestones.dqn.reproduce --preset minatar    # MinAtar Breakout, Space Invaders
    python -m milestones.dqn.reproduce --preset paper      # Breakout, Nature settings (GPU days)

The paper trains DQN on five games with and without experience replay and with and without a
separate target network, "using standard hyperparameters ... and three different learning
rates", evaluates every 250,000 frames and reports "the highest average episode score" of the
best learning rate: with both > replay only > target network only > neither (Breakout 316.8 /
240.7 / 10.2 / 3.2). We train the same four variants with the ``quick`` recipe
(``train.quick``) on CartPole-v1 and Acrobot-v1 at three learning rates each (multiples of the
recipe's), choose each variant's rate on the first seed(s) by the paper's score, train the other
seeds at that rate, and compare the paper's score (the best evaluation) and the evaluation return
averaged over training (how much the agent learned, and how stably). "No replay" learns from the
latest transition only; "no target network" bootstraps from the network being trained. Runs
reuse ``train.main``; each lands in ``<out>/runs/<env>-<variant>-lr<factor>-s<seed>`` and a
finished run is not trained again.

The ``minatar`` preset is the same study from pixels, as Young & Tian (2019) ran it on MinAtar's
miniature games with the Nature algorithm and a small network (``train.minatar``): the four
variants at the paper's one step size, their measure beside the Nature paper's (the return of the
training episodes over frames, each curve a mean over seeds), and a uniform random policy's return
as the floor. No replay, as in MinAtar's code: each update uses the latest transition alone, and
learning starts at once.
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
from milestones.dqn.data import is_minatar, make_env
from milestones.dqn.render import plot_evaluations

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
MINATAR_PAPER = {  # Young & Tian 2019, §5 and its results figure (no table of numbers)
    "source": "Young & Tian 2019 (arXiv:1903.03176), the ablation figure: DQN, DQN without "
              "experience replay, DQN without a target network; 30 seeds, 5M frames per game",
    "frames": 5_000_000, "seeds": 30,
    "curve_values": None,  # not read off: the figure is an image this offline machine cannot open
}


@dataclasses.dataclass
class Config(ReproduceConfig):
    """Reproduce Extended Data Table 3: experience replay x target network."""

    preset: str = "cpu"
    """cpu (40 runs, about an hour on 2 cores), minatar (24 runs from pixels, about an hour),
    smoke (seconds, for tests), paper (Breakout, GPU)."""
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
    lr_factors: tuple[float, ...] = (0.5, 1.0, 2.0)
    """Learning rates tried for every variant and environment, as multiples of the recipe's
    (ED Table 3: "three different learning rates", the best one reported)."""
    tune_seeds: int = 1
    """How many of the seeds (the first ones) every learning rate is tried on; the other seeds
    train at the rate these chose. len(seeds) = the paper's protocol, every rate on every seed."""
    curve_bin: int = 10_000
    """Agent steps per point of the training-return curves (the mean return of the training
    episodes that ended in each bin, the MinAtar paper's measure)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(set(self.variants) <= set(VARIANTS), self, "variants",
                f"choose from {', '.join(VARIANTS)}")
        for field in ("steps", "eval_every", "eval_episodes"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(len(self.lr_factors) > 0 and all(f > 0 for f in self.lr_factors), self,
                "lr_factors", "must be one or more numbers > 0")
        require(1 <= self.tune_seeds <= len(self.seeds), self, "tune_seeds",
                f"must be between 1 and the number of seeds ({len(self.seeds)})")
        require(self.curve_bin > 0, self, "curve_bin", "must be > 0")


def cpu() -> Config:
    """DEVIATION(D9): CartPole and Acrobot, 100k steps (paper: five Atari games, 10M frames)."""
    return Config()


def minatar() -> Config:
    """DEVIATION(D12): two MinAtar games, 3 seeds, 100k frames per run (Young & Tian: five games,
    30 seeds, 5M frames), at the paper's step size."""
    return Config(preset="minatar", out="runs/dqn/reproduce-minatar",
                  envs=("MinAtar/Breakout-v0", "MinAtar/SpaceInvaders-v0"), steps=100_000,
                  eval_every=25_000, eval_episodes=30, lr_factors=(1.0,), curve_bin=10_000)


def smoke() -> Config:
    return Config(preset="smoke", envs=("CartPole-v1",), seeds=(0, 1), steps=600,
                  eval_every=300, eval_episodes=2, jobs=1, lr_factors=(1.0, 2.0), curve_bin=100)


def minatar_smoke() -> Config:
    """Seconds: the minatar study's path (one game, 2 seeds, 600 frames). For tests."""
    return dataclasses.replace(smoke(), preset="minatar-smoke", envs=("MinAtar/Breakout-v0",),
                               lr_factors=(1.0,), out="runs/dqn/reproduce-minatar-smoke")


def paper() -> Config:
    """ED Table 3's budget: "10 million frames", counted as ED Table 1 counts frames (agent
    steps, each 4 emulator frames), so 10M agent steps; Breakout only (GPU days)."""
    return Config(preset="paper", envs=("ALE/Breakout-v5",), seeds=(0,), steps=10_000_000,
                  eval_every=250_000, eval_episodes=30, jobs=1, device="auto",
                  lr_factors=(1.0,))


PRESETS = {"cpu": cpu, "smoke": smoke, "paper": paper, "minatar": minatar,
           "minatar-smoke": minatar_smoke}


def run_config(cfg: Config, env: str, variant: str, seed: int, factor: float) -> T.Config:
    replay, target = VARIANTS[variant]
    base = T.paper() if T.is_atari(env) else T.minatar() if is_minatar(env) else T.quick()
    small = cfg.steps < 5_000  # smoke: learn almost at once
    # MinAtar's code: without replay, learning starts at the first transition
    starts = 0 if is_minatar(env) and not replay else 200 if small else base.learning_starts
    return dataclasses.replace(
        base, preset=f"reproduce-{cfg.preset}", env=env, seed=seed, replay=replay,
        lr=base.lr * factor,
        target_network=target, total_steps=cfg.steps, eval_every=cfg.eval_every,
        eval_episodes=cfg.eval_episodes, target_return=475.0 if env.startswith("CartPole")
        else None, log_every=min(base.log_every, cfg.eval_every),
        ckpt_every=cfg.eval_every, learning_starts=starts,
        gif=False, progress=False, resume=True, device=cfg.device,
        out=str(Path(cfg.out) / "runs"
                / f"{env.replace('/', '-')}-{_slug(variant)}-lr{factor:g}-s{seed}"))


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


def train_curve(run: T.Config, bin_steps: int) -> tuple[list[int], list[float]]:
    """The mean return of the training episodes that ended in each ``bin_steps`` of agent steps
    (a bin where none ended repeats the previous value): the MinAtar paper's learning curve."""
    rows = [r for r in read_metrics(Path(run.out) / "metrics.jsonl") if r["split"] == "episode"]
    xs, ys, last = [], [], 0.0
    for end in range(bin_steps, run.total_steps + 1, bin_steps):
        returns = [r["ret"] for r in rows if end - bin_steps < r["step"] <= end]
        last = statistics.fmean(returns) if returns else last
        xs.append(end)
        ys.append(last)
    return xs, ys


def final_train_return(run: T.Config) -> float | None:
    """The mean return of the training episodes that ended in the last tenth of the run."""
    rows = [r for r in read_metrics(Path(run.out) / "metrics.jsonl") if r["split"] == "episode"]
    late = [r["ret"] for r in rows if r["step"] > 0.9 * run.total_steps] or [r["ret"] for r
                                                                            in rows[-1:]]
    return statistics.fmean(late) if late else None


def random_return(env_id: str, episodes: int, seed: int) -> dict:
    """A uniform random policy's return over ``episodes`` episodes: the floor a learner beats."""
    import random

    env, info = make_env(env_id)
    rng, returns = random.Random(seed), []
    for e in range(episodes):
        env.reset(seed=seed * 100_003 + e)
        total, done = 0.0, False
        while not done:
            _, r, terminated, truncated, _ = env.step(rng.randrange(info.n_actions))
            total, done = total + float(r), terminated or truncated
        returns.append(total)
    env.close()
    std = statistics.pstdev(returns)
    return {"return_mean": statistics.fmean(returns), "return_std": std,
            "return_sem": std / len(returns) ** 0.5, "episodes": episodes}


def q_values(run: T.Config) -> list[float]:
    """The mean Q(phi, a) of the minibatches, at every training record (how far Q ran away)."""
    rows = read_metrics(Path(run.out) / "metrics.jsonl")
    return [r["q"] for r in rows if r["split"] == "train" and r.get("q") is not None]


def run_entry(run: T.Config, summary: dict) -> dict:
    """One run's scores: the paper's ("the highest average episode score" over the
    evaluations), the mean over training, the final evaluation, and how large Q grew."""
    _, returns = eval_curve(run)
    q = q_values(run)
    return {"seed": run.seed, "lr": run.lr, "best_eval_return": max(returns),
            "mean_eval_return": statistics.fmean(returns), "final_eval_return": returns[-1],
            "final_train_return": final_train_return(run),
            "q_max": max(q, key=abs) if q else None, "q_final": q[-1] if q else None,
            "solved_step": summary.get("solved_step"), "train_time_s": summary["train_time_s"]}


SCORES = ("best_eval_return", "mean_eval_return", "final_eval_return", "final_train_return")


def choose_lr(sweep: list[dict]) -> dict:
    """The learning rate whose tuning runs scored best by the paper's score; ties (CartPole's
    500 ceiling) go to the better mean over training, then to the smaller rate."""
    return max(sweep, key=lambda e: (e["best_eval_return"]["mean"],
                                     e["mean_eval_return"]["mean"], -e["lr_factor"]))


def main(cfg: Config) -> dict:
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    threads = 1 if cfg.device == "cpu" else None  # small networks: one thread each
    cells = [(e, v) for e in cfg.envs for v in cfg.variants]
    tune, rest = cfg.seeds[:cfg.tune_seeds], cfg.seeds[cfg.tune_seeds:]

    # 1. every learning rate on the tuning seeds
    sweep = {(e, v, f, s): run_config(cfg, e, v, s, f)
             for e, v in cells for f in cfg.lr_factors for s in tune}
    jobs = max(1, min(cfg.jobs, len(sweep)))
    print(f"reproduce: {len(sweep)} runs to choose the learning rates (seeds {list(tune)}), "
          f"{jobs} at a time")
    todo = prepare(cfg, list(sweep.values()))  # stale runs refused, retrained or reused
    summaries = dict(zip(sweep, map_runs(_train, todo, jobs, threads), strict=True))
    entries = {key: run_entry(run, summaries[key]) for key, run in sweep.items()}
    chosen: dict = {}
    results: dict = {"config": dataclasses.asdict(cfg), "paper": PAPER, "envs": {}}
    for e, v in cells:
        table = [{"lr_factor": f, "lr": sweep[(e, v, f, tune[0])].lr,
                  **over_seeds([entries[(e, v, f, s)] for s in tune], SCORES)}
                 for f in cfg.lr_factors]
        best = choose_lr(table)
        chosen[(e, v)] = best["lr_factor"]
        results["envs"].setdefault(e, {})[v] = {"lr_factor": best["lr_factor"],
                                                "lr": best["lr"], "sweep": table}
        print(f"reproduce: {e} {v}: lr {best['lr']:g} (x{best['lr_factor']:g})")

    # 2. the other seeds at the chosen rate
    more = {(e, v, chosen[(e, v)], s): run_config(cfg, e, v, s, chosen[(e, v)])
            for e, v in cells for s in rest}
    if more:
        print(f"reproduce: {len(more)} runs of seeds {list(rest)} at the chosen rates")
        todo = prepare(cfg, list(more.values()))
        summaries.update(zip(more, map_runs(_train, todo, jobs, threads), strict=True))
        entries.update({key: run_entry(run, summaries[key]) for key, run in more.items()})
    runs = {**sweep, **more}

    curves: dict = {}
    for e, v in cells:
        keys = [(e, v, chosen[(e, v)], s) for s in cfg.seeds]
        entry = results["envs"][e][v]
        entry["runs"] = [entries[key] for key in keys]
        entry.update(over_seeds(entry["runs"], SCORES))
        curves.update({(e, v, key[3]): train_curve(runs[key], cfg.curve_bin) if is_minatar(e)
                       else eval_curve(runs[key]) for key in keys})
    random_floor = {e: random_return(e, 1000, seed=12345) for e in cfg.envs if is_minatar(e)}
    if random_floor:
        results["random_policy"] = random_floor
        results["minatar_paper"] = MINATAR_PAPER
        results["curves"] = {e: {v: [curves[(e, v, s)][1] for s in cfg.seeds]
                                 for v in cfg.variants} for e in cfg.envs if is_minatar(e)}
        results["curve_steps"] = curves[(cfg.envs[0], cfg.variants[0], cfg.seeds[0])][0]
    results["env"] = read_metrics(Path(next(iter(runs.values())).out) / "metrics.jsonl")[0]["env"]
    results["claims"] = claims(results)
    results.update(totals(summaries.values(), t0), jobs=jobs)
    plots(cfg, curves, out)
    write_results(out, results, markdown(cfg, results))
    return results


def ordering(score: dict[str, float]) -> dict:
    """The paper's ordering, pair by pair over the neighbours present ("better" is strict)."""
    order = [v for v in VARIANTS if v in score]
    pairs = {f"{a} > {b}": score[a] > score[b] for a, b in zip(order, order[1:], strict=False)}
    return {"ordering_holds": all(pairs.values()), "pairs": pairs,
            "observed_order": sorted(score, key=score.get, reverse=True)}


def claims(results: dict) -> dict:
    """The paper's ordering, per environment, on the paper's score (each run's best evaluation,
    averaged over seeds) and on the evaluation return averaged over training."""
    out = {env: {"paper_score": ordering({v: e["best_eval_return"]["mean"]
                                          for v, e in variants.items()}),
                 "mean_over_training": ordering({v: e["mean_eval_return"]["mean"]
                                                 for v, e in variants.items()})}
           for env, variants in results["envs"].items()}
    for env, variants in results["envs"].items():
        if is_minatar(env):  # the MinAtar paper's measure: late training episodes
            out[env]["final_train_return"] = ordering({v: e["final_train_return"]["mean"]
                                                       for v, e in variants.items()})
    return out


def plots(cfg: Config, curves: dict, out: Path) -> None:
    # "neither" dashed: on CartPole it lies on top of "replay only"
    styles = {"replay+target": {"color": "tab:green"}, "replay only": {"color": "tab:blue"},
              "target only": {"color": "tab:orange"},
              "neither": {"color": "tab:red", "ls": "--"}}
    for env in cfg.envs:
        series = {v: [curves[(env, v, s)] for s in cfg.seeds] for v in cfg.variants}
        if is_minatar(env):
            plot_curves(series, out / f"ablation_{env.replace('/', '-')}.png",
                        xlabel="frames (agent steps)",
                        ylabel=f"return of training episodes (mean per {cfg.curve_bin:,} frames)",
                        seeds=True, styles=styles,
                        title=f"Replay x target network, from pixels: {env}\n"
                              "mean over seeds (thick), each seed (thin); Young & Tian's measure")
            continue
        plot_curves(series, out / f"ablation_{env.replace('/', '-')}.png", xlabel="agent steps",
                    ylabel="evaluation return (mean of episodes)", seeds=True,
                    hline=(475.0, "solved (475)") if env.startswith("CartPole") else None,
                    title=f"Replay x target network (ED Table 3): {env}\n"
                          "mean over seeds (thick), each seed (thin), each at its chosen lr",
                    styles=styles)


def quick_figures(record: dict, out: Path) -> list[Path]:
    """quick-curves.png from the recorded quick preset (results/quick.json, written by
    ``python -m milestones.record quick dqn``): every seed's evaluations, the band from its worst
    to its best episode, the target return."""
    config = record["config"]
    return [plot_evaluations(
        [run["evaluations"] for run in record["runs"]], out / "quick-curves.png",
        title=f"DQN quick preset on {config['env']}: greedy evaluations over "
              f"{config['eval_episodes']} episodes", target=config.get("target_return"),
        labels=[f"seed {run['seed']}" for run in record["runs"]])]


def _setup(cfg: Config) -> str:
    """The recipe the runs started from, in words."""
    if all(is_minatar(e) for e in cfg.envs):
        b = T.minatar()
        return (f"Setup: the minatar recipe (Young & Tian's DQN: one 3x3 convolution of 16 "
                f"channels, 128 units; centred RMSProp lr {b.lr:g}, momentum {b.rms_momentum}, "
                f"batch {b.batch_size}, an update every frame, target sync every "
                f"{b.target_update_every:,} updates, memory {b.memory_size:,}, learning after "
                f"{b.learning_starts:,} frames, epsilon 1 -> {b.eps_end} over {b.eps_steps:,} "
                f"frames; sticky actions 0.1, the six-action set), {cfg.steps:,} frames per run, "
                f"evaluation every {cfg.eval_every:,} frames over {cfg.eval_episodes} episodes at "
                f"epsilon {b.eval_epsilon}; training returns averaged per {cfg.curve_bin:,} "
                f"frames; seeds {list(cfg.seeds)}. No replay: the latest transition only, "
                "learning from the first frame; no target network: bootstrap from theta.  ")
    b = T.quick()
    return (f"Setup: the quick recipe (2 x {b.hidden} MLP, Adam, batch {b.batch_size}, an "
            f"update every step, target sync every {b.target_update_every} updates, memory "
            f"{b.memory_size:,}, epsilon 1 -> {b.eps_end} over {b.eps_steps:,} steps), "
            f"{cfg.steps:,} agent steps per run, evaluation every {cfg.eval_every:,} steps over "
            f"{cfg.eval_episodes} episodes (greedy); learning rates "
            f"{', '.join(f'{b.lr * f:g}' for f in cfg.lr_factors)} tried on seeds "
            f"{list(cfg.seeds[:cfg.tune_seeds])}, the other seeds at the rate chosen; seeds "
            f"{list(cfg.seeds)}. No replay: the latest transition only; no target network: "
            "bootstrap from theta.  ")


def markdown(cfg: Config, r: dict) -> str:
    env = r.get("env", {})
    tune = list(cfg.seeds[:cfg.tune_seeds])
    lines = [
        "# DQN: experience replay and the target network (Nature, Extended Data Table 3)", "",
        f"Command: `python -m milestones.dqn.reproduce --preset {cfg.preset}`  ", _setup(cfg),
        f"Hardware: {env.get('device_name')} ({env.get('device')}), {r['jobs']} runs at a time, "
        f"1 thread each; torch {env.get('torch')}, git {str(env.get('git_sha'))[:10]}, "
        f"{env.get('started')}; {r['train_time_s'] / 60:.0f} min of training summed over runs", ""]
    for name, variants in r["envs"].items():
        pixels = is_minatar(name)
        last = "training return, last tenth" if pixels else "Breakout (paper)"
        lines += [f"## {name}", "",
                  "| variant | lr | best eval (the paper's score) | eval return, mean over "
                  f"training | final eval | max mean Q | {last} |",
                  "|---|---|---|---|---|---|---|"]
        for v, e in variants.items():
            q = [x["q_max"] for x in e["runs"] if x["q_max"] is not None]
            tail = (fmt(e.get("final_train_return"), 2) if pixels
                    else PAPER["Breakout"].get(v, ""))
            lines.append(f"| {v} | {e['lr']:g} | {fmt(e['best_eval_return'], 1)} | "
                         f"{fmt(e['mean_eval_return'], 1)} | {fmt(e['final_eval_return'], 1)} | "
                         f"{f'{max(q, key=abs):.3g}' if q else '-'} | {tail} |")
        if pixels:
            floor = r["random_policy"][name]
            lines += ["", f"Uniform random policy: {floor['return_mean']:.2f} ± "
                      f"{floor['return_sem']:.2f} (mean ± s.e. over {floor['episodes']} "
                      "episodes)."]
        measures = [("paper_score", "the paper's score"),
                    ("mean_over_training", "the mean over training")]
        if pixels:
            measures.append(("final_train_return", "the last tenth's training returns"))
        for metric, label in measures:
            c = r["claims"][name][metric]
            lines += ["", f"Ordering {PAPER['claim']}, on {label}: "
                      f"**{'yes' if c['ordering_holds'] else 'no'}** "
                      f"(observed: {' > '.join(c['observed_order'])}; "
                      + ", ".join(f"{k}: {'yes' if ok else 'no'}" for k, ok in c["pairs"].items())
                      + ")"]
        if len(cfg.lr_factors) > 1:
            base = T.minatar() if pixels else T.quick()
            lines += ["", f"Learning rates on seeds {tune} (best eval / mean over training; "
                      "the chosen one in bold):", "",
                      "| variant | " + " | ".join(f"lr {base.lr * f:g}" for f in cfg.lr_factors)
                      + " |", "|---|" + "---|" * len(cfg.lr_factors)]
            for v, e in variants.items():
                cells = []
                for row in e["sweep"]:
                    cell = (f"{row['best_eval_return']['mean']:.1f} / "
                            f"{row['mean_eval_return']['mean']:.1f}")
                    cells.append(f"**{cell}**" if row["lr_factor"] == e["lr_factor"] else cell)
                lines.append(f"| {v} | " + " | ".join(cells) + " |")
        lines += ["", f"![{name}](ablation_{name.replace('/', '-')}.png)", ""]
    lines += ["mean ± std over seeds of each run's scores; max mean Q: the largest mean "
              "Q(phi, a) of the training minibatches over all seeds.", "", "## The paper", "",
              "Extended Data Table 3 (highest average evaluation score, best of three learning "
              "rates): " + "; ".join(
                  f"{g}: " + ", ".join(f"{v} {s}" for v, s in cols.items())
                  for g, cols in PAPER.items() if g != "claim") + ".", ""]
    if "minatar_paper" in r:
        lines += [f"MinAtar: {MINATAR_PAPER['source']}. Its curves' values are not read off here "
                  "(the figure is an image this offline machine cannot open).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
