"""The latency benchmark and the export command on stored toy runs (smoke profile)."""

from pathlib import Path

import pytest

from eodrec.bench.device_floor import median_bucket, request_floor
from eodrec.cli import main
from eodrec.config import make_config
from eodrec.experiment import Experiment
from eodrec.latency import bench_latency, bench_scoring
from eodrec.store import ResultsStore


def test_factorized_scoring_equals_dense_scoring():
    result = bench_scoring(n_items=500, dim=16, n_codebooks=4, n_codewords=32, repeats=2)
    assert result["factorized_equals_dense"]
    assert set(result["median_ms"]) == {"teacher_dense", "student_dense", "student_factorized"}


@pytest.fixture(scope="module")
def stored_student(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stored")
    config = make_config("student", "toy", "smoke")
    Experiment(config, None, ResultsStore(root / "results"), root / "cache", False).run()
    return root


def test_latency_times_every_runtime_and_checks_bundles_against_eager(stored_student):
    pytest.importorskip("executorch")
    root = stored_student
    result = bench_latency(
        "toy", "smoke", requests=20, results=root / "results", cache_dir=root / "cache",
        models=("Teacher", "Student"), runtimes=("eager", "executorch"), progress=False,
    )  # fmt: skip
    rows = {(r["model"], r["runtime"]): r for r in result["rows"]}
    kernels = {("Teacher (eodrec ops)", "executorch"), ("Student (eodrec ops)", "executorch")}
    if result["kernels_skipped"] is not None:  # no C++ compiler here: no (eodrec ops) rows
        kernels = set()
    assert (
        set(rows)
        == {(m, r) for m in ("Teacher", "Student") for r in ("eager", "executorch")} | kernels
    )
    assert {key for key, row in rows.items() if row["ops"] == "eodrec"} == kernels
    assert (
        result["requests"] == 20
        and sum(result["bucket_sessions"].values()) == result["test_sessions"]
    )
    for (_, runtime), row in rows.items():
        assert row["weights"] == "trained" and row["peak_rss_mb"] > 0
        p50, p90, p99 = (row[f"per_request_p{q}_ms"] for q in (50, 90, 99))
        assert 0 < p50 <= p90 <= p99 and row["batch_ms_per_100"] > 0
        assert row["topk_equal"] == row["topk_sessions"] == result["test_sessions"]
        assert row["request_topk_equal"] == row["request_topk_sessions"] == 20
        assert ((row["bundle_bytes"] or 0) > 0) == (runtime == "executorch")
    assert (
        rows[("Student", "executorch")]["bundle_bytes"]
        < rows[("Teacher", "executorch")]["bundle_bytes"]
    )
    op_sets = ["", " (eodrec ops)"] if kernels else [""]
    assert {(r["measure"], r["versus"], r["student"]) for r in result["ratios"]} == {
        (measure, "Teacher" + ops, "Student" + ops)
        for measure in ("per_request_p50_ms", "batch_ms_per_100")
        for ops in op_sets
    }
    floor = request_floor(result, repeats=2)
    assert floor["floor_ms"] > 0 and floor["p50_over_floor"]["executorch"] > 0


def test_export_of_a_run_without_checkpoint_is_a_one_line_error(stored_student, tmp_path, capsys):
    root = stored_student
    run = make_config("student", "toy", "smoke").run_id
    code = main(
        ["export", "--run", run, "--out", str(tmp_path), "--results", str(root / "results"),
         "--cache-dir", str(tmp_path / "empty-cache")]
    )  # fmt: skip
    error = capsys.readouterr().err.strip()
    assert code == 1 and len(error.splitlines()) == 1
    assert "no usable checkpoint" in error and "--rerun" in error


def test_export_writes_a_bundle_and_its_manifest(stored_student, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    root = stored_student
    run = make_config("student", "toy", "smoke").run_id
    code = main(
        ["export", "--run", run, "--format", "onnx", "--out", str(tmp_path),
         "--buckets", "8", "16", "--results", str(root / "results"),
         "--cache-dir", str(root / "cache")]
    )  # fmt: skip
    assert code == 0
    for length in (8, 16):  # ONNX: one file per length
        assert (tmp_path / f"{run}-l{length}.onnx").stat().st_size > 0
    manifest = (tmp_path / f"{run}.json").read_text()
    assert '"buckets": [\n    8,\n    16\n  ]' in manifest
    assert '"format": "onnx"' in manifest and '"dense_table_bytes"' in manifest


def test_the_median_bucket_holds_the_median_session():
    assert median_bucket({"8": 6, "16": 3, "32": 1}) == 8
    assert median_bucket({"8": 4, "16": 5, "32": 1}) == 16


def _bench_rows(times: dict[str, float], runtime: str = "executorch") -> list[dict]:
    return [
        {"model": model, "runtime": runtime, "batch_ms_per_100": ms, "per_request_p50_ms": ms / 10,
         "per_request_p90_ms": ms / 5, "per_request_p99_ms": ms / 2, "peak_rss_mb": 1.0,
         "bundle_bytes": 10, "weights": "trained", "topk_equal": 5, "topk_sessions": 5,
         "request_topk_equal": 2, "request_topk_sessions": 2}
        for model, ms in times.items()
    ]  # fmt: skip


def test_table5_compares_times_over_the_students_with_the_papers():
    from eodrec.book.tables import table5_latency

    bench = {"dataset": "Tmall", "rows": _bench_rows({"OD-Rec": 40.0, "Student": 10.0})}
    cells = table5_latency.table5([bench]).set_index("model")
    assert cells.loc["OD-Rec", "ours"] == pytest.approx(4.0)
    assert cells.loc["OD-Rec", "paper"] == pytest.approx(0.169 / 0.021)
    assert cells.loc["Student", "ours"] == pytest.approx(1.0)
    assert cells.loc["NARM", "ours"] != cells.loc["NARM", "ours"]  # not measured: NaN
    assert table5_latency.latency_table(bench)["top-20 as eager"].tolist() == ["5 / 5", "5 / 5"]


def test_latency_ratios_say_how_many_times_faster_the_student_is():
    from eodrec.latency import latency_ratios

    ratios = latency_ratios(_bench_rows({"OD-Rec": 30.0, "Teacher": 20.0, "Student": 10.0}))
    assert {(r["versus"], r["times_faster"]) for r in ratios} == {("OD-Rec", 3.0), ("Teacher", 2.0)}
    assert {r["measure"] for r in ratios} == {"per_request_p50_ms", "batch_ms_per_100"}


def test_table5_wide_has_the_papers_ratio_then_ours_per_runtime():
    from eodrec.book.tables import table5_latency

    rows = _bench_rows({"OD-Rec": 40.0, "Student": 10.0}) + _bench_rows(
        {"OD-Rec": 20.0, "Student": 10.0}, runtime="onnx"
    )
    wide = table5_latency.table5_wide(table5_latency.table5([{"dataset": "Tmall", "rows": rows}]))
    odrec = wide.set_index("model").loc["OD-Rec"]
    assert odrec["executorch"] == pytest.approx(4.0) and odrec["onnx"] == pytest.approx(2.0)
    assert odrec["paper"] == pytest.approx(0.169 / 0.021)
    assert wide["model"].tolist() == table5_latency.TABLE5_MODELS
