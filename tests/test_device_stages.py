"""The device-stage benchmark: each lowered stage computes what eager PyTorch does, and the
stages are differences of the programs' medians (toy data)."""

import json

import pytest

from eodrec.bench.device_stages import _batches, _stages, bench_device_stages

pytest.importorskip("executorch")


def test_device_stages_on_toy_data_with_each_op_set():
    result = bench_device_stages("toy", steps=2, warmup=1, malloc=False)
    json.dumps(result)
    if result["ops_skipped"] is not None:
        pytest.skip(f"eodrec's kernels cannot run here: {result['ops_skipped']}")
    assert set(result["max_abs_difference_from_eager"]) == {
        f"{model}{ops} {program}"
        for model in ("Teacher", "Student")
        for ops in ("", " (eodrec ops)")
        for program in ("encoder", "scores", "bundle")
    }
    assert max(result["max_abs_difference_from_eager"].values()) < 1e-4
    medians, student = result["median_ms"], result["stages_ms"]["Student"]
    assert student["scoring"] == pytest.approx(
        medians["Student scores"] - medians["Student encoder"]
    )
    assert student["encoder"] + student["scoring"] + student["top-20"] + student["rest"] == (
        pytest.approx(medians["Student bundle"])
    )
    own = result["stages_ms"]["Student (eodrec ops)"]
    assert own["top-20"] == medians["top-20 (eodrec ops)"]
    ratios = result["teacher_over_student"]
    assert set(ratios) == {"aten", "eodrec"}
    assert ratios["aten"]["bundle"] == pytest.approx(
        medians["Teacher bundle"] / medians["Student bundle"]
    )
    assert ratios["eodrec"]["bundle"] == pytest.approx(
        medians["Teacher (eodrec ops) bundle"] / medians["Student (eodrec ops) bundle"]
    )
    assert result["batch"] == 100 and result["length"] in (8, 16)


def test_a_bucket_without_a_full_batch_is_refused():
    with pytest.raises(ValueError, match="fewer than 100 test sessions"):
        _batches([[1, 2]] * 99, 8, count=3)


def test_stage_tables_give_each_stage_and_the_ceiling_of_a_faster_scoring():
    from eodrec.book.tables import table5_latency

    medians = {
        "Teacher encoder": 8.0,
        "Teacher scores": 24.0,
        "Teacher bundle": 36.0,
        "Student encoder": 8.0,
        "Student scores": 18.0,
        "Student bundle": 30.0,
        "top-20": 12.0,
    }
    bench = {"median_ms": medians, "teacher_over_student": {"aten": {"bundle": 1.2}}}
    bench["stages_ms"] = {m: _stages(medians, m, "top-20") for m in ("Teacher", "Student")}
    table = table5_latency.stages_table(bench).set_index("model")
    assert table.loc["Student", "scoring (ms)"] == 10.0
    assert table.loc["Teacher", "other (ms)"] == 0.0
    ratios = table5_latency.stages_ratios(bench).set_index("teacher over student")
    ceiling = ratios.loc["if the student's scoring took no time: bundle"]
    assert ceiling["times faster"] == pytest.approx(36.0 / 20.0)
    assert ceiling["goal met"] and not ratios.loc["measured: bundle", "goal met"]
