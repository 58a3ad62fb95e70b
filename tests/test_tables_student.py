"""The student's tables (Table 3 rows, Fig. 3, Fig. 6, compression, code-mode audit) from small
hand-built result dicts whose expected cells are computed by hand."""

import math
from dataclasses import asdict, replace
from types import SimpleNamespace

import pandas as pd
import pytest

from eodrec.book.tables import (
    code_mode_audit,
    compare,
    fig3_ablation,
    fig6_code_usage,
    student_runs,
    table1_compression,
    table3_methods,
    table4_sweep,
)
from eodrec.models.student import CODE_MODE, CODE_MODE_EXTRA, StudentConfig, with_variant

METRICS = ["P@5", "NDCG@5", "P@10", "NDCG@10", "P@20", "NDCG@20", "MRR@20"]
RELEASED_SWITCHES = {**CODE_MODE, **CODE_MODE_EXTRA}


def metrics(p10, ndcg10):
    """Test metrics with P@10 and NDCG@10 given; the others are derived so none is missing."""
    values = dict.fromkeys(METRICS, 0.0)
    values.update({"P@5": p10 / 2, "NDCG@5": ndcg10 / 2, "P@10": p10, "NDCG@10": ndcg10})
    return values


def student(
    dataset="Tmall", variant="full", p10=0.2, ndcg10=0.1, profile="quick", shape=(4, 32), **switches
):
    config = with_variant(
        replace(StudentConfig(), n_codebooks=shape[0], n_codewords=shape[1], **switches), variant
    )
    run_id = f"student-{dataset}-{profile}-{variant}-{'-'.join(map(str, switches.values()))}"
    return {
        "id": run_id,
        "model": "student",
        "dataset": dataset,
        "profile": profile,
        "config": {"student": asdict(config)},
        "test_metrics": metrics(p10, ndcg10),
        "compression": {
            "cr_eq13": 28.5,
            "student_item_bytes": 1000,
            "teacher_item_bytes": 32000,
            "byte_ratio": 32.0,
        },
    }


def teacher(dataset="Tmall", p10=0.25, ndcg10=0.15, profile="quick"):
    return {
        "id": f"teacher-{dataset}-{profile}",
        "model": "teacher",
        "dataset": dataset,
        "profile": profile,
        "config": {},
        "test_metrics": metrics(p10, ndcg10),
    }


def with_usage(result, counts, colliding=0):
    n_codewords = len(counts[0])
    result["code_usage"] = {
        "counts": counts,
        "entropy_bits": [1.0 + m for m in range(len(counts))],
        "max_entropy_bits": math.log2(n_codewords),
        "dead_codewords": [sum(c == 0 for c in row) for row in counts],
        "colliding_items": colliding,
        "items": sum(counts[0]),
    }
    return result


def cell(cells, quantity, **keys):
    rows = cells[cells["quantity"] == quantity]
    for key, value in keys.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# --- which runs are the paper's student ----------------------------------------------------------


def test_code_mode_switches_respect_what_a_variant_prescribes():
    assert student_runs.code_mode_switches(student()) == {}
    # Stu-w/o-b and Stu-base freeze the teacher by definition: that is not code mode.
    assert student_runs.code_mode_switches(student(variant="w/o-b")) == {}
    assert student_runs.code_mode_switches(student(variant="base")) == {}
    assert student_runs.code_mode_switches(student(freeze_teacher=True)) == {"freeze_teacher": True}
    assert student_runs.code_mode_switches(
        student(eta_convention="code", selection="test-best-per-metric")
    ) == {"eta_convention": "code", "selection": "test-best-per-metric"}
    assert student_runs.code_mode_switches(student(**RELEASED_SWITCHES)) == RELEASED_SWITCHES
    stored_before = student()  # results stored before the preset's switches lack their keys
    for name in CODE_MODE_EXTRA:
        del stored_before["config"]["student"][name]
    assert student_runs.code_mode_switches(stored_before) == {}


def test_table3_has_the_paper_mode_full_student_beside_the_teacher():
    results = [
        teacher(p10=0.25),
        student(p10=0.2, ndcg10=0.1),
        student(variant="base", p10=0.9),
        student(mixed_table_at_test=True, p10=0.8),
    ]
    cells = table3_methods.table3(results, methods=["Teacher", "Student"])
    row = cell(cells, "P@10", method="Student", dataset="Tmall")
    assert row["ours"] == pytest.approx(20.0)
    assert row["paper"] == pytest.approx(27.76)
    assert row["difference"] == pytest.approx(20.0 - 27.76)
    assert row["profile"] == "quick"
    assert cell(cells, "P@10", method="Teacher", dataset="Tmall")["ours"] == pytest.approx(25.0)
    missing = cell(cells, "NDCG@10", method="Student", dataset="RetailRocket")
    assert math.isnan(missing["ours"]) and missing["paper"] == pytest.approx(30.83)
    assert set(cells["method"]) == {"Teacher", "Student"}


