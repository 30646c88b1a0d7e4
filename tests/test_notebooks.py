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
BUDGET_S = 60  # per notebook, kernel start included, run beside another one


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


def execute(name: str, folder: Path) -> tuple[object, str | None, float]:
    """notebooks/<name>.ipynb run in a fresh kernel whose working folder, data root and temporary
    files are under ``folder``; the kernel imports this checkout's package, sees no GPU and no
    network. Returns the notebook with its outputs, the failing cell's error (or None) and the
    seconds it took, kernel start included."""
    nb = read(name)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "MILESTONES_DATA": str(folder / "data"),
           "TMPDIR": str(folder), "PYTHONPATH": os.pathsep.join(
               p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    failure = None
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as error:
        failure = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # without IPython's colours
    return nb, failure, time.perf_counter() - start


@pytest.fixture(scope="module")
def executed(request, tmp_path_factory) -> dict:
    """The notebooks this session's tests ask for, executed two kernels at a time (a kernel
    mostly starts up and imports: two share CI's 2 cores well), as name -> future of
    :func:`execute`."""
    from concurrent.futures import ThreadPoolExecutor

    wanted = [item.callspec.params["name"] for item in request.session.items
              if getattr(item, "originalname", None) == "test_the_notebook_runs_in_a_fresh_kernel"]
    pool = ThreadPoolExecutor(2)
    futures = {name: pool.submit(execute, name, tmp_path_factory.mktemp(f"nb-{name}"))
               for name in wanted}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_the_notebook_runs_in_a_fresh_kernel(name, executed):
    nb, failure, seconds = executed[name].result()
    if failure:  # outside the except: the cell and its traceback once, not chained twice
        pytest.fail(f"notebooks/{name}.ipynb fails in a fresh kernel:\n{failure}", pytrace=False)
    print(f"notebooks/{name}.ipynb: {seconds:.1f} s (beside another notebook)")
    blank = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and "plt.show()" in cell.source
             and not any("image/png" in out.get("data", {}) for out in cell.outputs)]
    assert not blank, (f"notebooks/{name}.ipynb: code cells {blank} draw a figure that is not "
                       f"shown (did the code before them switch matplotlib to another backend?)")
    assert seconds < BUDGET_S, (
        f"notebooks/{name}.ipynb took {seconds:.0f} s in a fresh kernel, over the budget of "
        f"{BUDGET_S} s: shrink its training run (fewer steps with dataclasses.replace)")
