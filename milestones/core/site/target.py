"""Where the site may be written: a new or empty folder, or an earlier build (never user files)."""

from __future__ import annotations

from pathlib import Path

MARKER = ".milestones-site"  # written into every build, so that a rebuild may replace it


def target_problem(out: Path) -> str | None:
    """Why ``out`` cannot receive the site, or None when it can: it must be absent, an empty
    folder or an earlier build (it holds MARKER), so that no user file is ever deleted."""
    out = out.resolve()  # "a/../b" is b, even where a does not exist
    existing = next(p for p in (out, *out.parents) if p.exists())
    if existing != out and not existing.is_dir():
        return f"--out {out}: {existing} is a file, so no folder can be made below it"
    if out.exists() and not out.is_dir():
        return f"--out {out} exists and is not a folder"
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        return (f"--out {out} is a folder that holds other files and no earlier site build "
                f"(no {MARKER} file in it); give a new or empty folder")
    return None
