"""Plots for ``reproduce.py`` scripts: curves over several seeds, as their mean with a min-max
band or with every seed drawn thin."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float],
             dpi: float | None = None, sharex: bool = False, sharey: bool = False,
             squeeze: bool = True):
    """``pyplot.subplots`` without pyplot: a ``Figure`` that ``savefig`` draws with Agg whatever
    backend the process uses, so a notebook's inline backend stays as it was (``matplotlib.use``
    would switch it for the whole process), and nothing to close."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    return fig, fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=squeeze)


def plot_curves(curves: dict[str, list[tuple[list[float], list[float]]]], path: str | Path, *,
                xlabel: str, ylabel: str, title: str = "", styles: dict[str, dict] | None = None,
                logy: bool = False, ylim: tuple[float, float] | None = None,
                seeds: bool = False, hline: tuple[float, str] | None = None) -> Path:
    """One line per label: the mean over seeds, with a shaded band from the min to the max, or
    (``seeds``) each seed as a thin line of the same colour, which shows how the runs differ
    where a band would only show their range. ``hline``: (y, label) of a dotted reference line.

    ``curves[label]`` is a list of (xs, ys) runs, one per seed; runs are cut to the shortest.
    """

    fig, ax = subplots(figsize=(6.4, 4.2), dpi=120)
    for label, runs in curves.items():
        n = min(len(xs) for xs, _ in runs)
        xs = np.asarray(runs[0][0][:n], dtype=float)
        ys = np.asarray([r[1][:n] for r in runs], dtype=float)
        style = (styles or {}).get(label, {})
        line, = ax.plot(xs, ys.mean(0), label=f"{label} ({len(runs)} seeds)" if len(runs) > 1
                        else label, **{"lw": 2.0 if seeds else 1.5, **style})
        if len(runs) > 1 and seeds:
            ax.plot(xs, ys.T, color=line.get_color(), lw=0.7, alpha=0.45,
                    ls=style.get("ls", "-"))
        elif len(runs) > 1:
            ax.fill_between(xs, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.2, lw=0)
    if hline:
        ax.axhline(hline[0], color="0.3", ls=":", lw=1, label=hline[1])
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
    return path
