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
