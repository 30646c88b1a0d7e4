"""Build the site: the index, each milestone's README page and its annotated code pages.

Layout of the built folder (every link inside it is relative, so it works from ``file://``)::

    index.html                      the milestones, their status and headline results
    <milestone>/index.html          the README, rendered (deviation rows: ids deviation-Dn)
    <milestone>/model.py.html       annotated code (also train.py, adam's optim.py, gan's
                                    inception.py)
    <milestone>/results/...         the figures and result files the README links to
    static/                         site.css, pygments.css, math.js, katex/
    .milestones-site                marks the folder as a build, so a rebuild may replace it
"""

from __future__ import annotations

import html
import posixpath
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pygments.formatters import HtmlFormatter

import milestones
from milestones import REGISTRY, Milestone
from milestones.core.site import annotate, markup
from milestones.core.site.target import MARKER

STATIC = Path(__file__).with_name("static")
PACKAGE = Path(milestones.__file__).resolve().parent
CODE_PAGES = {"adam": ("optim.py", "model.py", "train.py"),
              "gan": ("model.py", "inception.py", "train.py")}
DEFAULT_CODE_PAGES = ("model.py", "train.py")
# files a browser shows as they are; any other linked file is copied with ".txt" appended
SHOWN_AS_IS = {".png", ".gif", ".jpg", ".jpeg", ".svg", ".webp", ".json", ".txt", ".html", ".pdf"}
HEADLINE_WORDS = 45


def code_pages(m: Milestone) -> tuple[str, ...]:
    names = CODE_PAGES.get(m.name, DEFAULT_CODE_PAGES)
    return tuple(name for name in names if (m.path / name).is_file())


@dataclass
class Site:
    """The pages of the site: which source becomes which page, what is copied where."""

    out: Path
    pages: dict[Path, str] = field(default_factory=dict)  # source file -> page (site path)
    pending: list[tuple[Milestone, Path]] = field(default_factory=list)  # markdown to render
    warnings: list[str] = field(default_factory=list)
    prose: markup.Prose = field(default_factory=markup.Prose)

    def write(self, page: str, text: str) -> None:
        path = self.out / page
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def resolve(self, m: Milestone, source: Path, page: str, href: str) -> str | None:
        """A README link's target inside the site, copying or queueing the file it names."""
        if re.match(r"[a-z][a-z0-9+.-]*:|#", href):  # http:, mailto:, an anchor on this page
            return href
        path, _, anchor = href.partition("#")
        target = (source.parent / path).resolve()
        if target not in self.pages:
            if not target.is_file() or not target.is_relative_to(m.path.resolve()):
                self.warnings.append(f"{source.relative_to(PACKAGE.parent)}: link {href!r} "
                                     "names no file of its milestone; shown as text")
                return None
            self.pages[target] = self.place(m, target)
        return markup.relative(page, self.pages[target]) + (f"#{anchor}" if anchor else "")

    def place(self, m: Milestone, target: Path) -> str:
        """Where a linked file goes: markdown is rendered, anything else copied."""
        rel = posixpath.join(m.name, target.relative_to(m.path.resolve()).as_posix())
        if target.suffix == ".md":
            self.pending.append((m, target))
            return rel + ".html"
        if target.suffix.lower() not in SHOWN_AS_IS:
            rel += ".txt"
        (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, self.out / rel)
        return rel


# ---- page frame ----------------------------------------------------------------------------------

def frame(page: str, title: str, body: str, nav: str = "") -> str:
    def root(path: str) -> str:
        return markup.relative(page, path)

    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{root('static/katex/katex.min.css')}">
