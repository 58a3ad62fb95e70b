"""The book's interactive figures, from hand-built results: each trace holds the stored values,
each hover the run behind them, each dataset its own trace, and the page gets plain HTML."""

import re
from collections import Counter

import numpy as np
import pytest

from eodrec.book import interactive
from eodrec.book.interactive import base
from eodrec.book.tables import (
    code_mode_audit,
    fig3_ablation,
    fig6_code_usage,
    floors,
    table1_compression,
    table4_sweep,
)
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


def pop(dataset="Tmall", test=0.015, valid=0.01):
    """A stored most-popular baseline: the floor a page marks."""
    return {"id": f"pop-{dataset}", "experiment": "baseline", "model": "pop", "dataset": dataset,
            "profile": "quick", "test_metrics": metrics(test, test / 2),
            "valid_metrics": metrics(valid, valid / 2)}  # fmt: skip


def hlines(fig, xref):
    """The y of each horizontal line drawn across the panel of ``xref`` (floors, paper values)."""
    return sorted(s.y0 for s in fig.layout.shapes if s.xref == f"{xref} domain" and s.y0 == s.y1)


def floor_label(fig):
    (label,) = [a for a in fig.layout.annotations if a.name == "floors"]
    return label


def labels(fig):
    return [a.text for a in fig.layout.annotations]


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
    assert list(m4k32[:6]) == [
        "student-Tmall-quick-4-32", "quick", "2.0 min", "AMD EPYC, 2 cores, cpu",
        "27.76%",  # the paper's P@10 at M=4, K=32
        "28.50",  # our CR (Eq. 13)
    ]  # fmt: skip
    assert "%{customdata[0]}" in tmall.hovertemplate and "%{z:.3f}" in tmall.hovertemplate
    assert tmall.texttemplate == "%{z:.1f}"  # each cell's value written on it
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["RetailRocket", "Tmall"]
    assert [b.args[0]["visible"] for b in buttons] == [[True, False], [False, True]]


def test_codebook_heatmap_hover_gives_the_datasets_floors_only_when_given():
    results = [run("Tmall", (4, 32), p10=0.25)]
    cells = table4_sweep.table4(results)
    (plain,) = interactive.codebook_heatmap(cells, results).data
    assert "floors" not in plain.hovertemplate
    marks = floors.floors({"Tmall": 4_000}, [pop("Tmall", test=0.015)])
    (marked,) = interactive.codebook_heatmap(cells, results, marks).data
    assert "floors: %{customdata[6]}" in marked.hovertemplate
    assert marked.customdata[0][0][6] == (
        "random ranking 0.25% (10 / |V|, |V| = 4,000) · most popular 1.50% (run pop-Tmall (test))"
    )


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


def test_sensitivity_curves_mark_the_papers_best_setting_and_the_floors_per_dataset():
    results = [
        run("Tmall", beta=0.01, p10=0.20),
        run("Tmall", beta=0.1, p10=0.24),
        run("toy", beta=0.1, p10=0.05),
    ]
    marks = floors.floors({"Tmall": 4_000, "toy": 500}, [pop("Tmall", test=0.015)])
    fig = interactive.sensitivity_curves(results, "beta", marks)
    assert {t.name: t.xaxis for t in fig.data if t.legendgroup == "Tmall"} == {
        "P@10": "x", "NDCG@10": "x"
    }  # fmt: skip
    assert {t.xaxis for t in fig.data if t.legendgroup == "toy"} == {"x2"}
    # Tmall: the paper's best beta (Sec. 6.6) as a vertical line, its label at log10(0.01)
    (best,) = [s for s in fig.layout.shapes if s.x0 == s.x1]
    assert (best.x0, best.xref) == (0.01, "x")
    (label,) = [a for a in fig.layout.annotations if a.text == "paper's best beta = 0.01"]
    assert label.x == pytest.approx(-2.0) and "on test" in label.hovertext
    assert hlines(fig, "x") == pytest.approx([0.25, 0.75, 1.5])  # random P@10, pop NDCG, pop P@10
    assert hlines(fig, "x2") == pytest.approx([2.0])  # toy: random ranking only, no paper value
    # one label for the figure's floors above the panels, a line per dataset, off the data;
    # its hover the sources
    label = floor_label(fig)
    assert label.text.split("<br>") == [
        "Tmall floors (dashed grey): most popular P@10 1.50%, NDCG@10 0.75%; "
        "random ranking P@10 0.25%",
        "toy floors (dashed grey): random ranking P@10 2.00%",
    ]
    assert (label.yref, label.y, label.yanchor) == ("paper", 1, "bottom")
    assert fig.layout.margin.t == 90 + 2 * 14  # room for its two lines
    assert label.hovertext.split("<br>") == [
        "Tmall most popular P@10: run pop-Tmall (test)",
        "Tmall most popular NDCG@10: run pop-Tmall (test)",
        "Tmall random ranking P@10: 10 / |V|, |V| = 4,000",
        "toy random ranking P@10: 10 / |V|, |V| = 500",
    ]


