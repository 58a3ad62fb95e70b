"""Load every page of the built book in headless Chromium and check what a reader would see.

Usage::

    python tests/browser/check_book.py book/_build/html [--pages intro.html notebooks/01_x.html]
                                       [--toc book/_toc.yml] [--json report.json]
                                       [--live notebooks/04_codebook_sweep.html]

The built HTML directory is served as ``eodrec book serve`` serves it (127.0.0.1, a free port,
with a local Jupyter server behind "Live code" when ``--live`` names pages) and each page is
opened in Debian's Chromium through Playwright (``/usr/bin/chromium``, or ``$CHROMIUM``;
Playwright's own browser download is never used). Every request that leaves 127.0.0.1 is aborted
and recorded. For each page the check asserts that

(a) no raw TeX is left in the visible text outside code blocks (``$$``, ``\\(``, ``\\[``,
    ``\\begin{``, inline ``$...$``);
(b) MathJax rendered the page's math: at least one ``mjx-container``, every Sphinx math element
    typeset, no MathJax TeX errors;
(c) pages that must show a result (by default everything under ``notebooks/``) contain at least one
    ``<table>`` or ``<img>``, and no image is broken;
(d) the browser console logged no errors and no script threw;
(e) no request went anywhere but 127.0.0.1, and no local request failed (e.g. a missing MathJax
    file);
(f) every interactive (plotly) figure drew its plot and answers a mouse hover with a hover label;
(g) on the ``--live`` pages, the launch menu's "Live code" connects to the local kernel, and after
    the page's parameter is changed to ``profile = "paper"`` and its first cells and last cell are
    run with their "run" buttons, the last cell's output (the regenerate command) says so. Pick a
    page whose first cells are cheap at every profile (``02_compression``).
(h) the landing page (the ``--toc`` root, else ``intro.html``) has a "Claims" heading as its
    first section and under it the Claims table (``id="claims-table"``) with at least 8 rows,
    each verdict one of the four words of ``eodrec.book.tables.claims.VERDICTS``;
(i) no page's HTML names the method notes kept outside the repository (``FORBIDDEN_TEXT``); the
    book cites ``docs/method-notes.md``.
(j) no code input is visible by default: every notebook cell's source (``.cell_input``) is
    folded in a closed ``<details>`` (myst-nb's ``hide-input``/``hide-cell``) or not rendered.
(k) every results page (the ``--media`` pages but the Claims and status pages,
    ``VERDICT_EXEMPT``) opens with its verdict: an admonition of class ``verdict`` whose title
    names one of the four verdicts, with the admonition class of that verdict, before the
    page's first table, image or interactive figure;
(l) no table is wider than its column in a 1,400 px wide window: a table's ``scrollWidth`` is at
    most its container's ``clientWidth`` + 1 (the container: the nearest ancestor that clips or
    scrolls, else the article), with every dropdown opened for the measurement.

Exit status: 0 all pages pass, 1 some check failed, 2 Chromium is not installed (the check could
not run; CI may treat this as skipped only where Chromium could not be installed).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fnmatch
import json
import os
import re
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NO_BROWSER = 2

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOST = "127.0.0.1"
# Pages Sphinx generates that are not book content.
SKIPPED_PAGES = frozenset({"genindex.html", "search.html", "py-modindex.html"})
# Pages that must show a table or a figure.
DEFAULT_MEDIA_GLOBS = ("notebooks/*",)
PAGE_TIMEOUT_MS = 30_000
# Sphinx loads MathJax with "defer", so by the load event it has either run or failed; a short
# grace period is enough for it to appear. Typesetting itself may take longer on big pages.
MATHJAX_START_TIMEOUT_MS = 3_000
MATHJAX_TYPESET_TIMEOUT_MS = 30_000
SETTLE_TIMEOUT_MS = 5_000

# Raw TeX a reader should never see. Inline $...$ follows pandoc's rule: the opening $ is followed
# by a non-space, the closing $ is preceded by a non-space and not followed by a digit, so prose
# such as "costs $5 and $6" does not count.
RAW_TEX_PATTERNS = (
    ("$$", re.compile(r"\$\$")),
    ("\\(", re.compile(r"\\\(")),
    ("\\[", re.compile(r"\\\[")),
    ("\\begin{", re.compile(r"\\begin\{")),
    ("$...$", re.compile(r"(?<![\\$])\$(?=[^\s$])[^$\n]*?(?<=[^\s$\\])\$(?!\d)")),
)

# Runs in the page: the visible text outside code, grouped by block element so that an inline
# formula split over several text nodes (``$<em>x</em>$``) is still seen as one string.
VISIBLE_TEXT_JS = """
() => {
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEXTAREA', 'PRE', 'CODE', 'KBD', 'SAMP',
                        'TEMPLATE', 'SVG', 'MJX-CONTAINER', 'MJX-ASSISTIVE-MML']);
  const BLOCK = 'p,li,td,th,dt,dd,h1,h2,h3,h4,h5,h6,caption,figcaption,blockquote,div,section,'
              + 'article,main,aside,nav,header,footer,body';
  const blocks = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || !node.nodeValue.trim()) continue;
    let skip = false;
    for (let el = parent; el; el = el.parentElement) {
      if (SKIP.has(el.tagName.toUpperCase()) || el.classList.contains('highlight')) {
        skip = true;
        break;
      }
    }
    if (skip) continue;
    if (parent.checkVisibility && !parent.checkVisibility({visibilityProperty: true})) continue;
    const block = parent.closest(BLOCK) || document.body;
    blocks.set(block, (blocks.get(block) || '') + node.nodeValue);
  }
  return Array.from(blocks.values());
}
"""

# Runs in the page: math and media counts. Sphinx wraps every formula in .math (span or div);
# MathJax replaces its TeX with an mjx-container.
PAGE_FACTS_JS = """
async () => {
  const content = document.querySelector('main') || document.body;
  const imgs = Array.from(content.querySelectorAll('img'));
  const settle = img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done, {once: true});
    img.addEventListener('error', done, {once: true});
    setTimeout(done, 5000);
  });
  imgs.forEach(img => { img.loading = 'eager'; });
  await Promise.all(imgs.map(settle));
  const mathEls = Array.from(document.querySelectorAll('.math'));
  return {
    math: mathEls.length,
    mathUnrendered: mathEls.filter(el => !el.querySelector('mjx-container')).length,
    mjx: document.querySelectorAll('mjx-container').length,
    mjxErrors: Array.from(document.querySelectorAll('mjx-merror'))
                    .map(el => el.getAttribute('data-mjx-error') || el.textContent).slice(0, 5),
    tables: content.querySelectorAll('table').length,
    images: imgs.length,
    brokenImages: imgs.filter(img => !(img.complete && img.naturalWidth > 0))
                      .map(img => img.getAttribute('src')).slice(0, 5),
    mathjaxLoaded: !!(window.MathJax && window.MathJax.startup),
    // Resources the page points at; favicons and preconnect/dns-prefetch hints are fetched or
    // resolved by the browser itself, outside the request interception.
    resourceUrls: Array.from(document.querySelectorAll(
        'script[src], img[src], iframe[src], video[src], audio[src], source[src], embed[src], '
        + 'track[src], object[data], link[href]:not([rel~="next"]):not([rel~="prev"])'
        + ':not([rel~="index"]):not([rel~="search"]):not([rel~="canonical"])'
        + ':not([rel~="alternate"]):not([rel~="author"]):not([rel~="license"])'
        + ':not([rel~="help"])'))
      .map(el => el.src || el.href || el.data)
      .filter(Boolean),
  };
}
"""

# Runs in the page: each interactive figure with data, and whether plotly drew it.
FIGURES_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  // a figure without results shows a note instead of data ("no stored results ...")
  .filter(fig => !(fig.layout && fig.layout.meta && fig.layout.meta.empty))
  .map(fig => ({id: fig.id, drawn: !!fig.querySelector('.main-svg') && !!(fig.data || []).length}))
"""

