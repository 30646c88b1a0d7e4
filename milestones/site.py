"""``python -m milestones.site --out site/``: build the annotated site (milestones.core.site).

Exit codes: 0 built; 2 bad input (``--out`` is a file, or a folder holding other things than an
earlier build; the markdown or pygments package missing): one message, nothing written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from milestones.core.site.target import target_problem


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m milestones.site",
        description="Build the static site: the milestones' READMEs and their code annotated "
                    "with its own comments. It works offline and from file://.")
    parser.add_argument("--out", type=Path, default=Path("site"),
                        help="folder to write; must be new, empty or an earlier build "
                             "(default: site)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    problem = target_problem(args.out)
    if problem:
        print(f"milestones.site: {problem}", file=sys.stderr)
        return 2
    try:
        import markdown  # noqa: F401
        import pygments  # noqa: F401
    except ImportError as e:
        print(f"milestones.site: {e.name} is not installed: pip install -e \".[site]\"",
              file=sys.stderr)
        return 2
    from milestones.core.site.build import build

    start = time.perf_counter()
    warnings = build(args.out)
    for warning in warnings:
        print(f"milestones.site: warning: {warning}", file=sys.stderr)
    print(f"milestones.site: built {args.out / 'index.html'} in "
          f"{time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
