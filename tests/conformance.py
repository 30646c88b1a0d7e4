"""The conformance checks every implemented milestone passes, written once.

Each ``check_*`` takes a :class:`Subject` (one milestone: its ``train`` module, README, folder,
golden file) and raises AssertionError with a message that says what is wrong. They are run over
``milestones.REGISTRY`` by tests/test_milestones.py, and against a deliberately broken toy
milestone by tests/test_conformance.py (so each check is shown to fail when it should).

What they check (DESIGN.md §3, §4, §7):
- presets: smoke, quick and paper exist, each names itself, and paper is the default;
- every Config field has a docstring and appears in ``--help``;
- a bad value of any numeric field is refused naming that field; on the command line it exits 2
  and writes nothing;
- every parameter of the smoke model gets a non-zero gradient;
- the smoke run keeps best.pt, chosen on validation data;
- the README's deviation rows D<n> and the code's ``# DEVIATION(D<n>)`` markers match;
- resume in a fresh process equals the uninterrupted run: every metrics.jsonl record, the
  weights, the optimizer and everything else in last.pt; also after kill -9 at random points;
- the smoke run's first losses equal the golden values stored in tests/golden/.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
import types
import typing
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
TIMING = re.compile(r"(_per_s|_time_s)$")  # wall-clock metrics: never equal between two runs
GOLDEN_LOSSES = 4  # how many smoke training losses are pinned
GOLDEN_RTOL = 1e-4  # catches any real change of numerics; tolerates another x86 CPU's rounding


@dataclasses.dataclass
class Subject:
    """One milestone as the checks see it."""

    name: str
    module: str  # its package, e.g. "milestones.resnet"
    path: Path  # its folder
    env: dict  # extra environment for its commands (a data root for caches)
    negative_ok: tuple[str, ...] = ()  # numeric fields where -1 is a meaningful value
    golden_dir: Path = GOLDEN

    @property
    def train(self):
        return importlib.import_module(f"{self.module}.train")

    @property
    def readme(self) -> Path:
        return self.path / "README.md"

    @property
    def golden(self) -> Path:
        return self.golden_dir / f"{self.name}.json"

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``python -m <module>.train <args>`` in a fresh process."""
        return subprocess.run([sys.executable, "-m", f"{self.module}.train", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **self.env})

    def smoke(self, out: Path, **overrides):
        return dataclasses.replace(self.train.smoke(), out=str(out), progress=False, **overrides)


# Numeric fields whose value -1 is meaningful (so the bad-value sweep skips them).
NEGATIVE_OK = {"dqn": ("target_return",)}


def subjects(registry) -> list[Subject]:
    """The implemented milestones of a registry, as subjects of the checks."""
    return [Subject(m.name, m.module, m.path, {}, NEGATIVE_OK.get(m.name, ()))
            for m in registry if m.implemented]


# ---- presets, fields, --help, bad values -----------------------------------------------------

def check_presets(s: Subject) -> None:
    T = s.train
    missing = {"smoke", "quick", "paper"} - set(T.PRESETS)
    assert not missing, f"{s.name}: presets {sorted(missing)} are missing"
    for name, preset in T.PRESETS.items():
        cfg = preset()
        assert isinstance(cfg, T.Config), f"{s.name}: preset {name} does not return a Config"
        assert cfg.preset == name, f"{s.name}: preset {name}() says preset={cfg.preset!r}"
    assert T.Config().preset == "paper", f"{s.name}: the defaults must be the paper's preset"


