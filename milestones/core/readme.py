"""README numbers rendered from the committed JSON files that hold them, so every number a README
states can be traced to a file a script wrote (results.json, quick.json, benchmark.json).

A README holds its template in an HTML comment (invisible when rendered) and the rendered text
after it, up to a closing comment::

    <!-- template quick=results/quick.json
    Seed {quick.seed}: **{100 * quick.summary.final_test_error:.2f}% test error**
    -->
    Seed 0: **2.18% test error**
    <!-- /template -->

The sources (``name=path``, relative to the README's folder) are JSON files; a field is a Python
expression over them (attribute access into the JSON, arithmetic, :func:`pm`, :func:`pct`) with a
format spec, as in an f-string. ``python -m milestones.core.readme`` re-renders every README;
``--check`` exits 1 when one is out of date (a test runs it). No number sits in a README's results
by hand: ``unrendered_numbers`` finds those outside templates.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

BLOCK = re.compile(r"<!-- template (?P<sources>[^\n]*)\n(?P<template>.*?)\n-->\n"
                   r"(?P<rendered>.*?)<!-- /template -->", re.DOTALL)


def _attr(key: str) -> str:
    """A JSON key as an attribute name: "1 head" -> _1_head, "CartPole-v1" -> CartPole_v1."""
    name = key.replace(" ", "_").replace("-", "_").replace("+", "_").replace(".", "_")
    return f"_{name}" if name[:1].isdigit() else name


def _namespace(x: Any) -> Any:
    """JSON as attributes (``a.b_c`` for ``a["b-c"]``); each object keeps its keys as written in
    ``_keys`` (attribute -> key), for :func:`ranked`."""
    if isinstance(x, dict):
        ns = SimpleNamespace(**{_attr(k): _namespace(v) for k, v in x.items()})
        ns._keys = {_attr(k): k for k in x}
        return ns
    if isinstance(x, list):
        return [_namespace(v) for v in x]
    return x


def pm(stat: Any, digits: int = 2, scale: float = 1.0) -> str:
    """A {"mean", "std"} as "mean ± std" (times ``scale``)."""
    s = vars(stat) if isinstance(stat, SimpleNamespace) else stat
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['std']:.{digits}f}"


def pct(x: float, digits: int = 2) -> str:
    """A fraction as a percentage: 0.0218 -> "2.18"."""
    return f"{100 * x:.{digits}f}"


def ranked(group: SimpleNamespace, field: str, digits: int = 4) -> str:
    """The members of a JSON object, best (lowest mean of ``field``, a list over seeds) first:
    "name mean ± std, ..." (std over seeds, n - 1; 0 for one seed)."""
    rows = []
    for attr, key in group._keys.items():
        values = getattr(getattr(group, attr), field)
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0
        rows.append((mean, f"{key} {mean:.{digits}f} ± {var ** 0.5:.{digits}f}"))
    return ", ".join(text for _, text in sorted(rows))


def claims(group: SimpleNamespace) -> str:
    """A results.json's claims (name -> holds) as "name: yes, name: no"."""
    return ", ".join(f"{key.replace('_', ' ')}: **{'yes' if getattr(group, attr) else 'no'}**"
                     for attr, key in group._keys.items())


def render(template: str, sources: dict[str, Path]) -> str:
    """The template with every {field} evaluated over the JSON sources."""
    names = {name: _namespace(json.loads(path.read_text())) for name, path in sources.items()}
    names.update(pm=pm, pct=pct, round=round, len=len, min=min, max=max, abs=abs, sum=sum,
                 map=map, str=str, ranked=ranked,
                 claims=claims, vars=vars, sorted=sorted, getattr=getattr, zip=zip, nl="\n")
    quoted = template.replace('"""', '\\"\\"\\"')
    # the names are globals, so that comprehensions see them too
    return eval(f'f"""{quoted}"""', {"__builtins__": {}, **names})  # noqa: S307 (our READMEs)


def update(readme: Path, missing: list[Path] | None = None) -> tuple[str, str]:
    """(current text, text with every template re-rendered). A template whose JSON file does not
    exist yet is left as it is and its path appended to ``missing``."""
    text = readme.read_text()

    def one(m: re.Match) -> str:
        sources = {}
        for item in m["sources"].split():
            name, _, path = item.partition("=")
            sources[name] = readme.parent / path
        absent = [path for path in sources.values() if not path.is_file()]
        if absent:
            if missing is not None:
                missing.extend(absent)
            return m[0]
        try:
            rendered = render(m["template"], sources)
        except Exception as e:  # name the README and the template in the message
            line = text.count("\n", 0, m.start()) + 1
            raise ValueError(f"{readme}:{line}: the template over {m['sources']} does not "
                             f"render: {type(e).__name__}: {e}") from e
        return (f"<!-- template {m['sources']}\n{m['template']}\n-->\n{rendered}\n"
                "<!-- /template -->")

    return text, BLOCK.sub(one, text)


NOT_RESULTS = re.compile(  # numbers in a results section that are names, not results
    r"`[^`]*`"  # code and commands
    r"|\]\([^)]*\)"  # link targets
    r"|§[\d.]+"
    r"|(?:Fig|Figs|Figures?|Table|Tables|Eq|Eqs|Algorithm|Alg|App|Appendix|ED Table)\.? ?"
    r"[\dA-Z.,–-]+(?: and [\dA-Z]+)?"
    r"|\bD\d+\b|arXiv:\S+"
    r"|\b[A-Za-zα-ωΑ-Ω]+[-_]?\d+[A-Za-z\d]*\b"  # resnet20, plain-56, fig6, v1, Pong-v5, bf16, β2
    r"|\b\d+[×x]\d+(?:[×x]\d+)*\b"  # shapes: 32x32, 4×84×84
)


def unrendered_numbers(readme: Path, section: str = "## Results") -> list[str]:
    """Lines of ``section`` (up to the next "## ") holding a number outside a template's
    rendered text: numbers a README would state with no file behind them."""
    text = BLOCK.sub("", readme.read_text())
    start = text.find(section + "\n")
    if start < 0:
        return []
    end = text.find("\n## ", start + len(section))
    body = text[start + len(section):end if end > 0 else None]
    return [line for line in body.splitlines() if re.search(r"\d", NOT_RESULTS.sub("", line))]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m milestones.core.readme",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("readmes", nargs="*", type=Path,
                        help="README files (default: every milestone's)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a README is out of date (or a "
                        "template's JSON is missing)")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    readmes = args.readmes or sorted(root.glob("*/README.md"))
    stale, missing = [], []
    for readme in readmes:
        old, new = update(readme, missing)
        if old != new:
            stale.append(readme)
            if not args.check:
                readme.write_text(new)
    verb = "out of date" if args.check else "re-rendered"
    for readme in stale:
        print(f"{readme}: {verb}", file=sys.stderr)
    for path in missing:
        print(f"{path}: missing, so its template is not rendered", file=sys.stderr)
    return 1 if (stale or missing) and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
