"""Metrics: a tqdm progress bar, ``metrics.jsonl`` on disk, TensorBoard when asked.

``metrics.jsonl`` holds one JSON object per line. The first is the run header (config, versions,
git SHA, device); then records such as ``{"step": 400, "split": "train", "loss": 1.23, ...}``.
On ``--resume`` the records after the checkpoint's step are dropped, so the file reads as if the
run had never stopped.
"""

from __future__ import annotations

import json
import math
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or inf; the run stops and keeps its last good checkpoint."""


def check_finite(losses: list[torch.Tensor], first_step: int) -> None:
    """Raise :class:`NonFiniteLoss` naming the first step (``first_step + i``) with a bad loss.

    Takes the per-step losses since the last check, so the device syncs once per check.
    """
    if not losses:
        return
    ok = torch.isfinite(torch.stack([x.detach().float() for x in losses])).cpu()
    if not bool(ok.all()):
        i = int((~ok).nonzero()[0])
        raise NonFiniteLoss(f"the loss is {losses[i].item()} at step {first_step + i}; stopping. "
                            "The last checkpoint before it is kept; try a lower --lr, or "
                            "--dtype fp32.")


def git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device) -> dict[str, Any]:
    """Versions, git SHA, host and device: the provenance every run records."""
    import numpy
    import torchvision

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {
        "python": sys.version.split()[0], "torch": str(torch.__version__),  # plain str, not
        "torchvision": str(torchvision.__version__), "numpy": numpy.__version__,  # TorchVersion
        "git_sha": git_sha(), "host": socket.gethostname(), "device": str(device),
        "device_name": name, "threads": torch.get_num_threads(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def read_metrics(path: str | Path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class MetricLogger:
    """``log(step, split, **values)`` -> metrics.jsonl (+ TensorBoard); ``advance()`` -> tqdm.

    Only rank 0 should write: pass ``enabled=False`` elsewhere and every call is a no-op.
    """

    def __init__(self, out_dir: str | Path, header: dict, *, total_steps: int, start_step: int = 0,
                 enabled: bool = True, progress: bool = True, tensorboard: bool = False,
                 desc: str = "train"):
        self.enabled = enabled
        if not enabled:
            return
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "metrics.jsonl"
        if start_step > 0 and self.path.exists():  # resume: keep the records up to start_step
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= start_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
            self._file = open(self.path, "a")  # noqa: SIM115 (closed in close())
            self._write({"step": start_step, "split": "event", "event": "resume"})
        else:
            self._file = open(self.path, "w")  # noqa: SIM115
            self._write({"split": "header", **header})
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(Path(out_dir) / "tensorboard"), purge_step=start_step)
        self._bar = None
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, desc=desc, dynamic_ncols=True,
                             file=sys.stderr)

    def _write(self, record: dict) -> None:
        self._file.write(json.dumps(record, default=_jsonable) + "\n")
        self._file.flush()

    def log(self, step: int, split: str, **values: Any) -> None:
        if not self.enabled:
            return
        values = {k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in values.items()}
        self._write({"step": step, "split": split, **values})
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, int | float) and math.isfinite(v):
                    self._tb.add_scalar(f"{split}/{k}", v, step)
        if self._bar is not None:
            shown = {k: f"{v:.4g}" for k, v in values.items() if isinstance(v, float)}
            self._bar.set_postfix({"split": split, **shown}, refresh=False)

    def advance(self, n: int = 1) -> None:
        if self.enabled and self._bar is not None:
            self._bar.update(n)

    def print(self, msg: str) -> None:
        """A message that does not break the progress bar (rank 0 only)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def finish(self, summary: dict) -> None:
        """Write the run's summary.json, print it as one line, close."""
        if self.enabled:
            summary = {**summary, "out": str(self.out_dir)}
            (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            self.print("summary: " + json.dumps(summary))
        self.close()

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        self._file.close()


def _jsonable(x: Any) -> Any:
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, torch.Tensor):
        return x.tolist()
    raise TypeError(f"not JSON serializable: {type(x).__name__}")
