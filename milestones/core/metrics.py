"""Metrics: a tqdm progress bar, ``metrics.jsonl`` on disk, TensorBoard when asked.

``metrics.jsonl`` holds one JSON object per line. The first is the run header (config, versions,
git SHA, device); then records such as ``{"step": 400, "split": "train", "loss": 1.23, ...}``.
A checkpoint remembers how many lines the file had when it was written; on ``--resume`` the file
is cut back to them (and a ``{"split": "event", "event": "resume"}`` line added), so it reads as
if the run had never stopped. Non-finite values are written as the strings "nan", "inf", "-inf"
(bare NaN is not JSON).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
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


def check_finite(losses: list[torch.Tensor], steps: list[int], kept: str = "") -> None:
    """Raise :class:`NonFiniteLoss` naming the first of ``steps`` whose loss is NaN or inf.

    Takes the per-step losses since the last check, so the device syncs once per check.
    ``kept`` (a sentence and a space) says what the run keeps.
    """
    if not losses:
        return
    values = torch.stack([x.detach().float().reshape(()) for x in losses])
    ok = torch.isfinite(values).cpu()
    if not bool(ok.all()):
        i = int((~ok).nonzero()[0])
        raise NonFiniteLoss(f"the loss is {values[i].item()} at step {steps[i]}; stopping. "
                            f"{kept}Try a lower --lr, or --dtype fp32.")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=10)
        return out.stdout if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def git_sha() -> str | None:
    sha = _git("rev-parse", "HEAD")
    return sha.strip() if sha else None


def code_files() -> list[str]:
    """The package's source files this process has loaded (paths relative to the package's
    parent), but the reproduce scripts': the code a training run is made of. A run records them,
    so a later check re-hashes exactly these (a reproduction's plotting code is not the run's)."""
    root = Path(__file__).resolve().parents[2]
    files = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (name == "milestones" or name.startswith("milestones.")) and path \
                and not name.endswith((".reproduce", ".record")):
            files.add(Path(path).resolve().relative_to(root).as_posix())
    return sorted(files)


def code_sha256(files: list[str] | None = None) -> str:
    """A hash of source files (paths and bytes; default :func:`code_files`), the same for any copy
    of the same code, in a git checkout or an installed wheel; "missing" files hash as such."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for name in code_files() if files is None else files:
        path = root / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"\1"))
    return digest.hexdigest()[:16]


def code_version() -> dict[str, Any]:
    """What code made a run: the git commit, whether the working tree differs from it (any
    change or untracked file; then a hash of the difference, so two dirty runs can be told
    apart), :func:`code_files` and their :func:`code_sha256`. Without git the first three are
    None."""
    sha = git_sha()
    status = _git("status", "--porcelain") if sha else None
    dirty = bool(status and status.strip()) if sha else None
    diff = None
    if dirty:
        digest = hashlib.sha256((status + (_git("diff", "HEAD") or "")).encode())
        top = Path((_git("rev-parse", "--show-toplevel") or ".").strip())
        for line in status.splitlines():  # untracked files: their content
            if line.startswith("?? ") and (top / line[3:]).is_file():
                digest.update((top / line[3:]).read_bytes())
        diff = digest.hexdigest()[:16]
    files = code_files()
    return {"git_sha": sha, "git_dirty": dirty, "git_diff_sha256": diff,
            "code_sha256": code_sha256(files), "code_files": files}


def environment(device: torch.device) -> dict[str, Any]:
    """Versions, the code (:func:`code_version`), host and device: the provenance every run
    records."""
    import numpy
    import torchvision

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {
        "python": sys.version.split()[0], "torch": str(torch.__version__),  # plain str, not
        "torchvision": str(torchvision.__version__), "numpy": numpy.__version__,  # TorchVersion
        **code_version(), "host": socket.gethostname(), "device": str(device),
        "device_name": name, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        # other work on the same cores distorts every timing: the 1-minute load average says
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
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

    ``keep_lines`` > 0 continues an existing file after its first ``keep_lines`` lines (resume).
    ``lines`` counts the lines the file holds. Only rank 0 should write: pass ``enabled=False``
    elsewhere and every call is a no-op.
    """

    def __init__(self, out_dir: str | Path, header: dict, *, total_steps: int, start_step: int = 0,
                 keep_lines: int = 0, enabled: bool = True, progress: bool = True,
                 tensorboard: bool = False, desc: str = "train"):
        self.enabled, self.lines = enabled, 0
        if not enabled:
            return
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "metrics.jsonl"
        if keep_lines > 0 and self.path.exists():  # resume: the lines the checkpoint saw
            with open(self.path) as f:
                kept = [line for _, line in zip(range(keep_lines), f, strict=False)]
            kept = [line if line.endswith("\n") else line + "\n" for line in kept]
            self.path.write_text("".join(kept))
            self.lines = len(kept)
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
        self._file.write(json.dumps(_finite(record), default=_jsonable, allow_nan=False) + "\n")
        self._file.flush()
        self.lines += 1

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
        """Write the run's summary.json (atomically), print it as one line, close."""
        if self.enabled:
            summary = {**summary, "out": str(self.out_dir)}
            path = self.out_dir / "summary.json"
            tmp = path.with_name(f".summary.json.tmp{os.getpid()}")
            tmp.write_text(json.dumps(_finite(summary), indent=2, default=_jsonable,
                                      allow_nan=False) + "\n")
            os.replace(tmp, path)
            self.print("summary: " + json.dumps(_finite(summary), default=_jsonable))
        self.close()

    def close(self) -> None:
        if not self.enabled or self._file.closed:
            return
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        self._file.close()


def _finite(x: Any) -> Any:
    """Non-finite floats as strings ("nan", "inf", "-inf"), so every line is strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def _jsonable(x: Any) -> Any:
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, torch.Tensor):
        return x.tolist()
    raise TypeError(f"not JSON serializable: {type(x).__name__}")
