"""What people look at after a DQN run: learning curves and the agent playing.

    plot_run(out)                          # <out>/curves.png from metrics.jsonl
    plot_evaluations(runs, path, title=...)  # evaluations of several runs (e.g. quick.json's)
    write_gif(cfg, q, path, device)        # one evaluation episode as an animated GIF

Atari frames are ALE's RGB screen; CartPole and MinAtar's grids are drawn from their state
(neither pygame nor seaborn is needed).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from milestones.core.metrics import read_metrics
from milestones.dqn.data import EnvInfo, is_minatar, make_env


def plot_run(out: Path) -> Path:
    """curves.png: episode returns (raw) and the evaluations over agent steps."""
    records = read_metrics(out / "metrics.jsonl")
    config = records[0].get("config", {})
    return plot_evaluations(
        [[r for r in records if r.get("split") == "eval"]], out / "curves.png",
        title=f"{config.get('env', '')}: {out.name}", target=config.get("target_return"),
        episodes=[(r["step"], r["ret"]) for r in records if r.get("split") == "episode"])


def plot_evaluations(runs: list[list[dict]], path: Path, *, title: str,
                     target: float | None = None, labels: list[str] | None = None,
                     episodes: list[tuple[int, float]] | None = None) -> Path:
    """One panel per run: the mean return of each evaluation, and the band from its worst to its
    best episode (a band of real returns, never past the task's maximum as mean ± std can go);
    ``target`` as a dotted line; ``episodes``, the training episodes' returns, as dots."""
    from milestones.core.plots import subplots

    fig, axes = subplots(1, len(runs), figsize=(4.2 * len(runs) + 1.2, 3.8), dpi=120,
                             sharey=True, squeeze=False)
    for i, (ax, evals) in enumerate(zip(axes[0], runs, strict=True)):
        if episodes:
            xs, ys = zip(*episodes, strict=True)
            ax.plot(xs, ys, ".", ms=2, alpha=0.35, color="0.5", label="training episodes")
        if evals:
            xs = [e["step"] for e in evals]
            ax.fill_between(xs, [e.get("return_min", e["return_mean"]) for e in evals],
                            [e.get("return_max", e["return_mean"]) for e in evals],
                            alpha=0.25, lw=0, label="evaluation episodes, worst to best")
            ax.plot(xs, [e["return_mean"] for e in evals], marker="o", ms=3,
                    label="evaluation mean")
        if target is not None:
            ax.axhline(target, color="0.3", ls=":", lw=1, label=f"target ({target:g})")
        ax.set_xlabel("agent steps")
        ax.set_title(labels[i] if labels else "", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("return")
    axes[0][0].legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    return path


def render(env, info: EnvInfo) -> np.ndarray:
    """An RGB frame of the environment: ALE's screen, or CartPole / MinAtar drawn from its state."""
    if info.atari:
        return env.unwrapped.ale.getScreenRGB()
    if is_minatar(info.env_id):
        return _draw_minatar(env.unwrapped.game.state())
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


def _draw_minatar(state: np.ndarray, cell: int = 24) -> np.ndarray:
    """(10, 10, n) object channels -> (10 cell, 10 cell, 3) uint8: one hue per channel (the
    highest channel present wins a cell), black background, grey grid lines."""
    import colorsys

    n = state.shape[-1]
    palette = np.array([(0, 0, 0)] + [[round(255 * c) for c in colorsys.hsv_to_rgb(i / n, 0.75, 1)]
                                      for i in range(n)], dtype=np.uint8)  # (n + 1, 3)
    which = np.max(state * np.arange(1, n + 1), axis=-1)  # (10, 10): 0 = empty
    image = palette[which].repeat(cell, 0).repeat(cell, 1)
    image[::cell, :] = image[:, ::cell] = 40
    return image


def write_gif(cfg, q: nn.Module, path: Path, device: torch.device,
              max_frames: int = 1500) -> Path | None:
    """One evaluation episode (epsilon = eval_epsilon, ``cfg`` a ``train.Config``) as an animated
    GIF (Pillow, no codec)."""
    from PIL import Image

    from milestones.dqn.train import evaluate  # the evaluation protocol; train imports us

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