# Runs in the page: scrolls a figure into view and says where to hover on it (the centre of its
# first data mark, else of its plot area), in viewport coordinates.
HOVER_TARGET_JS = """
(id) => {
  const fig = document.getElementById(id);
  fig.scrollIntoView({block: 'center'});
  const mark = fig.querySelector('.scatterlayer .point, .barlayer .point, .heatmaplayer image, '
                                 + '.heatmaplayer .hm') || fig.querySelector('.nsewdrag');
  if (!mark) return null;
  const box = mark.getBoundingClientRect();
  return {x: box.left + Math.min(box.width / 2, 40), y: box.top + box.height / 2};
}
"""

HOVER_LABEL_JS = """
(id) => !!document.getElementById(id).querySelector('.hoverlayer .hovertext')
"""

# Live code: the kernel Thebe started, and the text of a cell's output.
KERNEL_IDLE_JS = """
() => !!(window.thebe && thebe.session && thebe.session.kernel
         && thebe.session.kernel.status === 'idle')
"""
CELL_TEXT_JS = """
(index) => {
  const output = document.querySelectorAll('div.cell')[index].querySelector('[data-output]');
  return output ? output.innerText : '';
}
"""
CELL_IDLE_JS = """
(index) => {
  const busy = document.querySelectorAll('div.cell')[index].querySelector('.thebe-busy');
  return (!busy || busy.style.display === 'none') && thebe.session.kernel.status === 'idle';
}
"""
LIVE_TIMEOUT_MS = 120_000
LANDING_PAGE = "intro.html"  # without --toc
MIN_CLAIMS = 8
# The Claims table's verdicts (eodrec.book.tables.claims.VERDICTS, kept literal: this script
# also checks a book built elsewhere).
VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "not tested")
FORBIDDEN_TEXT = "METHOD" + "-NOTES"
LIVE_PROFILE = "paper"  # differs from the profiles the book is built with (smoke, quick)
# The admonition class of each verdict (eodrec.book.tables.verdicts.ADMONITION, kept literal).
VERDICT_CLASSES = {
    "reproduced": "tip",
    "partly reproduced": "warning",
    "not reproduced": "danger",
    "not tested": "note",
}
# Pages under the media globs with no verdict of their own: the Claims summary and the status of
# every run.
VERDICT_EXEMPT = frozenset({"notebooks/00_claims.html", "notebooks/11_status.html"})
VIEWPORT = {"width": 1400, "height": 900}  # (l): tables must fit the column at this width

