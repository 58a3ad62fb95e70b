"""Beyond the paper: the accuracy-size frontier (page 12), test P@10 over item-state bytes."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from eodrec.book.interactive.base import COLORS, RUN_HOVER, by_dataset, details, figure
from eodrec.book.interactive.marks import add_floors


def frontier_figure(
    points: pd.DataFrame, results: Sequence[dict], floors: pd.DataFrame | None = None
) -> go.Figure:
    """Test P@10 over item-state bytes (log axis, zero bytes drawn at one), a panel per dataset:
    a marker per family, the Pareto front as a line, the test ``floors`` dashed; hover gives the
    point and the run behind it. The paper draws no frontier, so it has no value to mark."""
    fig = figure("frontier", "Test P@10 (%) over item-state bytes", 480, points.empty)
    if points.empty:
        return fig
    fig, datasets = by_dataset(fig, points)
    runs = {r["id"]: details(r) for r in results}
    families = list(dict.fromkeys(points["family"]))
    for col, dataset, of_dataset in datasets:
        front = of_dataset[of_dataset["on front"]].sort_values("item bytes")
        fig.add_trace(go.Scatter(x=front["item bytes"].clip(lower=1), y=front["P@10"], mode="lines",
                                 line={"color": "#999999", "shape": "hv"}, name="Pareto front",
                                 legendgroup="front", showlegend=col == 1, hoverinfo="skip"),
                      row=1, col=col)  # fmt: skip
        for i, family in enumerate(families):
            group = of_dataset[of_dataset["family"] == family]
            if group.empty:
                continue
            columns = zip(group["run"], group["point"], group["item bytes"], strict=True)
            custom = [
                runs.get(run, ["?"] * 4) + [point, f"{size:,}"] for run, point, size in columns
            ]
            fig.add_trace(go.Scatter(
                x=group["item bytes"].clip(lower=1), y=group["P@10"], mode="markers", name=family,
                legendgroup=family, showlegend=col == 1, customdata=custom,
                marker={"color": COLORS[i % len(COLORS)], "size": 10,
                        "symbol": ["star" if f else "circle" for f in group["on front"]]},
                hovertemplate="<b>%{customdata[4]}</b>: P@10 %{y:.2f}%, %{customdata[5]} bytes"
                + RUN_HOVER,
            ), row=1, col=col)  # fmt: skip
        add_floors(fig, floors, dataset, ["P@10"], col)
    fig.update_xaxes(type="log", title_text="item-state bytes (log; 0 drawn at 1)")
    return fig.update_yaxes(title_text="test P@10 (%)", col=1)
