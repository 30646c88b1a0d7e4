"""What people look at after a DQN run: learning curves and the agent playing.

    plot_run(out)                          # <out>/curves.png from metrics.jsonl
    write_gif(cfg, q, path, device)        # one evaluation episode as an animated GIF

Atari frames are ALE's RGB screen; CartPole is drawn from its state (pygame is not needed).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from milestones.core.metrics import read_metrics
from milestones.dqn.data import EnvInfo, make_env


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
