"""The package itself: the registry, `python -m milestones`, no work at import."""

import milestones
from tests.conftest import run_cli


def test_registry_lists_the_ten_milestones():
    names = [m.name for m in milestones.REGISTRY]
    assert names == ["alexnet", "dqn", "attention", "adam", "gan", "resnet", "transformer",
                     "bert", "simclr", "gpt"]
    assert milestones.get("resnet").implemented
    assert milestones.get("resnet").arxiv == "arXiv:1512.03385"


def test_python_dash_m_milestones_prints_the_registry():
    res = run_cli("-m", "milestones")
    assert res.returncode == 0, res.stderr
    for m in milestones.REGISTRY:
        assert m.name in res.stdout and m.year in res.stdout
    assert "python -m milestones.resnet.train" in res.stdout
    for m in milestones.REGISTRY:
        status = "implemented" if m.implemented else "planned"
        assert any(line.startswith(m.name) and status in line for line in res.stdout.splitlines())


def test_importing_the_package_does_no_work():
    res = run_cli("-c", "import sys, milestones, milestones.core; print('torch' in sys.modules)")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