# Runs in the page: the tables wider than their column, every dropdown opened for the
# measurement and closed again after it.
WIDE_TABLES_JS = """
() => {
  const article = document.querySelector('article') || document.querySelector('main')
                  || document.body;
  const closed = Array.from(article.querySelectorAll('details:not([open])'));
  closed.forEach(d => { d.open = true; });
  const wide = [];
  article.querySelectorAll('table').forEach((table, index) => {
    let box = table.parentElement;
    while (box && box !== article && getComputedStyle(box).overflowX === 'visible') {
      box = box.parentElement;
    }
    box = box || article;
    if (table.scrollWidth > box.clientWidth + 1) {
      const head = (table.querySelector('thead') || table).textContent;
      wide.push({index: index, width: table.scrollWidth, column: box.clientWidth,
                 head: head.split(/\\s+/).join(' ').trim().slice(0, 60)});
    }
  });
  closed.forEach(d => { d.open = false; });
  return wide;
}
"""

MATHJAX_STARTED_JS = "() => !!(window.MathJax && window.MathJax.startup && MathJax.startup.promise)"

WAIT_MATHJAX_JS = """
async (timeoutMs) => {
  const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('typesetting did not finish in ' + timeoutMs + ' ms')),
                 timeoutMs));
  await Promise.race([window.MathJax.startup.promise, timeout]);
  if (document.fonts && document.fonts.ready) await document.fonts.ready;
  return window.MathJax.version || 'unknown';
}
"""


