"""Configs: one dataclass per entry point, presets as plain functions, a CLI through tyro.

A milestone's ``Config`` subclasses :class:`milestones.core.run.RunConfig` (the fields every
training entry point shares) and adds its own, each with a docstring and its source in the paper.
Presets are functions returning a ``Config``. On the command line ``--preset NAME`` picks the
starting values and every other flag overrides one of them::

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
from typing import Any, TypeVar

import tyro

# Exit codes of every `python -m milestones.<m>.train` (documented in the root README).
EXIT_OK = 0  # finished, or stopped cleanly by --max-steps / --max-minutes
EXIT_ERROR = 1  # the run failed (e.g. a non-finite loss); the last good checkpoint is kept
EXIT_USAGE = 2  # bad value, missing data or package, unusable run folder; nothing written
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


C = TypeVar("C")  # a config dataclass with a `preset` field


def parse(config_cls: type[C], presets: dict[str, Callable[[], C]], args: list[str] | None = None,
          description: str | None = None, prog: str | None = None) -> C:
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
    return tyro.cli(config_cls, default=presets[name](), args=args, prog=prog,
                    description=f"{head}\n\nPresets (--preset): {', '.join(presets)}.")


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(cfg), indent=2) + "\n")


def changed_fields(saved: dict, cfg: Any, ignore: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Fields whose value differs between a saved config dict and ``cfg``: {field: (saved, now)}."""
    now = to_dict(cfg)
    return {k: (saved.get(k), v) for k, v in now.items() if k not in ignore and saved.get(k) != v}


