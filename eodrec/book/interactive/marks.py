"""What a figure marks beside its data: the paper's value and the floors a model must beat
(:func:`eodrec.book.tables.floors.floors`), each labelled with its value, the label's hover
saying where the value comes from."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

PAPER_COLOR = "#222222"
FLOOR_LINE = {"dash": "dash", "color": "#aaaaaa", "width": 1}
SMALL = {"size": 10, "color": "#555555"}
BACKDROP = "rgba(255, 255, 255, 0.75)"  # a label stays legible over bars and lines
FLOORS_LABEL = "floors"  # the name of a figure's one annotation giving its floors' values
LINE_HEIGHT = 14  # pixels a line of SMALL text takes


def add_floors(
    fig: go.Figure, floors: pd.DataFrame | None, dataset: str, metrics: Sequence[str], col: int
) -> None:
    """Each floor of ``dataset`` on ``metrics`` as a dashed grey line across panel ``col``. The
    values go in one line per dataset above the panels, not on a panel, where they would cover
    low bars and the paper's labels; hovering the line says where each comes from. A dataset
    without a stored floor gets no line."""
    shown = _of(floors, dataset, metrics).sort_values("value", ascending=False)
    if shown.empty:
        return
    for value in shown["value"]:
        fig.add_hline(y=value, line=FLOOR_LINE, row=1, col=col)
    values = "; ".join(
        f"{floor} " + ", ".join(f"{r.metric} {r.value:.2f}%" for r in rows.itertuples())
        for floor, rows in shown.groupby("floor", sort=False)
    )
    hover = "<br>".join(f"{dataset} {r.floor} {r.metric}: {r.source}" for r in shown.itertuples())
    _add_floor_line(fig, f"{dataset} floors (dashed grey): {values}", hover)


def _add_floor_line(fig: go.Figure, text: str, hover: str) -> None:
    """``text`` as a new line of the figure's one floors label, once however many panels show
    its dataset; the top margin grows a line to make room."""
    found = [a for a in fig.layout.annotations if a.name == FLOORS_LABEL]
    if not found:
        fig.add_annotation(name=FLOORS_LABEL, text=text, hovertext=hover, x=0, xref="paper",
                           xanchor="left", y=1, yref="paper", yanchor="bottom", yshift=28,
                           align="left", showarrow=False, font=SMALL)  # fmt: skip
    elif text not in found[0].text.split("<br>"):
        found[0].update(
            text=f"{found[0].text}<br>{text}", hovertext=f"{found[0].hovertext}<br>{hover}"
        )
    else:
        return
    fig.update_layout(margin_t=(fig.layout.margin.t or 0) + LINE_HEIGHT)


def floor_text(floors: pd.DataFrame | None, dataset: str, metric: str) -> str:
    """``dataset``'s floors on ``metric`` in a line, for a hover; "none stored" without one."""
    shown = _of(floors, dataset, [metric])
    parts = [f"{r.floor} {r.value:.2f}% ({r.source})" for r in shown.itertuples(index=False)]
    return " · ".join(parts) or "none stored"


def add_paper_line(fig: go.Figure, value: float, text: str, hover: str, col: int) -> None:
    """The paper's ``value`` as a dark dotted line across panel ``col``."""
    fig.add_hline(
        y=value,
        line={"dash": "dot", "color": PAPER_COLOR, "width": 1.5},
        annotation={
            "text": f"{text} {value:.2f}%",
            "hovertext": hover,
            "font_size": 10,
            "bgcolor": BACKDROP,
        },
        annotation_position="top right",
        row=1,
        col=col,
    )


def add_paper_setting(fig: go.Figure, x: float, text: str, hover: str, log: bool, col: int):
    """The setting the paper chose as a dark dotted vertical line in panel ``col``; on a log axis
    a label's x is the log of the value, a line's the value itself."""
    fig.add_vline(
        x=x,
        line={"dash": "dot", "color": PAPER_COLOR, "width": 1.5},
        annotation={"text": text, "hovertext": hover, "font_size": 10, "bgcolor": BACKDROP,
                    "x": math.log10(x) if log else x},
        annotation_position="top left",
        row=1,
        col=col,
    )  # fmt: skip


def _of(floors: pd.DataFrame | None, dataset: str, metrics: Sequence[str]) -> pd.DataFrame:
    if floors is None:
        return pd.DataFrame(columns=["floor", "metric", "value", "source"])
    return floors[(floors["dataset"] == dataset) & floors["metric"].isin(list(metrics))]