@dataclasses.dataclass
class PageResult:
    """What one page showed; ``ok`` is False when ``reasons`` is not empty."""

    page: str
    reasons: list[str] = dataclasses.field(default_factory=list)
    math_elements: int = 0
    mathjax_containers: int = 0
    mathjax_version: str | None = None
    tables: int = 0
    images: int = 0
    figures: int = 0
    figures_hovered: int = 0
    live_code: str | None = None  # what "Live code" did, on the --live pages
    console_errors: list[str] = dataclasses.field(default_factory=list)
    external_requests: list[str] = dataclasses.field(default_factory=list)
    failed_local_requests: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.reasons

    def line(self) -> str:
        if self.ok:
            detail = (
                f"math {self.mathjax_containers} rendered, tables {self.tables}, "
                f"images {self.images}, figures {self.figures_hovered}/{self.figures} hovered"
                + (f", live code: {self.live_code}" if self.live_code else "")
                + f", {self.seconds:.1f}s"
            )
            return f"OK    {self.page}  ({detail})"
        return f"FAIL  {self.page}: " + "; ".join(self.reasons)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self) | {"ok": self.ok}


@dataclasses.dataclass
class Report:
    """The outcome for the whole book."""

    html_dir: str
    chromium: str
    pages: list[PageResult]

    @property
    def ok(self) -> bool:
        return bool(self.pages) and all(page.ok for page in self.pages)

    @property
    def external_requests(self) -> list[str]:
        return sorted({url for page in self.pages for url in page.external_requests})

    def summary(self) -> str:
        n_failed = sum(not page.ok for page in self.pages)
        verdict = "OK" if self.ok else "FAILED"
        return (
            f"book check {verdict}: {len(self.pages)} pages, {len(self.pages) - n_failed} passed, "
            f"{n_failed} failed; requests off {LOCAL_HOST} blocked: {len(self.external_requests)}"
        )

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "html_dir": self.html_dir,
            "chromium": self.chromium,
            "external_requests": self.external_requests,
            "pages": [page.as_dict() for page in self.pages],
        }


class BrowserUnavailable(RuntimeError):
    """Chromium is not installed where we looked."""


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium binary: ``explicit``, else ``$CHROMIUM``, else /usr/bin/chromium."""
    path = explicit or os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise BrowserUnavailable(
            f"Chromium not found at {path}. Install it (Debian: apt-get install -y chromium) or "
            "point $CHROMIUM at a Chromium binary; Playwright's bundled browsers are not used."
        )
    return path


def _is_redirect_stub(path: Path) -> bool:
    head = path.read_text(encoding="utf-8", errors="replace")[:2000].lower()
    return 'http-equiv="refresh"' in head and "<main" not in head


def discover_pages(html_dir: Path) -> list[str]:
    """Every content page: all *.html except Sphinx's index/search pages, redirect stubs and
    anything under a directory starting with '_' (static files, sources) or mathjax/."""
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir)
        if rel.name in SKIPPED_PAGES or any(
            part.startswith("_") or part == "mathjax" for part in rel.parts[:-1]
        ):
            continue
        if _is_redirect_stub(path):
            continue
        pages.append(rel.as_posix())
    return pages


def toc_pages(toc_path: Path) -> list[str]:
    """The HTML pages a Jupyter Book ``_toc.yml`` lists, root first."""
    import yaml  # jupyter-book depends on PyYAML

    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    files: list[str] = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    return [_as_html(name) for name in dict.fromkeys(files)]


def _as_html(page: str) -> str:
    page = page.strip().lstrip("/")
    page = re.sub(r"\.(ipynb|md|rst)$", "", page)
    return page if page.endswith(".html") else page + ".html"


def find_raw_tex(texts: Sequence[str]) -> list[str]:
    """Raw TeX fragments in visible text, as ``'<pattern>' in '...context...'`` strings."""
    found = []
    for text in texts:
        for name, pattern in RAW_TEX_PATTERNS:
            match = pattern.search(text)
            if match:
                start, end = max(0, match.start() - 30), min(len(text), match.end() + 30)
                snippet = " ".join(text[start:end].split())
                found.append(f"{name!s} in '{snippet}'")
    return found


def needs_media(page: str, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(page, pattern) for pattern in globs)


def _is_local(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in ("data", "blob", "about"):
        return True
    return parsed.hostname == LOCAL_HOST


def check_claims(page_html: str) -> list[str]:
    """(h): what is wrong with a landing page's Claims section; empty when nothing is."""
    from bs4 import BeautifulSoup  # pydata-sphinx-theme depends on it

    soup = BeautifulSoup(page_html, "html.parser")
    main = soup.find("article") or soup  # the page's content, not the theme's "Contents" box
    first = main.find("h2")
    if first is None or first.get_text(" ", strip=True).rstrip("#¶ ").strip() != "Claims":
        return ["the landing page's first section is not 'Claims'"]
    table = main.find("table", id="claims-table")
    if table is None:
        return ["the landing page has no Claims table (id=claims-table)"]
    header = [th.get_text(strip=True) for th in table.find("thead").find_all("th")]
    if "verdict" not in header:
        return ["the Claims table has no verdict column"]
    rows = table.find("tbody").find_all("tr")
    column = header.index("verdict")
    verdicts = [row.find_all(["td", "th"])[column].get_text(strip=True) for row in rows]
    reasons = []
    if len(rows) < MIN_CLAIMS:
        reasons.append(f"the Claims table has {len(rows)} rows, fewer than {MIN_CLAIMS}")
    unknown = sorted(set(verdicts) - set(VERDICTS))
    if unknown:
        reasons.append(f"verdicts outside the vocabulary: {', '.join(map(repr, unknown))}")
    return reasons


