"""The annotated site (``python -m milestones.site``): built in a subprocess, checked on disk, then
opened in headless Chromium (the slow tier) for console errors, rendered math, links and network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from milestones import REGISTRY
from milestones.core.site.target import MARKER

pytest.importorskip("markdown", reason="the site needs the [site] extra: markdown")
pytest.importorskip("pygments", reason="the site needs the [site] extra: pygments")

ROOT = Path(__file__).resolve().parents[1]
CODE_PAGES = {"adam": ("optim.py", "model.py", "train.py"),
              "gan": ("model.py", "inception.py", "train.py")}
MATH = re.compile(r"\$\$.+?\$\$|\$(?=\S)[^$\n]*?(?<=\S)\$(?!\d)", re.DOTALL)
DEVIATION = re.compile(r"DEVIATION\((D\d+)\)")
REMOTE = re.compile(r"\s*(https?:)?//", re.IGNORECASE)


def build(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "milestones.site", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("site") / "site"
    start = time.perf_counter()
    done = build(out)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return out, seconds


def milestone_pages(m) -> list[str]:
    names = CODE_PAGES.get(m.name, ("model.py", "train.py"))
    return [f"{m.name}/index.html"] + [f"{m.name}/{name}.html" for name in names]


class Page(HTMLParser):
    """The ids of an HTML file, and its links and resources as (tag, attribute, value)."""

    def __init__(self, path: Path):
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, str]] = []
        self.deviation_links: list[str] = []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                self.refs.append((tag, name, attrs[name]))
        if tag == "a" and "deviation" in (attrs.get("class") or "").split():
            self.deviation_links.append(attrs["href"])


_pages: dict[Path, Page] = {}


def parsed(path: Path) -> Page:
    if path not in _pages:
        _pages[path] = Page(path)
    return _pages[path]


def unresolved(html_file: Path, href: str) -> str | None:
    """Why a link or resource of ``html_file`` does not resolve inside the site, or None."""
    scheme = urlsplit(href).scheme
    if scheme in ("http", "https", "mailto", "data"):
        return None
    path, _, anchor = href.partition("#")
    target = (html_file.parent / unquote(path)).resolve() if path else html_file
    if not target.is_file():
        return f"{href}: no file {target}"
    if anchor and target.suffix == ".html" and anchor not in parsed(target).ids:
        return f"{href}: no id {anchor!r} in {target.name}"
    return None


def html_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.html") if "static" not in p.relative_to(out).parts)


# ---- the default tier: on disk -------------------------------------------------------------------

def test_builds_in_under_a_minute_with_every_page(site):
    out, seconds = site
    assert seconds < 60, f"the build took {seconds:.1f} s"
    expected = ["index.html"] + [p for m in REGISTRY if m.implemented for p in milestone_pages(m)]
    missing = [p for p in expected if not (out / p).is_file()]
    assert not missing, f"pages not built: {missing}"
    assert (out / MARKER).is_file()
    assert (out / "static/katex/katex.min.js").is_file()


def test_every_internal_link_and_resource_resolves(site):
    out, _ = site
    problems = [f"{f.relative_to(out)}: {why}" for f in html_files(out)
                for _, _, href in parsed(f).refs if (why := unresolved(f, href))]
    assert not problems, "\n".join(problems)


def test_no_resource_comes_from_the_network(site):
    out, _ = site
    remote = [f"{f.relative_to(out)}: <{tag} {name}={value}>" for f in html_files(out)
              for tag, name, value in parsed(f).refs
              if tag in ("script", "link", "img", "source", "iframe") and REMOTE.match(value)]
    for css in out.rglob("*.css"):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(encoding="utf-8")):
            if REMOTE.match(url):
                remote.append(f"{css.relative_to(out)}: url({url})")
            elif url.endswith(".woff2"):  # KaTeX's fonts: woff2 is vendored (woff/ttf unused)
                assert (css.parent / url).is_file(), f"{css.name}: {url} missing"
    assert not remote, "\n".join(remote)


def test_deviation_markers_link_to_rows_of_the_readme(site):
    out, _ = site
    for m in REGISTRY:
        if not m.implemented:
            continue
        for page in milestone_pages(m)[1:]:
            source = (m.path / page.split("/")[1].removesuffix(".html")).read_text()
            links = parsed(out / page).deviation_links
            assert len(links) == len(DEVIATION.findall(source)), f"{page}: a marker not linked"
            for href in links:
                assert href.startswith("index.html#deviation-D"), href
                assert unresolved(out / page, href) is None, f"{page}: {href} has no README row"


def test_the_index_lists_every_milestone_with_its_headline(site):
    out, _ = site
    index = (out / "index.html").read_text(encoding="utf-8")
    for m in REGISTRY:
        assert f'href="{m.name}/index.html"' in index, m.name
    assert index.count("#results") == sum(m.implemented for m in REGISTRY)


def test_math_reaches_the_page_as_raw_tex(site):
    """Markdown must not touch the TeX: its underscores and backslashes arrive as written."""
    out, _ = site
    page = (out / "adam/optim.py.html").read_text(encoding="utf-8")
    assert r"$\sqrt{\hat v_t}$" in page
    assert r"$(\beta_1, \beta_2)$" in page


def test_bad_out_exits_2_and_touches_nothing(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "keep.py").write_text("x = 1")
    for out in (a_file, folder, a_file / "site", tmp_path / "gone" / ".." / "notes.txt"):
        done = build(out)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "--out" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert a_file.read_text() == "mine"
    assert [p.name for p in folder.iterdir()] == ["keep.py"]


def test_a_rebuild_replaces_an_earlier_build(site, tmp_path):
    out = tmp_path / "again"
    shutil.copytree(site[0], out)
    (out / "stale.html").write_text("old")
    done = build(out)
    assert done.returncode == 0, done.stderr
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()


# ---- the browser tier: headless Chromium ---------------------------------------------------------

VISIBLE_TEXT = """
const copy = document.body.cloneNode(true);
copy.querySelectorAll("pre, code, script, style, .katex").forEach(e => e.remove());
return {text: copy.textContent, katex: document.querySelectorAll(".katex").length,
        errors: document.querySelectorAll(".katex-error").length,
        links: Array.from(document.querySelectorAll("a[href]"), a => a.href)};
