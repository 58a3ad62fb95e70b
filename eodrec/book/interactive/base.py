"""What every figure of the book shares: its layout, its note when there is nothing to draw, the
run behind a value for its hover, and the plain HTML a page displays it as."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

EMPTY = "no stored results for this profile"
RUN_FIELDS = ["run", "profile", "wall time", "machine"]
# Appended to every hover: the run that produced the number (customdata[0..3]).
RUN_HOVER = (
    "<br>run %{customdata[0]} · profile %{customdata[1]}"
    "<br>wall time %{customdata[2]} · %{customdata[3]}<extra></extra>"
)
COLORS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00"]
DASHES = ["solid", "dash", "dot", "dashdot"]

_shown: Counter[str] = Counter()


def plotly_js_path() -> Path:
    """The ``plotly.min.js`` inside the installed plotly package, which the book build copies
    so that pages never load plotly from a CDN and always match this package's figure JSON."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def show(fig: go.Figure) -> None:
    """Display ``fig`` as one ``text/html`` output, without the plotly library or MathJax.

    Under papermill plotly's own renderer stores only its mimetype, which the book drops, and its
    notebook renderer fetches MathJax from a CDN; the book loads ``plotly.min.js`` once per page.
    The root div's id is ``eodrec-fig-<name>-<n>``, the n-th figure of that name in this kernel,
    so that a page's figure ids are the same on every build.
    """
    from IPython.display import display

    name = (fig.layout.meta or {}).get("eodrec", "figure")
    _shown[name] += 1
    html = fig.to_html(
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        div_id=f"eodrec-fig-{name}-{_shown[name]}",
        config={"displaylogo": False},
    )
    display({"text/html": html}, raw=True)


def figure(name: str, title: str, height: int, empty: bool = False) -> go.Figure:
    """A figure with the book's layout. ``empty``: say there is nothing to draw instead of
    raising. ``layout.meta`` keeps ``name`` (the div id's) and ``empty``, so that a check of the
    built page can tell a figure that has no data to hover."""
    layout = {"title": title, "height": height, "template": "plotly_white", "margin_t": 90}
    fig = go.Figure(layout={**layout, "meta": {"eodrec": name, "empty": empty}})
    if empty:
        fig.add_annotation(text=EMPTY, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)
        fig.update_xaxes(visible=False).update_yaxes(visible=False)
    return fig


def panels(fig: go.Figure, titles: Sequence[str]) -> go.Figure:
    """``fig``'s layout over a row of panels, one per title (a dataset each, mostly)."""
    return make_subplots(rows=1, cols=len(titles), subplot_titles=list(titles)).update_layout(
        fig.layout
    )


def by_dataset(fig: go.Figure, frame: pd.DataFrame) -> tuple[go.Figure, list]:
    """``fig`` over a panel per dataset of ``frame`` (sorted by name), and each panel's
    ``(column, dataset, rows)``."""
    datasets = sorted(frame["dataset"].unique())
    rows = [(col, d, frame[frame["dataset"] == d]) for col, d in enumerate(datasets, start=1)]
    return panels(fig, datasets), rows


def details(result: dict) -> list[str]:
    """Run id, profile, wall time and machine of a result or benchmark; "?" where it has none."""
    hw = result.get("provenance", {}).get("hardware", {})
    wall = result.get("wall_time_s")
    return [
        result.get("id", "?"),
        result.get("profile", "?"),
        "?" if wall is None else f"{wall / 60:.1f} min",
        f"{hw.get('cpu', '?')}, {hw.get('cpu_count', '?')} cores, {hw.get('device', '?')}",
    ]


def number(value: float, unit: str = "") -> str:
    return "–" if pd.isna(value) else f"{value:,.2f}{unit}"