def check_forbidden_text(page_html: str) -> list[str]:
    """(i): a mention of notes kept outside the repository."""
    count = page_html.count(FORBIDDEN_TEXT)
    return [f"{FORBIDDEN_TEXT} mentioned {count} times"] if count else []


def check_code_hidden(page_html: str) -> list[str]:
    """(j): the notebook cells whose source a reader sees without opening anything."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page_html, "html.parser")
    visible = []
    for index, cell in enumerate(soup.select("div.cell")):
        for source in cell.select(".cell_input"):
            if all(fold.has_attr("open") for fold in source.find_parents("details")):
                code = " ".join(source.get_text(" ", strip=True).split())
                visible.append(f"cell {index}: {code[:60]!r}")
    if not visible:
        return []
    return [f"code input visible by default ({len(visible)}): " + " | ".join(visible[:3])]


def _is_verdict(tag) -> bool:
    return tag.name == "div" and {"admonition", "verdict"} <= set(tag.get("class") or [])


def _is_result(tag) -> bool:
    classes = set(tag.get("class") or [])
    return tag.name in ("table", "img") or "js-plotly-plot" in classes


def check_verdict(page_html: str) -> list[str]:
    """(k): what is wrong with a results page's verdict; empty when nothing is."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page_html, "html.parser")
    article = soup.find("article") or soup
    first = article.find(lambda tag: _is_verdict(tag) or _is_result(tag))
    if first is None or not _is_verdict(first):
        if article.find(_is_verdict) is None:
            return ["no verdict admonition (class 'verdict') on a results page"]
        return [f"the verdict admonition comes after the page's first {first.name}"]
    title = first.find(class_="admonition-title")
    text = title.get_text(" ", strip=True) if title else ""
    verdict = text.removeprefix("Verdict:").strip()
    if not text.startswith("Verdict:") or verdict not in VERDICT_CLASSES:
        return [f"the verdict admonition's title {text!r} names none of {', '.join(VERDICTS)}"]
    if VERDICT_CLASSES[verdict] not in first.get("class"):
        return [
            f"the verdict '{verdict}' is not shown as a '{VERDICT_CLASSES[verdict]}' admonition"
        ]
    return []


def needs_verdict(page: str, globs: Sequence[str]) -> bool:
    return needs_media(page, globs) and page not in VERDICT_EXEMPT


def table_width_reasons(wide: Sequence[dict]) -> list[str]:
    """(l): one reason for the tables ``WIDE_TABLES_JS`` found wider than their column."""
    if not wide:
        return []
    return [
        f"tables wider than their column at {VIEWPORT['width']} px ({len(wide)}): "
        + " | ".join(
            f"table {t['index']} ({t['width']} > {t['column']} px; {t['head']!r})" for t in wide[:3]
        )
    ]


def check_table_widths(browser_page) -> list[str]:
    """(l), measured in the browser page (laid out at ``VIEWPORT``)."""
    return table_width_reasons(browser_page.evaluate(WIDE_TABLES_JS))


