"""The book's interactive figures, from hand-built results: each trace holds the stored values,
each hover the run behind them, each dataset its own trace, and the page gets plain HTML."""

import re
from collections import Counter

import numpy as np
import pytest

from eodrec.book import interactive
from eodrec.book.tables import fig6_code_usage, table4_sweep
from tests.test_tables_student import metrics, student, with_usage

HARDWARE = {"cpu": "AMD EPYC", "cpu_count": 2, "device": "cpu"}


def run(dataset="Tmall", shape=(4, 32), p10=0.2, valid=0.1, wall_s=600.0, **switches):
    """A stored student with a unique id, its wall time and the machine that trained it."""
    result = student(dataset, p10=p10, shape=shape, **switches)
    tag = "-".join(map(str, [*shape, *switches.values()]))
    return {
        **result,
        "id": f"student-{dataset}-quick-{tag}",
        "valid_metrics": metrics(valid, valid / 2),
        "wall_time_s": wall_s,
        "provenance": {"hardware": HARDWARE},
    }


def heatmap_of(fig, dataset):
    (trace,) = [t for t in fig.data if t.name == dataset]
    return trace


def assert_empty(fig):
    assert not fig.data and fig.layout.meta["empty"] is True
    assert [a.text for a in fig.layout.annotations] == ["no stored results for this profile"]


# --- Table 4: P@10 over M x K --------------------------------------------------------------------


def test_codebook_heatmap_holds_each_datasets_p10_grid_and_its_runs():
    results = [
        run("Tmall", (4, 32), p10=0.25, wall_s=120.0),
        run("Tmall", (1, 32), p10=0.10),
        run("Tmall", (1, 128), p10=0.15),
        run("retailrocket", (3, 256), p10=0.40),
    ]
    fig = interactive.codebook_heatmap(table4_sweep.table4(results), results)
    assert [t.name for t in fig.data] == ["RetailRocket", "Tmall"]
    assert [t.visible for t in fig.data] == [True, False]
    assert fig.layout.meta == {"eodrec": "codebook-heatmap", "empty": False}
    tmall = heatmap_of(fig, "Tmall")
    assert list(tmall.y) == [1, 4] and list(tmall.x) == [32, 128]
    np.testing.assert_allclose(np.asarray(tmall.z, float), [[10.0, 15.0], [25.0, np.nan]])
    m4k32 = tmall.customdata[1][0]  # row M=4, column K=32
    assert list(m4k32) == [
        "student-Tmall-quick-4-32", "quick", "2.0 min", "AMD EPYC, 2 cores, cpu",
        "27.76%",  # the paper's P@10 at M=4, K=32
        "28.50",  # our CR (Eq. 13)
    ]  # fmt: skip
    assert "%{customdata[0]}" in tmall.hovertemplate and "%{z:.3f}" in tmall.hovertemplate
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["RetailRocket", "Tmall"]
    assert [b.args[0]["visible"] for b in buttons] == [[True, False], [False, True]]


def test_codebook_heatmap_without_results_says_so():
    assert_empty(
        interactive.codebook_heatmap(table4_sweep.table4([]).fillna({"profile": "missing"}))
    )


def test_codebook_heatmap_of_a_dataset_the_paper_lacks_still_shows_its_run():
    results = [run("toy", (2, 8), p10=0.05)]
    (trace,) = interactive.codebook_heatmap(table4_sweep.table4(results), results).data
    assert trace.z.tolist() == [[5.0]]
    assert list(trace.customdata[0][0][[0, 4]]) == ["student-toy-quick-2-8", "–"]


# --- Fig. 4/5: sensitivity curves ----------------------------------------------------------------


