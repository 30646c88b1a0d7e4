"""The conformance checks catch what they claim to: a toy milestone, registered in
``milestones.REGISTRY`` for the test, passes them all; each broken copy of it, with one defect,
fails the check for that defect."""

import dataclasses
import json
import textwrap

import pytest

import milestones
from tests import conformance as C

TOY = '''
"""A toy milestone: least squares with SGD, trained through core.run like the real ones."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import tyro
from torch import nn

from milestones.core import runtime
from milestones.core.config import require
from milestones.core.run import Run, RunConfig, Window, cli, launch


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 1)
        #DEAD self.unused = nn.Parameter(torch.zeros(4))  # (zeros: no RNG draw)

    def forward(self, x):
        return self.linear(x)


@dataclasses.dataclass
class Config(RunConfig):
    """Fit y = x w by SGD."""

    lr: float = 0.05
    """Learning rate."""
    momentum: float = 0.9
    #DOC """SGD momentum."""
    steps: int = 40
    """Steps in all."""
    log_every: int = 5
    """Steps between training records."""
    ckpt_every: int = 6
    """Steps between checkpoints."""
    #HIDDEN secret: tyro.conf.Suppress[str] = "x"
    #HIDDEN """Not on the command line."""

    def __post_init__(self):
        super().__post_init__()
        require(self.lr > 0 #UNVALIDATED or True
                , self, "lr", "must be > 0")
        require(0 <= self.momentum < 1, self, "momentum", "must be in [0, 1)")
        for field in ("steps", "log_every", "ckpt_every"):
            require(getattr(self, field) > 0, self, field, "must be > 0")


def paper():
    return Config(preset="paper")


def quick():
    return Config(preset="quick", steps=80)


def smoke():
    return Config(preset="smoke", steps=20, progress=False)


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke}
#NOQUICK del PRESETS["quick"]


def main(cfg):
    return launch(train, cfg)


def train(cfg, rt):
    out = Path(cfg.out or f"runs/toy/{cfg.preset}-s{cfg.seed}")
    with Run(cfg, rt, out) as run:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(256, 4, generator=g)
        y = x @ torch.tensor([[1.0], [-2.0], [3.0], [0.5]])
        model = Model()
        # DEVIATION(D1): momentum SGD
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
        window = Window("loss", "n")
        run.track(model=model, optimizer=opt, window=window)
        run.start({}, total_steps=cfg.steps)
        seen = 0  # examples seen: derivable from the step, but counted here
        while not run.should_stop():
            idx = torch.randint(0, 256, (32,))
            loss = (model(x[idx]) - y[idx]).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.step += 1
            run.track_loss(loss)
            window.add(loss=loss.detach() * 32, n=32)
            seen += 32
            examples = run.step * 32
            #FORGOTTEN examples = seen
            if run.step % cfg.log_every == 0:
                sums = window.flush()
                run.log("train", loss=sums["loss"] / sums["n"], examples=examples)
            if run.step % cfg.ckpt_every == 0:
                run.save()
        return run.finish({})


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
'''

README = """# toy

| | what | paper | ours | why |
|---|---|---|---|---|
| D1 | optimizer | SGD | momentum SGD | |
"""

# defect -> (what to switch on in the toy, the check that must catch it)
DEFECTS = {
    "no quick preset": ("#NOQUICK ", "presets"),
    "an undocumented field": ('#DOC """SGD momentum."""', "docs"),
    "a field hidden from --help": ("#HIDDEN ", "help"),
    "a value that is not validated": ("#UNVALIDATED ", "bad_values"),
    "a parameter that gets no gradient": ("#DEAD ", "gradients"),
    "a README deviation without its marker": ("README D2", "deviations"),
    "a loop variable the checkpoint forgets": ("#FORGOTTEN ", "resume"),
    "smoke losses that drifted": ("golden drift", "golden"),
}
CHECKS = ("presets", "docs", "help", "bad_values", "gradients", "deviations", "golden", "resume")


