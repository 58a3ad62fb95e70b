"""The book check's page-content rules (tests/browser/check_book.py): each must fail on a page
broken the way it guards against, and pass the landing page the book builds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from eodrec.book.tables import claims

pytest.importorskip("bs4")
SCRIPT = Path(__file__).parent / "browser" / "check_book.py"
spec = importlib.util.spec_from_file_location("check_book", SCRIPT)
check_book = sys.modules.setdefault("check_book", importlib.util.module_from_spec(spec))
spec.loader.exec_module(check_book)

NO_EVIDENCE = {key: [] for claim in claims.CLAIMS for key in claim.evidence}


def _landing(table_html: str, heading: str = "Claims") -> str:
    """A landing page as Jupyter Book lays it out: the theme's "Contents" box, then the article."""
    return (
        '<html><body><main><div class="bd-sidebar-secondary"><h2> Contents </h2></div>'
        '<article class="bd-article"><h1>EODRec reproduced</h1><p>Intro.</p>'
        f'<h2>{heading}<a class="headerlink" href="#claims">#</a></h2>{table_html}'
        "<h2>What the paper does</h2></article></main></body></html>"
    )


def test_the_book_s_own_claims_table_passes():
    table = claims.claims_html(claims.claims_table(NO_EVIDENCE), pages="notebooks/")
    assert check_book.check_claims(_landing(table)) == []


def test_the_vocabulary_is_the_library_s():
    assert check_book.VERDICTS == claims.VERDICTS


def test_a_landing_page_without_a_claims_section_fails():
    table = claims.claims_html(claims.claims_table(NO_EVIDENCE))
    assert check_book.check_claims(_landing(table, heading="Results")) != []
    assert check_book.check_claims(_landing("<p>no table</p>")) != []


def test_too_few_claims_fail():
    table = claims.claims_table(NO_EVIDENCE).head(check_book.MIN_CLAIMS - 1)
    (reason,) = check_book.check_claims(_landing(claims.claims_html(table)))
    assert "fewer than" in reason


def test_a_verdict_outside_the_vocabulary_fails():
    table = claims.claims_table(NO_EVIDENCE)
    table.loc[0, "verdict"] = "mostly reproduced"
    (reason,) = check_book.check_claims(_landing(claims.claims_html(table)))
    assert "'mostly reproduced'" in reason


def test_a_page_naming_the_outside_notes_fails():
    forbidden = check_book.FORBIDDEN_TEXT
    assert check_book.check_forbidden_text(f"<p>see {forbidden} 7.4</p>") != []
    assert check_book.check_forbidden_text("<p>see docs/method-notes.md §7.4</p>") == []


def _cell(source: str, fold: str | None = None, output: str = "<p>a table</p>") -> str:
    """One code cell as myst-nb v1 renders it: its source folded in ``fold`` (a details tag's
    attributes, e.g. ``'class="hide above-input"'``) or, with None, in plain sight."""
    code = (
        '<div class="cell_input docutils container"><div class="highlight-ipython3 notranslate">'
        f'<div class="highlight"><pre>{source}</pre></div></div></div>'
    )
    if fold is not None:
        code = (
            f"<details {fold}><summary><span class='collapsed'>Show code cell source</span>"
            f"</summary>{code}</details>"
        )
    return (
        f'<div class="cell docutils container">{code}<div class="cell_output">{output}</div></div>'
    )


def _page(*cells: str) -> str:
    article = f'<article class="bd-article"><h1>Page</h1>{"".join(cells)}</article>'
    return f"<html><body><main>{article}</main></body></html>"


def test_a_page_with_every_source_folded_passes():
    folded = 'class="hide above-input"'
    assert check_book.check_code_hidden(_page(_cell("x = 1", folded), _cell("y = 2", folded))) == []
    removed = '<div class="cell tag_remove-input docutils container"><div class="cell_output">'
    assert check_book.check_code_hidden(_page(removed + "<p>only output</p></div></div>")) == []
    prose = "<p>Run <code>make book</code>:</p><div class='highlight'><pre>make book</pre></div>"
    assert check_book.check_code_hidden(_page(prose)) == []  # code in prose is not a cell


def test_a_visible_code_input_fails():
    folded = _cell("x = 1", 'class="hide above-input"')
    (reason,) = check_book.check_code_hidden(_page(folded, _cell("results = load()")))
    assert (
        "visible by default (1)" in reason and "cell 1" in reason and "results = load()" in reason
    )


def test_a_fold_that_starts_open_fails():
    page = _page(_cell("x = 1", 'class="hide above-input" open'))
    assert check_book.check_code_hidden(page) != []


