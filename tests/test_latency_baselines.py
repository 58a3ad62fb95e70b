"""The simple baselines in the latency benchmark: refitted from stored toy runs (smoke profile),
timed in the same run as a neural model, checked, and set against the teacher."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from eodrec.cli import main
from eodrec.config import ParameterError, make_config
from eodrec.experiment import Experiment
from eodrec.heuristics.config import NAMES
from eodrec.heuristics.methods import build_method
from eodrec.latency import bench_latency, request_indices
from eodrec.latency_baselines import (
    BASELINE_RUNTIME,
    BaselineCell,
    baseline_ratios,
    measure_baseline,
    top_k,
)
from eodrec.store import ResultsStore

STORED = ("sknn", "sr", "recency")  # most-popular is left unstored: it must be missing
ROW_KEYS = {
    "model", "run", "runtime", "scoring", "selected", "per_request_p50_ms", "per_request_p90_ms",
    "per_request_p99_ms", "per_request_mean_ms", "batch_ms_per_100", "peak_rss_mb",
    "rss_before_model_mb", "fit_time_s", "bundle_bytes", "state_bytes", "weights",
    "refit_as_stored", "topk_sessions", "topk_equal", "request_topk_sessions",
    "request_topk_equal",
}  # fmt: skip


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    """Toy baselines trained for real, and a teacher result with no checkpoint here (timed
    with its initial weights, as the benchmark does for a model trained elsewhere)."""
    root = tmp_path_factory.mktemp("stored")
    store = ResultsStore(root / "results")
    for method in STORED:
        config = make_config("baseline", "toy", "smoke", [f"method={method}"])
        Experiment(config, None, store, root / "cache", False).run()
    teacher = make_config("teacher", "toy", "smoke")
    store.save({"id": teacher.run_id, "config": teacher.to_dict(),
                "config_hash": teacher.config_hash(), "selected_epoch": 1})  # fmt: skip
    return root


@pytest.fixture(scope="module")
def bench(stored) -> dict:
    return bench_latency(
        "toy", "smoke", requests=30, runtimes=("eager",), results=stored / "results",
        cache_dir=stored / "cache", models=("Teacher", *NAMES.values()), progress=False,
    )  # fmt: skip


def test_each_stored_baseline_has_a_row_with_its_timings_state_and_checks(bench, stored):
    rows = {r["model"]: r for r in bench["rows"]}
    assert [(r["model"], r["runtime"]) for r in bench["rows"]] == [("Teacher", "eager")] + [
        (NAMES[m], BASELINE_RUNTIME) for m in ("recency", "sknn", "sr")
    ]
    store = ResultsStore(stored / "results")
    for method in STORED:
        row = rows[NAMES[method]]
        result = store.find(make_config("baseline", "toy", "smoke", [f"method={method}"]))
        assert set(row) == ROW_KEYS and row["run"] == result["id"] and row["scoring"] == method
        assert row["selected"] == result["selected"]
        assert row["state_bytes"] == result["state_bytes"] and row["bundle_bytes"] is None
        assert row["refit_as_stored"] is True and row["weights"] == "refitted"
        p50, p90, p99 = (row[f"per_request_p{q}_ms"] for q in (50, 90, 99))
        assert 0 < p50 <= p90 <= p99 and row["batch_ms_per_100"] > 0
        assert row["peak_rss_mb"] > 0 and row["fit_time_s"] > 0
        assert row["topk_equal"] == row["topk_sessions"] == bench["test_sessions"]
    assert rows["V-SKNN"]["state_bytes"] > 0 and rows["Session recency"]["state_bytes"] == 0


def test_baselines_answer_the_same_requests_as_the_neural_models(bench):
    teacher = next(r for r in bench["rows"] if r["model"] == "Teacher")
    assert teacher["weights"].startswith("initial")
    for row in bench["rows"]:
        assert row["request_topk_sessions"] == row["request_topk_equal"] == bench["requests"] == 30


def test_the_measuring_process_times_the_sessions_at_the_request_indices(tmp_path):
    # One item per session: recency's top item is the session's own, so each answer names
    # the session it came from.
    sessions = [[item] for item in range(1, 41)]
    method = build_method("recency").fit([[1, 2], [3, 4]], n_items=40)
    np.savez(tmp_path / "state.npz", **method.saved_state())
    (tmp_path / "sessions.json").write_text(json.dumps(sessions))
    cell = BaselineCell(
        "Session recency", "recency", {}, str(tmp_path / "state.npz"),
        str(tmp_path / "sessions.json"), 7, str(tmp_path / "out.npz"),
    )  # fmt: skip
    timed = measure_baseline(cell)
    assert timed["per_request_p50_ms"] > 0
    with np.load(tmp_path / "out.npz") as got:
        asked = request_indices(len(sessions), 7)
        assert got["request_ids"][:, 0].tolist() == [sessions[i][0] for i in asked]
        assert got["ids"][:, 0].tolist() == [s[0] for s in sessions]
        assert np.array_equal(got["ids"], top_k(method, sessions)[1])


def test_a_baseline_with_no_stored_result_is_missing(bench):
    pop = make_config("baseline", "toy", "smoke", ["method=pop"])
    assert bench["missing"] == [pop.run_id]
    assert "Most-popular" not in {r["model"] for r in bench["rows"]}


def test_the_baselines_are_set_against_the_teacher_in_the_same_run(bench):
    teacher = next(r for r in bench["rows"] if r["model"] == "Teacher")
    ratios = {(r["model"], r["measure"]): r for r in bench["baseline_ratios"]}
    assert len(ratios) == 2 * len(STORED)
    for method in STORED:
        row = next(r for r in bench["rows"] if r["model"] == NAMES[method])
        per_100 = ratios[(NAMES[method], "batch_ms_per_100")]
        assert per_100["versus_runtime"] == "eager" and per_100["goal"] == 1.0
        assert per_100["times_faster"] == teacher["batch_ms_per_100"] / row["batch_ms_per_100"]
        assert per_100["goal_met"] == (per_100["times_faster"] > 1)
        assert ratios[(NAMES[method], "per_request_p50_ms")]["goal_met"] is None


def test_models_selects_a_baseline_by_its_label(stored, tmp_path, capsys):
    out = tmp_path / "latency.json"
    args = ["bench", "latency", "--dataset", "toy", "--profile", "smoke", "--models", "SR",
            "--runtimes", "eager", "--requests", "5", "--results", str(stored / "results"),
            "--cache-dir", str(stored / "cache"), "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert [(r["model"], r["runtime"]) for r in result["rows"]] == [("SR", BASELINE_RUNTIME)]
    assert result["missing"] == [] and result["baseline_ratios"] == []  # no teacher timed
    assert "SR " in capsys.readouterr().out


def test_an_unknown_label_stops_with_one_line_naming_the_known_ones(stored):
    with pytest.raises(ParameterError, match="unknown models \\['kNN'\\].*V-SKNN"):
        bench_latency("toy", "smoke", results=stored / "results", models=("kNN",))


def _row(model: str, runtime: str, per_100: float) -> dict:
    return {"model": model, "runtime": runtime, "batch_ms_per_100": per_100,
            "per_request_p50_ms": per_100 / 50, "per_request_p90_ms": per_100 / 40,
            "per_request_p99_ms": per_100 / 20, "peak_rss_mb": 1.0, "bundle_bytes": None,
            "weights": "trained", "topk_equal": 5, "topk_sessions": 5}  # fmt: skip


def _hand_built_bench() -> dict:
    from eodrec.latency import latency_ratios

    rows = [_row("Teacher", "eager", 20.0), _row("Teacher", "executorch", 10.0),
            _row("Student", "eager", 5.0), _row("Student", "executorch", 4.0)]  # fmt: skip
    for model, per_100 in (("V-SKNN", 15.0), ("SR", 25.0)):
        rows.append({**_row(model, BASELINE_RUNTIME, per_100), "state_bytes": 1_000_000,
                     "fit_time_s": 0.5, "weights": "refitted"})  # fmt: skip
    return {"dataset": "Tmall", "rows": rows, "ratios": latency_ratios(rows),
            "baseline_ratios": baseline_ratios(rows)}  # fmt: skip


def test_the_verdict_is_met_only_where_the_baseline_beats_the_teachers_time_per_100():
    ratios = {
        (r["model"], r["versus_runtime"]): r
        for r in _hand_built_bench()["baseline_ratios"]
        if r["measure"] == "batch_ms_per_100"
    }
    assert ratios[("V-SKNN", "eager")]["times_faster"] == pytest.approx(20 / 15)
    assert ratios[("V-SKNN", "eager")]["goal_met"] is True
    assert ratios[("V-SKNN", "executorch")]["goal_met"] is False  # the teacher's 10 ms < 15
    assert ratios[("SR", "eager")]["goal_met"] is False
    assert (
        baseline_ratios([r for r in _hand_built_bench()["rows"] if r["model"] != "Teacher"]) == []
    )


def test_page_05_shows_the_baseline_rows_and_the_verdict():
    from eodrec.book.tables import table5_latency

    bench = _hand_built_bench()
    speed = table5_latency.speedups(bench)
    per_100 = speed[(speed["measure"] == "per 100") & (speed["vs runtime"] == "eager")]
    verdict = dict(zip(per_100["model"], per_100["goal met"], strict=True))
    assert verdict == {"Student": True, "V-SKNN": True, "SR": False}  # Student: 4x, goal 1.5x
    assert speed.loc[speed["model"] == "V-SKNN", "runtime"].unique().tolist() == ["numpy"]
    table = table5_latency.latency_table(bench).set_index("model")
    assert table.loc["SR", table5_latency.SIZE] == 1.0 and "fit (s)" not in table
    assert math.isnan(table.loc["Student", table5_latency.SIZE].iloc[0])  # no bundle: eager
    assert set(table5_latency.table5([bench])["runtime"]) == {"eager", "executorch"}


def test_page_05_sets_the_student_with_eodrec_kernels_against_the_teacher_with_them():
    from eodrec.book.tables import table5_latency
    from eodrec.latency import latency_ratios

    rows = [_row("Teacher", "executorch", 10.0), _row("Student", "executorch", 8.0),
            _row("Teacher (eodrec ops)", "executorch", 6.0),
            _row("Student (eodrec ops)", "executorch", 2.0)]  # fmt: skip
    speed = table5_latency.speedups({"rows": rows, "ratios": latency_ratios(rows)})
    per_100 = speed[speed["measure"] == "per 100"].set_index("model")
    assert per_100.loc["Student", "times faster"] == pytest.approx(10 / 8)
    assert not per_100.loc["Student", "goal met"]
    kernels = per_100.loc["Student (eodrec ops)"]
    assert kernels["vs"] == "Teacher (eodrec ops)" and kernels["goal"] == 1.5
    assert kernels["times faster"] == pytest.approx(3.0) and kernels["goal met"]
