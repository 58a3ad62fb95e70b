"""The book's interactive figures: plotly versions of the static figures, for exploring.

A static figure can only be read off; these answer hover with the exact value and the run that
produced it, and let a reader hide datasets. They are built from the same :mod:`eodrec.book.tables`
frames as the paper-style figures they sit beside, and :func:`show` writes them as plain HTML
that expects the ``plotly.min.js`` the book ships (:func:`plotly_js_path`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from eodrec.book.tables.compare import dataset_name
from eodrec.book.tables.fig4_sensitivity import sensitivity
from eodrec.book.tables.fig6_code_usage import code_usage_table
from eodrec.book.tables.table5_latency import SIZE, latency_table

EMPTY = "no stored results for this profile"
RUN_FIELDS = ["run", "profile", "wall time", "machine"]
# Appended to every hover: the run that produced the number (customdata[0..3]).
RUN_HOVER = (
    "<br>run %{customdata[0]} · profile %{customdata[1]}"
    "<br>wall time %{customdata[2]} · %{customdata[3]}<extra></extra>"
)
COLORS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00"]
DASHES = ["solid", "dash", "dot", "dashdot"]
LATENCY_FIELDS = ["run", "profile", "wall", "machine", "p90 ms / request", "p99 ms / request",
                  "peak memory (MB)", "bundle", "top-20 as eager", "weights"]  # fmt: skip

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


def codebook_heatmap(cells: pd.DataFrame, results: Sequence[dict] = ()) -> go.Figure:
    """Table 4's test P@10 over M x K, one heatmap per dataset behind buttons; ``cells`` are
    :func:`eodrec.book.tables.table4_sweep.table4`'s, ``results`` the runs behind them (for
    the hover)."""
    keys = ["dataset", "M", "K"]
    wide = cells.pivot(index=keys, columns="quantity", values=["ours", "paper"])
    points = pd.DataFrame(
        {
            "ours": wide["ours"]["P@10"],
            "paper": wide["paper"]["P@10"].map(lambda v: _number(v, "%")),
            "CR": wide["ours"]["CR"].map(_number),
            "profile": cells.groupby(keys)["profile"].first(),
        }
    )
    points = points.dropna(subset=["ours"]).reset_index()
    students = [(r, r["config"]["student"]) for r in results]
    runs = {(dataset_name(r), s["n_codebooks"], s["n_codewords"]): r for r, s in students}
    details = [
        _details(runs.get((d, m, k), {"profile": profile}))
        for d, m, k, profile in points[[*keys, "profile"]].itertuples(index=False)
    ]
    details = pd.DataFrame(details, columns=RUN_FIELDS, index=points.index)
    points = points.drop(columns="profile").join(details)
    panels = [
        (d, f"{d}: test P@10 (%)", *_grid(group, "M", "K", [*RUN_FIELDS, "paper", "CR"]))
        for d, group in points.groupby("dataset", sort=True)
    ]
    hover = (
        "M = %{y}, K = %{x}: <b>P@10 %{z:.3f}%</b> (paper %{customdata[4]}), "
        "CR %{customdata[5]}" + RUN_HOVER
    )
    return _heatmaps("codebook-heatmap", panels, hover, "P@10 (%)", ("K", "M"))


def code_usage_heatmaps(students: Sequence[dict], summary: pd.DataFrame) -> go.Figure:
    """Fig. 6: items per codeword of each student, one heatmap per dataset behind buttons;
    ``summary`` is :func:`eodrec.book.tables.fig6_code_usage.code_usage_summary` of
    ``students``, in their order."""
    panels = []
    for result, row in zip(students, summary.to_dict("records"), strict=True):
        usage = code_usage_table(result)
        usage["share"] = (usage["items"] / row["uniform share |V|/K"]).map("{:.2f}".format)
        usage["uniform"] = f"{row['uniform share |V|/K']:,.1f}"
        usage = usage.assign(**dict(zip(RUN_FIELDS, _details(result), strict=True)))
        title = f"{row['dataset']}: items per codeword, M = {row['M']}, K = {row['K']}"
        grid = _grid(usage, "codebook", "codeword", [*RUN_FIELDS, "share", "uniform"], "items")
        panels.append((row["dataset"], title, *grid))
    hover = (
        "codebook %{y}, codeword %{x}: <b>%{z:,} items</b><br>"
        "%{customdata[4]} × the uniform share |V|/K = %{customdata[5]}" + RUN_HOVER
    )
    return _heatmaps("code-usage", panels, hover, "items", ("codeword", "codebook"))


def sensitivity_curves(results: Sequence[dict], setting: str) -> go.Figure:
    """Fig. 4/5: test metrics over ``setting`` (beta, gamma or eta), a line per dataset and
    metric; a dataset's lines form one legend group, so clicking it hides the dataset."""
    fig = _figure(f"sensitivity-{setting}", f"Test metrics over {setting}", 420, not results)
    if not results:
        return fig
    curves = sensitivity(list(results), setting)
    curves = curves.pivot_table(
        index=["dataset", "metric", setting], columns="split", values="value (%)"
    ).reset_index()
    runs = {(dataset_name(r), r["config"]["student"][setting]): _details(r) for r in results}
    curves[RUN_FIELDS] = [runs[key] for key in curves[["dataset", setting]].itertuples(index=False)]
    for c, (dataset, of_dataset) in enumerate(curves.groupby("dataset", sort=True)):
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
                    line={"color": COLORS[c % len(COLORS)], "dash": DASHES[d % len(DASHES)]},
                    hovertemplate=f"{dataset} · {setting} = %{{x}}<br><b>test {metric} "
                    "%{y:.3f}%</b> (validation %{customdata[4]:.3f}%)" + RUN_HOVER,
                )
            )
    fig.update_xaxes(title=setting, type="log" if setting == "beta" else "linear")
    fig.update_yaxes(title="value (%)")
    return fig


