"""The bar figures: latency per request (page 05), Fig. 3's ablation (pages 06 and 12) and the
audit's switches (page 10); hover gives each bar's exact value and the run behind it."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from eodrec.book.interactive.base import COLORS, RUN_HOVER, details, figure, number, panels
from eodrec.book.interactive.marks import PAPER_COLOR, add_floors
from eodrec.book.tables.compare import dataset_name
from eodrec.book.tables.fig3_ablation import FIG3_METRICS, PAPER_MODE
from eodrec.book.tables.table3_methods import printed
from eodrec.book.tables.table5_latency import SIZE, latency_table
from eodrec.models.student import VARIANT_LABELS

LATENCY_FIELDS = ["run", "profile", "wall", "machine", "p90 ms / request", "p99 ms / request",
                  "peak memory (MB)", "bundle", "top-20 as eager", "weights"]  # fmt: skip
STUDENT = VARIANT_LABELS["full"]


def latency_bars(benches: Sequence[dict]) -> go.Figure:
    """Every model's per-request p50 on every runtime, a panel per dataset, the error bars
    reaching its p99; a dataset's bars form one legend group. Nothing is marked: the paper times
    100 sessions on an emulator, which the page compares as ratios."""
    fig = figure("latency", "Milliseconds per request (p50 to p99, one thread)", 460, not benches)
    if not benches:
        return fig
    names = [dataset_name(b) for b in benches]
    fig = panels(fig, names)
    runtimes = list(dict.fromkeys(r["runtime"] for b in benches for r in b["rows"]))
    for col, (bench, dataset) in enumerate(zip(benches, names, strict=True), start=1):
        _, profile, wall, machine = details(bench)
        table = latency_table(bench).assign(
            run=[r.get("run", "?") for r in bench["rows"]],
            profile=profile,
            wall=f"{wall} (benchmark)",
            machine=machine,
            bundle=lambda t: t[SIZE].map(lambda v: number(v, " MB")),
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


def ablation_bars(
    scores: pd.DataFrame, results: Sequence[dict], floors: pd.DataFrame | None = None
) -> go.Figure:
    """Fig. 3: a panel per dataset (and per mode, where ``scores`` has modes: the paper's student,
    this project's recipe), a bar per variant and metric, the paper's Student (Table 3) marked
    on its bar and the test ``floors`` dashed; hover gives the difference from the full model
    and the run behind the bar. ``scores`` are :mod:`~eodrec.book.tables.fig3_ablation`'s."""
    fig = figure("ablation", "What each part adds: test score (%) per variant", 460, scores.empty)
    if scores.empty:
        return fig
    keys = [k for k in ("dataset", "mode") if k in scores]
    grouped = list(scores.groupby(keys, sort=False))
    fig = panels(fig, [": ".join(key) for key, _ in grouped])
    runs = {r["id"]: details(r) for r in results}
    paper = printed(STUDENT)
    for col, (key, panel) in enumerate(grouped, start=1):
        dataset, mode = key[0], dict(zip(keys, key, strict=True)).get("mode", PAPER_MODE)
        for i, metric in enumerate(FIG3_METRICS):
            gaps = zip(panel["run"], panel[f"Δ{metric} vs full"], strict=True)
            custom = [runs.get(run, ["?"] * 4) + [_signed(gap)] for run, gap in gaps]
            fig.add_trace(go.Bar(
                x=panel["variant"], y=panel[metric], name=metric, legendgroup=metric,
                showlegend=col == 1, marker_color=COLORS[i], customdata=custom, offsetgroup=metric,
                hovertemplate=f"%{{x}}: {metric} <b>%{{y:.2f}}%</b> "
                "(%{customdata[4]} points from the full model)" + RUN_HOVER,
            ), row=1, col=col)  # fmt: skip
            if mode == PAPER_MODE and dataset in paper.index and STUDENT in set(panel["variant"]):
                fig.add_trace(_paper_mark(metric, paper.loc[dataset, metric], col), row=1, col=col)
        add_floors(fig, floors, dataset, FIG3_METRICS, col)
    fig.update_yaxes(title_text="test score (%)", col=1)
    return fig.update_layout(barmode="group", scattermode="group")


def _signed(gap: float) -> str:
    return "–" if pd.isna(gap) else f"{gap:+.2f}"


def _paper_mark(metric: str, value: float, col: int) -> go.Scatter:
    """The paper's Student on ``metric`` as a marker over our Student's bar of that metric."""
    return go.Scatter(
        x=[STUDENT], y=[value], mode="markers", offsetgroup=metric, name="paper (Table 3)",
        legendgroup="paper", showlegend=col == 1 and metric == FIG3_METRICS[0],
        marker={"symbol": "line-ew-open", "size": 26, "color": PAPER_COLOR, "line_width": 3},
        hovertemplate=f"the paper's Student: {metric} <b>%{{y:.2f}}%</b><extra>Table 3</extra>",
    )  # fmt: skip


def audit_bars(audit: pd.DataFrame, results: Sequence[dict]) -> go.Figure:
    """Each code-mode switch's difference in points from paper mode scored the same way, a bar
    per metric; ``audit`` is :func:`eodrec.book.tables.code_mode_audit.audit`'s. Nothing is
    marked: the paper reports none of these differences, and a floor is a level, not one."""
    switched = audit[audit["switch"] != "paper mode"]
    deltas = [f"Δ {m}" for m in FIG3_METRICS]
    switched = switched.dropna(subset=deltas, how="all")
    title = "Difference from paper mode scored the same way (points)"
    if not switched.empty:
        title = f"{switched['dataset'].iloc[0]}: {title[0].lower()}{title[1:]}"
    fig = figure("audit", title, 160 + 26 * max(len(switched), 4), switched.empty)
    if switched.empty:
        return fig
    labels = [
        f"{s} ({how})" for s, how in zip(switched["switch"], switched["scored as"], strict=True)
    ]
    runs = {r["id"]: details(r) for r in results}
    for i, metric in enumerate(FIG3_METRICS):
        scored = zip(switched["run"], switched[metric], strict=True)
        custom = [runs.get(run, ["?"] * 4) + [score] for run, score in scored]
        fig.add_trace(go.Bar(
            x=switched[f"Δ {metric}"], y=labels, orientation="h", name=metric,
            marker_color=COLORS[i], customdata=custom,
            hovertemplate=f"%{{y}}: <b>%{{x:+.2f}} points</b> on {metric} "
            "(test %{customdata[4]:.2f}%)" + RUN_HOVER,
        ))  # fmt: skip
    fig.add_vline(x=0, line={"color": "black", "width": 1})
    fig.update_xaxes(title="difference from paper mode scored the same way (points)")
    return fig.update_yaxes(autorange="reversed").update_layout(barmode="group")