def test_table3_refuses_two_runs_for_one_cell():
    with pytest.raises(ValueError, match="more than one result"):
        table3_methods.table3([student(p10=0.2), student(p10=0.3)], methods=["Student"])


# --- Fig. 3 --------------------------------------------------------------------------------------


def test_ablation_rows_in_the_papers_order_in_percent():
    results = [
        student(variant=v, p10=0.1 + i / 100, ndcg10=0.05)
        for i, v in reversed(list(enumerate(["full", "base", "w/o-m", "w/o-c", "w/o-b", "w/o-s"])))
    ]
    results.append(student(freeze_teacher=True, p10=0.5))  # code mode: not a Fig. 3 bar
    frame = fig3_ablation.ablation(results)
    assert list(frame["variant"]) == [
        "Student",
        "Stu-base",
        "Stu-w/o-m",
        "Stu-w/o-c",
        "Stu-w/o-b",
        "Stu-w/o-s",
    ]
    assert frame["P@10"].tolist() == pytest.approx([10, 11, 12, 13, 14, 15])
    assert frame["NDCG@10"].tolist() == pytest.approx([5.0] * 6)
    assert frame["ΔP@10 vs full"].tolist() == pytest.approx([0, 1, 2, 3, 4, 5])  # from Student
    assert set(frame["dataset"]) == {"Tmall"}
    alone = fig3_ablation.ablation([student(variant="base")])  # no Student to differ from
    assert alone["ΔNDCG@10 vs full"].isna().all()


def test_ablation_names_retailrocket_as_the_paper_does():
    frame = fig3_ablation.ablation([student(dataset="retailrocket", shape=(3, 256))])
    assert frame["dataset"].tolist() == ["RetailRocket"]


def test_kd_gain_is_the_relative_gain_of_full_over_base_beside_the_paper():
    results = [
        student(variant="full", p10=0.22, ndcg10=0.11),
        student(variant="base", p10=0.20, ndcg10=0.10),
        student(variant="w/o-m", p10=0.01, ndcg10=0.01),
        student(dataset="retailrocket", variant="full", p10=0.4, ndcg10=0.3),
    ]
    cells = fig3_ablation.kd_gain(results)
    p10 = cell(cells, "P@10", dataset="Tmall")
    assert p10["ours"] == pytest.approx(10.0)  # 100 * (0.22 / 0.20 - 1)
    assert p10["paper"] == pytest.approx(10.55)
    assert p10["difference"] == pytest.approx(10.0 - 10.55)
    assert p10["profile"] == "quick"
    assert cell(cells, "NDCG@10", dataset="Tmall")["ours"] == pytest.approx(10.0)
    no_base = cell(cells, "P@10", dataset="RetailRocket")
    assert math.isnan(no_base["ours"]) and no_base["paper"] == pytest.approx(8.29)


def test_kd_gain_of_a_zero_base_is_nan_not_infinite():
    cells = fig3_ablation.kd_gain([student(p10=0.1), student(variant="base", p10=0.0)])
    assert math.isnan(cell(cells, "P@10", dataset="Tmall")["ours"])


# --- Fig. 6 --------------------------------------------------------------------------------------


def test_code_usage_table_is_one_row_per_codebook_and_codeword():
    frame = fig6_code_usage.code_usage_table(
        with_usage(student(shape=(2, 3)), [[3, 0, 1], [2, 2, 0]])
    )
    assert len(frame) == 6
    assert frame.groupby("codebook")["items"].sum().tolist() == [4, 4]
    pick = frame[(frame["codebook"] == 2) & (frame["codeword"] == 1)]
    assert pick["items"].tolist() == [2]
    assert frame[(frame["codebook"] == 1) & (frame["codeword"] == 2)]["items"].tolist() == [0]
    assert frame["codeword"].min() == 1 and frame["codeword"].max() == 3


def test_code_usage_summary_against_the_papers_range():
    tmall = with_usage(student(shape=(2, 3)), [[3, 0, 1], [2, 2, 0]], colliding=2)
    uniform = [[10] * 32 for _ in range(4)]
    retail = with_usage(student(dataset="retailrocket", shape=(4, 32)), uniform)
    toy = with_usage(student(dataset="toy", profile="smoke", shape=(2, 3)), [[1, 1, 1]] * 2)
    summary = fig6_code_usage.code_usage_summary([tmall, retail, toy]).set_index("dataset")
    row = summary.loc["Tmall"]
    assert (row["min items per codeword"], row["max items per codeword"]) == (0, 3)
    assert (row["paper min"], row["paper max"]) == (1090, 1480)
    assert not row["same shape as paper"]
    assert row["dead codewords"] == 2
    assert row["colliding items (%)"] == pytest.approx(50.0)
    assert row["uniform share |V|/K"] == pytest.approx(4 / 3)
    assert row["entropy bits (min over codebooks)"] == pytest.approx(1.0)
    assert row["entropy bits (mean)"] == pytest.approx(1.5)
    rr = summary.loc["RetailRocket"]
    assert (rr["paper min"], rr["paper max"]) == (997, 1312)
    assert rr["same shape as paper"]
    assert rr["max entropy bits"] == pytest.approx(5.0)
    assert math.isnan(summary.loc["toy", "paper min"])