def test_sensitivity_curves_are_a_legend_group_per_dataset_holding_test_values():
    results = [
        run("Tmall", beta=0.01, p10=0.20, valid=0.30),
        run("Tmall", beta=0.1, p10=0.24, valid=0.20),
        run("retailrocket", beta=0.01, p10=0.40, valid=0.50),
    ]
    fig = interactive.sensitivity_curves(results, "beta")
    traces = {(t.legendgroup, t.name): t for t in fig.data}
    assert sorted(traces) == [
        ("RetailRocket", "NDCG@10"), ("RetailRocket", "P@10"),
        ("Tmall", "NDCG@10"), ("Tmall", "P@10"),
    ]  # fmt: skip
    p10 = traces[("Tmall", "P@10")]
    assert list(p10.x) == [0.01, 0.1]
    np.testing.assert_allclose(p10.y, [20.0, 24.0])
    assert [row[0] for row in p10.customdata] == ["student-Tmall-quick-4-32-0.01",
                                                  "student-Tmall-quick-4-32-0.1"]  # fmt: skip
    np.testing.assert_allclose([row[4] for row in p10.customdata], [30.0, 20.0])  # validation
    assert all(row[2] == "10.0 min" for row in p10.customdata)
    assert {t.legendgrouptitle.text for t in fig.data} == {"RetailRocket", "Tmall"}
    assert fig.layout.xaxis.type == "log"


def test_sensitivity_curves_without_results_say_so():
    assert_empty(interactive.sensitivity_curves([], "eta"))


# --- Fig. 6: codebook usage ----------------------------------------------------------------------


def test_code_usage_heatmaps_hold_the_counts_of_each_student():
    tmall = with_usage(run("Tmall", (2, 4)), [[1, 2, 3, 4], [4, 3, 2, 1]])
    retail = with_usage(run("retailrocket", (1, 2)), [[6, 4]])
    students = [tmall, retail]
    fig = interactive.code_usage_heatmaps(students, fig6_code_usage.code_usage_summary(students))
    assert [t.name for t in fig.data] == ["Tmall", "RetailRocket"]
    assert fig.data[0].z.tolist() == [[1, 2, 3, 4], [4, 3, 2, 1]]
    assert fig.data[1].z.tolist() == [[6, 4]]
    assert list(fig.data[0].y) == [1, 2] and list(fig.data[0].x) == [1, 2, 3, 4]
    cell = fig.data[1].customdata[0][0]  # codebook 1, codeword 1: 6 items, uniform share 5
    assert list(cell) == ["student-retailrocket-quick-1-2", "quick", "10.0 min",
                          "AMD EPYC, 2 cores, cpu", "1.20", "5.0"]  # fmt: skip
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["Tmall", "RetailRocket"]


def test_code_usage_heatmaps_without_students_say_so():
    assert_empty(interactive.code_usage_heatmaps([], fig6_code_usage.code_usage_summary([])))


# --- Table 5: latency ----------------------------------------------------------------------------


def bench(dataset, times):
    """A latency benchmark: ``times`` maps (model, runtime) to the per-request p50 ms."""
    rows = [
        {"model": model, "run": f"{model.lower()}-{dataset}", "runtime": runtime,
         "per_request_p50_ms": ms, "per_request_p90_ms": ms + 1, "per_request_p99_ms": ms + 2,
         "batch_ms_per_100": 10 * ms, "peak_rss_mb": 300.0,
         "bundle_bytes": 2_500_000 if runtime != "eager" else None, "weights": "trained",
         "topk_equal": 99, "topk_sessions": 100 if runtime != "eager" else None}
        for (model, runtime), ms in times.items()
    ]  # fmt: skip
    return {"dataset": dataset, "profile": "quick", "rows": rows, "wall_time_s": 300.0,
            "provenance": {"hardware": HARDWARE}}  # fmt: skip


def test_latency_bars_are_a_legend_group_per_dataset_holding_the_per_request_p50():
    benches = [
        bench("Tmall", {("OD-Rec", "eager"): 40.0, ("Student", "eager"): 10.0,
                        ("OD-Rec", "executorch"): 30.0, ("Student", "executorch"): 5.0}),
        bench("retailrocket", {("Student", "eager"): 12.5}),
    ]  # fmt: skip
    fig = interactive.latency_bars(benches)
    traces = {(t.legendgroup, t.name): t for t in fig.data}
    assert list(traces) == [("Tmall", "eager"), ("Tmall", "executorch"), ("RetailRocket", "eager")]
    executorch = traces[("Tmall", "executorch")]
    assert list(executorch.y) == ["OD-Rec", "Student"]
    np.testing.assert_allclose(executorch.x, [30.0, 5.0])
    np.testing.assert_allclose(executorch.error_x.array, [2.0, 2.0])  # to the p99
    odrec = executorch.customdata[0]
    assert list(odrec[:4]) == ["od-rec-Tmall", "quick", "5.0 min (benchmark)",
                               "AMD EPYC, 2 cores, cpu"]  # fmt: skip
    assert list(odrec[4:]) == [31.0, 32.0, 300.0, "2.50 MB", "99 / 100", "trained"]
    assert traces[("RetailRocket", "eager")].xaxis == "x2"  # its own panel
    assert traces[("Tmall", "eager")].marker.color == traces[("RetailRocket", "eager")].marker.color