<link rel="stylesheet" href="{root('static/pygments.css')}">
<link rel="stylesheet" href="{root('static/site.css')}">
<script defer src="{root('static/katex/katex.min.js')}"></script>
<script defer src="{root('static/katex/contrib/auto-render.min.js')}"></script>
<script defer src="{root('static/math.js')}"></script>
</head>
<body>
<nav class="top"><a href="{root('index.html')}">milestones</a>{nav}</nav>
<main>
{body}
</main>
<footer>Built by <code>python -m milestones.site</code> from the repository's own READMEs and
code comments.</footer>
</body>
</html>
"""


def milestone_nav(m: Milestone, page: str) -> str:
    links = [(f"{m.name}/index.html", "README")]
    links += [(f"{m.name}/{name}.html", name) for name in code_pages(m)]
    items = " · ".join(
        f'<a href="{markup.relative(page, target)}"'
        f'{" class=current" if target == page else ""}>{label}</a>' for target, label in links)
    return f' / <span class="milestone">{m.name}</span>: {items}'


# ---- annotated code ------------------------------------------------------------------------------

def code_page(site: Site, m: Milestone, name: str) -> None:
    page = f"{m.name}/{name}.html"
    source = (m.path / name).read_text(encoding="utf-8")
    source_lines = source.splitlines()
    code = annotate.highlighted_lines(source)
    readme = markup.relative(page, f"{m.name}/index.html")
    rows = []
    for k, section in enumerate(annotate.sections(source)):
        docs = "\n".join(site.prose.convert(annotate.loosen_lists(annotate.google_sections(d)))
                         for d in section.docs)
        lines = trim_blank(section.lines, source_lines)
        body = "".join(f'<span class="line" id="L{i + 1}"><span class="ln">{i + 1}</span>'
                       f"{code[i]}</span>\n" for i in lines)
        rows.append(f'<section class="annotated" id="section-{k}">\n'
                    f'<div class="doc">{annotate.link_deviations(docs, readme)}</div>\n'
                    f'<div class="code"><pre class="highlight"><code>'
                    f"{annotate.link_deviations(body, readme)}</code></pre></div>\n</section>")
    title = f"{m.name}/{name}"
    head = (f'<h1>milestones/{title}</h1>\n<p class="meta">{len(source_lines)} '
            f'lines; the prose is the file\'s own comments and docstrings. '
            f'<a href="{readme}">README</a> · <a href="{readme}#deviations">deviations</a></p>')
    body = head + '\n<div class="sections">\n' + "\n".join(rows) + "\n</div>"
    site.write(page, frame(page, f"{title} — milestones", body, milestone_nav(m, page)))


def trim_blank(lines: list[int], source_lines: list[str]) -> list[int]:
    kept = [i for i in lines if source_lines[i].strip()]
    return [i for i in lines if kept and kept[0] <= i <= kept[-1]]


# ---- READMEs and the markdown they link to -------------------------------------------------------

def markdown_page(site: Site, m: Milestone, source: Path) -> None:
    page = site.pages[source]
    code_links = {name: markup.relative(page, f"{m.name}/{name}.html") for name in code_pages(m)}
    body = markup.document(source.read_text(encoding="utf-8"),
                           lambda href: site.resolve(m, source, page, href), code_links)
    if page == f"{m.name}/index.html":  # one anchor for every README's deviations heading
        body = re.sub(r'<h2 id="deviations[^"]*"', '<h2 id="deviations"', body, count=1)
    title = f"{m.name}: {source.name}"
    site.write(page, frame(page, f"{title} — milestones", f'<article class="readme">{body}'
                           "</article>", milestone_nav(m, page)))


def results_section(readme: str) -> str:
    text = re.sub(r"<!--.*?-->", "", readme, flags=re.DOTALL)
    match = re.search(r"^## Results\b.*?$(.*?)(?=^## |\Z)", text, re.DOTALL | re.MULTILINE)
    return match[1] if match else ""


def headline(site: Site, readme: str) -> str:
    """The headline of the README's Results section, as text: its first subheading, then its
    claims as measured ("The claims as measured: ...", or the bold verdicts that open its
    bullets), else the first words of its first paragraph when that is not the provenance."""
    section = results_section(readme)
    blocks = [b.strip() for b in re.split(r"\n\s*\n", section) if b.strip()]
    lead = next((b[4:] for b in blocks if b.startswith("### ")), "")  # the first subheading
    claims = re.search(r"The\s+claims\s+as\s+measured:(.*?)(?:\n\s*\n|\Z)", section, re.DOTALL)
    verdicts = re.findall(r"^- \*\*(.+?)\*\*", section, re.MULTILINE)
    if claims:
        text = "Claims as measured:" + claims[1]
    elif verdicts:
        text = " ".join(verdicts)
    else:  # the first paragraph, unless it is the run's provenance (the lead says enough)
        text = next((b for b in blocks if not re.match(r"[#|!<>-]|```|\d+\. ", b)), "")
        if re.match(r"`python -m|All numbers", text):
            text = ""
    words = markup.plain_text(site.prose.convert(text)).split()
    text = " ".join(words[:HEADLINE_WORDS]) + (" …" if len(words) > HEADLINE_WORDS else "")
    lead = markup.plain_text(site.prose.convert(lead)) if lead else ""
    return (f"<strong>{html.escape(lead)}</strong> " if lead else "") + html.escape(text)


# ---- index ---------------------------------------------------------------------------------------

def arxiv_links(reference: str) -> str:
    return re.sub(r"arXiv:(\d{4}\.\d{4,5})",
                  r'<a href="https://arxiv.org/abs/\1">arXiv:\1</a>', html.escape(reference))


def index_row(site: Site, m: Milestone) -> str:
    readme = m.path / "README.md"
    links, result = "", ""
    if readme.is_file():
        links = f'<a href="{m.name}/index.html">README</a>'
        links += "".join(f' · <a href="{m.name}/{name}.html">{name}</a>'
                         for name in code_pages(m))
        result = headline(site, readme.read_text(encoding="utf-8"))
        if result:
            result += f' <a href="{m.name}/index.html#results">results</a>'
    status = "implemented" if m.implemented else "not yet"
    return (f"<tr><td>{html.escape(m.year)}</td>"
            f'<td><strong>{html.escape(m.title)}</strong><br>{html.escape(m.authors)}; '
            f"{arxiv_links(m.arxiv)}</td><td>{status}</td><td>{result}</td>"
            f'<td class="pages"><code>{m.name}</code><br>{links}</td></tr>')


def index_page(site: Site) -> None:
    rows = "\n".join(index_row(site, m) for m in REGISTRY)
    body = f"""<h1>milestones</h1>