def latency_bars(benches: Sequence[dict]) -> go.Figure:
    """Every model's per-request p50 on every runtime, a panel per dataset, the error bars
    reaching its p99; a dataset's bars form one legend group."""
    fig = _figure("latency", "Milliseconds per request (p50 to p99, one thread)", 460, not benches)
    if not benches:
        return fig
    names = [dataset_name(b) for b in benches]
    fig = make_subplots(rows=1, cols=len(benches), subplot_titles=names, figure=fig)
    runtimes = list(dict.fromkeys(r["runtime"] for b in benches for r in b["rows"]))
    for col, (bench, dataset) in enumerate(zip(benches, names, strict=True), start=1):
        _, profile, wall, machine = _details(bench)
        table = latency_table(bench).assign(
            run=[r.get("run", "?") for r in bench["rows"]],
            profile=profile,
            wall=f"{wall} (benchmark)",
            machine=machine,
            bundle=lambda t: t[SIZE].map(lambda v: _number(v, " MB")),
        )
        for runtime, bars in table.groupby("runtime", sort=False):
            ms = bars["p50 ms / request"]
            fig.add_trace(
                go.Bar(
                    x=ms.to_numpy(),
                    y=bars["model"].to_numpy(),
                    orientation="h",
                    error_x={"array": bars["p99 ms / request"] - ms, "arrayminus": 0 * ms},
                    customdata=bars[LATENCY_FIELDS].to_numpy(object),
                    name=runtime,
                    legendgroup=dataset,
                    legendgrouptitle_text=dataset,
                    marker_color=COLORS[runtimes.index(runtime) % len(COLORS)],
                    hovertemplate=f"{dataset} · %{{y}} on {runtime}: <b>%{{x:.3f}} ms</b> "
                    "(p90 %{customdata[4]:.3f}, p99 %{customdata[5]:.3f})<br>"
                    "peak memory %{customdata[6]:.1f} MB · bundle %{customdata[7]}"
                    "<br>top-20 as eager %{customdata[8]} · weights %{customdata[9]}" + RUN_HOVER,
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title="ms / request (p50)", row=1, col=col)
    fig.update_yaxes(autorange="reversed")
    return fig.update_layout(barmode="group")


def frontier_figure(points: pd.DataFrame, results: Sequence[dict], random_floor: dict) -> go.Figure:
    """Test P@10 over item-state bytes (log axis, zero bytes drawn at one), a panel per dataset:
    a marker per family, the
    Pareto front as a line, the random-ranking floor (``random_floor`` by dataset, in percent)
    dashed; hover gives the point and the run behind it."""
    fig = _figure("frontier", "Test P@10 (%) over item-state bytes", 480, points.empty)
    if points.empty:
        return fig
    datasets = sorted(points["dataset"].unique())
    fig = make_subplots(rows=1, cols=len(datasets), subplot_titles=datasets).update_layout(
        fig.layout
    )
    runs = {r["id"]: _details(r) for r in results}
    families = list(dict.fromkeys(points["family"]))
    for col, dataset in enumerate(datasets, start=1):
        of_dataset = points[points["dataset"] == dataset]
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
        if dataset in random_floor:
            fig.add_hline(y=random_floor[dataset], line_dash="dash", line_color="#bbbbbb",
                          annotation_text="random ranking", row=1, col=col)  # fmt: skip
    fig.update_xaxes(type="log", title_text="item-state bytes (log; 0 drawn at 1)")
    return fig.update_yaxes(title_text="test P@10 (%)", col=1)


def ablation_bars(scores: pd.DataFrame, results: Sequence[dict]) -> go.Figure:
    """Fig. 3 side by side: a panel per dataset and mode (the paper's student, this project's
    recipe), a bar per variant and metric; hover gives the difference from the mode's full
    model and the run behind the bar."""
    fig = _figure("ablation", "What each part adds: test score (%) per variant", 460, scores.empty)
    if scores.empty:
        return fig
    panels = list(dict.fromkeys(zip(scores["dataset"], scores["mode"], strict=True)))
    titles = [f"{dataset}: {mode}" for dataset, mode in panels]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles).update_layout(fig.layout)
    runs = {r["id"]: _details(r) for r in results}
    for col, (dataset, mode) in enumerate(panels, start=1):
        panel = scores[(scores["dataset"] == dataset) & (scores["mode"] == mode)]
        for i, metric in enumerate(("P@10", "NDCG@10")):
            gaps = zip(panel["run"], panel[f"Δ{metric} vs full"], strict=True)
            custom = [runs.get(run, ["?"] * 4) + [f"{gap:+.2f}"] for run, gap in gaps]
            fig.add_trace(go.Bar(
                x=panel["variant"], y=panel[metric], name=metric, legendgroup=metric,
                showlegend=col == 1, marker_color=COLORS[i], customdata=custom,
                hovertemplate=f"%{{x}}: {metric} <b>%{{y:.2f}}%</b> "
                "(%{customdata[4]} points from the full model)" + RUN_HOVER,
            ), row=1, col=col)  # fmt: skip
    fig.update_yaxes(title_text="test score (%)", col=1)
    return fig.update_layout(barmode="group")


