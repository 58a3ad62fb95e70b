"""Sphinx extension: plotly.min.js, shipped once in the build, on the pages that draw with it.

The notebooks emit their interactive figures as HTML that calls ``Plotly.newPlot`` without
bundling plotly.js (``eodrec.book.interactive.show``), so that a page does not carry 3.5 MB per
figure nor fetch plotly from a CDN. The script must load before the figures, hence in the page
head.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx

from eodrec.book.interactive import plotly_js_path

FILENAME = "plotly.min.js"


def _add_to_pages_with_figures(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if "Plotly.newPlot" in context.get("body", ""):
        app.add_js_file(FILENAME)


def _ship(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copyfile(plotly_js_path(), Path(app.outdir) / "_static" / FILENAME)


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _add_to_pages_with_figures)
    app.connect("build-finished", _ship)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