def field_docs(cls: type) -> dict[str, str]:
    """{field: docstring} of a dataclass and its bases: the string literal after each field."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass.__module__ == "builtins":
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        for node, after in zip(body, [*body[1:], None], strict=True):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[node.target.id] = after.value.value.strip()
    return docs


def check_field_docs(s: Subject) -> None:
    names = [f.name for f in dataclasses.fields(s.train.Config)]
    docs = field_docs(s.train.Config)
    undocumented = [n for n in names if not docs.get(n)]
    assert not undocumented, f"{s.name}: Config fields without a docstring: {undocumented}"


def check_help(s: Subject) -> None:
    res = s.cli("--help", timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    flags = ["--" + f.name.replace("_", "-") for f in dataclasses.fields(s.train.Config)]
    missing = [f for f in flags if f not in res.stdout]
    assert not missing, f"{s.name}: --help does not list {missing}"
    assert f"python -m {s.module}.train" in res.stdout, "the usage line names the module"
    for preset in ("smoke", "quick", "paper"):
        assert preset in res.stdout, f"--help does not name the {preset} preset"


def check_bad_values(s: Subject, tmp: Path) -> None:
    """-1 in every numeric field is refused with a ConfigError naming that field; on the command
    line a bad value exits 2 with the field in the message, and writes nothing."""
    from milestones.core.config import ConfigError

    T = s.train
    hints = typing.get_type_hints(T.Config)
    base = T.smoke()
    accepted = []
    for f in dataclasses.fields(T.Config):
        hint = hints[f.name]
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        kinds = set(typing.get_args(hint)) if union else {hint}  # int, or int | None
        if not kinds & {int, float} or bool in kinds or f.name in s.negative_ok:
            continue
        try:
            dataclasses.replace(base, **{f.name: -1})
        except ConfigError as e:
            assert e.field == f.name, f"{s.name}: --{f.name} -1 is blamed on `{e.field}`: {e}"
            continue
        accepted.append(f.name)
    assert not accepted, f"{s.name}: -1 is accepted by {accepted}"
    out = tmp / "bad"
    res = s.cli("--preset", "smoke", "--out", str(out), "--seed", "-1", timeout=120)
    assert res.returncode == 2, f"{s.name}: exit {res.returncode}\n{res.stderr[-2000:]}"
    assert "`seed`" in res.stderr + res.stdout and "Traceback" not in res.stderr
    assert not out.exists(), f"{s.name}: a refused command wrote {out}"


# ---- gradients -------------------------------------------------------------------------------

class GradientProbe:
    """Records, at every optimizer step of a run, which parameters have a gradient."""

    def __init__(self):
        self.params: dict[int, tuple[str, torch.Tensor]] = {}
        self.nonzero: set[int] = set()
        self.missing: set[int] = set()

    def __enter__(self) -> GradientProbe:
        from torch.optim.optimizer import register_optimizer_step_pre_hook

        self._handle = register_optimizer_step_pre_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()

    def _hook(self, opt, args, kwargs) -> None:
        for g, group in enumerate(opt.param_groups):
            for i, p in enumerate(group["params"]):
                self.params.setdefault(id(p), (f"group {g} param {i} {tuple(p.shape)}", p))
                if p.grad is None:
                    self.missing.add(id(p))
                elif bool(p.grad.ne(0).any()):
                    self.nonzero.add(id(p))

    def problems(self) -> list[str]:
        return [name for key, (name, _) in self.params.items()
                if key in self.missing or key not in self.nonzero]


def check_gradients(s: Subject, probe: GradientProbe) -> None:
    assert probe.params, f"{s.name}: the smoke run made no optimizer step"
    bad = probe.problems()
    assert not bad, f"{s.name}: parameters without a (non-zero) gradient in the smoke run: {bad}"


# ---- best.pt -------------------------------------------------------------------------------------

def check_best(s: Subject, reference: Path) -> None:
    """A run that evaluates keeps best.pt, chosen on validation data (never the test set)."""
    from milestones.core.checkpoint import load_checkpoint

    best = json.loads((reference / "summary.json").read_text()).get("best")
    assert best and (reference / "best.pt").is_file(), f"{s.name}: no best.pt in the smoke run"
    assert "test" not in best["metric"], f"{s.name}: best.pt is chosen on {best['metric']}"
    assert load_checkpoint(reference / "best.pt")["step"] == best["step"]


# ---- DEVIATION markers ---------------------------------------------------------------------------

def deviation_rows(readme: Path) -> set[str]:
    return set(re.findall(r"^\|\s*(D\d+)\s*\|", readme.read_text(), re.MULTILINE))


def deviation_markers(folder: Path) -> set[str]:
    found = set()
    for path in folder.rglob("*.py"):
        found |= set(re.findall(r"DEVIATION\((D\d+)\)", path.read_text()))
    return found


def check_deviations(s: Subject) -> None:
    rows, marks = deviation_rows(s.readme), deviation_markers(s.path)
    assert rows == marks, (f"{s.name}: README rows without a # DEVIATION marker: "
                           f"{sorted(rows - marks)}; markers without a README row: "
                           f"{sorted(marks - rows)}")


# ---- resume ------------------------------------------------------------------------------------

def records(out: Path) -> list[dict]:
    """metrics.jsonl without the header, resume events and wall-clock numbers."""
    from milestones.core.metrics import read_metrics

    return [{k: v for k, v in r.items() if not TIMING.search(k)}
            for r in read_metrics(out / "metrics.jsonl") if r["split"] not in ("header", "event")]


VOLATILE = {"env", "config", "train_time_s", "summary", "metrics_lines"}  # differ by design


def assert_same_state(a: object, b: object, where: str = "last.pt") -> None:
    """Equal nested checkpoint contents: tensors bit for bit, numbers and lists exactly."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype, where
        assert torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                     and torch.equal(a.nan_to_num(), b.nan_to_num())), where
    elif isinstance(a, dict):
        keys = set(a) - (VOLATILE if where == "last.pt" else set())
        assert keys == set(b) - (VOLATILE if where == "last.pt" else set()), \
            f"{where}: keys {sorted(map(str, keys ^ (set(b) - VOLATILE)))} differ"
        for k in keys:
            assert_same_state(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def summary(out: Path) -> dict:
    s = json.loads((out / "summary.json").read_text())
    return {k: v for k, v in s.items() if k != "out" and not TIMING.search(k)}


def check_same_run(s: Subject, reference: Path, other: Path) -> None:
    from milestones.core.checkpoint import load_checkpoint

    a, b = records(reference), records(other)
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        assert x == y, f"{s.name}: metrics.jsonl record {i} differs:\n  {x}\n  {y}"
    assert len(a) == len(b), f"{s.name}: {len(a)} records uninterrupted, {len(b)} resumed"
    assert summary(reference) == summary(other), f"{s.name}: the summaries differ"
    assert_same_state(load_checkpoint(reference / "last.pt"), load_checkpoint(other / "last.pt"))


def check_resume(s: Subject, reference: Path, tmp: Path) -> None:
    """Half of the smoke run in this process, the rest in a fresh one with --resume."""
    T = s.train
    total = json.loads((reference / "summary.json").read_text())["steps"]
    out = tmp / "halves"
    half = T.main(s.smoke(out, max_steps=max(1, total // 2)))
    assert half["stopped"] == "max_steps", f"{s.name}: {half['stopped']}"
    res = s.cli("--preset", "smoke", "--out", str(out), "--resume", "--no-progress")
    assert res.returncode == 0, res.stderr[-3000:]
    check_same_run(s, reference, out)


def check_kill_resume(s: Subject, reference: Path, tmp: Path, kills: int = 3,
                      seed: int = 0) -> list[int]:
    """kill -9 the smoke run at random points of its progress, resume it each time, and compare
    the finished run with the uninterrupted one. A kill point is a random number of further
    metrics.jsonl lines plus a random 0-10 ms, so kills land in training, in evaluations and in
    checkpoint writes alike. Returns the line counts at which the kills were sent."""
    import shutil

    rng = random.Random(f"{s.name}:{seed}")
    out = tmp / "killed"
    total = len(records(reference)) + 1  # + the header
    args = [sys.executable, "-m", f"{s.module}.train", "--preset", "smoke", "--out", str(out),
            "--resume", "--no-progress"]
    for _ in range(10):  # chains: one that finished before its kills landed starts over
        killed_at: list[int] = []
        shutil.rmtree(out, ignore_errors=True)
        while len(killed_at) < kills:
            now = _lines(out)
            target = rng.randint(now + 1, max(now + 1, total - 1))
            proc = subprocess.Popen(args, cwd=REPO, env={**os.environ, **s.env},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 120
            while proc.poll() is None and _lines(out) < target and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.01))
            landed = proc.poll() is None
            if landed:
                proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=120)
            assert proc.returncode in (0, -signal.SIGKILL), f"{s.name}: exit {proc.returncode}" \
                                                             f"\n{err[-3000:]}"
            if not landed:
                break  # the run finished first
            killed_at.append(_lines(out))
        if len(killed_at) == kills:
            break
    assert len(killed_at) == kills, f"{s.name}: the kills did not land mid-run"
    res = subprocess.run(args, cwd=REPO, env={**os.environ, **s.env}, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    check_same_run(s, reference, out)
    return killed_at


def _lines(out: Path) -> int:
    try:
        with open(out / "metrics.jsonl") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


# ---- golden numbers ----------------------------------------------------------------------------

def smoke_losses(out: Path) -> list[float]:
    from milestones.core.metrics import read_metrics

    losses = []  # "loss", or where a loop has several (GAN: loss_d, loss_g) each of them
    for r in read_metrics(out / "metrics.jsonl"):
        if r["split"] == "train":
            keys = ["loss"] if "loss" in r else sorted(k for k in r if k.startswith("loss_"))
            losses += [r[k] for k in keys if isinstance(r.get(k), float)]
    return losses[:GOLDEN_LOSSES]


def check_golden(s: Subject, reference: Path) -> None:
    assert s.golden.is_file(), (f"{s.name}: no golden losses at {s.golden}; write them with "
                                f"`python tests/make_golden.py {s.name}`")
    golden = json.loads(s.golden.read_text())
    losses = smoke_losses(reference)
    assert len(losses) == len(golden["losses"]) > 0, f"{s.name}: {losses} vs {golden['losses']}"
    for i, (got, want) in enumerate(zip(losses, golden["losses"], strict=True)):
        assert math.isclose(got, want, rel_tol=GOLDEN_RTOL), (
            f"{s.name}: smoke loss {i} is {got!r}, golden {want!r} (written at "
            f"{golden.get('git_sha', '?')[:10]}). If the change of numerics is intended, rewrite "
            f"them: python tests/make_golden.py {s.name}")
