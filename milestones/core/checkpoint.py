"""Checkpoints: atomic, verified, safe to load; RNG capture; safetensors export.

A checkpoint is a plain dict (model, optimizer, scheduler, scaler, step, RNG states, config...)
written by :func:`save_checkpoint` to a temporary file, fsynced, then moved over the old one with
``os.replace``: a process killed mid-write leaves the previous checkpoint whole. A CRC-32 over every
tensor is stored beside the state and checked on load, so a damaged file fails loudly instead of
resuming from silently wrong weights. Loading uses ``torch.load(weights_only=True)``: no pickled
code runs.
"""

from __future__ import annotations

import os
import random
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

FORMAT = "milestones-checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, corrupted or not ours."""


def _crc32(obj: Any, crc: int = 0) -> int:
    """CRC-32 over the bytes of every tensor in a nested dict/list/tuple, in order."""
    if isinstance(obj, torch.Tensor):
        flat = obj.detach().reshape(-1).contiguous().cpu()
        return zlib.crc32(flat.view(torch.uint8).numpy(), crc)
    if isinstance(obj, dict):
        for key, value in obj.items():
            crc = _crc32(value, zlib.crc32(str(key).encode(), crc))
    elif isinstance(obj, list | tuple):
        for value in obj:
            crc = _crc32(value, crc)
    return crc


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically (temp file, fsync, os.replace, fsync the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, "crc32": _crc32(state), "state": state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load and verify a checkpoint written by :func:`save_checkpoint`; returns its state dict."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, bad pickle, a blocked global (pickled code)...
        text = str(e)
        blocked = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text, re.IGNORECASE)
        if blocked:
            raise CheckpointError(
                f"{path} holds a pickled Python object ({blocked.group(1)}) besides tensors; a "
                "safe load (weights_only) refuses to run code from a file, so it is not loaded. "
                "It was not written by milestones.") from None
        reason = (text.splitlines() or ["the file ends early"])[0][:200]
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(e).__name__}: {reason}). "
            "It may be truncated or corrupted.") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a torch file but not a milestones checkpoint "
                              f"(expected format {FORMAT!r})")
    if _crc32(blob["state"]) != blob["crc32"]:
        raise CheckpointError(f"{path} is corrupted: its tensors fail the CRC-32 check.")
    return blob["state"]


def rng_state() -> dict:
    """Every RNG a training step can touch: python, numpy, torch CPU and CUDA."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def export_safetensors(model: nn.Module, path: str | Path,
                       metadata: dict[str, str] | None = None) -> None:
    """Weights only, in safetensors (no pickle; loadable from any framework)."""
    from safetensors.torch import save_model

    save_model(model, str(path), metadata=metadata)


def load_safetensors(model: nn.Module, path: str | Path) -> None:
    from safetensors.torch import load_model

    load_model(model, str(path))
