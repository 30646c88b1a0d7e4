"""Configs: one dataclass per entry point, presets as plain functions, a CLI through tyro.

A milestone's ``Config`` subclasses :class:`RunConfig` (the fields every entry point shares) and
adds its own, each with a docstring and its source in the paper. Presets are functions returning a
``Config``. On the command line ``--preset NAME`` picks the starting values and every other flag
overrides one of them::

    python -m milestones.resnet.train --preset quick --lr 0.05

Values are checked in ``__post_init__``, so a bad one fails before any work is done, with a message
naming the field.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import tyro

# Exit codes of every `python -m milestones.<m>.train` (documented in the root README).
EXIT_OK = 0  # finished, or stopped cleanly by --max-steps / --max-minutes
EXIT_ERROR = 1  # the run failed (e.g. a non-finite loss); the last good checkpoint is kept
EXIT_USAGE = 2  # bad config value or missing data; nothing was written
EXIT_PREEMPTED = 75  # SIGTERM/SIGINT: a checkpoint was saved; rerun with --resume (EX_TEMPFAIL)


class ConfigError(ValueError):
    """A config value is invalid. The message names the field and its command-line flag."""

    def __init__(self, field: str, value: Any, why: str):
        flag = "--" + field.replace("_", "-")
        super().__init__(f"config field `{field}` ({flag}) = {value!r}: {why}")
        self.field = field


def require(ok: bool, cfg: Any, field: str, why: str) -> None:
    """Raise :class:`ConfigError` for ``cfg.<field>`` unless ``ok``."""
    if not ok:
        raise ConfigError(field, getattr(cfg, field), why)


@dataclasses.dataclass
class RunConfig:
    """Fields shared by every training entry point."""

    preset: str = "paper"
    """Preset the other values start from: smoke (seconds), quick (CPU minutes), paper."""
    seed: int = 0
    """Seed for the model init, data order and augmentation (each rank adds its rank)."""
    device: str = "auto"
    """auto = cuda > mps > cpu; or an explicit torch device such as cpu, cuda, cuda:1."""
    dtype: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """Autocast precision; auto = bf16 on CUDA, fp32 elsewhere. fp16 adds a GradScaler."""
    compile: bool = False
    """torch.compile the model (opt-in; slower than eager for small models on CPU)."""
    deterministic: bool = False
    """torch.use_deterministic_algorithms(True) and no cuDNN autotuning."""
    data_root: str | None = None
    """Where datasets live; default $MILESTONES_DATA, else ~/.cache/milestones."""
    out: str | None = None
    """Run folder; default runs/<milestone>/<preset>-<model>-s<seed>."""
    resume: bool = False
    """Continue from <out>/last.pt when it exists (else start fresh): same losses, same weights."""
    max_steps: int | None = None
    """Stop after this many optimizer steps in all (a cap; the schedule is unchanged)."""
    max_minutes: float | None = None
    """Wall-clock budget: stop cleanly with a checkpoint and a final evaluation."""
    tensorboard: bool = False
    """Also write TensorBoard event files into the run folder."""
    progress: bool = True
    """Show a tqdm progress bar (metrics.jsonl is written either way)."""

    def __post_init__(self) -> None:
        require(self.seed >= 0, self, "seed", "must be >= 0")
        require(self.device == "auto" or _is_device(self.device), self, "device",
                "not a torch device; use auto, cpu, cuda, cuda:N or mps")
        require(self.max_steps is None or self.max_steps > 0, self, "max_steps", "must be > 0")
        require(self.max_minutes is None or self.max_minutes > 0, self, "max_minutes",
                "must be > 0")


def _is_device(name: str) -> bool:
    import torch

    try:
        torch.device(name)
    except (RuntimeError, ValueError):
        return False
    return True


C = TypeVar("C")  # a config dataclass with a `preset` field


def parse(config_cls: type[C], presets: dict[str, Callable[[], C]], args: list[str] | None = None,
          description: str | None = None) -> C:
    """Command line -> config: ``--preset`` picks the starting values, every other flag overrides.

    ``--help`` lists every field with its docstring and the chosen preset's value as default.
    """
    args = list(sys.argv[1:] if args is None else args)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset", default=config_cls.preset)
    name = pre.parse_known_args(args)[0].preset
    if name not in presets:
        print(f"error: unknown preset {name!r}; choose from: {', '.join(presets)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    head = (description or config_cls.__doc__ or "").strip()
    return tyro.cli(config_cls, default=presets[name](), args=args,
                    description=f"{head}\n\nPresets (--preset): {', '.join(presets)}.")


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(cfg), indent=2) + "\n")


def changed_fields(saved: dict, cfg: Any, ignore: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Fields whose value differs between a saved config dict and ``cfg``: {field: (saved, now)}."""
    now = to_dict(cfg)
    return {k: (saved.get(k), v) for k, v in now.items() if k not in ignore and saved.get(k) != v}


def run(main: Callable[[C], dict], config_cls: type[C], presets: dict[str, Callable[[], C]],
        args: list[str] | None = None) -> int:
    """The CLI around ``main(cfg)``: clear one-paragraph errors instead of tracebacks, exit codes.

    Returns EXIT_OK, EXIT_USAGE (bad value / missing data), EXIT_ERROR (failed run) or
    EXIT_PREEMPTED (stopped by a signal after saving a checkpoint).
    """
    from milestones.core.data import DataUnavailable
    from milestones.core.metrics import NonFiniteLoss

    cfg = parse(config_cls, presets, args)
    try:
        summary = main(cfg)
    except (ConfigError, DataUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except NonFiniteLoss as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    if summary.get("stopped") in ("SIGTERM", "SIGINT"):
        return EXIT_PREEMPTED
    return EXIT_OK