<p>Deep learning's landmark papers of 2012–2020, reimplemented from scratch in PyTorch. Each
milestone's README, and its code annotated with its own comments: prose and equations beside the
lines they describe, every deviation from the paper linked to the README's table.</p>
<table class="index">
<thead><tr><th>year</th><th>paper</th><th>status</th><th>headline result (from the README)</th>
<th>pages</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>"""
    site.write("index.html", frame("index.html", "milestones", body))


# ---- the whole site ------------------------------------------------------------------------------

def copy_static(out: Path) -> None:
    shutil.copytree(STATIC, out / "static", ignore=shutil.ignore_patterns("__pycache__"))
    style = HtmlFormatter(style="default").get_style_defs(".highlight")
    (out / "static" / "pygments.css").write_text(style + "\n", encoding="utf-8")


def build(out: Path) -> list[str]:
    """Write the site into ``out`` (checked by ``target.target_problem``); returns the warnings."""
    if (out / MARKER).is_file():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    site = Site(out)
    copy_static(out)
    built = [m for m in REGISTRY if (m.path / "README.md").is_file()]
    for m in built:
        site.pages[(m.path / "README.md").resolve()] = f"{m.name}/index.html"
        for name in code_pages(m):
            site.pages[(m.path / name).resolve()] = f"{m.name}/{name}.html"
    for m in built:
        for name in code_pages(m):
            code_page(site, m, name)
        markdown_page(site, m, (m.path / "README.md").resolve())
    while site.pending:
        markdown_page(site, *site.pending.pop())
    index_page(site)
    (out / MARKER).write_text("built by python -m milestones.site; a rebuild replaces this "
                              "folder\n", encoding="utf-8")
    return site.warnings