def _verdict(verdict: str = "partly reproduced", kind: str = "warning") -> str:
    """A verdict admonition as myst-nb renders a verdict cell's MyST output."""
    return (
        f'<div class="{kind} verdict admonition"><p class="admonition-title">Verdict: {verdict}'
        "</p><p><strong>The paper:</strong> a claim.</p></div>"
    )


def _results_page(*parts: str) -> str:
    return _page(*(_cell("x = 1", 'class="hide above-input"', part) for part in parts))


def test_a_results_page_that_opens_with_its_verdict_passes():
    page = _results_page(_verdict(), "<table><tr><td>1</td></tr></table>", "<img src='f.png'>")
    assert check_book.check_verdict(page) == []


def test_the_verdict_classes_are_the_library_s():
    from eodrec.book.tables import verdicts

    assert check_book.VERDICT_CLASSES == verdicts.ADMONITION
    for verdict, kind in verdicts.ADMONITION.items():
        text = verdicts.PageVerdict(verdict, "a", "b", "c").markdown()
        assert f":class: {kind} {verdicts.CLASS}" in text
        assert check_book.check_verdict(_results_page(_verdict(verdict, kind))) == []


def test_a_results_page_without_a_verdict_fails():
    (reason,) = check_book.check_verdict(_results_page("<table><tr><td>1</td></tr></table>"))
    assert "no verdict admonition" in reason
    plain = '<div class="warning admonition"><p class="admonition-title">Note</p></div>'
    assert check_book.check_verdict(_results_page(plain)) != []


def test_a_verdict_after_the_first_table_or_figure_fails():
    table = "<table><tr><td>1</td></tr></table>"
    (reason,) = check_book.check_verdict(_results_page(table, _verdict()))
    assert "after the page's first table" in reason
    figure = '<div class="plotly-graph-div js-plotly-plot"></div>'
    assert check_book.check_verdict(_results_page(figure, _verdict())) != []


def test_a_verdict_outside_the_vocabulary_or_in_the_wrong_colour_fails():
    (reason,) = check_book.check_verdict(_results_page(_verdict("mostly reproduced")))
    assert "'Verdict: mostly reproduced'" in reason
    (reason,) = check_book.check_verdict(_results_page(_verdict("not reproduced", "tip")))
    assert "'danger'" in reason


def test_the_claims_and_status_pages_need_no_verdict():
    globs = check_book.DEFAULT_MEDIA_GLOBS
    assert check_book.needs_verdict("notebooks/03_main_results.html", globs)
    assert not check_book.needs_verdict("notebooks/00_claims.html", globs)
    assert not check_book.needs_verdict("notebooks/11_status.html", globs)
    assert not check_book.needs_verdict("intro.html", globs)


def test_wide_tables_are_named_in_one_reason():
    assert check_book.table_width_reasons([]) == []
    wide = [{"index": 2, "width": 912, "column": 784, "head": "P@10 (%) paper ours"}]
    (reason,) = check_book.table_width_reasons(wide)
    assert "1400 px (1)" in reason and "table 2 (912 > 784 px" in reason


def _table(columns: int, nowrap: bool = True) -> str:
    style = ' style="white-space: nowrap"' if nowrap else ""
    cells = "".join(f"<td{style}>cell number {i} of a row</td>" for i in range(columns))
    table = f"<table><tr>{cells}</tr></table>"
    return f'<div class="output text_html" style="overflow-x: auto">{table}</div>'


@pytest.fixture(scope="module")
def browser_page():
    """A Chromium page at the check's window size; skipped where Chromium is not installed."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    try:
        executable = check_book.find_chromium()
    except check_book.BrowserUnavailable as error:
        pytest.skip(str(error))
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=check_book.CHROMIUM_ARGS
        )
        yield browser.new_page(viewport=check_book.VIEWPORT)
        browser.close()


def _layout(*parts: str) -> str:
    """The book's layout in small: an article column 784 px wide, as at 1,400 px."""
    body = "".join(parts)
    return f'<html><body><main><article style="width: 784px">{body}</article></main></body></html>'


def test_a_table_wider_than_its_column_fails_in_the_browser(browser_page):
    browser_page.set_content(_layout(_table(2), _table(12)))
    (reason,) = check_book.check_table_widths(browser_page)
    assert "(1)" in reason and "table 1 (" in reason and "> 784 px" in reason


def test_tables_that_fit_pass_and_folded_ones_are_measured(browser_page):
    browser_page.set_content(_layout(_table(2), _table(12, nowrap=False)))
    assert check_book.check_table_widths(browser_page) == []
    folded = f"<details><summary>Show</summary>{_table(12)}</details>"
    browser_page.set_content(_layout(_table(2), folded))
    (reason,) = check_book.check_table_widths(browser_page)
    assert "table 1 (" in reason
    assert browser_page.evaluate("() => document.querySelector('details').open") is False
