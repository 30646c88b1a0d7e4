"""The notebooks: one per implemented milestone (notebooks/<name>.ipynb), stored without outputs,
each executed here in a fresh kernel on the CPU, offline, within a minute. An API change that
breaks a notebook (an import, a builder, a config field) fails this test."""

import os
import re
import time
from pathlib import Path

import pytest

import milestones

EXTRA = "the notebooks extra: pip install -e '.[notebooks]'"
nbformat = pytest.importorskip("nbformat", reason=EXTRA)
nbclient = pytest.importorskip("nbclient", reason=EXTRA)
pytest.importorskip("ipykernel", reason=EXTRA)

REPO = Path(__file__).resolve().parents[1]
IMPLEMENTED = [m.name for m in milestones.REGISTRY if m.implemented]
BUDGET_S = 60  # per notebook, kernel start included


def read(name: str):
    path = REPO / "notebooks" / f"{name}.ipynb"
    assert path.is_file(), (f"milestone {name!r} is implemented but has no notebook: write "
                            f"notebooks/{name}.ipynb (see notebooks/README.md)")
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_every_implemented_milestone_has_a_notebook(name):
    nb = read(name)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_the_notebook_is_stored_without_outputs(name):
    nb = read(name)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty and "widgets" not in nb.metadata, (
        f"notebooks/{name}.ipynb holds outputs (code cells {dirty}); notebooks are stored without "
        f"them: run `python notebooks/strip.py notebooks/{name}.ipynb` before committing")


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_the_notebook_runs_in_a_fresh_kernel(name, tmp_path, monkeypatch):
    nb = read(name)
    # the kernel imports this checkout's package, sees no GPU and no network, and writes (run
    # folders, data) only under tmp_path
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("MILESTONES_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    failure = None
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        failure = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # without IPython's colours
    if failure:  # outside the except: the cell and its traceback once, not chained twice
        pytest.fail(f"notebooks/{name}.ipynb fails in a fresh kernel:\n{failure}", pytrace=False)
    seconds = time.perf_counter() - start
    print(f"notebooks/{name}.ipynb: {seconds:.1f} s")
    blank = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and "plt.show()" in cell.source
             and not any("image/png" in out.get("data", {}) for out in cell.outputs)]
    assert not blank, (f"notebooks/{name}.ipynb: code cells {blank} draw a figure that is not "
                       f"shown (did the code before them switch matplotlib to another backend?)")
    assert seconds < BUDGET_S, (
        f"notebooks/{name}.ipynb took {seconds:.0f} s in a fresh kernel, over the budget of "
        f"{BUDGET_S} s: shrink its training run (fewer steps with dataclasses.replace)")