"""


def chromium():
    """Headless Chromium from Debian's packages, driven by Selenium without Selenium Manager."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                    '(pip install -e ".[site]")')
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium "
                    "chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = webdriver.ChromeService(executable_path=driver_path)
    return webdriver.Chrome(service=service, options=options)


def requests_made(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def link_problem(driver, url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return None  # external links stay; they are not followed
    if parts.scheme != "file":
        return f"{url}: not a file: link"
    path = Path(unquote(parts.path))
    if not path.is_file():
        return f"{url}: no such file"
    if parts.fragment and path.suffix == ".html" and parts.fragment not in parsed(path).ids:
        return f"{url}: no id {parts.fragment!r}"
    return None


@pytest.mark.slow
def test_every_page_in_headless_chromium(site, tmp_path):
    out, _ = site
    driver = chromium()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"screenshots: {shots}")
    screenshot_pages = {p for m in REGISTRY if m.implemented for p in milestone_pages(m)}
    math_pages = {f"{m.name}/{n}.html" for m in REGISTRY if m.implemented
                  for n in CODE_PAGES.get(m.name, ("model.py",)) if n != "train.py"}
    problems: list[str] = []
    try:
        for html_file in html_files(out):
            page = html_file.relative_to(out).as_posix()
            driver.get(html_file.as_uri())
            seen = driver.execute_script(VISIBLE_TEXT)
            problems += [f"{page}: console: {e['message']}" for e in driver.get_log("browser")
                         if e["level"] == "SEVERE"]
            problems += [f"{page}: network request {url}" for url in requests_made(driver)
                         if urlsplit(url).scheme not in ("file", "data")]
            problems += [f"{page}: raw math left: {m[0][:60]!r}" for m in MATH.finditer(
                seen["text"])]
            if seen["errors"]:
                problems.append(f"{page}: {seen['errors']} KaTeX errors")
            if page in math_pages and not seen["katex"]:
                problems.append(f"{page}: no equation rendered")
            problems += [f"{page}: link {why}" for url in seen["links"]
                         if (why := link_problem(driver, url))]
            if page in screenshot_pages:
                png = shots / (page.replace("/", "__").removesuffix(".html") + ".png")
                driver.save_screenshot(str(png))
                assert png.stat().st_size > 1000, f"{png} is empty"
    finally:
        driver.quit()
    assert not problems, "\n".join(problems)
    assert len(list(shots.glob("*.png"))) == len(screenshot_pages)
    if os.environ.get("MILESTONES_SITE_SHOTS"):  # keep them where a person can look
        shutil.copytree(shots, os.environ["MILESTONES_SITE_SHOTS"], dirs_exist_ok=True)