def _figure(name: str, title: str, height: int, empty: bool = False) -> go.Figure:
    """A figure with the book's layout. ``empty`` is the static cells' fallback: say there is
    nothing to draw instead of raising. ``layout.meta`` keeps ``name`` (the div id's) and
    ``empty``, so that a check of the built page can tell a figure that has no data to hover."""
    layout = {"title": title, "height": height, "template": "plotly_white", "margin_t": 90}
    fig = go.Figure(layout={**layout, "meta": {"eodrec": name, "empty": empty}})
    if empty:
        fig.add_annotation(text=EMPTY, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)
        fig.update_xaxes(visible=False).update_yaxes(visible=False)
    return fig


def _heatmaps(name: str, panels: list, hover: str, colorbar: str, axes: tuple[str, str]):
    """A heatmap per ``(dataset, title, z, customdata)`` panel, the first visible, and a button
    per dataset that shows its own (datasets differ in shape, so they cannot share one)."""
    if not panels:
        return _figure(name, "", 300, empty=True)
    fig = _figure(name, panels[0][1], max(300, 170 + 45 * max(len(z) for _, _, z, _ in panels)))
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


def _details(result: dict) -> list[str]:
    """Run id, profile, wall time and machine of a result or benchmark; "?" where it has none."""
    hw = result.get("provenance", {}).get("hardware", {})
    wall = result.get("wall_time_s")
    return [
        result.get("id", "?"),
        result.get("profile", "?"),
        "?" if wall is None else f"{wall / 60:.1f} min",
        f"{hw.get('cpu', '?')}, {hw.get('cpu_count', '?')} cores, {hw.get('device', '?')}",
    ]


def _number(value: float, unit: str = "") -> str:
    return "–" if pd.isna(value) else f"{value:,.2f}{unit}"
