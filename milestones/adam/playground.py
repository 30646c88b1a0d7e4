"""Every optimizer on 2-D test functions: trajectories to look at.

    from milestones.adam.playground import trajectory, rosenbrock
    path = trajectory("adam", rosenbrock, start=(-1.5, 2.0), steps=2000, lr=0.05)  # (steps+1, 2)

``python -m milestones.adam.reproduce --figures playground`` draws them all on Rosenbrock's and
Beale's functions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from milestones.adam.optim import OPTIMIZERS


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    """(1 - x)^2 + 100 (y - x^2)^2: a curved, narrow valley; minimum 0 at (1, 1)."""
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def beale(p: torch.Tensor) -> torch.Tensor:
    """(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2: flat plateaus and sharp
    ridges; minimum 0 at (3, 0.5)."""
    x, y = p[..., 0], p[..., 1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


FUNCTIONS = {
    # name: (function, start, minimum, plot box (x0, x1, y0, y1), steps, step size per optimizer)
    "rosenbrock": (rosenbrock, (-1.5, 2.0), (1.0, 1.0), (-2.0, 2.0, -1.0, 3.0), 3000,
                   {"adam": 0.05, "adamax": 0.05, "sgd": 2e-4, "adagrad": 0.5, "rmsprop": 0.01,
                    "adadelta": 1.0}),
    "beale": (beale, (1.0, 1.5), (3.0, 0.5), (-0.5, 4.0, -1.5, 2.0), 3000,
              {"adam": 0.05, "adamax": 0.05, "sgd": 1e-3, "adagrad": 0.5, "rmsprop": 0.01,
               "adadelta": 1.0}),
}


def trajectory(optimizer: str, f: Callable[[torch.Tensor], torch.Tensor],
               start: tuple[float, float], steps: int, **hyper) -> torch.Tensor:
    """The points visited by ``OPTIMIZERS[optimizer]`` minimising ``f`` from ``start``:
    (steps + 1, 2). SGD uses Nesterov momentum 0.9 unless told otherwise."""
    if optimizer == "sgd":
        hyper = {"momentum": 0.9, "nesterov": True, **hyper}
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = OPTIMIZERS[optimizer]([p], **hyper)
    path = [p.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        f(p).backward()
        opt.step()
        path.append(p.detach().clone())
    return torch.stack(path)


def plot(name: str, path: str | Path) -> dict[str, float]:
    """One panel per optimizer: contours of the test function and the optimizer's trajectory.
    Returns each optimizer's final distance to the minimum."""
    from milestones.core.plots import subplots

    f, start, minimum, (x0, x1, y0, y1), steps, lrs = FUNCTIONS[name]
    xs, ys = torch.linspace(x0, x1, 300), torch.linspace(y0, y1, 300)
    levels = torch.log1p(f(torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1)))
    fig, axes = subplots(2, 3, figsize=(11, 7), dpi=110, sharex=True, sharey=True)
    distances = {}
    for ax, (opt, lr) in zip(axes.flat, lrs.items(), strict=True):
        path_ = trajectory(opt, f, start, steps, lr=lr)
        distances[opt] = float((path_[-1] - torch.tensor(minimum, dtype=path_.dtype)).norm())
        path_ = path_[torch.isfinite(path_).all(1)]
        ax.contour(xs, ys, levels, levels=25, cmap="Greys", linewidths=0.5)
        ax.plot(path_[:, 0], path_[:, 1], "-", color="tab:blue", lw=1.2)
        marks = path_[:: max(1, steps // 20)]
        ax.plot(marks[:, 0], marks[:, 1], "o", color="tab:blue", ms=2.5)  # every steps/20
        ax.plot(*start, "ko")
        ax.plot(*minimum, "r*", ms=12)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title(f"{opt}, lr {lr:g}: {distances[opt]:.2g} from the minimum", fontsize=9)
    fig.suptitle(f"{name}: {steps} steps from {start} (dots every {max(1, steps // 20)} steps)")
    fig.tight_layout()
    fig.savefig(path)
    return distances