def _check_figures(browser_page, result: PageResult) -> None:
    """(f): each plotly figure is drawn and shows a hover label under the mouse."""
    figures = browser_page.evaluate(FIGURES_JS)
    result.figures = len(figures)
    for figure in figures:
        target = browser_page.evaluate(HOVER_TARGET_JS, figure["id"]) if figure["drawn"] else None
        if target is None:
            result.reasons.append(f"interactive figure {figure['id']} was not drawn")
            continue
        browser_page.mouse.move(target["x"], target["y"], steps=4)
        try:
            browser_page.wait_for_function(HOVER_LABEL_JS, arg=figure["id"], timeout=3_000)
        except Exception:  # noqa: BLE001 - a timeout: no label appeared
            result.reasons.append(f"interactive figure {figure['id']} shows no hover label")
        else:
            result.figures_hovered += 1
        browser_page.mouse.move(0, 0)


def _run_cell(browser_page, index: int) -> None:
    cell = browser_page.locator("div.cell").nth(index)
    cell.locator(".thebe-run-button").click()
    with contextlib.suppress(Exception):  # a fast cell may finish before it looks busy
        browser_page.wait_for_function(
            "(i) => !(" + CELL_IDLE_JS + ")(i)", arg=index, timeout=1_000
        )
    browser_page.wait_for_function(CELL_IDLE_JS, arg=index, timeout=LIVE_TIMEOUT_MS)


def _check_live_code(browser_page, result: PageResult) -> None:
    """(g): Live code from the launch menu; change the profile, run, see the output follow."""
    cells = browser_page.locator("div.cell")
    last = cells.count() - 1
    index = browser_page.evaluate(
        "() => Array.from(document.querySelectorAll('div.cell')).findLastIndex(c =>"
        " c.matches('.tag_injected-parameters, .tag_parameters'))"
    )
    if last < 2 or index < 0:
        result.reasons.append("live code: the page has no parameters cell")
        return
    before = browser_page.evaluate(CELL_TEXT_JS, last)
    started = time.monotonic()
    browser_page.locator(".dropdown-launch-buttons .dropdown-toggle").click()
    browser_page.locator("button.btn-launch-thebe").click()
    browser_page.wait_for_function(KERNEL_IDLE_JS, timeout=LIVE_TIMEOUT_MS)
    connected = time.monotonic() - started
    browser_page.evaluate(
        "([i, line]) => { const cm = document.querySelectorAll('div.cell')[i]"
        ".querySelector('.CodeMirror').CodeMirror;"
        " cm.setValue(cm.getValue().replace(/profile = .*/, line)); }",
        [index, f'profile = "{LIVE_PROFILE}"'],
    )
    for cell in (0, index, index + 1, last):  # imports, parameters, page_parameters(), last
        _run_cell(browser_page, cell)
    after = browser_page.evaluate(CELL_TEXT_JS, last)
    if f"profile {LIVE_PROFILE}" not in after or after == before:
        result.reasons.append(
            f"live code: the last cell's output did not follow the parameter: {after[-200:]!r}"
        )
    total = time.monotonic() - started
    result.live_code = f"kernel in {connected:.1f}s, 4 cells run, output changed in {total:.1f}s"