# --- compression ---------------------------------------------------------------------------------


def test_student_compression_sits_beside_table4s_rate_for_its_shape():
    results = [
        student(),
        student(dataset="retailrocket", shape=(3, 256)),
        student(dataset="toy", shape=(4, 8)),
    ]
    frame = table1_compression.student_compression(results).set_index("dataset")
    assert frame.loc["Tmall", "paper CR (Table 4)"] == 29
    assert frame.loc["RetailRocket", "paper CR (Table 4)"] == 31
    assert math.isnan(frame.loc["toy", "paper CR (Table 4)"])
    assert frame.loc["Tmall", "byte ratio"] == 32.0
    assert frame.loc["Tmall", "CR (Eq. 13)"] == 28.5


# --- code-mode audit -----------------------------------------------------------------------------


def scored(result, as_released, best_per_metric=None):
    """``result`` as stored now: with its score as released (and, chosen on test, its best)."""
    result["test_metrics_as_released"] = as_released
    if best_per_metric is not None:
        result["test_metrics_best_per_metric"] = best_per_metric
    return result


def test_audit_gives_points_against_paper_mode_scored_the_same_way():
    paper = scored(student(p10=0.20, ndcg10=0.10), metrics(0.30, 0.15))
    on_test = scored(
        student(selection="test-best-per-metric", p10=0.20, ndcg10=0.10),
        metrics(0.34, 0.16),
        best_per_metric=metrics(0.23, 0.11),
    )
    preset = scored(
        student(**RELEASED_SWITCHES, p10=0.04, ndcg10=0.02),
        metrics(0.40, 0.20),
        best_per_metric=metrics(0.05, 0.03),
    )
    preset["config"]["preset"] = "released-code"
    frame = code_mode_audit.audit([preset, on_test, paper]).set_index(["switch", "scored as"])
    best, released = "each metric's best epoch on test", "as released: mixed table"
    assert list(frame.index) == [
        ("paper mode", "codes alone"),
        ("paper mode", released),
        ("selection=test-best-per-metric", "codes alone"),
        ("selection=test-best-per-metric", f"codes alone, {best}"),
        ("selection=test-best-per-metric", f"{released}, {best}"),
        ("preset released-code", "codes alone"),
        ("preset released-code", f"codes alone, {best}"),
        ("preset released-code", f"{released}, {best}"),
    ]
    assert frame.loc[("paper mode", "codes alone"), "Δ P@10"] == 0
    assert frame.loc[("selection=test-best-per-metric", f"codes alone, {best}"), "Δ P@10"] == (
        pytest.approx(3.0)
    )  # against paper mode's codes alone
    row = frame.loc[("preset released-code", f"{released}, {best}")]
    assert row["P@10"] == pytest.approx(40.0)
    assert row["Δ P@10"] == pytest.approx(10.0)  # against paper mode as released
    assert frame.loc[("preset released-code", "codes alone"), "Δ NDCG@10"] == pytest.approx(-8.0)


def test_a_result_stored_before_both_scores_keeps_the_one_it_has():
    legacy_mixed = student(mixed_table_at_test=True, p10=0.25)
    assert student_runs.student_scorings(legacy_mixed) == {
        "as released: mixed table": metrics(0.25, 0.1)
    }
    assert student_runs.student_scorings(student(p10=0.2)) == {"codes alone": metrics(0.2, 0.1)}


def test_against_paper_puts_the_printed_student_row_first():
    paper = scored(student(p10=0.20, ndcg10=0.10), metrics(0.30, 0.15))
    preset = scored(student(**RELEASED_SWITCHES), metrics(0.40, 0.20), metrics(0.05, 0.03))
    preset["config"]["preset"] = "released-code"
    rr = scored(student(dataset="retailrocket"), metrics(0.5, 0.3))
    frame = code_mode_audit.against_paper([preset, rr, paper])
    assert list(zip(frame["dataset"], frame["run"], strict=True)) == [
        ("RetailRocket", "paper (printed)"),
        ("RetailRocket", "paper mode"),
        ("RetailRocket", "paper mode"),
        ("Tmall", "paper (printed)"),
        ("Tmall", "paper mode"),
        ("Tmall", "paper mode"),
        ("Tmall", "preset released-code"),
        ("Tmall", "preset released-code"),
    ]
    assert frame.iloc[3]["P@10"] == 27.76  # Table 3's Student, Tmall
    assert frame.iloc[-1]["P@10"] == pytest.approx(40.0)