def test_sensitivity_curves_on_a_linear_axis_label_the_papers_setting_at_its_value():
    fig = interactive.sensitivity_curves([run("Tmall", eta=0.5), run("Tmall", eta=0.8)], "eta")
    (label,) = [a for a in fig.layout.annotations if a.text == "paper's best eta = 0.8"]
    assert label.x == pytest.approx(0.8) and fig.layout.xaxis.type == "linear"
    assert hlines(fig, "x") == []  # no floors given, none drawn


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
    assert list(cell[:6]) == ["student-retailrocket-quick-1-2", "quick", "10.0 min",
                              "AMD EPYC, 2 cores, cpu", "1.20", "5.0"]  # fmt: skip
    assert cell[6] == "the paper's range, 997–1,312, is at M = 4, K = 32, not this shape"
    assert "%{customdata[6]}" in fig.data[1].hovertemplate
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["Tmall", "RetailRocket"]


def test_code_usage_hover_sets_the_papers_range_beside_a_student_of_its_shape_only():
    tmall = with_usage(run("Tmall", (4, 32)), [[40] * 32] * 4)
    toy = with_usage(run("toy", (4, 32)), [[10] * 32] * 4)
    students = [tmall, toy]
    fig = interactive.code_usage_heatmaps(students, fig6_code_usage.code_usage_summary(students))
    assert fig.data[0].customdata[0][0][6] == "the paper's range at this shape: 1,090–1,480"
    assert fig.data[1].customdata[0][0][6] == "the paper states no range for this dataset"


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
    monkeypatch.setattr(base, "_shown", Counter())
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
    interactive.show(interactive.training_curves([]))
    interactive.show(interactive.audit_bars(code_mode_audit.audit([]), []))
    interactive.show(interactive.sensitivity_curves([], "beta"))
    ids = [re.search(r'id="([^"]+)"', a[0]["text/html"]).group(1) for a, _ in displayed]
    assert ids == [
        "eodrec-fig-sensitivity-beta-1",
        "eodrec-fig-latency-1",
        "eodrec-fig-code-usage-1",
        "eodrec-fig-training-curves-1",
        "eodrec-fig-audit-1",
        "eodrec-fig-sensitivity-beta-2",
    ]


def test_the_shipped_plotly_js_is_the_version_the_figures_are_written_for():
    from plotly.offline import get_plotlyjs_version

    path = interactive.plotly_js_path()
    assert path.name == "plotly.min.js" and path.is_file()
    with path.open() as js:
        assert f"plotly.js v{get_plotlyjs_version()}" in js.read(200)


def recipe_scores():
    import pandas as pd

    return pd.DataFrame({
        "dataset": ["Tmall"] * 3, "mode": ["paper mode", "distill-codes", "distill-codes"],
        "variant": ["Student", "all parts", "w/o distillation (γ = 0)"],
        "P@10": [2.0, 18.0, 17.0], "NDCG@10": [1.0, 13.0, 12.0],
        "ΔP@10 vs full": [0.0, 0.0, -1.0], "ΔNDCG@10 vs full": [0.0, 0.0, -1.0],
        "run": ["p", "a", "g"],
    })  # fmt: skip