def _check_page(
    context,
    base_url: str,
    page: str,
    require_media: bool,
    live: bool = False,
    landing: bool = False,
    verdict: bool = False,
) -> PageResult:
    result = PageResult(page=page)
    started = time.monotonic()
    browser_page = context.new_page()

    def route(route_) -> None:
        url = route_.request.url
        if _is_local(url):
            route_.continue_()
        else:
            result.external_requests.append(url)
            route_.abort("blockedbyclient")

    def on_console(message) -> None:
        if message.type == "error":
            location = message.location or {}
            where = location.get("url", "")
            result.console_errors.append(f"{message.text} [{where}]" if where else message.text)

    def on_response(response) -> None:
        if _is_local(response.url) and response.status >= 400:
            result.failed_local_requests.append(f"HTTP {response.status} {response.url}")

    def on_request_failed(request) -> None:
        if _is_local(request.url):
            result.failed_local_requests.append(f"{request.failure} {request.url}")

    browser_page.route("**/*", route)
    if hasattr(browser_page, "route_web_socket"):
        # Live code's kernel socket goes to the local Jupyter server; any other WebSocket is
        # recorded and, routed but never connected to a server, stays closed.
        def route_socket(ws) -> None:
            if _is_local(ws.url):
                ws.connect_to_server()
            else:
                result.external_requests.append(ws.url)

        browser_page.route_web_socket(re.compile(".*"), route_socket)
    browser_page.on("console", on_console)
    browser_page.on("pageerror", lambda error: result.console_errors.append(f"uncaught: {error}"))
    browser_page.on("response", on_response)
    browser_page.on("requestfailed", on_request_failed)

    try:
        browser_page.goto(base_url + page, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        facts = browser_page.evaluate(PAGE_FACTS_JS)
        if facts["math"] or facts["mathjaxLoaded"]:
            try:
                browser_page.wait_for_function(MATHJAX_STARTED_JS, timeout=MATHJAX_START_TIMEOUT_MS)
            except Exception:  # noqa: BLE001 - a timeout here means the script never ran
                result.reasons.append("MathJax did not load")
            else:
                try:
                    result.mathjax_version = browser_page.evaluate(
                        WAIT_MATHJAX_JS, MATHJAX_TYPESET_TIMEOUT_MS
                    )
                except Exception as error:  # noqa: BLE001
                    message = str(error).splitlines()[0]
                    result.reasons.append(f"MathJax failed: {message}")
        with contextlib.suppress(Exception):
            browser_page.wait_for_load_state("networkidle", timeout=SETTLE_TIMEOUT_MS)
        facts = browser_page.evaluate(PAGE_FACTS_JS)
        texts = browser_page.evaluate(VISIBLE_TEXT_JS)
        page_html = browser_page.content()
        result.reasons += check_forbidden_text(page_html)  # (i)
        result.reasons += check_code_hidden(page_html)  # (j), before Live code unfolds cells
        if landing:
            result.reasons += check_claims(page_html)  # (h)
        if verdict:
            result.reasons += check_verdict(page_html)  # (k)
        result.reasons += check_table_widths(browser_page)  # (l)
        _check_figures(browser_page, result)
        if live:
            _check_live_code(browser_page, result)
    except Exception as error:  # noqa: BLE001 - report, never crash the whole run
        result.reasons.append(f"page did not load: {type(error).__name__}: {error}".splitlines()[0])
        browser_page.close()
        result.seconds = time.monotonic() - started
        return result
    browser_page.close()

    result.math_elements = facts["math"]
    result.mathjax_containers = facts["mjx"]
    result.tables = facts["tables"]
    result.images = facts["images"]

    raw_tex = find_raw_tex(texts)
    if raw_tex:  # (a)
        result.reasons.append(f"raw TeX visible ({len(raw_tex)}): " + " | ".join(raw_tex[:3]))
    if facts["math"] and not facts["mjx"]:  # (b)
        result.reasons.append(f"{facts['math']} math elements but no mjx-container")
    elif facts["mathUnrendered"]:
        result.reasons.append(
            f"{facts['mathUnrendered']}/{facts['math']} math elements not typeset"
        )
    if facts["mjxErrors"]:
        result.reasons.append("MathJax TeX errors: " + " | ".join(facts["mjxErrors"]))
    if require_media and not (facts["tables"] or facts["images"]):  # (c)
        result.reasons.append("no <table> or <img> on a results page")
    if facts["brokenImages"]:
        result.reasons.append("broken images: " + ", ".join(map(str, facts["brokenImages"])))
    if result.console_errors:  # (d)
        result.reasons.append(
            f"console errors ({len(result.console_errors)}): "
            + " | ".join(result.console_errors[:3])
        )
    remote_refs = sorted({url for url in facts["resourceUrls"] if not _is_local(url)})
    if remote_refs:  # (e), also for what the browser fetches outside request interception
        result.reasons.append(
            f"page references resources off {LOCAL_HOST}: " + ", ".join(remote_refs[:5])
        )
    if result.external_requests:  # (e)
        result.reasons.append(
            f"requests off {LOCAL_HOST} ({len(result.external_requests)}): "
            + ", ".join(result.external_requests[:5])
        )
    if result.failed_local_requests:
        result.reasons.append(
            "local requests failed: " + ", ".join(sorted(set(result.failed_local_requests))[:5])
        )
    result.seconds = time.monotonic() - started
    return result


def check_book(
    html_dir: str | os.PathLike[str],
    pages: Sequence[str] | None = None,
    *,
    toc: str | os.PathLike[str] | None = None,
    media_globs: Sequence[str] = DEFAULT_MEDIA_GLOBS,
    chromium: str | None = None,
    live_pages: Sequence[str] = (),
    notebooks: str | os.PathLike[str] = "notebooks",
    on_page=None,
) -> Report:
    """Check ``pages`` (default: from ``toc`` if given, else every content page) of a built book;
    on ``live_pages`` also run "Live code" against a Jupyter server started in ``notebooks``.

    Raises BrowserUnavailable if Chromium is missing and FileNotFoundError if ``html_dir`` is.
    ``on_page`` is called with each PageResult as soon as it is known.
    """
    from eodrec.book.serve import live_book

    root = Path(html_dir).resolve()
    if not (root / "index.html").is_file() and not any(root.glob("*.html")):
        raise FileNotFoundError(f"no built HTML in {root}")
    executable = find_chromium(chromium)
    from playwright.sync_api import sync_playwright

    if pages:
        selected = [_as_html(page) for page in pages]
    elif toc:
        selected = toc_pages(Path(toc))
    else:
        selected = discover_pages(root)

    live_pages = {_as_html(page) for page in live_pages}
    landing = toc_pages(Path(toc))[0] if toc else LANDING_PAGE
    results: list[PageResult] = []
    server = live_book(root, Path(notebooks), live=bool(live_pages))
    with server as book, tempfile.TemporaryDirectory(prefix="book-check-") as profile:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=CHROMIUM_ARGS,
                service_workers="block",
                viewport=VIEWPORT,
            )
            try:
                for page in selected:
                    if not (root / page).is_file():
                        result = PageResult(page=page, reasons=["page was not built"])
                    else:
                        result = _check_page(
                            context,
                            book.url,
                            page,
                            needs_media(page, media_globs),
                            live=page in live_pages,
                            landing=page == landing,
                            verdict=needs_verdict(page, media_globs),
                        )
                    results.append(result)
                    if on_page is not None:
                        on_page(result)
            finally:
                context.close()
    return Report(html_dir=str(root), chromium=executable, pages=results)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html_dir", help="the built book, e.g. book/_build/html")
    parser.add_argument(
        "--pages",
        nargs="+",
        help="pages to check, relative to html_dir (default: all content pages)",
    )
    parser.add_argument("--toc", help="check exactly the pages this _toc.yml lists")
    parser.add_argument(
        "--media",
        action="append",
        metavar="GLOB",
        help="pages that must contain a <table> or <img> (repeatable; default: notebooks/*)",
    )
    parser.add_argument(
        "--chromium", help="Chromium binary (default: $CHROMIUM or /usr/bin/chromium)"
    )
    parser.add_argument("--json", metavar="FILE", help="write a JSON report to FILE")
    parser.add_argument(
        "--live",
        nargs="*",
        default=(),
        metavar="PAGE",
        help="pages on which to run Live code against a local Jupyter server",
    )
    parser.add_argument(
        "--notebooks",
        default="notebooks",
        help="where Live code's kernel runs (the pages' sources)",
    )
    args = parser.parse_args(argv)

    try:
        report = check_book(
            args.html_dir,
            args.pages,
            toc=args.toc,
            media_globs=args.media or DEFAULT_MEDIA_GLOBS,
            chromium=args.chromium,
            live_pages=args.live,
            notebooks=args.notebooks,
            on_page=lambda result: print(result.line(), flush=True),
        )
    except BrowserUnavailable as error:
        print(f"SKIPPED: {error}", file=sys.stderr)
        return EXIT_NO_BROWSER
    except FileNotFoundError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return EXIT_FAILED

    if not report.pages:
        print("no pages to check", file=sys.stderr)
    print(report.summary())
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