def test_audit_without_the_paper_mode_run_has_no_deltas():
    frame = code_mode_audit.audit([student(untrained_heads=True)])
    assert frame["switch"].tolist() == ["untrained_heads=True"]
    assert frame["Δ P@10"].isna().all()
    assert code_mode_audit.audit([]).empty


def test_audit_refuses_mixed_datasets_ablations_and_repeats():
    with pytest.raises(ValueError, match="one dataset"):
        code_mode_audit.audit([student(), student(dataset="retailrocket")])
    with pytest.raises(ValueError, match="ablation"):
        code_mode_audit.audit([student(variant="w/o-c")])
    with pytest.raises(ValueError, match="more than one result"):
        code_mode_audit.audit([student(), student()])


def test_audit_reads_stu_wo_b_as_the_frozen_teacher_switch():
    frame = code_mode_audit.audit([student(p10=0.2), student(variant="w/o-b", p10=0.19)])
    assert frame["switch"].tolist() == ["paper mode", "freeze_teacher=True"]
    assert frame["Δ P@10"].iloc[1] == pytest.approx(-1.0)


def test_audit_table_is_a_frame_of_numbers():
    frame = code_mode_audit.audit([student(), student(code_snapshot="first-epoch-sample")])
    assert pd.api.types.is_float_dtype(frame["Δ NDCG@10"])


def test_text_findings_reads_a_statement_with_commas_whole():
    findings = compare.text_findings().set_index("id")
    assert "drops drastically" in findings.loc["fig3_mixup", "statement"]
    assert "(w/o-c, w/o-b, w/o-s)" in findings.loc["fig3_mixup", "statement"]
    assert findings.loc["fig3_mixup", "value"] == "qualitative"
    assert list(findings.columns) == ["dataset", "statement", "value"]


def test_student_diagnosis_reports_code_collisions_and_the_teacher_before_and_after():
    result = student(p10=0.05)
    result["code_usage"] = {
        "colliding_items": 30,
        "items": 120,
        "entropy_bits": [1.0, 3.0],
        "max_entropy_bits": 5.0,
    }
    result["teacher_start_test_metrics"] = metrics(0.26, 0.17)
    result["teacher_test_metrics"] = metrics(0.16, 0.10)
    row = student_runs.student_diagnosis([result]).iloc[0]
    assert row["items sharing their whole code (%)"] == 25.0
    assert row["code entropy (bits, mean over codebooks)"] == 2.0
    assert row["teacher P@10 before"] == pytest.approx(26.0)
    assert row["teacher P@10 after"] == pytest.approx(16.0)
    assert row["student P@10"] == pytest.approx(5.0)
    assert row["random ranking P@10"] == pytest.approx(100 * 10 / 120)
    assert row["setting"] == "as in the paper"


def test_student_diagnosis_names_what_a_run_does_beyond_the_paper():
    usage = {"colliding_items": 0, "items": 10, "entropy_bits": [2.0], "max_entropy_bits": 2.0}
    runs = [student(code_learning="residual-kmeans"), student(teacher_rec=True)]
    stored_before = student()  # results stored before these settings existed lack their keys
    del stored_before["config"]["student"]["code_learning"]
    for run in [*runs, stored_before]:
        run["code_usage"] = usage
        run["teacher_start_test_metrics"] = run["teacher_test_metrics"] = metrics(0.2, 0.1)
    rows = student_runs.student_diagnosis([*runs, stored_before])
    assert list(rows["setting"]) == [
        "code_learning=residual-kmeans",
        "teacher_rec=True",
        "as in the paper",
    ]


def test_tie_bounds_cover_table4s_grid_beside_the_papers_p10(monkeypatch):
    """400 test sessions, one per item of 1..400, in a catalogue of 1,000 items."""
    data = SimpleNamespace(test_targets=list(range(1, 401)), n_items=1000)
    monkeypatch.setattr(table4_sweep, "load_dataset", lambda name, data_dir: data)
    frame = table4_sweep.tie_bounds(["Tmall"]).set_index(["M", "K"])
    assert len(frame) == 20 and set(frame["dataset"]) == {"Tmall"}
    cell = frame.loc[(1, 32)]
    assert cell["distinct vectors"] == 32
    assert cell["P@10 bound"] == pytest.approx(100 * 10 * 31 / 400)  # 310 items can hit
    assert cell["paper P@10"] == 25.48
    assert frame.loc[(2, 32), "distinct vectors"] == 1000  # min(K**M, |V|)
    assert frame.loc[(2, 32), "P@10 bound"] == 100.0
