"""The line figures, a panel per dataset: Eq. 13's compression rate over K (page 02), validation
scores per epoch (page 03) and test scores over a swept setting (Fig. 4/5, page 07), each with
the paper's value and the floors marked where the paper reports the metric."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from eodrec.book.interactive.base import (
    COLORS,
    DASHES,
    RUN_FIELDS,
    RUN_HOVER,
    by_dataset,
    details,
    figure,
    panels,
)
from eodrec.book.interactive.marks import (
    PAPER_COLOR,
    add_floors,
    add_paper_line,
    add_paper_setting,
)
from eodrec.book.tables.compare import dataset_name
from eodrec.book.tables.fig3_ablation import FIG3_METRICS
from eodrec.book.tables.fig4_sensitivity import best_setting, sensitivity
from eodrec.book.tables.table3_methods import printed, validation_curves


def sensitivity_curves(
    results: Sequence[dict], setting: str, floors: pd.DataFrame | None = None
) -> go.Figure:
    """Fig. 4/5: test metrics over ``setting`` (beta, gamma or eta), a panel per dataset and a
    line per metric, the value the paper's text calls best and the dataset's test ``floors``
    dotted; a dataset's lines form one legend group, so clicking it hides the dataset."""
    fig = figure(f"sensitivity-{setting}", f"Test metrics over {setting}", 420, not results)
    if not results:
        return fig
    curves = sensitivity(list(results), setting)
    curves = curves.pivot_table(
        index=["dataset", "metric", setting], columns="split", values="value (%)"
    ).reset_index()
    runs = {(dataset_name(r), r["config"]["student"][setting]): details(r) for r in results}
    curves[RUN_FIELDS] = [runs[key] for key in curves[["dataset", setting]].itertuples(index=False)]
    best = best_setting(list(results), setting).set_index("dataset")[f"paper's best {setting}"]
    log = setting == "beta"
    fig, datasets = by_dataset(fig, curves)
    for col, dataset, of_dataset in datasets:
        for d, (metric, line) in enumerate(of_dataset.groupby("metric", sort=False)):
            fig.add_trace(
                go.Scatter(
                    x=line[setting].to_numpy(),
                    y=line["test"].to_numpy(),
                    customdata=line[[*RUN_FIELDS, "valid"]].to_numpy(object),
                    name=metric,
                    legendgroup=dataset,
                    legendgrouptitle_text=dataset,
                    mode="lines+markers",
                    line={
                        "color": COLORS[(col - 1) % len(COLORS)],
                        "dash": DASHES[d % len(DASHES)],
                    },
                    hovertemplate=f"{dataset} · {setting} = %{{x}}<br><b>test {metric} "
                    "%{y:.3f}%</b> (validation %{customdata[4]:.3f}%)" + RUN_HOVER,
                ),
                row=1,
                col=col,
            )
        add_floors(fig, floors, dataset, FIG3_METRICS, col)
        if pd.notna(best.get(dataset)):
            text = f"paper's best {setting} = {best[dataset]:g}"
            hover = "stated in Sec. 6.6; the paper chose it on test"
            add_paper_setting(fig, best[dataset], text, hover, log, col)
    fig.update_xaxes(title=setting, type="log" if log else "linear")
    return fig.update_yaxes(title="test value (%)", col=1)


