"""Plots for ``reproduce.py`` scripts: curves over several seeds, as mean with a min-max band."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_curves(curves: dict[str, list[tuple[list[float], list[float]]]], path: str | Path, *,
                xlabel: str, ylabel: str, title: str = "", styles: dict[str, dict] | None = None,
                logy: bool = False, ylim: tuple[float, float] | None = None) -> Path:
    """One line per label: the mean over seeds, with a shaded band from the min to the max.

    ``curves[label]`` is a list of (xs, ys) runs, one per seed; runs are cut to the shortest.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for label, runs in curves.items():
        n = min(len(xs) for xs, _ in runs)
        xs = np.asarray(runs[0][0][:n], dtype=float)
        ys = np.asarray([r[1][:n] for r in runs], dtype=float)
        style = (styles or {}).get(label, {})
        line, = ax.plot(xs, ys.mean(0), label=f"{label} ({len(runs)} seeds)" if len(runs) > 1
                        else label, **style)
        if len(runs) > 1:
            ax.fill_between(xs, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
