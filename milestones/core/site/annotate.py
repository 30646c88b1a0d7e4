"""A Python file as annotated sections, in the style of pycco/docco: prose beside code.

A section is a run of full-line comments (or a module, class or function docstring) and the code
lines that follow it, up to the next comment run or documented definition. The prose is Markdown
with ``$...$`` and ``$$...$$`` LaTeX, rendered in the page by KaTeX; the code is highlighted by
Pygments. Trailing comments (``x = x.view(B, T, H, d_k)  # (B, T, H, d_k)``) stay with the code.
"""

from __future__ import annotations

import ast
import html
import inspect
import re
from dataclasses import dataclass, field

from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES

# full-line comments that are instructions to tools, not prose: they stay in the code column
TOOL_COMMENT = re.compile(r"#\s*(noqa|type:|fmt:|pragma|pyright:|mypy:|!)")
DEVIATION = re.compile(r"DEVIATION\((D\d+)\)")


@dataclass
class Section:
    docs: list[str] = field(default_factory=list)  # Markdown chunks, in order
    lines: list[int] = field(default_factory=list)  # 0-based line numbers of the code

    def has_code(self, source_lines: list[str]) -> bool:
        return any(source_lines[i].strip() for i in self.lines)


def docstrings(tree: ast.Module, source_lines: list[str]) -> tuple[dict[int, str], set[int]]:
    """The module's, classes' and functions' docstrings that stand on lines of their own.

    Returns {line where the documented thing starts (its first decorator): cleaned text} and the
    set of the docstrings' own lines (0-based), which leave the code column."""
    texts, lines = {}, set()
    nodes = [tree] + [n for n in ast.walk(tree)
                      if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)]
    for node in nodes:
        first = node.body[0] if node.body else None
        if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            continue
        start, end = first.lineno - 1, first.end_lineno - 1
        alone = (not source_lines[start][:first.col_offset].strip()
                 and not source_lines[end][first.end_col_offset:].strip())
        if not alone:
            continue
        decorators = getattr(node, "decorator_list", [])
        header = start if node is tree else min([node.lineno] + [d.lineno for d in decorators]) - 1
        texts[header] = inspect.cleandoc(first.value.value)
        lines.update(range(start, end + 1))
    return texts, lines


def comment_text(line: str) -> str | None:
    """The prose of a full-line comment, or None for code, blank lines and tool comments."""
    stripped = line.strip()
    if not stripped.startswith("#") or TOOL_COMMENT.match(stripped):
        return None
    text = stripped[1:]
    return text[1:] if text.startswith(" ") else text


def sections(source: str) -> list[Section]:
    """Split a Python source into sections of (Markdown prose, code lines)."""
    source_lines = source.splitlines()
    doc_at, doc_lines = docstrings(ast.parse(source), source_lines)
    out = [Section()]
    in_comment = False
    for i, line in enumerate(source_lines):
        current = out[-1]
        text = comment_text(line)
        starts_doc = i in doc_at
        if (text is not None or starts_doc) and current.has_code(source_lines):
            current = Section()
            out.append(current)
        if starts_doc:
            current.docs.append(doc_at[i])
        if text is not None:
            if in_comment:
                current.docs[-1] += "\n" + text
            else:
                current.docs.append(text)
        elif i not in doc_lines:
            current.lines.append(i)
        in_comment = text is not None
    return [s for s in out if s.docs or s.has_code(source_lines)]


# ---- docstrings as Markdown ----------------------------------------------------------------------

SECTION_HEADER = re.compile(r"(Args|Arguments|Attributes|Returns|Raises|Yields|Shapes?):\s*$")
ENTRY = re.compile(r"([\w*][\w*, .]*?)(\s*\([^)]*\))?:\s+(.*)")
LIST_ITEM = re.compile(r"\s*([-*+]|\d+\.)\s")


def google_sections(text: str) -> str:
    """``Args:`` blocks (Google style) as Markdown lists: ``- **name**: text``."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if not SECTION_HEADER.fullmatch(line):
            out.append(line)
            i += 1
            continue
        out += ["", f"**{line.strip()}**", ""]
        i += 1
        indent = None
        while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
            body = lines[i]
            i += 1
            if not body.strip():
                continue
            depth = len(body) - len(body.lstrip())
            indent = depth if indent is None else indent
            entry = ENTRY.fullmatch(body.strip())
            if depth == indent and entry:
                out.append(f"- **{entry[1]}**{entry[2] or ''}: {entry[3]}")
            elif depth == indent and not out[-1].startswith("- "):
                out.append(body.strip())
            else:
                out[-1] += " " + body.strip()
        out.append("")
    return "\n".join(out)


def loosen_lists(text: str) -> str:
    """Blank lines around lists that touch a paragraph line (Markdown needs them)."""
    out: list[str] = []
    in_list = False
    for line in text.splitlines():
        item = LIST_ITEM.match(line)
        opens = item and not in_list and out and out[-1].strip()
        closes = in_list and line.strip() and not item and not line.startswith(" ")
        if opens or closes:
            out.append("")
        in_list = bool(item) or (in_list and bool(line.strip()) and line.startswith(" "))
        out.append(line)
    return "\n".join(out)


# ---- code as highlighted lines -------------------------------------------------------------------

def css_class(token_type) -> str:
    while token_type not in STANDARD_TYPES:
        token_type = token_type.parent
    return STANDARD_TYPES[token_type]


def highlighted_lines(source: str) -> list[str]:
    """One HTML fragment per source line (tokens that span lines are cut at each newline)."""
    lines = [""]
    lexer = PythonLexer(stripnl=False, ensurenl=True)
    for token_type, value in lexer.get_tokens(source):
        cls = css_class(token_type)
        for k, part in enumerate(value.split("\n")):
            if k:
                lines.append("")
            if part:
                escaped = html.escape(part, quote=False)
                lines[-1] += f'<span class="{cls}">{escaped}</span>' if cls else escaped
    return lines


def link_deviations(fragment: str, readme_href: str) -> str:
    """Each ``DEVIATION(Dn)`` as a link to row Dn of the README's deviations table."""
    return DEVIATION.sub(
        lambda m: f'<a class="deviation" href="{readme_href}#deviation-{m[1]}">{m[0]}</a>',
        fragment)