def training_curves(
    results: Sequence[dict], floors: pd.DataFrame | None = None, metric: str = "NDCG@10"
) -> go.Figure:
    """Validation ``metric`` after each epoch, a panel per dataset and a line per model, the
    epoch each run kept ringed; the model's test value in Table 3 and the validation ``floors``
    dotted, for scale (validation and test differ, see the page)."""
    curves = validation_curves(list(results), metric)
    methods = list(dict.fromkeys(curves["method"]))  # a colour each, the same in every panel
    title = f"Validation {metric} (%) per epoch; the ring marks the epoch kept"
    fig = figure("training-curves", title, 420, curves.empty)
    if curves.empty:
        return fig
    fig, datasets = by_dataset(fig, curves)
    runs = {r["id"]: details(r) for r in results}
    for col, dataset, of_dataset in datasets:
        for method, line in of_dataset.groupby("method", sort=False):
            kept = line["selected"].to_numpy()
            custom = [
                [*runs[run], " (kept)" if k else ""]
                for run, k in zip(line["run"], kept, strict=True)
            ]
            fig.add_trace(go.Scatter(
                x=line["epoch"], y=line["value"], mode="lines+markers", name=method,
                legendgroup=method, showlegend=col == 1, customdata=custom,
                line_color=COLORS[methods.index(method) % len(COLORS)],
                marker={"size": [16 if k else 7 for k in kept],
                        "symbol": ["circle-open" if k else "circle" for k in kept]},
                hovertemplate=f"{dataset} · {method}, epoch %{{x}}%{{customdata[4]}}: "
                f"<b>validation {metric} %{{y:.3f}}%</b>" + RUN_HOVER,
            ), row=1, col=col)  # fmt: skip
            paper = printed(method)
            if dataset in paper.index:
                add_paper_line(fig, paper.loc[dataset, metric], f"paper's {method} (test)",
                               "Table 3, scored on test", col)  # fmt: skip
        add_floors(fig, floors, dataset, [metric], col)
    fig.update_xaxes(title="epoch")
    return fig.update_yaxes(title=f"validation {metric} (%)", col=1)


def compression_curves(curves: pd.DataFrame, table4: pd.DataFrame) -> go.Figure:
    """Eq. 13 over K for each M, a panel per dataset, both axes logarithmic, each M's bound N / M
    dashed and Table 4's printed rates as markers; ``curves`` are
    :func:`eodrec.book.tables.table1_compression.rate_curves`', ``table4`` the cells of
    :func:`~eodrec.book.tables.table1_compression.table4_compression_rates`."""
    fig = figure("compression-curves", "Compression rate (Eq. 13) over K", 420, curves.empty)
    if curves.empty:
        return fig
    datasets = list(dict.fromkeys(curves["dataset"]))
    first = curves.drop_duplicates("dataset").set_index("dataset")
    fig = panels(fig, [f"{d} (N = {first.loc[d, 'N']})" for d in datasets])
    ms = list(dict.fromkeys(curves["M"]))
    for col, dataset in enumerate(datasets, start=1):
        for m, line in curves[curves["dataset"] == dataset].groupby("M"):
            group = {"legendgroup": f"M = {m}", "line_color": COLORS[ms.index(m) % len(COLORS)]}
            inputs = f"|V| = {line['items'].iloc[0]:,}, N = {line['N'].iloc[0]}"
            fig.add_trace(go.Scatter(
                x=line["K"], y=line["CR"], mode="lines+markers", name=f"M = {m}",
                showlegend=col == 1, **group,
                hovertemplate=f"M = {m}, K = %{{x}}: <b>CR %{{y:.2f}}</b> (Eq. 13, {inputs})"
                "<extra></extra>",
            ), row=1, col=col)  # fmt: skip
            fig.add_trace(go.Scatter(
                x=line["K"].iloc[[0, -1]], y=line["bound"].iloc[[0, -1]], mode="lines",
                name=f"bound N / M = {line['bound'].iloc[0]:g}", showlegend=False, **group,
                line_dash="dash", line_width=1, hovertemplate="%{fullData.name}<extra></extra>",
            ), row=1, col=col)  # fmt: skip
        fig.add_trace(_printed_rates(table4, dataset, col == 1), row=1, col=col)
    fig.update_xaxes(type="log", title="K (codewords per codebook)")
    fig.update_yaxes(type="log")
    return fig.update_yaxes(title="compression rate (Eq. 13)", col=1)


def _printed_rates(table4: pd.DataFrame, dataset: str, legend: bool) -> go.Scatter:
    """Table 4's printed CR of ``dataset`` at each of its (M, K), beside Eq. 13's."""
    cells = table4[(table4["dataset"] == dataset) & (table4["quantity"] == "CR")]
    return go.Scatter(
        x=cells["K"],
        y=cells["paper"],
        customdata=cells[["M", "ours"]].to_numpy(),
        mode="markers",
        name="paper (Table 4)",
        legendgroup="paper",
        showlegend=legend,
        marker={"symbol": "x-thin-open", "size": 11, "color": PAPER_COLOR, "line_width": 2},
        hovertemplate="M = %{customdata[0]}, K = %{x}: <b>paper's CR %{y:g}</b> "
        "(Eq. 13 gives %{customdata[1]:.2f})<extra>Table 4</extra>",
    )