def write_toy(root, package: str, defect: str | None):
    """The toy package under ``root`` with one defect switched on (or none)."""
    source, readme = TOY, README
    switch = DEFECTS[defect][0] if defect else None
    if switch == '#DOC """SGD momentum."""':
        source = source.replace(switch, "")
    elif switch == "README D2":
        readme += "| D2 | batch | full | 32 | |\n"
    elif switch and switch.startswith("#"):
        source = source.replace(switch, "")
    if switch != '#DOC """SGD momentum."""':  # the docstring line stays a docstring
        source = source.replace('    #DOC """SGD momentum."""', '    """SGD momentum."""')
    (root / package).mkdir()
    (root / package / "__init__.py").write_text('"""A toy milestone for tests."""\n')
    (root / package / "train.py").write_text(textwrap.dedent(source))
    (root / package / "README.md").write_text(readme)


def run_checks(s: C.Subject, tmp_path, only: tuple[str, ...] = CHECKS) -> dict[str, str | None]:
    """The checks ``only`` on ``s``: {check: None if it passed, else its message}."""
    out = tmp_path / "reference" / "run"
    with C.GradientProbe() as probe:
        s.train.main(s.smoke(out))
    checks = {
        "presets": lambda: C.check_presets(s),
        "docs": lambda: C.check_field_docs(s),
        "help": lambda: C.check_help(s),
        "bad_values": lambda: C.check_bad_values(s, tmp_path),
        "gradients": lambda: C.check_gradients(s, probe),
        "deviations": lambda: C.check_deviations(s),
        "golden": lambda: C.check_golden(s, out),
        "resume": lambda: C.check_resume(s, out, tmp_path),
    }
    results = {}
    for name in only:
        check = checks[name]
        try:
            check()
            results[name] = None
        except AssertionError as e:
            results[name] = str(e)
    return results


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """Registers a toy milestone built with one defect; returns its Subject."""

    def make(defect: str | None) -> C.Subject:
        package = "toy_" + ("ok" if defect is None else str(list(DEFECTS).index(defect)))
        write_toy(tmp_path, package, defect)
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{C.REPO}")
        entry = milestones.Milestone("toy", "2026", "A toy", "the tests", "none", package=package)
        monkeypatch.setattr(milestones, "REGISTRY", (*milestones.REGISTRY, entry))
        (s,) = [s for s in C.subjects(milestones.REGISTRY) if s.name == "toy"]
        s = dataclasses.replace(s, golden_dir=tmp_path / "golden")
        # the golden losses of the toy as it should be (what a commit would hold)
        (tmp_path / "golden").mkdir()
        s.golden.write_text(json.dumps({"losses": GOLDEN_TOY}))
        if defect == "smoke losses that drifted":
            s.golden.write_text(json.dumps({"losses": [x * 1.001 for x in GOLDEN_TOY]}))
        return s

    return make


GOLDEN_TOY: list[float] = []


@pytest.fixture(scope="module", autouse=True)
def golden_toy(tmp_path_factory):
    """The toy's own first smoke losses, as tests/make_golden.py would store them."""
    import sys

    root = tmp_path_factory.mktemp("golden-toy")
    write_toy(root, "toy_golden", None)
    sys.path.insert(0, str(root))
    try:
        import toy_golden.train as T

        T.main(dataclasses.replace(T.smoke(), out=str(root / "run")))
        GOLDEN_TOY[:] = C.smoke_losses(root / "run")
    finally:
        sys.path.remove(str(root))
    assert len(GOLDEN_TOY) == C.GOLDEN_LOSSES


@pytest.mark.slow
def test_the_toy_as_it_should_be_passes_every_check(toy, tmp_path):
    results = run_checks(toy(None), tmp_path)
    assert results == dict.fromkeys(CHECKS), results


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_defect_fails_its_check(toy, tmp_path, defect):
    check = DEFECTS[defect][1]
    results = run_checks(toy(defect), tmp_path, only=(check,))
    assert results[check], f"{defect}: the {check} check passed"
