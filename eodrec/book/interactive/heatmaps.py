"""The heatmaps: Table 4's P@10 over M x K and Fig. 6's items per codeword, one dataset at a
time behind buttons (datasets differ in shape, so they cannot share one grid). The paper's value
and the floors are in the hover, since a heatmap has no axis to draw them on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from eodrec.book.interactive.base import RUN_FIELDS, RUN_HOVER, details, figure, number
from eodrec.book.interactive.marks import floor_text
from eodrec.book.tables.compare import dataset_name
from eodrec.book.tables.fig6_code_usage import FIG6_SHAPE, code_usage_table


def codebook_heatmap(
    cells: pd.DataFrame, results: Sequence[dict] = (), floors: pd.DataFrame | None = None
) -> go.Figure:
    """Table 4's test P@10 over M x K, one heatmap per dataset behind buttons; ``cells`` are
    :func:`eodrec.book.tables.table4_sweep.table4`'s, ``results`` the runs behind them, the
    hover giving the paper's P@10 of the cell and, where ``floors`` are given, the dataset's."""
    keys = ["dataset", "M", "K"]
    wide = cells.pivot(index=keys, columns="quantity", values=["ours", "paper"])
    points = pd.DataFrame(
        {
            "ours": wide["ours"]["P@10"],
            "paper": wide["paper"]["P@10"].map(lambda v: number(v, "%")),
            "CR": wide["ours"]["CR"].map(number),
            "profile": cells.groupby(keys)["profile"].first(),
        }
    )
    points = points.dropna(subset=["ours"]).reset_index()
    points["floors"] = points["dataset"].map(lambda d: floor_text(floors, d, "P@10"))
    students = [(r, r["config"]["student"]) for r in results]
    runs = {(dataset_name(r), s["n_codebooks"], s["n_codewords"]): r for r, s in students}
    found = [
        details(runs.get((d, m, k), {"profile": profile}))
        for d, m, k, profile in points[[*keys, "profile"]].itertuples(index=False)
    ]
    found = pd.DataFrame(found, columns=RUN_FIELDS, index=points.index)
    points = points.drop(columns="profile").join(found)
    fields = [*RUN_FIELDS, "paper", "CR", "floors"]
    panels = [
        (d, f"{d}: test P@10 (%)", *_grid(group, "M", "K", fields))
        for d, group in points.groupby("dataset", sort=True)
    ]
    hover = (
        "M = %{y}, K = %{x}: <b>P@10 %{z:.3f}%</b> (paper %{customdata[4]}), CR %{customdata[5]}"
    )
    if floors is not None:
        hover += "<br>floors: %{customdata[6]}"
    return _heatmaps(
        "codebook-heatmap", panels, hover + RUN_HOVER, "P@10 (%)", ("K", "M"), "%{z:.1f}"
    )


def code_usage_heatmaps(students: Sequence[dict], summary: pd.DataFrame) -> go.Figure:
    """Fig. 6: items per codeword of each student, one heatmap per dataset behind buttons, the
    hover setting a count beside the range the paper states; ``summary`` is
    :func:`eodrec.book.tables.fig6_code_usage.code_usage_summary` of ``students``, in order."""
    panels = []
    for result, row in zip(students, summary.to_dict("records"), strict=True):
        usage = code_usage_table(result)
        usage["share"] = (usage["items"] / row["uniform share |V|/K"]).map("{:.2f}".format)
        usage["uniform"] = f"{row['uniform share |V|/K']:,.1f}"
        usage["paper"] = _paper_range(row)
        usage = usage.assign(**dict(zip(RUN_FIELDS, details(result), strict=True)))
        title = f"{row['dataset']}: items per codeword, M = {row['M']}, K = {row['K']}"
        fields = [*RUN_FIELDS, "share", "uniform", "paper"]
        panels.append(
            (row["dataset"], title, *_grid(usage, "codebook", "codeword", fields, "items"))
        )
    hover = (
        "codebook %{y}, codeword %{x}: <b>%{z:,} items</b><br>"
        "%{customdata[4]} × the uniform share |V|/K = %{customdata[5]}<br>%{customdata[6]}"
        + RUN_HOVER
    )
    return _heatmaps("code-usage", panels, hover, "items", ("codeword", "codebook"))


def _paper_range(row: dict) -> str:
    """The items per codeword the paper's text states for the dataset, and whether this
    student's shape is the one it was stated at."""
    if pd.isna(row["paper min"]):
        return "the paper states no range for this dataset"
    stated = f"{row['paper min']:,.0f}–{row['paper max']:,.0f}"
    if row["same shape as paper"]:
        return f"the paper's range at this shape: {stated}"
    m, k = FIG6_SHAPE
    return f"the paper's range, {stated}, is at M = {m}, K = {k}, not this shape"


def _heatmaps(
    name: str, panels: list, hover: str, colorbar: str, axes: tuple[str, str], text: str = ""
):
    """A heatmap per ``(dataset, title, z, customdata)`` panel, the first visible, and a button
    per dataset that shows its own (datasets differ in shape, so they cannot share one); ``text``
    writes each cell's value on it, where cells are few enough to read."""
    if not panels:
        return figure(name, "", 300, empty=True)
    fig = figure(name, panels[0][1], max(300, 170 + 45 * max(len(z) for _, _, z, _ in panels)))
    for i, (dataset, _, z, custom) in enumerate(panels):
        fig.add_trace(
            go.Heatmap(
                z=z.to_numpy(),
                x=z.columns.to_numpy(),
                y=z.index.to_numpy(),
                customdata=custom,
                name=dataset,
                visible=i == 0,
                hoverongaps=False,
                hovertemplate=hover,
                colorscale="Viridis",
                colorbar_title=colorbar,
                texttemplate=text,
            )
        )
    buttons = [
        {
            "label": dataset,
            "method": "update",
            "args": [{"visible": [j == i for j in range(len(panels))]}, {"title.text": title}],
        }
        for i, (dataset, title, *_) in enumerate(panels)
    ]
    menu = {"type": "buttons", "direction": "right", "x": 0, "xanchor": "left", "y": 1.02}
    fig.update_layout(updatemenus=[{**menu, "yanchor": "bottom", "buttons": buttons}])
    fig.update_xaxes(title=axes[0], type="category")
    return fig.update_yaxes(title=axes[1], type="category", autorange="reversed")


def _grid(points: pd.DataFrame, index: str, columns: str, fields: list[str], value="ours"):
    """A heatmap's z (``value`` by ``index`` x ``columns``) and customdata (cells' ``fields``)."""
    z = points.pivot(index=index, columns=columns, values=value)
    custom = [
        points.pivot(index=index, columns=columns, values=f).reindex_like(z).to_numpy(object)
        for f in fields
    ]
    return z, np.stack(custom, axis=-1)