def test_latency_bars_without_benchmarks_say_so():
    assert_empty(interactive.latency_bars([]))


# --- the page's HTML ------------------------------------------------------------------------------


@pytest.fixture
def displayed(monkeypatch):
    """What :func:`interactive.show` hands IPython's display, with the figure count reset."""
    import IPython.display

    calls = []
    monkeypatch.setattr(interactive, "_shown", Counter())
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: calls.append((a, k)))
    return calls


def test_show_emits_only_html_that_loads_nothing_from_the_network(displayed):
    results = [run("Tmall", (4, 32))]
    fig = interactive.codebook_heatmap(table4_sweep.table4(results), results)
    interactive.show(fig)
    interactive.show(fig)
    assert len(displayed) == 2
    (bundle,), options = displayed[0]
    assert options == {"raw": True} and list(bundle) == ["text/html"]
    html = bundle["text/html"]
    assert not re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?(https?:)?//", html, re.IGNORECASE)
    assert "cdn" not in html.lower() and "mathjax" not in html.lower()
    assert "Plotly.newPlot" in html
    assert 'id="eodrec-fig-codebook-heatmap-1"' in html
    assert '"eodrec-fig-codebook-heatmap-1"' in html.split("Plotly.newPlot", 1)[1]
    assert 'id="eodrec-fig-codebook-heatmap-2"' in displayed[1][0][0]["text/html"]


def test_each_figure_is_named_for_its_div_id(displayed):
    interactive.show(interactive.sensitivity_curves([], "beta"))
    interactive.show(interactive.latency_bars([]))
    interactive.show(interactive.code_usage_heatmaps([], fig6_code_usage.code_usage_summary([])))
    ids = [re.search(r'id="([^"]+)"', a[0]["text/html"]).group(1) for a, _ in displayed]
    assert ids == [
        "eodrec-fig-sensitivity-beta-1",
        "eodrec-fig-latency-1",
        "eodrec-fig-code-usage-1",
    ]


def test_the_shipped_plotly_js_is_the_version_the_figures_are_written_for():
    from plotly.offline import get_plotlyjs_version

    path = interactive.plotly_js_path()
    assert path.name == "plotly.min.js" and path.is_file()
    with path.open() as js:
        assert f"plotly.js v{get_plotlyjs_version()}" in js.read(200)


def test_ablation_bars_are_a_panel_per_dataset_and_mode_holding_each_variants_score():
    import pandas as pd

    scores = pd.DataFrame({
        "dataset": ["Tmall"] * 3, "mode": ["paper mode", "distill-codes", "distill-codes"],
        "variant": ["Student", "all parts", "w/o distillation (γ = 0)"],
        "P@10": [2.0, 18.0, 17.0], "NDCG@10": [1.0, 13.0, 12.0],
        "ΔP@10 vs full": [0.0, 0.0, -1.0], "ΔNDCG@10 vs full": [0.0, 0.0, -1.0],
        "run": ["p", "a", "g"],
    })  # fmt: skip
    fig = interactive.ablation_bars(scores, [])
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["Tmall: paper mode", "Tmall: distill-codes"]
    recipe_p10 = [t for t in fig.data if t.name == "P@10" and t.xaxis == "x2"]
    assert list(recipe_p10[0].y) == [18.0, 17.0]
    assert recipe_p10[0].customdata[1][4] == "-1.00"
    assert_empty(interactive.ablation_bars(scores.iloc[:0], []))
