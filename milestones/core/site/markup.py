"""Markdown to HTML for the site: prose with LaTeX (comments, docstrings) and the READMEs.

Math spans are taken out before Markdown sees them and put back after, so that KaTeX gets the raw
TeX (Markdown would read ``_`` as emphasis and eat backslashes). Code spans go out first, so that
a ``$`` inside backquotes stays code.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Callable
from xml.etree import ElementTree

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
MATH = re.compile(r"\$\$.+?\$\$|\$(?=\S)[^$\n]*?(?<=\S)\$(?!\d)", re.DOTALL)
HOLE = "zq{}qz"  # a placeholder Markdown leaves alone
HOLES = re.compile(r"zq(\d+)qz")
DEVIATION_ROW = re.compile(r"D\d+")
TAGS = re.compile(r"<[^>]+>")

# link rewriting: (href of a link or src of an image) -> new value, or None when it cannot resolve
Resolve = Callable[[str], "str | None"]


class Prose:
    """Markdown with protected math and no raw HTML, for comments and docstrings."""

    def __init__(self) -> None:
        self.md = markdown.Markdown(extensions=["tables", "fenced_code"])
        self.md.preprocessors.deregister("html_block")  # `<pad>` in a comment is text
        self.md.inlinePatterns.deregister("html")

    def convert(self, text: str) -> str:
        saved: list[str] = []

        def hole(html_text: str) -> str:
            saved.append(html_text)
            return HOLE.format(len(saved) - 1)

        text = CODE_SPAN.sub(lambda m: hole(f"<code>{html.escape(m[2].strip())}</code>"), text)
        text = MATH.sub(lambda m: hole(html.escape(m[0], quote=False)), text)
        self.md.reset()
        out = self.md.convert(text)
        return HOLES.sub(lambda m: saved[int(m[1])], out)


class _Rewrite(Treeprocessor):
    def __init__(self, md: markdown.Markdown, resolve: Resolve, code_links: dict[str, str]):
        super().__init__(md)
        self.resolve, self.code_links = resolve, code_links

    def run(self, root: ElementTree.Element) -> None:
        for parent in list(root.iter()):
            for index, child in enumerate(list(parent)):
                self.visit(parent, index, child)

    def visit(self, parent: ElementTree.Element, index: int, el: ElementTree.Element) -> None:
        if el.tag == "a" and el.get("href"):
            target = self.resolve(el.get("href"))
            if target is None:  # not in the site: the text stays, not as a link
                el.tag = "span"
                del el.attrib["href"]
                el.set("class", "unlinked")
            else:
                el.set("href", target)
        elif el.tag == "img" and el.get("src"):
            target = self.resolve(el.get("src"))
            el.set("src", target if target is not None else "")
        elif el.tag == "code" and parent.tag not in ("a", "pre") and el.text in self.code_links:
            link = ElementTree.Element("a", href=self.code_links[el.text])
            link.tail, el.tail = el.tail, None
            parent.remove(el)
            parent.insert(index, link)
            link.append(el)
        elif el.tag == "tr":
            first = el[0] if len(el) else None
            if (first is not None and first.tag == "td"
                    and DEVIATION_ROW.fullmatch((first.text or "").strip())):
                el.set("id", f"deviation-{first.text.strip()}")


class _RewriteExtension(Extension):
    def __init__(self, resolve: Resolve, code_links: dict[str, str]):
        super().__init__()
        self.resolve, self.code_links = resolve, code_links

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (Markdown's name)
        md.treeprocessors.register(_Rewrite(md, self.resolve, self.code_links), "site-links", 8)


def document(text: str, resolve: Resolve, code_links: dict[str, str]) -> str:
    """A README (or results.md) as HTML: links and images through ``resolve``, code spans that
    name an annotated file linked to it, deviations-table rows given ids ``deviation-Dn``."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)  # the Results templates
    md = markdown.Markdown(extensions=["tables", "fenced_code", "toc",
                                       _RewriteExtension(resolve, code_links)])
    return md.convert(text)


def plain_text(fragment: str) -> str:
    return html.unescape(TAGS.sub("", fragment))


def relative(from_page: str, to_path: str) -> str:
    """The href from the site page ``from_page`` to ``to_path`` (both relative to the root)."""
    return posixpath.relpath(to_path, posixpath.dirname(from_page) or ".")
