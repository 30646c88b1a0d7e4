"""Clear the outputs of notebooks before they are committed: they are stored without outputs and
executed by the tests (tests/test_notebooks.py).

    python notebooks/strip.py notebooks/*.ipynb            # clear in place
    python notebooks/strip.py --check notebooks/*.ipynb    # exit 1 if any has outputs
"""

from __future__ import annotations

import argparse
import sys

import nbformat

# what running a notebook adds to it, beside the outputs
RUN_METADATA = ("widgets", "execution", "ExecuteTime", "collapsed", "scrolled")


def strip(nb: nbformat.NotebookNode) -> bool:
    """Clear ``nb`` in place; True if anything changed."""
    changed = False
    for key in RUN_METADATA:
        changed |= nb.metadata.pop(key, None) is not None
    if nb.metadata.get("language_info", {}) != {"name": "python"}:  # the kernel's Python version
        nb.metadata["language_info"], changed = {"name": "python"}, True
    for cell in nb.cells:
        for key in RUN_METADATA:
            changed |= cell.metadata.pop(key, None) is not None
        if cell.cell_type == "code":
            changed |= bool(cell.outputs) or cell.execution_count is not None
            cell.outputs, cell.execution_count = [], None
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="notebooks (.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any "
                        "notebook holds outputs")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.paths:
        nb = nbformat.read(path, as_version=4)
        if strip(nb):
            dirty.append(path)
            if not args.check:
                nbformat.write(nb, path)
    for path in dirty:
        print(f"{path}: {'holds outputs' if args.check else 'cleared'}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())