def paper_marks(fig):
    return [t for t in fig.data if t.legendgroup == "paper"]


def test_ablation_bars_are_a_panel_per_dataset_and_mode_holding_each_variants_score():
    scores = recipe_scores()
    fig = interactive.ablation_bars(scores, [])
    assert labels(fig) == ["Tmall: paper mode", "Tmall: distill-codes"]
    recipe_p10 = [t for t in fig.data if t.name == "P@10" and t.xaxis == "x2"]
    assert list(recipe_p10[0].y) == [18.0, 17.0]
    assert recipe_p10[0].customdata[1][4] == "-1.00"
    # the paper's Student (Table 3) over our Student's bars, in the paper-mode panel only
    marks = paper_marks(fig)
    assert [(t.xaxis, list(t.x), t.offsetgroup) for t in marks] == [
        ("x", ["Student"], "P@10"), ("x", ["Student"], "NDCG@10")
    ]  # fmt: skip
    assert [t.y[0] for t in marks] == pytest.approx([27.76, 19.67])
    assert fig.layout.scattermode == "group" and not fig.layout.shapes
    assert_empty(interactive.ablation_bars(scores.iloc[:0], []))
    # Tmall's floors drawn in both of its panels, their values written once
    floored = interactive.ablation_bars(scores, [], floors.floors({"Tmall": 4_000}, []))
    assert hlines(floored, "x") == hlines(floored, "x2") == pytest.approx([0.25])
    label = floor_label(floored)
    assert label.text == "Tmall floors (dashed grey): random ranking P@10 0.25%"
    assert floored.layout.margin.t == 90 + 14


def test_ablation_bars_of_page_06_are_a_panel_per_dataset_with_its_floors():
    results = [
        run("Tmall", p10=0.20, variant="full"),
        run("Tmall", p10=0.15, variant="base"),
        run("toy", p10=0.05, variant="full"),
    ]
    scores = fig3_ablation.ablation(results)
    marks = floors.floors({"Tmall": 4_000, "toy": 500}, [pop("Tmall", test=0.015)])
    fig = interactive.ablation_bars(scores, results, marks)
    assert labels(fig)[:2] == ["Tmall", "toy"]
    tmall_p10 = [t for t in fig.data if t.name == "P@10" and t.xaxis == "x"]
    assert list(tmall_p10[0].x) == ["Student", "Stu-base"]
    assert [row[4] for row in tmall_p10[0].customdata] == ["+0.00", "-5.00"]
    assert tmall_p10[0].customdata[1][0] == results[1]["id"]
    assert [t.xaxis for t in paper_marks(fig)] == ["x", "x"]  # toy has no paper value
    assert hlines(fig, "x") == pytest.approx([0.25, 0.75, 1.5])
    assert hlines(fig, "x2") == pytest.approx([2.0])  # toy: no stored most-popular run
    assert floor_label(fig).text.endswith("<br>toy floors (dashed grey): random ranking P@10 2.00%")


# --- Table 3: validation per epoch ---------------------------------------------------------------


def trained(dataset, ndcg, selected, model="teacher"):
    """A stored run with its validation NDCG@10 after each epoch (1, 2, ...)."""
    history = [{"epoch": e, "valid": {"NDCG@10": v}} for e, v in enumerate(ndcg, start=1)]
    return {"id": f"{model}-{dataset}", "model": model, "dataset": dataset, "profile": "quick",
            "history": history, "selected_epoch": selected, "wall_time_s": 60.0}  # fmt: skip


