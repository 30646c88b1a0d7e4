"""core.checkpoint: atomic writes that survive a kill, verified loads, RNG, safetensors."""

import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from torch import nn

from milestones.core.checkpoint import (
    CheckpointError,
    export_safetensors,
    load_checkpoint,
    load_safetensors,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def _state(step: int = 3) -> dict:
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
            "best": {"error": 0.25, "step": None}, "rng": rng_state(), "bf16": torch.ones(3,
            dtype=torch.bfloat16), "scalar": torch.tensor(2.5), "config": {"lr": 0.1}}


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_round_trip(tmp_path):
    state = _state()
    save_checkpoint(tmp_path / "last.pt", state)
    assert _equal(load_checkpoint(tmp_path / "last.pt"), state)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_rng_state_restores_every_generator():
    state = rng_state()
    a = (random.random(), np.random.rand(), torch.rand(2).tolist())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(2).tolist()) == a


def test_corrupted_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"w": torch.randn(1000, 100), "step": 1})
    raw = bytearray(path.read_bytes())
    for i in range(len(raw) // 2, len(raw) // 2 + 64):  # inside the tensor bytes
        raw[i] ^= 0xFF
    path.write_bytes(raw)
    with pytest.raises(CheckpointError, match="corrupted: its tensors fail the CRC-32 check"):
        load_checkpoint(path)


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_unreadable_checkpoint_gives_a_clear_error(tmp_path, damage):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"w": torch.randn(100, 100)})
    raw = path.read_bytes()
    path.write_bytes({"truncate": raw[: len(raw) // 2], "empty": b"",
                      "garbage": b"not a checkpoint" * 10}[damage])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"w": torch.ones(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a milestones checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")


class Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_loading_never_runs_pickled_code(tmp_path, capsys):
    torch.save({"format": "milestones-checkpoint/1", "crc32": 0, "state": Evil()},
               tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.pt")
    assert "must never run" not in capsys.readouterr().out


WRITER = textwrap.dedent("""
    import sys, torch
    from milestones.core.checkpoint import save_checkpoint
    path, step = sys.argv[1], 0
    big = torch.arange(4_000_000, dtype=torch.float32)  # 16 MB: a write takes a while
    print("ready", flush=True)
    while True:
        step += 1
        save_checkpoint(path, {"step": step, "w": big + step})
""")


def test_a_write_killed_halfway_leaves_the_previous_checkpoint(tmp_path):
    """SIGKILL a process that writes checkpoints back to back, at five moments: each time the
    file on disk is a whole, verified checkpoint; most kills land mid-write (a temp file left)."""
    path, big = tmp_path / "last.pt", torch.arange(4_000_000, dtype=torch.float32)
    save_checkpoint(path, {"step": 0, "w": big})
    interrupted, steps = 0, []
    for delay in (0.3, 0.45, 0.6, 0.75, 0.9):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        temps = list(tmp_path.glob(".last.pt.tmp*"))
        interrupted += bool(temps)
        for t in temps:
            t.unlink()
        state = load_checkpoint(path)
        assert torch.equal(state["w"], big + state["step"])
        steps.append(state["step"])
    assert all(s > 0 for s in steps), steps  # the writer did replace the checkpoint
    assert interrupted >= 1  # and at least one kill hit a write in progress


def test_safetensors_export_round_trip(tmp_path):
    a, b = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    export_safetensors(a, tmp_path / "m.safetensors", {"model": "demo"})
    load_safetensors(b, tmp_path / "m.safetensors")
    assert _equal(a.state_dict(), b.state_dict())


def test_a_folder_or_a_foreign_global_is_one_clear_error(tmp_path):
    (tmp_path / "last.pt").mkdir()
    with pytest.raises(CheckpointError, match="is a folder, not a checkpoint"):
        load_checkpoint(tmp_path / "last.pt")
    torch.save({"format": "milestones-checkpoint/1", "crc32": 0, "state": {"x": Evil()}},
               tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match=r"pickled Python object \(.*print\)"):
        load_checkpoint(tmp_path / "code.pt")