def test_training_curves_ring_the_kept_epoch_beside_the_papers_teacher_and_the_floors():
    teachers = [trained("Tmall", [0.10, 0.15, 0.14], 2), trained("toy", [0.3], 1)]
    marks = floors.floors({}, [pop("Tmall", valid=0.01)], split="valid")
    fig = interactive.training_curves(teachers, marks)
    tmall, toy = fig.data
    assert (tmall.xaxis, tmall.name, list(tmall.x)) == ("x", "Teacher", [1, 2, 3])
    np.testing.assert_allclose(tmall.y, [10.0, 15.0, 14.0])
    assert list(tmall.marker.symbol) == ["circle", "circle-open", "circle"]
    assert [row[4] for row in tmall.customdata] == ["", " (kept)", ""]
    assert tmall.customdata[0][0] == "teacher-Tmall" and toy.xaxis == "x2"
    # the paper's Teacher NDCG@10 (Table 3, test) and the most-popular floor on validation
    assert hlines(fig, "x") == pytest.approx([0.5, 19.53])
    assert "paper's Teacher (test) 19.53%" in labels(fig)
    assert hlines(fig, "x2") == []
    assert_empty(interactive.training_curves([]))


# --- Table 1 and Table 4's CR: Eq. 13 over K -----------------------------------------------------


def test_compression_curves_set_table_4s_printed_rates_beside_eq_13():
    n_items, dims = {"Tmall": 40_727, "RetailRocket": 36_968}, {"Tmall": 128, "RetailRocket": 256}
    curves = table1_compression.rate_curves(n_items, dims, ms=[1, 4], ks=[32, 128])
    table4 = table1_compression.table4_compression_rates(n_items, dims)
    fig = interactive.compression_curves(curves, table4)
    m4, bound4, _, _ = [t for t in fig.data if t.legendgroup == "M = 4"]
    assert list(m4.x) == [32, 128] and list(bound4.y) == [32.0, 32.0]  # N / M
    assert m4.y[0] == pytest.approx(40_727 * 128 / (4 * 32 * 128 + 4 * 40_727))
    paper, _ = [t for t in fig.data if t.name == "paper (Table 4)"]
    printed = table4[(table4["quantity"] == "CR") & (table4["M"] == 4) & (table4["K"] == 32)]
    printed = printed[printed["dataset"] == "Tmall"]
    at = [
        i
        for i, (m, k) in enumerate(zip(paper.customdata[:, 0], paper.x, strict=True))
        if (m, k) == (4, 32)
    ]
    assert paper.y[at[0]] == printed["paper"].item() == 29
    assert labels(fig) == ["Tmall (N = 128)", "RetailRocket (N = 256)"]
    assert [t.xaxis for t in fig.data if t.name == "paper (Table 4)"] == ["x", "x2"]
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    assert_empty(interactive.compression_curves(curves.iloc[:0], table4))


# --- the audit: each switch against paper mode ----------------------------------------------------


def test_audit_bars_hold_each_switchs_difference_from_paper_mode_and_its_run():
    results = [run("Tmall", p10=0.20), run("Tmall", p10=0.25, untrained_heads=True)]
    fig = interactive.audit_bars(code_mode_audit.audit(results), results)
    p10, ndcg = fig.data
    assert list(p10.y) == ["untrained_heads=True (codes alone)"]
    assert list(p10.x) == pytest.approx([5.0]) and list(ndcg.x) == pytest.approx([0.0])
    assert list(p10.customdata[0]) == [results[1]["id"], "quick", "10.0 min",
                                       "AMD EPYC, 2 cores, cpu", pytest.approx(25.0)]  # fmt: skip
    assert fig.layout.title.text.startswith("Tmall: ")
    assert_empty(interactive.audit_bars(code_mode_audit.audit(results[:1]), results))


# --- the floors ----------------------------------------------------------------------------------


def test_floors_are_a_random_ranking_and_the_stored_most_popular_run_only():
    marks = floors.floors({"retailrocket": 2_000}, [pop("Tmall", test=0.02), run("Tmall")])
    assert marks[["dataset", "floor", "metric"]].values.tolist() == [
        ["RetailRocket", "random ranking", "P@10"],
        ["Tmall", "most popular", "P@10"],
        ["Tmall", "most popular", "NDCG@10"],
    ]
    assert marks["value"].tolist() == pytest.approx([0.5, 2.0, 1.0])
    assert marks["source"].iloc[1] == "run pop-Tmall (test)"
